/**
 * Reading sealed segments with bounded memory: records in chunks of about 1 MiB, and what
 * compaction needs to know about a segment (its last seq and time, its endpoints).
 */
import { decodeRecords, readHeader, readRecordBefore, segmentLayout, type ReadAt } from './codec.js';
import { LogCorruptError } from './errors.js';
import type { PositionedRecord } from './records.js';
import type { LogMedium, SealedDir, SealedFile } from './log-engine.js';
import type { SealedInfo } from './segments.js';

const CHUNK = 1 << 20;

/**
 * Decode the records of `[from, end)` (a record boundary) through `readAt` in chunks of about
 * 1 MiB (a record larger than a chunk grows the read): memory stays bounded however long the
 * span. `expectSeq`: the first record's seq; when unknown, `before(from)` finds it. Bytes after
 * the last newline (a torn tail) are not yielded.
 */
export function* chunked(
  readAt: ReadAt,
  from: number,
  end: number,
  file: string,
  expectSeq: number | undefined,
  before: (p: number) => ReturnType<typeof readRecordBefore> | null,
): Generator<PositionedRecord> {
  let expect = expectSeq;
  if (expect === undefined) {
    const probe = before(from);
    if (probe && probe.kind !== 'record') throw new RangeError(`offset ${from} is not a record boundary`);
    if (probe && probe.kind === 'record') expect = probe.record.record.seq + 1;
  }
  let pos = from;
  let len = CHUNK;
  while (pos < end) {
    const buf = readAt(pos, Math.min(len, end - pos));
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl < 0) {
      if (pos + buf.length >= end) return; // a torn tail: nothing whole
      len *= 2;
      continue;
    }
    const d = decodeRecords(buf.subarray(0, lastNl + 1), { file, base: pos, expectSeq: expect });
    for (const r of d.records) yield r;
    if (d.records.length) expect = d.records[d.records.length - 1]!.record.seq + 1;
    pos += lastNl + 1;
    len = CHUNK;
  }
}

/** A sealed segment's records (logical offsets), skipping it whole if it ends before `from`. */
export function sealedRecords(
  f: SealedFile,
  from: number,
  prevLast: number | null,
): { records: Generator<PositionedRecord>; lastSeq: () => number } {
  const size = f.size();
  const h = readHeader(f.readAt, size, f.name);
  const lay = segmentLayout(h.header, h.end);
  const firstSeq = lay.startSeq + 1;
  if (prevLast !== null && firstSeq !== prevLast + 1)
    throw new LogCorruptError(f.name, 0, 'sequence-gap', `segment starts at seq ${firstSeq}, the previous one ends at ${prevLast}`);
  const start = lay.start;
  const delta = h.end + lay.baseBytes - start;
  const logicalEnd = size - delta;
  const readAt: ReadAt = (p, l) => f.readAt(p + delta, l);
  let last = firstSeq - 1;
  let lastEnd = start;
  function* gen(): Generator<PositionedRecord> {
    if (logicalEnd <= from) {
      // skipped whole: its last record is the one just before its end
      const probe = logicalEnd > start ? readRecordBefore(readAt, logicalEnd, start, f.name) : null;
      if (probe?.kind === 'record') last = probe.record.record.seq;
      lastEnd = logicalEnd;
      return;
    }
    for (const r of chunked(readAt, start, logicalEnd, f.name, firstSeq, () => null)) {
      last = r.record.seq;
      lastEnd = r.offset + r.length;
      if (r.offset >= from) yield r;
    }
    if (lastEnd !== logicalEnd) throw new LogCorruptError(f.name, lastEnd + delta, 'truncated-segment', 'a sealed segment ends inside a record');
  }
  return { records: gen(), lastSeq: () => last };
}

/** What compaction needs to know about `<where>/<name>` (read once; segments never change). */
export function readSealed(m: LogMedium, where: SealedDir, name: string): SealedInfo {
  const f = m.openSealed(where, name);
  try {
    const endpoints = new Set<string>();
    let lastTs = 0;
    const seg = sealedRecords(f, 0, null);
    for (const r of seg.records) {
      endpoints.add(r.record.ep);
      lastTs = r.record.ts;
    }
    return { name, bytes: f.size(), lastSeq: seg.lastSeq(), lastTs, endpoints };
  } finally {
    f.close();
  }
}
