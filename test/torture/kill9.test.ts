/**
 * kill -9 torture on the real kernel and a real QEMU: `tapstate hot-attach` / `attach` /
 * `hot-detach` / `detach` child processes are SIGKILLed in every effect state (targeted from
 * the log as it is written, or at a random time), `tapstate recover` runs (and is itself killed
 * now and then, then run again), and the world is checked from outside after every trial:
 * nothing leaked and `tapstate status --json` agrees with the kernel and QEMU.
 *
 * Deterministic in CI: `npm test` runs the fixed seeds of {@link CI_SEEDS} (every seed that ever
 * found a bug joins that list). Soak runs with random seeds: `npm run torture -- --trials N
 * [--seed S]` (test/torture/soak.ts), which sets TORTURE_SEED and TORTURE_TRIALS (default 40
 * per seed) and prints the seed of a failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TortureWorld, disagreements, prng, readRecords, requireRoot, runCli, startCli, type CliChild, type RunResult } from './world.js';

/**
 * The seeds `npm test` runs. 1750443474: a fresh-machine run failed at trial 12 with "QEMU holds 1
 * tun fds, the plugged endpoints need 0" (a kill between getfd and netdev_add; issue #10).
 */
export const CI_SEEDS: readonly number[] = [1750443474, 20261130];
const TRIALS = Number(process.env.TORTURE_TRIALS ?? 40);
/** Over this many trials (all seeds together), every effect state must have been hit by a kill. */
const COVERAGE_TRIALS = 80;
/** Kills per effect state and killed recoveries, over all seeds of this run. */
const hits = new Map<string, number>();
let allRecoverKills = 0;
/**
 * Targeted kills per operation family, over all seeds: each next targeted kill of a family moves
 * to its next effect, so the seeds of one run together walk every effect state.
 */
const counters = new Map<string, number>();
const SEEDS: readonly number[] = process.env.TORTURE_SEED !== undefined ? [Number(process.env.TORTURE_SEED)] : CI_SEEDS;
for (const s of SEEDS) if (!Number.isSafeInteger(s) || s < 0) throw new Error(`TORTURE_SEED must be a non-negative integer, got ${process.env.TORTURE_SEED}`);
if (!Number.isInteger(TRIALS) || TRIALS < 1) throw new Error(`TORTURE_TRIALS must be a positive integer, got ${process.env.TORTURE_TRIALS}`);
/** The test-only stretch of every adapter call (ms): kills land inside effects. */
const STRETCH = 40;
const ENDPOINTS = 4;

type Family = 'hot-attach' | 'attach' | 'hot-detach' | 'detach';
const FAMILIES: Family[] = ['hot-attach', 'attach', 'hot-detach', 'detach'];

/** The effect intents each operation writes, in order (hot = the endpoint was hot-attached). */
function stepsOf(family: Family, setup: 'hot-attach' | 'attach' | null): string[] {
  if (family === 'hot-attach') return ['hotAttach.createTap', 'hotAttach.setMtu', 'hotAttach.setUp', 'hotAttach.hotplug'];
  if (family === 'attach')
    return ['createTap', 'getOrigLink', 'setMtu', 'setUp', 'qdiscTap', 'qdiscOrig', 'redirectIn', 'redirectOut', 'coldplug'].map((s) => `attach.${s}`);
  return setup === 'attach'
    ? ['teardown.removeTc', 'teardown.lookupTap', 'teardown.setDown', 'teardown.deleteTap']
    : ['teardown.unplug', 'teardown.lookupTap', 'teardown.setDown', 'teardown.deleteTap'];
}

