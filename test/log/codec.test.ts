/** The pure codec: framing, checksum, shape rules, decodeLog at every cut. */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeCheckpoint,
  decodeHeader,
  readSegmentBase,
  segmentLayout,
  segmentStart,
  decodeLog,
  encodeBatch,
  encodeCheckpoint,
  encodeHeader,
  encodeRecord,
  recordProblem,
} from '../../src/log/codec.js';
import { LogCorruptError, LogFormatError } from '../../src/log/errors.js';
import { LOG_FORMAT, type Checkpoint, type LogHeader, type LogRecord } from '../../src/log/records.js';
import { hotAttach } from './fixtures.js';

const header: LogHeader = { k: 'header', format: LOG_FORMAT, version: 1, created: '2025-01-01T00:00:00.000Z', meta: { netns: 'x' } };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('codec', () => {
  it('frames a record as "<crc32 of the JSON bytes, 8 lowercase hex> <json>\\n"', () => {
    const rec = hotAttach(1)[6]!; // has non-ASCII and an escaped newline
    const line = encodeRecord(rec);
    const json = JSON.stringify(rec);
    const crc = crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0');
    expect(line.toString('utf8')).toBe(`${crc} ${json}\n`);
    expect(line.indexOf(0x0a)).toBe(line.length - 1);
  });

  it('writes the header with a fixed key order starting with the format magic', () => {
    const h = encodeHeader({ meta: {}, created: 'c', version: 1, format: LOG_FORMAT, k: 'header' });
    expect(h.toString().slice(9)).toBe('{"k":"header","format":"tapstate-log","version":1,"created":"c","meta":{}}\n');
    expect(decodeHeader(h, 'f')).toEqual({ header: { k: 'header', format: LOG_FORMAT, version: 1, created: 'c', meta: {} }, end: h.length });
  });

  it('decodeLog at every cut of a log: committed prefix + torn report; a cut header is "empty"', () => {
    const recs = [...hotAttach(1, 'a'), ...hotAttach(8, 'b')];
    const h = encodeHeader(header);
    const lines = recs.map(encodeRecord);
    const buf = Buffer.concat([h, ...lines]);
    const ends = lines.reduce<number[]>((acc, l) => [...acc, (acc.at(-1) ?? h.length) + l.length], []);
    for (let cut = 0; cut <= buf.length; cut++) {
      const b = buf.subarray(0, cut);
      if (cut < h.length) {
        expect(thrown(() => decodeLog(b, { file: 'f' })), `cut ${cut}`).toMatchObject({ name: 'LogFormatError', reason: 'empty' });
        continue;
      }
      const d = decodeLog(b, { file: 'f' });
      const whole = ends.filter((e) => e <= cut).length;
      const end = whole ? ends[whole - 1]! : h.length;
      expect(d.records.map((p) => p.record)).toEqual(recs.slice(0, whole));
      expect(d.end).toBe(end);
      expect(d.torn).toEqual(cut > end ? { offset: end, bytes: cut - end } : null);
    }
  });

  it('decodeLog from a mid-log offset derives the expected seq from the record before it', () => {
    const recs = hotAttach(1);
    const h = encodeHeader(header);
    const buf = Buffer.concat([h, ...recs.map(encodeRecord)]);
    const all = decodeLog(buf, { file: 'f' }).records;
    const d = decodeLog(buf, { file: 'f', fromOffset: all[3]!.offset });
    expect(d.records.map((p) => p.record.seq)).toEqual([4, 5, 6, 7]);
    expect(thrown(() => decodeLog(buf, { file: 'f', fromOffset: all[3]!.offset + 1 }))).toBeInstanceOf(RangeError);
    expect(thrown(() => decodeLog(buf, { file: 'f', fromOffset: all[3]!.offset, expectSeq: 3 }))).toMatchObject({ reason: 'sequence-gap' });
  });

  it('a complete last line with a bad checksum is corrupt, not torn', () => {
    const h = encodeHeader(header);
    const last = encodeRecord(hotAttach(1)[0]!);
    last[0] = last[0] === 0x30 ? 0x31 : 0x30;
    const e = thrown(() => decodeLog(Buffer.concat([h, last]), { file: 'f' }));
    expect(e).toMatchObject({ name: 'LogCorruptError', reason: 'checksum', offset: h.length });
  });

  it('a complete header with our magic but a bad checksum is corrupt at 0; a newer version is refused', () => {
    const h = Buffer.from(encodeHeader(header));
    h[0] = h[0] === 0x30 ? 0x31 : 0x30;
    expect(thrown(() => decodeHeader(h, 'f'))).toMatchObject({ name: 'LogCorruptError', offset: 0, reason: 'checksum' });
    expect(thrown(() => decodeHeader(encodeHeader({ ...header, version: 7 }), 'f'))).toBeInstanceOf(LogFormatError);
  });

  it('recordProblem names the missing field of every kind', () => {
    const [create, ev, intent, , , , note] = hotAttach(1);
    const without = (r: LogRecord, f: string) => {
      const c = structuredClone(r) as unknown as Record<string, unknown>;
      delete c[f];
      return c;
    };
    const cases: Array<[unknown, string]> = [
      [without(create!, 'input'), 'input'],
      [without(create!, 'state'), 'state'],
      [{ ...create!, state: { v: 'x', h: 'XYZ' } }, 'state.h'],
      [without(ev!, 'event'), 'event.type'],
      [{ ...ev!, ms: -1 }, 'ms'],
      [{ ...ev!, reconciled: 3 }, 'reconciled'],
      [without(intent!, 'id'), 'id'],
      [without(intent!, 'src'), 'src'],
      [without(intent!, 'input'), 'input'],
      [{ ...intent!, attempt: 1.5 }, 'attempt'],
      [without(note!, 'note'), 'note'],
      [{ ...note!, data: [] }, 'data'],
      [{ ...note!, seq: 0 }, 'seq'],
      [{ ...note!, ts: 'now' }, 'ts'],
      [without(note!, 'ep'), 'ep'],
      [{ ...note!, k: 'header' }, 'k'],
    ];
    for (const [v, field] of cases) expect(recordProblem(v)?.field, field).toBe(field);
    for (const r of hotAttach(1)) expect(recordProblem(r)).toBeNull();
  });

  it('encodeBatch enforces contiguous seq from nextSeq', () => {
    expect(encodeBatch(hotAttach(5), 5)).toHaveLength(7);
    expect(thrown(() => encodeBatch(hotAttach(5), 4))).toMatchObject({ field: 'records[0].seq' });
  });

  it('checkpoints round-trip and a damaged one is LogCorruptError(checkpoint)', () => {
    const cp = { format: LOG_FORMAT, version: 1, seq: 0, offset: 10, endpoints: {} } as const;
    expect(decodeCheckpoint(encodeCheckpoint(cp), 'c')).toEqual(cp);
    const bad = encodeCheckpoint(cp);
    bad[12]! ^= 2;
    expect(thrown(() => decodeCheckpoint(bad, 'c'))).toBeInstanceOf(LogCorruptError);
    expect(thrown(() => decodeCheckpoint(encodeCheckpoint({ ...cp, version: 3 }), 'c'))).toMatchObject({ reason: 'newer-version' });
  });

  it('a segment header (version 2) carries its base checkpoint; base only in version 2, and required there', () => {
    const base = { format: LOG_FORMAT, version: 1, seq: 41, offset: 9000, endpoints: {} } as const;
    const h = encodeHeader({ k: 'header', format: LOG_FORMAT, version: 2, created: 'c', meta: { a: 1 }, base });
    expect(h.toString().slice(9, 9 + 42)).toBe('{"k":"header","format":"tapstate-log","ver');
    expect(decodeHeader(h, 'f').header.base).toEqual(base);
    for (const bad of [
      { k: 'header', format: LOG_FORMAT, version: 2, created: 'c', meta: {} },
      { k: 'header', format: LOG_FORMAT, version: 1, created: 'c', meta: {}, base },
      { k: 'header', format: LOG_FORMAT, version: 2, created: 'c', meta: {}, base: { ...base, seq: -1 } },
    ] as LogHeader[])
      expect(thrown(() => decodeHeader(encodeHeader(bad), 'f'))).toMatchObject({ name: 'LogCorruptError', reason: 'record-shape' });
    expect(thrown(() => decodeHeader(encodeHeader({ k: 'header', format: LOG_FORMAT, version: 4, created: 'c', meta: {} }), 'f'))).toMatchObject({ reason: 'newer-version' });
  });

  it('a segment start (version 3): a small header naming seq, offset and base-line bytes, then the base checkpoint on a line of its own', () => {
    const base: Checkpoint = { format: LOG_FORMAT, version: 2, seq: 41, offset: 9000, ref: { vcpus: 1 }, endpoints: {} };
    const line = encodeCheckpoint(base);
    const { header, bytes } = segmentStart({ a: 1 }, base, line, new Date(0));
    expect(header).toMatchObject({ version: 3, start: { seq: 41, offset: 9000, base: line.length } });
    expect(header.base).toBeUndefined();
    const d = decodeHeader(bytes, 'f');
    expect(d.header).toEqual(header);
    expect(bytes.subarray(d.end)).toEqual(line);
    expect(segmentLayout(d.header, d.end)).toEqual({ startSeq: 41, start: 9000, baseBytes: line.length });
    const readAt = (p: number, l: number) => bytes.subarray(p, p + l);
    expect(readSegmentBase(d.header, d.end, readAt, 'f')).toEqual(base);
    // a damaged base line is corrupt (it is read only when the history is replayed)
    const bad = Buffer.from(bytes);
    bad[d.end + 20]! ^= 1;
    expect(thrown(() => readSegmentBase(d.header, d.end, (p, l) => bad.subarray(p, p + l), 'f'))).toMatchObject({ name: 'LogCorruptError', reason: 'checksum' });
    // a base line that disagrees with the header is corrupt
    const other = segmentStart({ a: 1 }, base, encodeCheckpoint({ ...base, seq: 40 }), new Date(0)).bytes;
    expect(thrown(() => readSegmentBase(d.header, d.end, (p, l) => other.subarray(p, p + l), 'f'))).toMatchObject({ name: 'LogCorruptError', reason: 'record-shape' });
    for (const badHeader of [
      { k: 'header', format: LOG_FORMAT, version: 3, created: 'c', meta: {} },
      { k: 'header', format: LOG_FORMAT, version: 3, created: 'c', meta: {}, start: { seq: 1, offset: -1, base: 20 } },
      { k: 'header', format: LOG_FORMAT, version: 3, created: 'c', meta: {}, start: { seq: 1, offset: 5, base: 20 }, base },
      { k: 'header', format: LOG_FORMAT, version: 2, created: 'c', meta: {}, base, start: { seq: 1, offset: 5, base: 20 } },
    ] as LogHeader[])
      expect(thrown(() => decodeHeader(encodeHeader(badHeader), 'f'))).toMatchObject({ name: 'LogCorruptError', reason: 'record-shape' });
  });

  it('checkpoint version 2: a compact context (delta + h) needs ref; version 1 entries must hold context', () => {
    const snap = { value: 'created', status: 'active', delta: '{"idx":0}', h: '0123abcd' };
    const cp2: Checkpoint = { format: LOG_FORMAT, version: 2, seq: 0, offset: 10, ref: {}, endpoints: { ep0: { snapshot: snap, pending: null, lastSeq: 0 } } };
    expect(decodeCheckpoint(encodeCheckpoint(cp2), 'c')).toEqual(cp2);
    for (const bad of [
      { ...cp2, version: 1 },
      { ...cp2, ref: undefined },
      { ...cp2, endpoints: { ep0: { snapshot: { ...snap, h: 'XYZ' }, pending: null, lastSeq: 0 } } },
      { ...cp2, endpoints: { ep0: { snapshot: { ...snap, delta: 3 }, pending: null, lastSeq: 0 } } },
    ])
      expect(thrown(() => decodeCheckpoint(encodeCheckpoint(bad as Checkpoint), 'c'))).toMatchObject({ name: 'LogCorruptError', reason: 'checkpoint' });
  });
});
