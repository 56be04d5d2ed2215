/**
 * Compact checkpoints (checkpoint version 2) and small segment headers (version 3), and the
 * stores written before them: a store of the previous format (test/fixtures/store-v2: version-2
 * segment headers embedding their base, a version-1 checkpoint with whole contexts) opens to the
 * same state, verifies, and goes on in the new format.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore, MemoryLogMedium, MemoryLogStore } from '../../src/log/index.js';
import { encodeCheckpoint } from '../../src/log/codec.js';
import { rebuildEndpoints } from '../../src/runtime/rebuild.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { NonDeterminismError } from '../../src/runtime/errors.js';
import { contextRef, storedContext, storedSnapshot } from '../../src/runtime/compact-context.js';
import { initialContext } from '../../machines/index.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/store-v2', import.meta.url));
const EXPECTED = JSON.parse(fs.readFileSync(FIXTURE + '.expected.json', 'utf8')) as {
  seq: number;
  retired: number;
  historyFirstSeq: number;
  historyLastSeq: number;
  endpoints: Record<string, { value: unknown; status: string; context: unknown }>;
};
const NETNS = '/run/netns/fixture';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function copyFixture(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-compat-${process.pid}-`));
  dirs.push(d);
  fs.cpSync(FIXTURE, d, { recursive: true });
  // git keeps no modes: the store wants 0700 directories and 0600 files
  const fix = (p: string): void => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const q = path.join(p, e.name);
      if (e.isDirectory()) {
        fs.chmodSync(q, 0o700);
        fix(q);
      } else fs.chmodSync(q, 0o600);
    }
  };
  fs.chmodSync(d, 0o700);
  fix(d);
  return d;
}

function world() {
  const kernel = new MemoryKernel();
  kernel.addNetns(NETNS);
  return { netlink: kernel, hypervisor: new MemoryHypervisor({ kernel, slots: 16 }) };
}

function stateOf(dir: string, verify: boolean) {
  const log = FileLogStore.open(dir, { readOnly: true });
  try {
    const r = rebuildEndpoints(log, verify);
    return {
      seq: r.seq,
      retired: r.retired,
      endpoints: Object.fromEntries([...r.slots.values()].map((s) => [s.id, { value: s.snapshot.value, status: s.snapshot.status, context: s.snapshot.context }])),
    };
  } finally {
    log.close();
  }
}

describe('a store written by the previous format (version-2 segments, version-1 checkpoint)', () => {
  it('opens to the same endpoints, verifies, reads its history, and goes on in the new format', async () => {
    const dir = copyFixture();
    expect(fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8')).toMatch(/^[0-9a-f]{8} \{"k":"header","format":"tapstate-log","version":2,/);
    const fast = stateOf(dir, false);
    expect(fast).toEqual({ seq: EXPECTED.seq, retired: EXPECTED.retired, endpoints: EXPECTED.endpoints });
    expect(stateOf(dir, true)).toEqual(fast);
    const log = FileLogStore.open(dir, { readOnly: true });
    const seqs = [...log.history().records].map((r) => r.record.seq);
    log.close();
    expect([seqs[0], seqs[seqs.length - 1]]).toEqual([EXPECTED.historyFirstSeq, EXPECTED.historyLastSeq]);

    // write on: hot-attach ep7, cycle another endpoint until the active segment rotates
    const w = world();
    const s = await Tapstore.open({ log: FileLogStore.open(dir), adapters: w, checkpointEvery: 40 });
    expect(s.list().map((v) => v.id)).toEqual(Object.keys(EXPECTED.endpoints));
    await s.hotAttach('ep7');
    for (let i = 0; i < 12; i++) {
      const v = s.createEndpoint({ idx: 20, mac: '02:00:00:00:00:20' });
      await s.hotAttach(v.id);
      await s.hotDetach(v.id);
    }
    const live = s.list().map((v) => [v.id, v.state]);
    await s.close();
    const head = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').split('\n')[0]!;
    expect(head).toContain('"version":3');
    const cp = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8').slice(9)) as { version: number; endpoints: Record<string, { snapshot: Record<string, unknown> }> };
    expect(cp.version).toBe(2);
    expect(Object.values(cp.endpoints).every((e) => typeof e.snapshot.delta === 'string')).toBe(true);
    const after = stateOf(dir, false);
    expect(stateOf(dir, true)).toEqual(after);
    expect(Object.entries(after.endpoints).map(([id, e]) => [id, e.value])).toEqual(live);
    expect(after.retired).toBe(EXPECTED.retired + 12);
    for (const [id, e] of Object.entries(EXPECTED.endpoints)) if (id !== 'ep7') expect(after.endpoints[id]).toEqual(e);
  });
});

describe('compact checkpoint contexts', () => {
  const ref = contextRef({ netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false });

  it('opening reports what the checkpoint\'s compact contexts are relative to: the sandbox defaults (none without a checkpoint)', async () => {
    const medium = new MemoryLogMedium();
    const sandbox = { netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false };
    const s = await Tapstore.open({ log: MemoryLogStore.create(medium, { sandbox }), adapters: world() });
    s.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const opened = (verify: boolean) => rebuildEndpoints(MemoryLogStore.open(medium, { readOnly: true }), verify);
    expect(opened(false).ref).toBeNull();
    s.checkpoint();
    await s.close();
    expect(opened(false)).toMatchObject({ fromCheckpoint: true, ref: contextRef(sandbox) });
  });

  it('store only idx and what differs from the reference; expand to the same context, checked by its hash', () => {
    const ctx = { ...initialContext({ ...ref, id: 'ep3', idx: 3, mac: '02:00:00:00:00:03' } as never), pciPath: '02/00', op: 'hotAttach' };
    const s = storedSnapshot(ref, 'ep3', 'hotAttached', 'active', ctx);
    expect(s.context).toBeUndefined();
    expect(JSON.parse(s.delta!)).toEqual({ idx: 3, mac: '02:00:00:00:00:03', op: 'hotAttach', pciPath: '02/00' });
    expect(storedContext(s, 'ep3', ref)).toEqual(ctx);
    expect(JSON.stringify(storedContext(s, 'ep3', ref))).toBe(JSON.stringify(ctx)); // same key order: same stamp
    // another id or reference derives another context: refused, never restored wrong
    expect(() => storedContext(s, 'ep4', ref)).toThrow(NonDeterminismError);
    expect(() => storedContext(s, 'ep3', { ...ref, vcpus: 4 })).toThrow(NonDeterminismError);
    expect(() => storedContext(s, 'ep3', null)).toThrow(NonDeterminismError);
    expect(encodeCheckpoint({ format: 'tapstate-log', version: 2, seq: 0, offset: 0, ref, endpoints: { ep3: { snapshot: s, pending: null, lastSeq: 0 } } }).length).toBeLessThan(400);
  });

  it('a context that does not round-trip (a field the reference lacks first, a missing one) is stored whole', () => {
    const base = initialContext({ ...ref, id: 'ep1', idx: 1, mac: '02:00:00:00:00:01' } as never) as unknown as Record<string, unknown>;
    const extraFirst = { extra: 1, ...base };
    const s1 = storedSnapshot(ref, 'ep1', 'created', 'active', extraFirst);
    expect(s1.delta).toBeUndefined();
    expect(storedContext(s1, 'ep1', ref)).toEqual(extraFirst);
    const { warnings: _w, ...missing } = base;
    const s2 = storedSnapshot(ref, 'ep1', 'created', 'active', missing);
    expect(s2.delta).toBeUndefined();
    expect(storedContext(s2, 'ep1', ref)).toEqual(missing);
  });

  it('a checkpoint of many endpoints is small: contexts hold only what differs', async () => {
    const w = world();
    const { MemoryLogStore, MemoryLogMedium } = await import('../../src/log/memory-store.js');
    const medium = new MemoryLogMedium();
    const log = MemoryLogStore.create(medium, { sandbox: { netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false } });
    const s = await Tapstore.open({ log, adapters: w, checkpointEvery: 100_000 });
    for (let i = 0; i < 300; i++) s.createEndpoint({ idx: i, mac: `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}` });
    s.checkpoint();
    await s.close();
    const cp = MemoryLogStore.open(medium, { readOnly: true }).readCheckpoint()!;
    expect(Object.keys(cp.endpoints)).toHaveLength(300);
    expect(encodeCheckpoint(cp).length).toBeLessThan(200 * 300); // whole contexts: ~700 bytes each
    const again = await Tapstore.open({ log: MemoryLogStore.open(medium, { readOnly: true }), adapters: w, recover: false });
    expect(again.get('ep299')).toMatchObject({ state: 'created', tapName: 'tap299_kata', mac: '02:00:00:00:01:2b' });
  });
});
