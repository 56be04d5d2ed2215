/**
 * The daemon's API semantics, with the in-memory adapters: idempotency keys, operations that
 * outlive their clients, the live events stream, a store locked by another process (423), and
 * bad bodies.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSandboxStore } from '../../src/daemon/sandbox-store.js';
import { StoreLock } from '../../src/store/store-lock.js';
import { writeRetentionFile } from '../../src/log/retention-file.js';
import { FileLogStore, LOG_FILE } from '../../src/log/file-store.js';
import { MemoryKernel } from '../../src/adapters/memory/kernel.js';
import { MemoryHypervisor } from '../../src/adapters/memory/hypervisor.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { memoryDaemon, readEvents } from './client.js';

const CFG = { netnsPath: '/run/netns/api', netnsCreated: true, vcpus: 1, vhost: false, qmp: '/run/api/qmp.sock' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function daemon(env: Record<string, string> = {}) {
  const d = await memoryDaemon({}, env);
  cleanup.push(() => d.stop());
  expect((await d.call('PUT', '/v1/sandboxes/sb', CFG)).status).toBe(201);
  expect((await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 })).status).toBe(201);
  return d;
}

const act = (action: string) => ({ action });
const A = '/v1/sandboxes/sb/endpoints/ep0/actions';

describe('a sandbox whose store cannot be opened', () => {
  it('is quarantined on request: moved aside intact, its id free again; a healthy one is not', async () => {
    const first = await memoryDaemon();
    expect((await first.call('PUT', '/v1/sandboxes/sb', CFG)).status).toBe(201);
    expect((await first.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 })).status).toBe(201);
    expect((await first.call('PUT', '/v1/sandboxes/ok', CFG)).status).toBe(201);
    await first.stop(true);
    // a damaged record in the middle of the log: corrupt, not a torn tail
    const log = path.join(first.stateDir, 'sb', LOG_FILE);
    const lines = fs.readFileSync(log, 'utf8').split('\n');
    lines[1] = lines[1]!.replace(/"seq":\d+/, '"seq":999');
    fs.writeFileSync(log, lines.join('\n'));
    const damaged = fs.readFileSync(log);
    const d = await memoryDaemon({}, {}, first.tmp);
    cleanup.push(() => d.stop());
    const get = await d.call('GET', '/v1/sandboxes/sb');
    expect([get.status, get.body.error.type]).toEqual([500, 'LogCorruptError']);
    // a plain delete cannot know what the store holds: refused, nothing removed
    expect((await d.call('DELETE', '/v1/sandboxes/sb')).status).toBe(500);
    expect(fs.readFileSync(log)).toEqual(damaged);
    const bad = await d.call('DELETE', '/v1/sandboxes/sb?quarantine=yes');
    expect([bad.status, bad.body.error.field, bad.body.error.rule]).toEqual([400, 'quarantine', 'boolean']);
    const healthy = await d.call('DELETE', '/v1/sandboxes/ok?quarantine=true');
    expect([healthy.status, healthy.body.error.code]).toEqual([409, 'sandbox_healthy']);
    expect((await d.call('GET', '/v1/sandboxes/ok')).status).toBe(200);
    const q = await d.call('DELETE', '/v1/sandboxes/sb?quarantine=true');
    expect(q.status).toBe(200);
    expect(q.body.id).toBe('sb');
    expect(path.dirname(q.body.quarantinedTo)).toBe(d.stateDir);
    expect(path.basename(q.body.quarantinedTo)).toMatch(/^\.quarantine-sb-\d+$/);
    expect(fs.readFileSync(path.join(q.body.quarantinedTo, LOG_FILE))).toEqual(damaged);
    expect((await d.call('GET', '/v1/sandboxes/sb')).status).toBe(404);
    expect((await d.call('PUT', '/v1/sandboxes/sb', CFG)).status).toBe(201);
    expect((await d.call('GET', '/v1/sandboxes')).body.sandboxes.map((s: { id: string }) => s.id).sort()).toEqual(['ok', 'sb']);
    // a restart neither opens nor removes the quarantined directory
    await d.stop(true);
    const again = await memoryDaemon({}, {}, first.tmp);
    cleanup.push(() => again.stop());
    expect((await again.call('GET', '/v1/sandboxes')).body.sandboxes.map((s: { id: string }) => s.id).sort()).toEqual(['ok', 'sb']);
    expect(fs.existsSync(q.body.quarantinedTo)).toBe(true);
  });
});

describe('idempotency keys', () => {
  it('concurrent retries with one key run the action once and get the same reply', async () => {
    const d = await daemon({ TAPSTATE_TEST_EFFECT_DELAY_MS: '40' });
    const [a, b] = await Promise.all([d.call('POST', A, act('hot-attach'), { 'idempotency-key': 'k1' }), sleep(30).then(() => d.call('POST', A, act('hot-attach'), { 'idempotency-key': 'k1' }))]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.body).toEqual(a.body);
    expect(b.headers['idempotent-replayed']).toBe('true');
    const later = await d.call('POST', A, act('hot-attach'), { 'idempotency-key': 'k1' });
    expect([later.status, later.body.state, later.headers['idempotent-replayed']]).toEqual([200, 'hotAttached', 'true']);
    const commands = (await readEvents(d.socketPath, '/v1/sandboxes/sb/events?since=0', 3)).filter((r) => r.k === 'event');
    expect(commands.map((r) => r.event.type)).toEqual(['HOT_ATTACH']);
  });

  it('a key used for another request is refused; a refusal that ran nothing frees its key', async () => {
    const d = await daemon();
    expect((await d.call('POST', A, act('hot-attach'), { 'idempotency-key': 'k1' })).status).toBe(200);
    const refused = await d.call('POST', A, act('attach'), { 'idempotency-key': 'k2' });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'invalid_command']);
    // k2 is free again: it can key the hot-detach
    expect((await d.call('POST', A, act('hot-detach'), { 'idempotency-key': 'k2' })).status).toBe(200);
    // ep0 is detached, so retired (unknown): a retry of that hot-detach still gets its recorded reply
    const retry = await d.call('POST', A, act('hot-detach'), { 'idempotency-key': 'k2' });
    expect([retry.status, retry.body.state]).toEqual([200, 'detached']);
    const reused = await d.call('POST', A, act('attach'), { 'idempotency-key': 'k2' });
    expect([reused.status, reused.body.error.code, reused.body.error.firstRequest]).toEqual([409, 'idempotency_key_reused', 'ep0 hot-detach']);
    const bad = await d.call('POST', A, act('hot-detach'), { 'idempotency-key': 'has space' });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'Idempotency-Key']);
  });

  it("a key file that cannot record the reply (disk full) neither hangs the retries waiting for the action nor turns its success into a 500", async () => {
    const d = await daemon({ TAPSTATE_TEST_EFFECT_DELAY_MS: '40' });
    const keys = d.daemon.sandboxes.get('sb').keys!;
    keys.finish = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const first = d.call('POST', A, act('hot-attach'), { 'idempotency-key': 'full' });
    await sleep(30);
    const retry = d.call('POST', A, act('hot-attach'), { 'idempotency-key': 'full' });
    const timeout = sleep(5000).then(() => ({ status: -1, body: 'hung' }));
    const [a, b] = await Promise.all([Promise.race([first, timeout]), Promise.race([retry, timeout])]);
    expect([a.status, (a.body as any).state]).toEqual([200, 'hotAttached']);
    expect([b.status, (b.body as any).state]).toEqual([200, 'hotAttached']);
  });

  it('recorded replies survive a daemon restart', async () => {
    const d = await memoryDaemon();
    let stopped = false;
    cleanup.push(() => (stopped ? undefined : d.stop()));
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
    const first = await d.call('POST', A, act('hot-attach'), { 'idempotency-key': 'k3' });
    expect(first.status).toBe(200);
    await d.stop(true);
    stopped = true;
    const d2 = await memoryDaemon({}, {}, d.tmp);
    cleanup.push(() => d2.stop());
    const again = await d2.call('POST', A, act('hot-attach'), { 'idempotency-key': 'k3' });
    expect([again.status, again.headers['idempotent-replayed']]).toEqual([200, 'true']);
    expect(again.body).toEqual(first.body);
  });

  /** A daemon where sb/ep0 was hot-attached, then hot-detached with `key`; then stopped as by kill -9. */
  async function hotDetachedWithKey(key: string) {
    const d = await memoryDaemon();
    let stopped = false;
    cleanup.push(() => (stopped ? undefined : d.stop()));
    await d.call('PUT', '/v1/sandboxes/sb', CFG);
    await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
    expect((await d.call('POST', A, act('hot-attach'))).status).toBe(200);
    const first = await d.call('POST', A, act('hot-detach'), { 'idempotency-key': key });
    await d.stop(true);
    stopped = true;
    return { tmp: d.tmp, first, keyFile: path.join(d.stateDir, 'sb', 'idempotency.jsonl') };
  }

  it('a hot-detach whose reply was never recorded (a crash) is replayed whole after its endpoint retired, even once its id is reused', async () => {
    const { tmp, first, keyFile } = await hotDetachedWithKey('k4');
    expect([first.status, first.body.state]).toEqual([200, 'detached']);
    // as after kill -9 between the endpoint's last record and the key's `done` line (or a detach
    // that recovery finished): the key file holds only the key's `start`
    const lines = fs.readFileSync(keyFile, 'utf8').split('\n');
    fs.writeFileSync(keyFile, lines.filter((l) => !(l.includes('"k4"') && l.includes('"done"'))).join('\n'));
    const d2 = await memoryDaemon({}, {}, tmp);
    cleanup.push(() => d2.stop());
    // the id of the retired endpoint is free again: a new ep0 (created) must not answer for the old one
    expect((await d2.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 })).body.id).toBe('ep0');
    const retry = await d2.call('POST', A, act('hot-detach'), { 'idempotency-key': 'k4' });
    expect([retry.status, retry.headers['idempotent-replayed']]).toEqual([200, 'true']);
    // the whole Endpoint the first reply was (the spec requires every field), not {id, state}
    expect(retry.body).toEqual(first.body);
    expect((await d2.call('GET', '/v1/sandboxes/sb/endpoints/ep0')).body.state).toBe('created');
  });

  it('a key file written before keys recorded `since`: a retired endpoint is replayed from its newest end', async () => {
    const { tmp, first, keyFile } = await hotDetachedWithKey('k5');
    const start = fs.readFileSync(keyFile, 'utf8').split('\n').find((l) => l.includes('"k5"') && l.includes('"start"'))!;
    const old = JSON.parse(start);
    expect(old.since).toBeTypeOf('number');
    delete old.since;
    fs.writeFileSync(keyFile, JSON.stringify(old) + '\n');
    const d2 = await memoryDaemon({}, {}, tmp);
    cleanup.push(() => d2.stop());
    const retry = await d2.call('POST', A, act('hot-detach'), { 'idempotency-key': 'k5' });
    expect([retry.status, retry.body]).toEqual([200, first.body]);
  });
});

