/**
 * kill -9 torture of `tapstate serve` on the real kernel and a real QEMU, through the API: an
 * action (hot-attach, attach, hot-detach, detach — with an idempotency key) is sent, the daemon is
 * SIGKILLed in an effect state (targeted from its own events stream, or at a random time), the
 * daemon is restarted (and now and then killed again while it recovers), and then:
 * - every sandbox was recovered before its first request was served: every endpoint settled;
 * - the world agrees with the API's status (no leaked tap, qdisc, QEMU device, netdev or fd);
 * - retrying the action with the same key gets the action's outcome (200 in its target state) or
 *   `409 operation_interrupted` naming where recovery settled the endpoint — never a second run.
 *
 * Seeded: TORTURE_SEED (default: random, printed), TORTURE_TRIALS (default 24).
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TortureWorld, disagreements, prng, requireRoot } from './world.js';
import { request } from '../daemon/client.js';
import { startDaemon, type DaemonProcess } from '../daemon/daemon-process.js';
import type { StatusJson } from '../../src/cli/output.js';

const TRIALS = Number(process.env.TORTURE_TRIALS ?? 24);
// fixed in CI (1676579267 once found a bug: a retired endpoint read as missing); TORTURE_SEED for soak runs
const SEED = Number(process.env.TORTURE_SEED ?? 1676579267);
const STRETCH = 40;
const ENDPOINTS = 3;
const SB = 'torture';
const ENV = { TAPSTATE_TEST_EFFECT_DELAY_MS: String(STRETCH) };

type Family = 'hot-attach' | 'attach' | 'hot-detach' | 'detach';
const FAMILIES: Family[] = ['hot-attach', 'attach', 'hot-detach', 'detach'];
const ENDPOINT_FIELDS = ['id', 'idx', 'state', 'status', 'name', 'tapName', 'mac', 'hardAddr', 'mtu', 'queues', 'netnsPath', 'pciPath', 'progress', 'coldplugArgs', 'error', 'warnings', 'pendingEffect', 'lastSeq'].sort();
const TARGET: Record<Family, string> = { 'hot-attach': 'hotAttached', attach: 'attached', 'hot-detach': 'detached', detach: 'detached' };
const INTENTS: Record<Family, number> = { 'hot-attach': 4, attach: 9, 'hot-detach': 3, detach: 3 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let world: TortureWorld;
let daemon: DaemonProcess;
let socketPath: string;
let stateDir: string;

beforeAll(async () => {
  requireRoot();
  world = new TortureWorld();
  world.makeNetns(ENDPOINTS);
  await world.startQemu();
  socketPath = path.join(world.tmp, 'api.sock');
  stateDir = path.join(world.tmp, 'state');
}, 60_000);

afterAll(async () => {
  await daemon?.kill9();
  await world?.teardown();
});

const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(socketPath, method, p, body, headers);

async function ok(method: string, p: string, body?: unknown): Promise<any> {
  const r = await call(method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Start the daemon and wait only until it answers: requests for a sandbox must wait for its recovery themselves. */
async function restart(): Promise<void> {
  daemon = startDaemon(socketPath, stateDir, ENV);
  await daemon.ready(60_000, false);
}

/** Kill the daemon once the `k`-th intent of `ep` appears on its events stream, `after` ms later (or when `done` settles first). */
function killAtIntent(ep: string, since: number, k: number, after: number, done: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      setTimeout(() => void daemon.kill9().then(resolve), after);
    };
    const req = http.get({ socketPath, path: `/v1/sandboxes/${SB}/events?since=${since}`, agent: false }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const r = JSON.parse(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (r.k === 'intent' && r.ep === ep && seen++ === k) fire();
        }
      });
      res.on('error', () => {});
    });
    req.on('error', () => {});
    void done.finally(() => {
      if (!fired) {
        fired = true;
        req.destroy();
        resolve();
      }
    });
  });
}