const ALL_EFFECTS = new Set([...stepsOf('hot-attach', null), ...stepsOf('attach', null), 'teardown.unplug', 'teardown.removeTc', 'teardown.lookupTap', 'teardown.setDown', 'teardown.deleteTap']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let world: TortureWorld;

beforeAll(async () => {
  requireRoot();
  world = new TortureWorld();
  world.makeNetns(ENDPOINTS);
  await world.startQemu();
}, 60_000);

afterAll(async () => {
  await world?.teardown();
});

function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code} (signal ${r.signal}): ${r.stderr}`);
  return r;
}

/** Kill `child` once the `k`-th intent (0-based) of endpoint `ep` since `from` is written, `after` ms later. */
async function killAtIntent(child: CliChild, logFile: string, from: number, ep: string, k: number, after: number): Promise<void> {
  let exited = false;
  void child.done.then(() => (exited = true));
  for (;;) {
    if (exited) return;
    const n = readRecords(logFile, from).filter((r) => r.k === 'intent' && r.ep === ep).length;
    if (n >= k + 1) break;
    await sleep(2);
  }
  await sleep(after);
  child.kill();
}

describe.each(SEEDS.map((seed) => [seed]))(`kill -9 torture (seed %i, ${TRIALS} trials)`, (SEED) => {
  it(
    'every kill in every effect state is recovered with nothing leaked, and the store agrees with the world',
    async () => {
      // eslint-disable-next-line no-console
      console.log(`torture: TORTURE_SEED=${SEED} TORTURE_TRIALS=${TRIALS}`);
      const rnd = prng(SEED);
      world.store = path.join(world.tmp, `store-${SEED}`); // one store per seed; the world ends empty after each
      const store = world.store;
      const logFile = path.join(store, 'log.jsonl');
      const qmp = world.qemu!.qmpPath;
      // tiny segments, little history: rotations and compactions happen all along (and kills land in them)
      ok(
        await runCli(['init', '--store', store, '--netns', world.netnsPath, '--netns-created', '--qmp', qmp, '--vcpus', '2', '--no-vhost', '--segment-bytes', '4k', '--retain-bytes', '12k']),
        'init',
      );
      const slots: Array<{ idx: number; id: string }> = [];
      for (let i = 0; i < ENDPOINTS; i++) slots.push({ idx: i, id: ok(await runCli(['add', '--store', store, '--idx', String(i)]), 'add').stdout.trim() });

      // the last `status --json` (refreshed whenever something changed the store)
      let current = await world.status();
      // a detached endpoint is retired: it leaves status
      const stateOf = (id: string) => current.endpoints.find((e) => e.id === id)?.state ?? 'detached';
      const refill = async () => {
        let added = false;
        for (const s of slots) {
          if (stateOf(s.id) === 'detached') {
            s.id = ok(await runCli(['add', '--store', store, '--idx', String(s.idx)]), 'add').stdout.trim();
            added = true;
          }
        }
        if (added) current = await world.status();
      };

      const lastIntents = new Map<string, number>();
      let recoverKills = 0;
      let killed = 0;
      let completed = 0;

      for (let t = 0; t < TRIALS; t++) {
        const family = FAMILIES[t % FAMILIES.length]!;
        const slot = slots[Math.floor(rnd() * slots.length)]!;
        let setup: 'hot-attach' | 'attach' | null = null;
        // bring the endpoint to where the operation starts, without kills
        let state = stateOf(slot.id);
        if (family === 'hot-attach' || family === 'attach') {
          if (state !== 'created') {
            ok(await runCli(['detach', '--store', store, '--endpoint', slot.id]), 'detach (setup)');
            current = await world.status();
            await refill();
          }
        } else if (state === 'created') {
          setup = rnd() < 0.5 ? 'hot-attach' : 'attach';
          ok(await runCli([setup, '--store', store, '--endpoint', slot.id]), `${setup} (setup)`);
          current = await world.status();
        } else setup = state === 'attached' ? 'attach' : 'hot-attach';
        state = stateOf(slot.id);

        const steps = stepsOf(family, setup);
        const targeted = rnd() < 0.8;
        const from = fs.statSync(logFile).size;
        let child: CliChild;
        let label: string;
        if (targeted) {
          const key = `${family}/${setup}`;
          const n = counters.get(key) ?? 0;
          counters.set(key, n + 1);
          const k = n % steps.length;
          const after = (0.1 + 0.8 * rnd()) * STRETCH;
          label = `targeted ${steps[k]} +${after.toFixed(0)}ms`;
          child = startCli([family, '--store', store, '--endpoint', slot.id], { TAPSTATE_TEST_EFFECT_DELAY_MS: String(STRETCH) });
          await killAtIntent(child, logFile, from, slot.id, k, after);
        } else {
          const delay = rnd() * 500;
          label = `random ${delay.toFixed(0)}ms`;
          child = startCli([family, '--store', store, '--endpoint', slot.id]);
          const timer = setTimeout(() => child.kill(), delay);
          await child.done;
          clearTimeout(timer);
        }
        const res = await child.done;
        const ctx = `trial ${t} (seed ${SEED}): ${family} of ${slot.id} from ${state} (${label})`;
        if (res.signal === 'SIGKILL') {
          killed++;
          const mine = readRecords(logFile, from).filter((r) => r.ep === slot.id);
          const last = mine[mine.length - 1];
          if (last?.k === 'intent') lastIntents.set(last.id, (lastIntents.get(last.id) ?? 0) + 1);
        } else {
          completed++;
          expect(res.code, `${ctx}: ${res.stderr}`).toBe(0);
        }

        // now and then, kill recovery itself in the middle, then recover again
        if (t % 7 === 3 && res.signal === 'SIGKILL') {
          const rfrom = fs.statSync(logFile).size;
          const rc = startCli(['recover', '--store', store], { TAPSTATE_TEST_EFFECT_DELAY_MS: String(STRETCH) });
          await killAtIntent(rc, logFile, rfrom, slot.id, 0, (0.1 + 0.8 * rnd()) * STRETCH);
          const rr = await rc.done;
          if (rr.signal === 'SIGKILL') recoverKills++;
        }
        const rec = await runCli(['recover', '--store', store, '--json']);
        expect(rec.code, `${ctx}: recover: ${rec.stderr}`).toBe(0);

        current = await world.status();
        const problems = disagreements(current, await world.view());
        expect(problems, `${ctx}\n${JSON.stringify(current.endpoints.find((e) => e.id === slot.id), null, 1)}`).toEqual([]);
        await refill();
      }

      // eslint-disable-next-line no-console
      console.log(
        `torture: ${killed} killed, ${completed} completed, ${recoverKills} recoveries killed; last record was the intent of: ` +
          [...lastIntents.entries()].sort().map(([k, v]) => `${k}×${v}`).join(' '),
      );
      for (const [k, v] of lastIntents) hits.set(k, (hits.get(k) ?? 0) + v);
      allRecoverKills += recoverKills;
      expect(killed).toBeGreaterThan(0);

      // detach everything: the world ends empty
      const st = await world.status();
      for (const e of st.endpoints) if (e.state !== 'detached') ok(await runCli(['detach', '--store', store, '--endpoint', e.id]), `final detach ${e.id}`);
      const end = await world.view();
      expect([...end.taps.keys()]).toEqual([]);
      expect([...end.devices].filter((d) => d.startsWith('virtio-net-'))).toEqual([]);
      expect([...end.netdevs]).toEqual([]);
      expect(end.qemuTunFds).toBe(0);
      expect(disagreements(await world.status(), end)).toEqual([]);
      // the log was rotated and compacted all along, and its retained history still reads
      expect(fs.readFileSync(logFile, 'utf8').slice(0, 80)).toContain('"version":3');
      const lg = await runCli(['log', '--store', store, '--json']);
      expect(lg.code, lg.stderr).toBe(0);
      const seqs = lg.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
      expect(seqs[0]).toBeGreaterThan(1); // the oldest segments are gone
      seqs.forEach((q, i) => i && expect(q).toBe(seqs[i - 1]! + 1));
    },
    // a trial takes 1-3 s on an idle host, and more than 13 s was seen on a 2-core host at load 18
    TRIALS * 20_000 + 60_000,
  );
});

/**
 * Soak runs (test/torture/soak.ts) set TORTURE_HITS_FILE: this run's kills per effect state are
 * written there, and the soak runner checks coverage over the union of all its runs — whether one
 * random seed's 80 trials happen to land a kill inside every effect is timing, not correctness.
 */
const HITS_FILE = process.env.TORTURE_HITS_FILE;

describe(`kill -9 torture: coverage over ${SEEDS.length} seed(s) × ${TRIALS} trials`, () => {
  it('every effect state was hit by a kill after its intent and before its outcome, and recovery itself was killed', () => {
    expect(hits.size).toBeGreaterThan(0);
    if (HITS_FILE !== undefined) {
      fs.writeFileSync(HITS_FILE, JSON.stringify({ hits: Object.fromEntries(hits), recoverKills: allRecoverKills, effects: [...ALL_EFFECTS] }));
    } else if (SEEDS.length * TRIALS >= COVERAGE_TRIALS) {
      expect([...ALL_EFFECTS].filter((e) => !hits.has(e))).toEqual([]);
      expect(allRecoverKills).toBeGreaterThan(0);
    }
  });
});