describe('operations outlive their clients', () => {
  it('a client that hangs up mid-action does not cancel it: the operation completes', async () => {
    const d = await daemon({ TAPSTATE_TEST_EFFECT_DELAY_MS: '60' });
    await new Promise<void>((resolve) => {
      const body = JSON.stringify(act('hot-attach'));
      const req = http.request({ socketPath: d.socketPath, method: 'POST', path: A, agent: false, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
      req.on('error', () => resolve());
      req.end(body);
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 80);
    });
    const during = await d.call('GET', '/v1/sandboxes/sb/endpoints/ep0');
    expect(during.body.status).toBe('busy');
    let v = during.body;
    for (let i = 0; i < 200 && v.status !== 'settled'; i++) {
      await sleep(20);
      v = (await d.call('GET', '/v1/sandboxes/sb/endpoints/ep0')).body;
    }
    expect([v.state, v.status]).toEqual(['hotAttached', 'settled']);
  });
});

describe('events', () => {
  it('streams the journal records as they are appended', async () => {
    const d = await daemon();
    const got = readEvents(d.socketPath, '/v1/sandboxes/sb/events', 4);
    await sleep(50);
    await d.call('POST', A, act('hot-attach'));
    const recs = await got;
    expect(recs[0]).toMatchObject({ k: 'event', ep: 'ep0', event: { type: 'HOT_ATTACH' } });
    expect(recs[1]).toMatchObject({ k: 'intent', id: 'hotAttach.createTap' });
    expect(recs.map((r) => r.seq)).toEqual([2, 3, 4, 5]);
  });

  it('since=0 starts at the oldest retained record, in the sealed segments too, not at the active segment', async () => {
    const d0 = await memoryDaemon();
    await d0.call('PUT', '/v1/sandboxes/sb', CFG);
    await d0.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 });
    await d0.stop(true);
    // small segments, nothing removed: the history rotates into segments/ within a few actions
    writeRetentionFile(path.join(d0.stateDir, 'sb'), { segmentBytes: 4096, maxBytes: null, maxAgeMs: null, keepHistory: false });
    const d = await memoryDaemon({}, {}, d0.tmp);
    cleanup.push(() => d.stop());
    for (let i = 0; i < 12; i++) {
      expect((await d.call('POST', A, act('hot-attach'))).status).toBe(200);
      expect((await d.call('POST', A, act('hot-detach'))).status).toBe(200); // ep0 retires: idx 0 is free again
      expect((await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 })).status).toBe(201);
    }
    expect(fs.readdirSync(path.join(d.stateDir, 'sb', 'segments')).length).toBeGreaterThan(0);
    const last = (await d.call('GET', '/v1/sandboxes/sb/endpoints/ep0')).body.lastSeq as number;
    // before: the stream began at the active segment's first record, so `last` lines never came
    const recs = await Promise.race([readEvents(d.socketPath, '/v1/sandboxes/sb/events?since=0', last), sleep(5000).then(() => [] as any[])]);
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  });

  it('a backlog larger than the live budget is sent at the reader\'s pace, not dropped', async () => {
    const d0 = await memoryDaemon();
    await d0.call('PUT', '/v1/sandboxes/sb', CFG);
    await d0.stop(true);
    const dir = path.join(d0.stateDir, 'sb');
    writeRetentionFile(dir, { segmentBytes: 1 << 20, maxBytes: null, maxAgeMs: null, keepHistory: false });
    // a long history, fast: the library on the store, in-memory kernel and VMM, no fdatasync
    const kernel = new MemoryKernel();
    kernel.addNetns(CFG.netnsPath);
    const store = await Tapstore.open({ log: FileLogStore.open(dir, { fdatasync: () => {} }), adapters: { netlink: kernel, hypervisor: new MemoryHypervisor({ kernel }) } });
    while (fs.statSync(path.join(dir, LOG_FILE)).size + (fs.existsSync(path.join(dir, 'segments')) ? fs.readdirSync(path.join(dir, 'segments')).reduce((a, f) => a + fs.statSync(path.join(dir, 'segments', f)).size, 0) : 0) < 9 << 20) {
      for (let i = 0; i < 50; i++) {
        const { id } = store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
        await store.hotAttach(id);
        await store.hotDetach(id);
      }
    }
    await store.close();
    const d = await memoryDaemon({}, {}, d0.tmp);
    cleanup.push(() => d.stop());
    const { id } = (await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0 })).body;
    const last = (await d.call('GET', `/v1/sandboxes/sb/endpoints/${id}`)).body.lastSeq as number;
    // over 9 MiB of records after since=0, against the 8 MiB a reader may fall behind live records:
    // before, the whole backlog was written at once and the stream dropped at its first line
    const recs = await Promise.race([readEvents(d.socketPath, '/v1/sandboxes/sb/events?since=0', last), sleep(20000).then(() => [] as any[])]);
    expect(recs.length).toBe(last);
    expect(recs.at(-1).seq).toBe(last);
  }, 60_000);

  it('a reader that stops reading is dropped once it falls eventsBehindBytes behind the live records', async () => {
    const d = await memoryDaemon({ eventsBehindBytes: 4096 });
    cleanup.push(() => d.stop());
    expect((await d.call('PUT', '/v1/sandboxes/sb', CFG)).status).toBe(201);
    const req = http.get({ socketPath: d.socketPath, path: '/v1/sandboxes/sb/events', agent: false }, (res) => res.pause());
    req.on('error', () => {});
    cleanup.push(() => void req.destroy());
    const sb = d.daemon.sandboxes.get('sb');
    for (let i = 0; i < 50 && sb.streams.size === 0; i++) await sleep(10);
    expect(sb.streams.size).toBe(1);
    // live records until the socket buffers are full and 4 KiB more wait in the daemon
    for (let i = 0; i < 400 && sb.streams.size > 0; i++) {
      expect((await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 0, mac: '02:00:00:00:00:01' })).status).toBe(201);
      expect((await d.call('POST', A, act('hot-attach'))).status).toBe(200);
      expect((await d.call('POST', A, act('hot-detach'))).status).toBe(200);
    }
    expect(sb.streams.size).toBe(0);
  }, 60_000);

  it('a stream ends when its sandbox is deleted', async () => {
    const d = await daemon();
    const ended = new Promise<number>((resolve, reject) => {
      const req = http.get({ socketPath: d.socketPath, path: '/v1/sandboxes/sb/events', agent: false }, (res) => {
        let lines = 0;
        res.on('data', (c: Buffer) => (lines += c.toString().split('\n').length - 1));
        res.on('end', () => resolve(lines));
      });
      req.on('error', reject);
    });
    await sleep(50);
    expect((await d.call('DELETE', '/v1/sandboxes/sb')).status).toBe(204);
    expect(await ended).toBe(0);
  });
});

