/**
 * Segments, rotation, compaction and retention, against both stores: a full active segment is
 * sealed right after a checkpoint that covers it; compaction removes (or archives) the oldest
 * sealed segments that the checkpoint covers and whose endpoints are settled or retired; the
 * history stays one contiguous run; a crash before any step of a rotation or a compaction
 * leaves a store that opens to the same records and checkpoint.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { LOG_FORMAT, type Checkpoint, type LogRecord } from '../../src/log/records.js';
import type { RetentionPolicy } from '../../src/log/retention.js';
import type { FileLogStore } from '../../src/log/file-store.js';
import type { MemoryLogStore } from '../../src/log/memory-store.js';
import { KITS, hotAttach, type StoreKit } from './fixtures.js';

type Store = FileLogStore | MemoryLogStore;

const small = (p: Partial<RetentionPolicy> = {}): RetentionPolicy => ({ segmentBytes: 4096, maxBytes: null, maxAgeMs: null, keepHistory: false, ...p });

/** A checkpoint at the store's end: every endpoint seen so far settled, except those in `busy`. */
function cpOf(s: Store, eps: Iterable<string>, busy: Set<string> = new Set()): Checkpoint {
  const endpoints: Checkpoint['endpoints'] = {};
  for (const ep of eps)
    endpoints[ep] = {
      snapshot: { value: 'attached', context: '{}', status: 'active' },
      pending: busy.has(ep) ? { k: 'intent', seq: 1, ts: 0, ep, id: 'x', src: 'netlink.setUp', input: null, attempt: 1 } : null,
      lastSeq: 0,
    };
  return { format: LOG_FORMAT, version: 1, seq: s.nextSeq - 1, offset: s.end, endpoints };
}

/** Append `rounds` hot-attaches of endpoints e0, e1, …, checkpoint + maintain after each. */
function grow(s: Store, rounds: number, opts: { eps?: (i: number) => string; busy?: Set<string>; live?: Set<string> } = {}): LogRecord[] {
  const all: LogRecord[] = [];
  const live = opts.live ?? new Set<string>();
  for (let i = 0; i < rounds; i++) {
    const ep = opts.eps ? opts.eps(i) : `e${i}`;
    const recs = hotAttach(s.nextSeq, ep, 1_700_000_000_000 + i * 1000);
    s.append(recs, false);
    all.push(...recs);
    live.add(ep);
    const cp = cpOf(s, live, opts.busy);
    s.writeCheckpoint(cp);
    s.maintain(cp);
  }
  return all;
}

/** Records of endpoint `e-last` until the active segment is full (no checkpoint). */
function fill(s: Store): LogRecord[] {
  const out: LogRecord[] = [];
  while (s.end - s.headerEnd < 4096) {
    const recs = hotAttach(s.nextSeq, 'e-last');
    s.append(recs, false);
    out.push(...recs);
  }
  return out;
}

const seqs = (s: Store, archive = false) => [...s.history({ archive }).records].map((r) => r.record.seq);