describe(`kill -9 torture of the daemon, through the API (seed ${SEED}, ${TRIALS} trials)`, () => {
  it(
    'every kill is recovered before requests are served, nothing leaks, and a retried key never runs twice',
    async () => {
      // eslint-disable-next-line no-console
      console.log(`api torture: TORTURE_SEED=${SEED} TORTURE_TRIALS=${TRIALS}`);
      const rnd = prng(SEED);
      await restart();
      await ok('PUT', `/v1/sandboxes/${SB}`, { netnsPath: world.netnsPath, netnsCreated: true, qmp: world.qemu!.qmpPath, vcpus: 2, vhost: false });
      const slots: Array<{ idx: number; id: string }> = [];
      for (let i = 0; i < ENDPOINTS; i++) slots.push({ idx: i, id: (await ok('POST', `/v1/sandboxes/${SB}/endpoints`, { idx: i })).id });
      const list = async (): Promise<any[]> => (await ok('GET', `/v1/sandboxes/${SB}/endpoints`)).endpoints;
      // a detached endpoint is retired (#14): unknown from then on
      const stateOf = async (id: string): Promise<string> => {
        const r = await call('GET', `/v1/sandboxes/${SB}/endpoints/${id}`);
        if (r.status === 404 && r.body.error?.code === 'unknown_endpoint') return 'detached';
        if (r.status >= 300) throw new Error(`GET ${id} → ${r.status}: ${JSON.stringify(r.body)}`);
        return r.body.state;
      };
      const action = (id: string, a: string, key?: string) => call('POST', `/v1/sandboxes/${SB}/endpoints/${id}/actions`, { action: a }, key ? { 'idempotency-key': key } : {});

      let killed = 0;
      let completed = 0;
      let recoveryKills = 0;
      let interrupted = 0;
      const recoveredEffects = new Set<string>();
      for (let t = 0; t < TRIALS; t++) {
        const family = FAMILIES[t % FAMILIES.length]!;
        const slot = slots[Math.floor(rnd() * slots.length)]!;
        // bring the endpoint to where the operation starts, without kills
        let state = await stateOf(slot.id);
        if (state === 'detached') {
          slot.id = (await ok('POST', `/v1/sandboxes/${SB}/endpoints`, { idx: slot.idx })).id;
          state = 'created';
        }
        if ((family === 'hot-attach' || family === 'attach') && state !== 'created') {
          const r = await action(slot.id, state === 'attached' ? 'detach' : 'hot-detach');
          expect(r.status, JSON.stringify(r.body)).toBe(200);
          slot.id = (await ok('POST', `/v1/sandboxes/${SB}/endpoints`, { idx: slot.idx })).id;
        } else if ((family === 'hot-detach' || family === 'detach') && state === 'created') {
          const setup = family === 'detach' && rnd() < 0.5 ? 'attach' : 'hot-attach';
          const r = await action(slot.id, setup);
          expect(r.status, JSON.stringify(r.body)).toBe(200);
        }
        state = await stateOf(slot.id);
        const op = family === 'detach' && state === 'hotAttached' ? 'hot-detach' : family === 'hot-detach' && state === 'attached' ? 'detach' : family;
        const key = `t${t}-${SEED}`;
        const since = (await list()).reduce((m, e) => Math.max(m, e.lastSeq), 0);
        const ctx = `trial ${t} (seed ${SEED}): ${op} of ${slot.id} from ${state}`;
        const reply = action(slot.id, op, key).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
        if (rnd() < 0.8) {
          const k = Math.floor(rnd() * INTENTS[op as Family]);
          await killAtIntent(slot.id, since, k, (0.1 + 0.8 * rnd()) * STRETCH, reply);
        } else {
          const timer = setTimeout(() => void daemon.kill9(), rnd() * 600);
          await reply;
          clearTimeout(timer);
          await daemon.kill9();
        }
        const first = await reply;
        if (first.status === 0) killed++;
        else {
          completed++;
          expect(first.status, `${ctx}: ${JSON.stringify(first.body)}`).toBe(200);
        }
        await daemon.kill9();
        // now and then, kill the restarted daemon while it recovers, then start it again
        if (first.status === 0 && rnd() < 0.25) {
          daemon = startDaemon(socketPath, stateDir, ENV);
          await sleep(150 + rnd() * 300);
          await daemon.kill9();
          recoveryKills++;
        }
        await restart();
        const sb = await ok('GET', `/v1/sandboxes/${SB}`);
        for (const r of sb.recovery.endpoints) recoveredEffects.add(r.effect);
        const eps = sb.endpoints as any[];
        for (const e of eps) expect(e.status, `${ctx}: ${e.id} ${e.state}`).toBe('settled');
        const problems = disagreements({ endpoints: eps } as StatusJson, await world.view());
        expect(problems, `${ctx}\n${JSON.stringify(eps.find((e) => e.id === slot.id), null, 1)}`).toEqual([]);
        // the retry with the same key: the outcome, never a second run
        const retry = await action(slot.id, op, key);
        const now = await stateOf(slot.id);
        if (retry.status === 200) {
          expect([retry.body.state, now], ctx).toEqual([TARGET[op as Family], TARGET[op as Family]]);
          // the whole Endpoint of the spec, a retired (detached) one too — not {id, state}
          expect(Object.keys(retry.body).sort(), ctx).toEqual(ENDPOINT_FIELDS);
        }
        else {
          interrupted++;
          expect([retry.status, retry.body.error?.code, retry.body.error?.state], ctx).toEqual([409, 'operation_interrupted', now]);
          expect(now, ctx).not.toBe(TARGET[op as Family]);
        }
        expect(await stateOf(slot.id), `${ctx}: the retry changed nothing`).toBe(now);
      }
      // eslint-disable-next-line no-console
      console.log(
        `api torture: ${killed} killed mid-request, ${completed} completed first, ${recoveryKills} recoveries killed, ${interrupted} retries answered operation_interrupted; ` +
          `recovered effects: ${[...recoveredEffects].sort().join(' ')}`,
      );
      expect(killed).toBeGreaterThan(0);

      // detach everything: the world ends empty
      for (const e of await list()) {
        if (e.state === 'detached' || e.state === 'created') continue;
        const r = await action(e.id, e.state === 'attached' ? 'detach' : 'hot-detach');
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      }
      const end = await world.view();
      expect([...end.taps.keys()]).toEqual([]);
      expect([...end.devices].filter((d) => d.startsWith('virtio-net-'))).toEqual([]);
      expect([...end.netdevs]).toEqual([]);
      expect(end.qemuTunFds).toBe(0);
      expect((await call('DELETE', `/v1/sandboxes/${SB}`)).status).toBe(204);
    },
    TRIALS * 10_000 + 60_000,
  );
});