describe('a store locked by another process', () => {
  it('answers 423 with the holder, and serves the sandbox once the lock is free', async () => {
    const d0 = await memoryDaemon();
    const dir = path.join(d0.stateDir, 'held');
    await createSandboxStore(dir, CFG);
    await d0.stop(true);
    const lock = StoreLock.acquire(dir);
    let held = true;
    cleanup.push(() => (held ? lock.release() : undefined));
    const d = await memoryDaemon({}, {}, d0.tmp);
    cleanup.push(() => d.stop());
    const r = await d.call('GET', '/v1/sandboxes/held');
    expect([r.status, r.body.error.code, r.body.error.pid]).toEqual([423, 'store_locked', process.pid]);
    expect((await d.call('GET', '/v1/sandboxes')).body.sandboxes[0]).toMatchObject({ id: 'held', state: 'error', error: { code: 'store_locked' } });
    lock.release();
    held = false;
    expect((await d.call('GET', '/v1/sandboxes/held')).status).toBe(200);
  });
});

describe('deleting a sandbox', () => {
  it('creates and deletes stores atomically (rename); what a crash mid-create or mid-delete left is removed at start, never served', async () => {
    const d0 = await memoryDaemon();
    const trash = path.join(d0.stateDir, '.trash-old-1-1');
    await createSandboxStore(trash, CFG); // a delete that was killed while removing the directory
    const half = path.join(d0.stateDir, '.new-half-1-1');
    fs.mkdirSync(half);
    fs.writeFileSync(path.join(half, 'log.jsonl'), '0000'); // a create killed half-way
    await d0.stop(true);
    const d = await memoryDaemon({}, {}, d0.tmp);
    cleanup.push(() => d.stop());
    expect(fs.existsSync(trash)).toBe(false);
    expect(fs.existsSync(half)).toBe(false);
    expect((await d.call('GET', '/v1/sandboxes')).body.sandboxes).toEqual([]);
    expect((await d.call('PUT', '/v1/sandboxes/gone', CFG)).status).toBe(201);
    expect((await d.call('DELETE', '/v1/sandboxes/gone')).status).toBe(204);
    expect(fs.readdirSync(d.stateDir)).toEqual([]);
    // the same id again: a fresh store
    expect((await d.call('PUT', '/v1/sandboxes/gone', CFG)).body.endpoints).toEqual([]);
  });
});

