/**
 * The LogStore contract, run against both stores: append/read/reopen, seq continuity, durability
 * accounting, torn tails at every byte, bit flips in every record, sequence damage, foreign and
 * newer files, crash hooks, checkpoints.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedCrash } from '../../src/adapters/faults.js';
import { LogRecordError, LogStoreClosedError, encodeCheckpoint, encodeHeader, encodeRecord } from '../../src/log/codec.js';
import { LogCorruptError, LogFormatError } from '../../src/log/errors.js';
import { LOG_FORMAT, type Checkpoint, type LogRecord } from '../../src/log/records.js';
import { KITS, hotAttach, type StoreKit } from './fixtures.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** A log of two endpoints' hot-attaches (14 records) written by the store itself. */
function writeSample(kit: StoreKit): { recs: LogRecord[]; bytes: Buffer; headerEnd: number } {
  const s = kit.create();
  const recs = [...hotAttach(1, 'eth0'), ...hotAttach(8, 'eth1')];
  s.append(recs.slice(0, 3), true);
  s.append(recs.slice(3, 9), false);
  s.append(recs.slice(9), true);
  const headerEnd = s.headerEnd;
  s.close();
  return { recs, bytes: kit.bytes(), headerEnd };
}

function cpAt(seq: number, offset: number): Checkpoint {
  return {
    format: LOG_FORMAT,
    version: 1,
    seq,
    offset,
    endpoints: {
      eth0: { snapshot: { value: 'attached', context: { n: 1 }, status: 'active' }, pending: null, lastSeq: Math.min(seq, 7) },
    },
  };
}