describe.each(KITS)('segments: %s store', (_name, makeKit) => {
  let kit: StoreKit;
  beforeEach(() => {
    kit = makeKit();
  });
  afterEach(() => kit.cleanup());

  it('rotates a full segment right after a checkpoint: a version-3 header naming where it starts, its base that checkpoint; offsets stay logical', () => {
    const s = kit.create({ sandbox: 'x' }, { retention: small() });
    const recs = grow(s, 12);
    const h = s.read().header;
    expect(h.version).toBe(3);
    expect(h.base).toBeUndefined();
    expect(h.start).toBeDefined();
    expect(h.meta).toEqual({ sandbox: 'x' });
    expect(s.headerEnd).toBe(h.start!.offset);
    // the header line stays small whatever the checkpoint holds: the base is on its own line
    expect(kit.bytes().indexOf(10)).toBeLessThan(300);
    const end = s.end;
    s.close();
    const r = kit.open({ retention: small() });
    expect(r.end).toBe(end);
    expect(r.nextSeq).toBe(recs.length + 1);
    expect(r.readCheckpoint()!.offset).toBe(end);
    // every record, once, in order, across the segments
    expect(seqs(r)).toEqual(recs.map((x) => x.seq));
    const offsets = [...r.history().records].map((x) => [x.offset, x.length]);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]![0]).toBe(offsets[i - 1]![0]! + offsets[i - 1]![1]!);
    expect(r.history().base).toBeNull(); // history starts at seq 1
    // the tail read from the checkpoint still works
    r.append(hotAttach(r.nextSeq, 'z'), true);
    expect(r.read(end).records.map((x) => x.record.ep)).toEqual(Array(7).fill('z'));
    r.close();
  });

  it('compaction keeps the newest history within maxBytes, removes only whole covered segments, oldest first', () => {
    const s = kit.create({}, { retention: small({ maxBytes: 16_000 }) });
    const recs = grow(s, 60, { eps: (i) => `e${i % 3}` });
    const kept = seqs(s);
    expect(kept.length).toBeLessThan(recs.length);
    expect(kept[kept.length - 1]).toBe(recs.length);
    // contiguous suffix, and the base checkpoint is the state right before its first record
    expect(kept).toEqual(recs.slice(recs.length - kept.length).map((r) => r.seq));
    const h = s.history();
    expect(h.base!.seq).toBe(kept[0]! - 1);
    s.close();
    const r = kit.open({ retention: small({ maxBytes: 16_000 }) });
    expect(seqs(r)).toEqual(kept);
    r.close();
  });

  it('--keep-history: removed segments are archived; history with the archive starts at seq 1', () => {
    const s = kit.create({}, { retention: small({ maxBytes: 16_000, keepHistory: true }) });
    const recs = grow(s, 60, { eps: (i) => `e${i % 3}` });
    expect(seqs(s).length).toBeLessThan(recs.length);
    expect(seqs(s, true)).toEqual(recs.map((r) => r.seq));
    s.close();
  });

  it('retention by age: only segments whose newest record is older than maxAgeMs go', () => {
    let now = 1_700_000_000_000;
    const s = kit.create({}, { retention: small({ maxAgeMs: 20_000 }), now: () => now });
    const recs = grow(s, 40); // ts: 1 s apart, starting at `now`
    expect(seqs(s)).toEqual(recs.map((r) => r.seq)); // nothing older than 20 s yet
    now += 200_000;
    const cp = cpOf(s, new Set(recs.map((r) => r.ep)));
    s.writeCheckpoint(cp);
    const rep = s.maintain(cp);
    expect(rep.removed.length).toBeGreaterThan(0);
    s.close();
  });

  it('a segment holding records of an endpoint that is not settled stays, and so does everything after it', () => {
    const busy = new Set(['e3']);
    const s = kit.create({}, { retention: small({ maxBytes: 8_000 }) });
    const recs = grow(s, 60, { busy, eps: (i) => (i === 3 ? 'e3' : `e${i % 3}`) });
    const kept = seqs(s);
    const e3 = recs.filter((r) => r.ep === 'e3').map((r) => r.seq);
    expect(kept[0]).toBeLessThanOrEqual(e3[0]!);
    // once e3 settles, compaction goes past it
    const cp = cpOf(s, new Set(recs.map((r) => r.ep)));
    s.writeCheckpoint(cp);
    s.maintain(cp);
    expect(seqs(s)[0]).toBeGreaterThan(e3[e3.length - 1]!);
    s.close();
  });

  it('a crash before any step of a rotation or compaction loses nothing: reopen, same records and checkpoint, and it goes on', () => {
    // record the steps of one maintain() that rotates and removes
    const steps: string[] = [];
    {
      const probe = makeKit();
      const s = probe.create({}, { retention: small({ maxBytes: 3_000 }) });
      grow(s, 30, { eps: (i) => `e${i % 3}` });
      const recs = fill(s);
      const cp = cpOf(s, ['e-last']);
      s.writeCheckpoint(cp);
      s.close();
      const t = probe.open({ retention: small({ maxBytes: 3_000 }), compactHook: (st) => (steps.push(st), 'ok') });
      const rep = t.maintain(t.readCheckpoint()!);
      expect(rep.rotated).toBe(true);
      expect(rep.removed.length).toBeGreaterThan(0);
      t.close();
      probe.cleanup();
    }
    expect(steps.slice(0, 3)).toEqual(['rotate:header', 'rotate:link', 'rotate:switch']);
    expect(steps.some((x) => x.startsWith('compact:remove '))).toBe(true);
    expect(steps[steps.length - 1]).toBe('done');
    for (let k = 0; k < steps.length; k++) {
      const kk = makeKit();
      try {
        const pol = small({ maxBytes: 3_000 });
        const s = kk.create({}, { retention: pol });
        const before = grow(s, 30, { eps: (i) => `e${i % 3}` });
        const recs = fill(s);
        const cp = cpOf(s, ['e-last']);
        s.writeCheckpoint(cp);
        s.close();
        const all = [...before, ...recs].map((r) => r.seq);
        const keptBefore = seqs(kk.open({ readOnly: true, retention: pol }));
        let n = 0;
        const t = kk.open({ retention: pol, compactHook: () => (n++ === k ? 'crash' : 'ok') });
        expect(() => t.maintain(t.readCheckpoint()!), `step ${steps[k]}`).toThrow(SimulatedCrash);
        // a reader sees a contiguous suffix ending at the last record, before and after the writer reopens
        for (const opts of [{ readOnly: true as const }, {}]) {
          const r = kk.open({ ...opts, retention: pol });
          const got = seqs(r);
          // (retention may have removed everything but the empty new active segment)
          expect(got, steps[k]).toEqual(all.slice(all.length - got.length));
          if (k < 3) expect(got, `${steps[k]}: nothing removed yet`).toEqual(keptBefore);
          expect(got.length, steps[k]).toBeLessThanOrEqual(keptBefore.length);
          expect(r.readCheckpoint(), steps[k]).toEqual(cp);
          expect(r.nextSeq).toBe(all.length + 1);
          r.close();
        }
        // the writer goes on: append, checkpoint, maintain
        const w = kk.open({ retention: pol });
        w.append(hotAttach(w.nextSeq, 'after'), true);
        const cp2 = cpOf(w, ['after']);
        w.writeCheckpoint(cp2);
        w.maintain(cp2);
        const got = seqs(w);
        const total = [...all, ...Array.from({ length: 7 }, (_, i) => all.length + 1 + i)];
        expect(got).toEqual(total.slice(total.length - got.length));
        expect(w.nextSeq).toBe(all.length + 8);
        expect(w.readCheckpoint()).toEqual(cp2);
        w.close();
      } finally {
        kk.cleanup();
      }
    }
  });

  it('a version-3 segment cut inside its base line is corrupt (truncated-segment); a damaged base line is found when the history is read', () => {
    // maxBytes 1: every sealed segment is compacted away, the history starts at the active one's base line
    const s = kit.create({}, { retention: small({ maxBytes: 1 }) });
    grow(s, 12);
    expect(s.history().base).not.toBeNull();
    s.close();
    const whole = kit.bytes();
    const headerEnd = whole.indexOf(10) + 1;
    kit.setBytes(whole.subarray(0, headerEnd + 20));
    expect(() => kit.open({ retention: small() })).toThrow(expect.objectContaining({ name: 'LogCorruptError', reason: 'truncated-segment' }));
    const flipped = Buffer.from(whole);
    flipped[headerEnd + 30]! ^= 1;
    kit.setBytes(flipped);
    const r = kit.open({ retention: small(), readOnly: true }); // opening reads only the header line
    expect(() => r.history()).toThrow(expect.objectContaining({ name: 'LogCorruptError', reason: 'checksum' }));
    r.close();
  });

  it('an old single-file store (version 1, no segments) opens, reads and rotates on', () => {
    const s = kit.create({}, {});
    s.append(hotAttach(1, 'a'), true);
    s.close();
    expect(kit.bytes().toString().split('\n')[0]).toContain('"version":1');
    const r = kit.open({ retention: small() });
    expect(seqs(r)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    grow(r, 12);
    expect(r.read().header.version).toBe(3);
    expect(seqs(r)[0]).toBe(1);
    r.close();
  });
});
