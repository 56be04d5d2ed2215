/**
 * kill -9 of tapstate-cni at random (seeded) points of ADD, then what a runtime does next: DEL
 * without any cached result (the ADD never printed one), a DEL itself killed then DEL again, or
 * a retried ADD (then CHECK and DEL). After each trial nothing is left: no tap, no qdisc in the
 * container netns, no veth on the host side, no store, no IPAM reservation.
 *
 * Every adapter call of the plugin is stretched (TAPSTATE_TEST_EFFECT_DELAY_MS) so kills land in
 * every effect state; the trial log says where each kill landed. CNI_KILL_SEED / CNI_KILL_TRIALS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openReader } from '../../src/cli/open-store.js';
import { checkList, delList, invoke, pluginConf, type Invocation, type RuntimeConf } from './driver.js';
import { makeCniWorld, requireCniEnvironment, type CniWorld } from './world.js';

const SEED = Number(process.env.CNI_KILL_SEED ?? 16);
const TRIALS = Number(process.env.CNI_KILL_TRIALS ?? 12);
const DELAY_MS = 30;
const clean = { ctrLinks: [], hostLinks: [], ctrQdiscs: [], stores: [], ipam: [] };

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let w: CniWorld;
beforeAll(() => {
  requireCniEnvironment();
  w = makeCniWorld();
});
afterAll(() => w?.cleanup());

/** Where the killed ADD left the store: `no-store` or the endpoint states. */
async function whereKilled(containerId: string): Promise<string> {
  const dir = path.join(w.stateDir, containerId);
  if (!fs.existsSync(path.join(dir, 'log.jsonl'))) return fs.existsSync(dir) ? 'store-without-log' : 'no-store';
  const s = await openReader(dir);
  try {
    const eps = s.store.list();
    return eps.length ? eps.map((v) => `${v.state}${v.status === 'in-doubt' ? '(in doubt)' : ''}`).join(',') : 'empty-store';
  } finally {
    await s.close();
  }
}

/** Run tapstate-cni alone, killing it after `killAfterMs` (undefined: never). */
function runKilled(command: string, conf: Record<string, unknown>, rc: RuntimeConf, killAfterMs: number | undefined): Promise<Invocation> {
  return invoke(w.rt, command, conf, rc, {
    env: { TAPSTATE_TEST_EFFECT_DELAY_MS: String(DELAY_MS) },
    onSpawn: (c) => {
      w.track(c);
      if (killAfterMs !== undefined) {
        const t = setTimeout(() => c.pid && c.exitCode === null && process.kill(c.pid, 'SIGKILL'), killAfterMs);
        c.on('exit', () => clearTimeout(t));
      }
    },
  });
}

it(`kill -9 at random points of ADD, then DEL / killed DEL + DEL / retried ADD: nothing left (seed ${SEED}, ${TRIALS} trials)`, async () => {
  const rand = prng(SEED);
  const list = w.conflist('1.0.0');
  // how long an unkilled, stretched ADD takes here
  const rc0 = w.rc();
  const ptp0 = await invoke(w.rt, 'ADD', pluginConf(list, 0, undefined), rc0);
  expect(ptp0.code, ptp0.stdout).toBe(0);
  const full = await runKilled('ADD', pluginConf(list, 1, ptp0.json), rc0, undefined);
  expect(full.code, full.stdout).toBe(0);
  await delList(w.rt, list, rc0, full.json);
  expect(w.leftovers()).toEqual(clean);
  const span = full.ms;

  const log: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const rc = w.rc();
    const ptp = await invoke(w.rt, 'ADD', pluginConf(list, 0, undefined), rc);
    expect(ptp.code, ptp.stdout).toBe(0);
    const killAt = Math.round(rand() * span * 1.05);
    const add = await runKilled('ADD', pluginConf(list, 1, ptp.json), rc, killAt);
    const landed = add.signal === 'SIGKILL' ? await whereKilled(rc.containerId) : `finished (exit ${add.code})`;
    const mode = rand() < 0.34 ? 'del' : rand() < 0.5 ? 'killed-del+del' : 'retry-add';
    log.push(`trial ${trial}: kill at ${killAt} ms → ${landed}; then ${mode}`);
    if (mode === 'retry-add') {
      const again = await invoke(w.rt, 'ADD', pluginConf(list, 1, ptp.json), rc);
      expect(again.code, `${log.at(-1)}: ${again.stdout}`).toBe(0);
      await checkList(w.rt, list, rc, again.json);
      await delList(w.rt, list, rc, again.json);
    } else {
      if (mode === 'killed-del+del') {
        const del = await runKilled('DEL', pluginConf(list, 1, null), rc, Math.round(rand() * span * 0.6));
        log[log.length - 1] += ` (first DEL ${del.signal ?? `exit ${del.code}`})`;
      }
      // the runtime holds no result of ours: DEL with no prevResult at all
      const del = await invoke(w.rt, 'DEL', pluginConf(list, 1, null), rc);
      expect(del.code, `${log.at(-1)}: ${del.stdout}`).toBe(0);
      // an ADD killed inside an effect: this DEL recovered it first, and said so on stderr
      if (mode === 'del' && landed.includes('(in doubt)')) expect(del.stderr).toMatch(/^tapstate-cni: recovered 1 interrupted effect\(s\) in .*: cni-eth0 attach\.\w+ rolled-back → created/);
      await delList(w.rt, list, rc, null);
    }
    expect(w.leftovers(), log.at(-1)).toEqual(clean);
  }
  process.stderr.write(`cni kill -9 (seed ${SEED}, ADD ≈ ${span.toFixed(0)} ms stretched):\n  ${log.join('\n  ')}\n`);
  // the kills must really have landed inside ADD, in more than one place
  const landings = new Set(log.map((l) => /→ ([^;]+);/.exec(l)?.[1]));
  expect(landings.size).toBeGreaterThanOrEqual(3);
}, 300_000);