describe.each(KITS)('LogStore contract: %s store', (_name, makeKit) => {
  let kit: StoreKit;
  beforeEach(() => {
    kit = makeKit();
  });
  afterEach(() => kit.cleanup());

  it('creates an empty log whose header carries the metadata', () => {
    const s = kit.create({ netns: '/run/netns/x', vcpus: 2 });
    const r = s.read();
    expect(r.header).toMatchObject({ k: 'header', format: LOG_FORMAT, version: 1, meta: { netns: '/run/netns/x', vcpus: 2 } });
    expect(r.records).toEqual([]);
    expect(r.torn).toBeNull();
    expect(r.end).toBe(s.headerEnd);
    expect(s.end).toBe(kit.bytes().length);
    s.close();
  });

  it('refuses to create over an existing log (exists) and leaves it unchanged', () => {
    const { bytes } = writeSample(kit);
    expect(thrown(() => kit.create())).toMatchObject({ name: 'LogFormatError', reason: 'exists' });
    expect(kit.bytes().equals(bytes)).toBe(true);
  });

  it('reads back appended records with offsets and lengths, and reads a tail from any record offset', () => {
    const { recs, bytes, headerEnd } = writeSample(kit);
    const s = kit.open();
    const r = s.read();
    expect(r.records.map((p) => p.record)).toEqual(recs);
    expect(r.records[0]!.offset).toBe(headerEnd);
    for (const p of r.records) expect(bytes[p.offset + p.length - 1]).toBe(0x0a);
    expect(r.end).toBe(bytes.length);
    for (const [i, p] of r.records.entries()) {
      const tail = s.read(p.offset);
      expect(tail.records.map((x) => x.record.seq)).toEqual(recs.slice(i).map((x) => x.seq));
    }
    expect(s.read(r.end).records).toEqual([]);
    expect(thrown(() => s.read(headerEnd + 3))).toBeInstanceOf(RangeError);
    expect(thrown(() => s.read(r.end + 1))).toBeInstanceOf(RangeError);
    s.close();
  });

  it('continues the sequence after reopen', () => {
    const { recs } = writeSample(kit);
    const s = kit.open();
    expect(s.nextSeq).toBe(recs.length + 1);
    s.append(hotAttach(recs.length + 1, 'eth2'), true);
    s.close();
    const r = kit.open().read();
    expect(r.records.map((p) => p.record.seq)).toEqual(Array.from({ length: recs.length + 7 }, (_, i) => i + 1));
  });

  it('rejects a non-contiguous seq or a malformed record with LogRecordError naming the field, writing nothing', () => {
    const s = kit.create();
    s.append(hotAttach(1).slice(0, 2), true);
    const before = kit.bytes();
    const [a, b] = hotAttach(3).slice(0, 2);
    expect(thrown(() => s.append([{ ...a!, seq: 4 }], true))).toMatchObject({ name: 'LogRecordError', field: 'records[0].seq' });
    expect(thrown(() => s.append([a!, { ...b!, seq: 3 }], true))).toMatchObject({ field: 'records[1].seq' });
    const noSrc = { ...hotAttach(3)[2]!, seq: 3 } as Record<string, unknown>;
    delete noSrc.src;
    expect(thrown(() => s.append([noSrc as unknown as LogRecord], false))).toMatchObject({ field: 'records[0].src' });
    expect(thrown(() => s.append([{ ...a!, k: 'bogus' } as unknown as LogRecord], false))).toMatchObject({ field: 'records[0].k' });
    expect(thrown(() => s.append([{ ...a!, ep: '' }], false))).toBeInstanceOf(LogRecordError);
    expect(kit.bytes().equals(before)).toBe(true);
    expect(s.end).toBe(before.length);
    s.append([a!], false); // the store is still usable
    s.close();
  });

  it('fdatasyncs once per durable append and never for non-durable ones', () => {
    const s = kit.create();
    const base = kit.datasyncs();
    const recs = hotAttach(1);
    s.append([recs[0]!], true);
    s.append([recs[1]!, recs[2]!], true);
    expect(kit.datasyncs() - base).toBe(2);
    s.append([recs[3]!], false);
    s.append([recs[4]!], false);
    expect(kit.datasyncs() - base).toBe(2);
    s.sync();
    expect(kit.datasyncs() - base).toBe(3);
    s.sync(); // nothing new to sync
    expect(kit.datasyncs() - base).toBe(3);
    s.append([recs[5]!, recs[6]!], true);
    expect(kit.datasyncs() - base).toBe(4);
    s.close();
  });

  it('truncation at every byte offset yields the committed prefix plus a torn report (header cut: empty)', () => {
    const { recs, bytes, headerEnd } = writeSample(kit);
    const ends: number[] = [];
    {
      kit.setBytes(bytes);
      const s = kit.open({ readOnly: true });
      for (const p of s.read().records) ends.push(p.offset + p.length);
      s.close();
    }
    for (let cut = 0; cut <= bytes.length; cut++) {
      kit.setBytes(bytes.subarray(0, cut));
      if (cut < headerEnd) {
        const e = thrown(() => kit.open());
        expect(e, `cut ${cut}`).toBeInstanceOf(LogFormatError);
        expect((e as LogFormatError).reason, `cut ${cut}`).toBe('empty');
        continue;
      }
      const whole = ends.filter((x) => x <= cut).length;
      const lastEnd = whole ? ends[whole - 1]! : headerEnd;
      const s = kit.open();
      const r = s.read();
      expect(r.records.length, `cut ${cut}`).toBe(whole);
      expect(r.records.map((p) => p.record)).toEqual(recs.slice(0, whole));
      expect(r.end).toBe(lastEnd);
      expect(r.torn, `cut ${cut}`).toEqual(cut > lastEnd ? { offset: lastEnd, bytes: cut - lastEnd } : null);
      expect(s.tornAtOpen).toEqual(r.torn);
      // opened for writing: the torn bytes are gone and appends continue the sequence
      expect(kit.bytes().length).toBe(lastEnd);
      s.append([{ ...hotAttach(whole + 1)[0]!, seq: whole + 1 }], false);
      expect(s.read().torn).toBeNull();
      s.close();
      expect(kit.open({ readOnly: true }).read().records.length).toBe(whole + 1);
    }
  });

  it('read-only open reports a torn tail without truncating it', () => {
    const { bytes } = writeSample(kit);
    kit.setBytes(bytes.subarray(0, bytes.length - 5));
    const s = kit.open({ readOnly: true });
    expect(s.read().torn).not.toBeNull();
    expect(kit.bytes().length).toBe(bytes.length - 5);
    expect(thrown(() => s.append(hotAttach(99), false))).toMatchObject({ name: 'LogStoreClosedError', why: 'read-only' });
    s.close();
  });

  it('a bit flip anywhere in any record is LogCorruptError at that record (torn only when the last newline is hit)', () => {
    const { bytes, headerEnd } = writeSample(kit);
    kit.setBytes(bytes);
    const positions = kit.open({ readOnly: true }).read().records;
    let corrupt = 0;
    let torn = 0;
    for (const [i, p] of positions.entries()) {
      for (let b = p.offset; b < p.offset + p.length; b++) {
        const damaged = Buffer.from(bytes);
        damaged[b]! ^= 1 << (b % 8);
        kit.setBytes(damaged);
        const isLastNewline = i === positions.length - 1 && b === bytes.length - 1;
        let result: unknown;
        try {
          const s = kit.open({ readOnly: true });
          result = s.read();
          s.close();
        } catch (e) {
          result = e;
        }
        if (isLastNewline) {
          expect(result).toMatchObject({ records: positions.slice(0, -1), torn: { offset: p.offset, bytes: p.length } });
          torn++;
        } else {
          expect(result, `flip at byte ${b} (record ${i + 1})`).toBeInstanceOf(LogCorruptError);
          expect((result as LogCorruptError).offset, `flip at byte ${b}`).toBe(p.offset);
          expect(['checksum', 'syntax']).toContain((result as LogCorruptError).reason);
          corrupt++;
        }
      }
    }
    expect(torn).toBe(1);
    expect(corrupt).toBe(bytes.length - headerEnd - 1);
  });

  it('a bit flip in the header is never accepted (foreign or corrupt at 0)', () => {
    const { bytes, headerEnd } = writeSample(kit);
    for (let b = 0; b < headerEnd; b++) {
      const damaged = Buffer.from(bytes);
      damaged[b]! ^= 1 << (b % 8);
      kit.setBytes(damaged);
      const e = thrown(() => kit.open({ readOnly: true }).read());
      if (e instanceof LogCorruptError) expect(e.offset).toBe(0);
      else expect(e, `flip at header byte ${b}`).toMatchObject({ name: 'LogFormatError', reason: 'foreign' });
    }
  });

  it('a duplicate or missing seq is LogCorruptError naming the offset and reason', () => {
    const h = encodeHeader({ k: 'header', format: LOG_FORMAT, version: 1, created: 'now', meta: {} });
    const r = hotAttach(1);
    const line = (seq: number) => encodeRecord({ ...r[seq % r.length]!, seq });
    const cases: Array<[number[], string, number]> = [
      [[1, 2, 2, 3], 'sequence-duplicate', 2],
      [[1, 2, 1], 'sequence-duplicate', 2],
      [[1, 2, 4, 5], 'sequence-gap', 2],
      [[2, 3], 'sequence-gap', 0],
      [[1, 3], 'sequence-gap', 1],
    ];
    for (const [seqs, reason, bad] of cases) {
      const lines = seqs.map(line);
      kit.setBytes(Buffer.concat([h, ...lines]));
      const offset = h.length + lines.slice(0, bad).reduce((n, l) => n + l.length, 0);
      const e = thrown(() => kit.open().read());
      expect(e, seqs.join(',')).toMatchObject({ name: 'LogCorruptError', reason, offset });
    }
  });

  it('a record with a valid checksum but a bad shape is LogCorruptError(record-shape)', () => {
    const h = encodeHeader({ k: 'header', format: LOG_FORMAT, version: 1, created: 'now', meta: {} });
    const good = encodeRecord(hotAttach(1)[0]!);
    const bad = encodeRecord({ ...hotAttach(2)[2]!, attempt: 0 } as LogRecord);
    kit.setBytes(Buffer.concat([h, good, bad, encodeRecord(hotAttach(3)[0]!)]));
    const e = thrown(() => kit.open().read()) as LogCorruptError;
    expect(e).toMatchObject({ name: 'LogCorruptError', reason: 'record-shape', offset: h.length + good.length });
    expect(e.message).toContain('attempt');
  });

  it('refuses foreign files, and never overwrites them on create', () => {
    const foreign = [
      Buffer.from('hello world\n'),
      Buffer.from('{"k":"header","format":"tapstate-log","version":1}\n'),
      Buffer.from('00000000 {"k":"header","format":"other-log","version":1}\n'),
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
      Buffer.from('PK\x03\x04 not a log at all'),
    ];
    for (const f of foreign) {
      kit.setBytes(f);
      expect(thrown(() => kit.open()), f.toString('latin1')).toMatchObject({ name: 'LogFormatError', reason: 'foreign' });
      expect(thrown(() => kit.create())).toMatchObject({ name: 'LogFormatError', reason: 'foreign' });
      expect(kit.bytes().equals(f)).toBe(true);
    }
  });

  it('refuses a newer format version', () => {
    kit.setBytes(Buffer.concat([encodeHeader({ k: 'header', format: LOG_FORMAT, version: 4, created: 'now', meta: {} }), encodeRecord(hotAttach(1)[0]!)]));
    expect(thrown(() => kit.open())).toMatchObject({ name: 'LogFormatError', reason: 'newer-version' });
  });

  it('an empty log or a torn header is "empty" and create() re-initialises it', () => {
    const header = encodeHeader({ k: 'header', format: LOG_FORMAT, version: 1, created: 'x', meta: { a: 1 } });
    for (const cut of [0, 1, 8, 9, 20, header.length - 1]) {
      kit.setBytes(header.subarray(0, cut));
      expect(thrown(() => kit.open())).toMatchObject({ name: 'LogFormatError', reason: 'empty' });
      const s = kit.create({ fresh: cut });
      expect(s.read().header.meta).toEqual({ fresh: cut });
      s.append(hotAttach(1), true);
      s.close();
    }
  });

  describe('crash hooks', () => {
    const batch = () => hotAttach(1).slice(0, 3);

    for (const verdict of ['crash-before', 'crash-after', 'torn'] as const) {
      it(`${verdict} at the 2nd record of a durable batch`, () => {
        const s0 = kit.create();
        s0.close();
        const syncs0 = kit.datasyncs();
        const s = kit.open({ hook: (r) => (r.seq === 2 ? verdict : 'ok') });
        expect(thrown(() => s.append(batch(), true))).toBeInstanceOf(SimulatedCrash);
        // dead: every call throws, close is a harmless no-op
        expect(thrown(() => s.append(hotAttach(9), false))).toMatchObject({ name: 'LogStoreClosedError', why: 'crashed' });
        expect(thrown(() => s.read())).toBeInstanceOf(LogStoreClosedError);
        expect(thrown(() => s.sync())).toBeInstanceOf(LogStoreClosedError);
        expect(thrown(() => s.end)).toBeInstanceOf(LogStoreClosedError);
        expect(thrown(() => s.readCheckpoint())).toBeInstanceOf(LogStoreClosedError);
        s.close();
        expect(kit.datasyncs() - syncs0).toBe(verdict === 'crash-after' ? 1 : 0);
        const r = kit.open().read();
        expect(r.records.map((p) => p.record.seq)).toEqual(verdict === 'crash-after' ? [1, 2] : [1]);
        if (verdict === 'torn') {
          expect(r.torn).not.toBeNull();
          expect(r.torn!.bytes).toBeGreaterThanOrEqual(1);
          expect(r.torn!.bytes).toBeLessThan(encodeRecord(batch()[1]!).length);
        } else expect(r.torn).toBeNull();
      });
    }
  });

  describe('checkpoints', () => {
    it('is null until written, then reads back exactly; the log is synced first', () => {
      const s = kit.create();
      expect(s.readCheckpoint()).toBeNull();
      s.append(hotAttach(1), false);
      const syncs = kit.datasyncs();
      const offset = s.end;
      s.writeCheckpoint(cpAt(7, offset));
      expect(kit.datasyncs()).toBe(syncs + 1);
      expect(s.readCheckpoint()).toEqual(cpAt(7, offset));
      s.writeCheckpoint(cpAt(0, s.headerEnd)); // the log is already durable: no second sync
      expect(kit.datasyncs()).toBe(syncs + 1);
      s.close();
      expect(kit.open().readCheckpoint()).toEqual(cpAt(0, kit.open({ readOnly: true }).headerEnd));
    });

    it('refuses to write a checkpoint whose position or shape is wrong (LogRecordError) and keeps the old one', () => {
      const s = kit.create();
      s.append(hotAttach(1), true);
      const first = s.read().records[0]!;
      s.writeCheckpoint(cpAt(1, first.offset + first.length));
      const good = kit.checkpointBytes();
      expect(thrown(() => s.writeCheckpoint(cpAt(7, s.end + 10)))).toMatchObject({ name: 'LogRecordError', field: 'checkpoint.offset' });
      expect(thrown(() => s.writeCheckpoint(cpAt(7, s.end - 3)))).toMatchObject({ field: 'checkpoint.offset' });
      expect(thrown(() => s.writeCheckpoint(cpAt(6, s.end)))).toMatchObject({ field: 'checkpoint.offset' });
      expect(thrown(() => s.writeCheckpoint({ ...cpAt(7, s.end), seq: -1 }))).toMatchObject({ field: 'checkpoint.seq' });
      const noStatus = cpAt(7, s.end) as unknown as { endpoints: { eth0: { snapshot: Record<string, unknown> } } };
      delete noStatus.endpoints.eth0.snapshot.status;
      expect(thrown(() => s.writeCheckpoint(noStatus as unknown as Checkpoint))).toMatchObject({ field: 'checkpoint.endpoints["eth0"].snapshot' });
      expect(kit.checkpointBytes()!.equals(good!)).toBe(true);
      s.close();
    });

    it('a damaged checkpoint is LogCorruptError(checkpoint)', () => {
      const s = kit.create();
      s.append(hotAttach(1), true);
      const recs = s.read().records;
      const end = s.end;
      s.writeCheckpoint(cpAt(7, end));
      const good = kit.checkpointBytes()!;
      const flipped = Buffer.from(good);
      flipped[20]! ^= 4;
      const cases: Array<[string, Buffer]> = [
        ['bit flip', flipped],
        ['not JSON', Buffer.from('garbage\n')],
        ['truncated', good.subarray(0, good.length - 7)],
        ['bad shape', encodeCheckpoint({ ...cpAt(7, end), endpoints: null } as unknown as Checkpoint)],
        ['offset beyond end', encodeCheckpoint(cpAt(7, end + 100))],
        ['offset not on a boundary', encodeCheckpoint(cpAt(7, end - 2))],
        ['seq mismatch', encodeCheckpoint(cpAt(6, end))],
        ['seq 0 mid-log', encodeCheckpoint(cpAt(0, recs[2]!.offset))],
        ['offset inside header', encodeCheckpoint(cpAt(0, 3))],
      ];
      for (const [what, bytes] of cases) {
        kit.setCheckpointBytes(bytes);
        const e = thrown(() => s.readCheckpoint());
        expect(e, what).toBeInstanceOf(LogCorruptError);
        expect((e as LogCorruptError).reason, what).toBe('checkpoint');
      }
      kit.setCheckpointBytes(encodeCheckpoint(cpAt(3, recs[3]!.offset)));
      expect(s.readCheckpoint()!.seq).toBe(3);
      s.close();
    });

    it('a checkpoint that covers records lost to a torn tail is corrupt (offset beyond end)', () => {
      const s = kit.create();
      s.append(hotAttach(1), true);
      s.writeCheckpoint(cpAt(7, s.end));
      s.close();
      const bytes = kit.bytes();
      kit.setBytes(bytes.subarray(0, bytes.length - 1));
      expect(thrown(() => kit.open().readCheckpoint())).toMatchObject({ name: 'LogCorruptError', reason: 'checkpoint' });
    });
  });

  it('refuses every call after close (close itself is idempotent)', () => {
    const s = kit.create();
    s.close();
    s.close();
    for (const f of [() => s.read(), () => s.append(hotAttach(1), true), () => s.sync(), () => s.end, () => s.readCheckpoint()]) {
      expect(thrown(f)).toMatchObject({ name: 'LogStoreClosedError', why: 'closed' });
    }
  });
});