describe('bad bodies', () => {
  it('malformed JSON, a non-object, a wrong content-type and unknown fields are 400s naming the problem', async () => {
    const d = await daemon();
    const r1 = await d.call('POST', '/v1/sandboxes/sb/endpoints', '{"idx":');
    expect([r1.status, r1.body.error.code]).toEqual([400, 'bad_json']);
    const r2 = await d.call('POST', '/v1/sandboxes/sb/endpoints', '[1]');
    expect([r2.status, r2.body.error.message]).toEqual([400, 'body must be a JSON object']);
    const r3 = await d.call('POST', '/v1/sandboxes/sb/endpoints', 'idx=1', { 'content-type': 'text/plain' });
    expect([r3.status, r3.body.error.code]).toEqual([400, 'bad_json']);
    const r4 = await d.call('POST', '/v1/sandboxes/sb/endpoints', { idx: 1, colour: 'red' });
    expect([r4.status, r4.body.error.field, r4.body.error.rule]).toEqual([400, 'colour', 'unknown']);
    const r5 = await d.call('PUT', '/v1/sandboxes/.hidden', CFG);
    expect([r5.status, r5.body.error.field]).toEqual([400, 'sandbox']);
    // a path segment that is not valid percent-encoded UTF-8 is bad input, not a daemon failure
    const r6 = await d.call('GET', '/v1/sandboxes/%E0%A4%A/endpoints');
    expect([r6.status, r6.body.error.code, r6.body.error.field, r6.body.error.rule]).toEqual([400, 'request_field', 'sandbox', 'encoding']);
    // nothing was created
    expect((await d.call('GET', '/v1/sandboxes/sb/endpoints')).body.endpoints).toHaveLength(1);
  });
});
