/**
 * The pure codec of the event log (docs/log-format.md): framing, checksums, record and checkpoint
 * validation, decoding with torn-tail detection. No I/O; both stores are thin shells around it.
 *
 * Framing of every line (header, record, checkpoint): `<crc32 of the JSON bytes, 8 lowercase hex>
 * <one space> <JSON> <\n>`.
 */
import { crc32 } from 'node:zlib';
import { LogCorruptError, LogFormatError } from './errors.js';
import {
  CHECKPOINT_VERSION,
  LOG_FORMAT,
  LOG_VERSION,
  LOG_VERSION_SEGMENT,
  LOG_VERSION_SEGMENT_LINE,
  LOG_VERSION_SINGLE,
  type Checkpoint,
  type SegmentStart,
  type IntentRecord,
  type LogHeader,
  type LogRecord,
  type PositionedRecord,
} from './records.js';
import type { AppendHook, TornTail } from './store.js';
import { TapstateError } from '../../machines/tapstate-error.js';

const NL = 0x0a;
const SP = 0x20;
/** Bytes a frame adds around its JSON: 8 hex digits, a space, the newline. */
export const FRAME_OVERHEAD = 10;
/** Every header line carries these bytes right after `<crc> ` (frozen for all versions). */
const HEADER_MAGIC = Buffer.from(`{"k":"header","format":"${LOG_FORMAT}"`, 'latin1');
/** Spans longer than this are decoded line by line (V8's string length limit is ~2^29). */
const MAX_TEXT = 1 << 28;
const RECORD_KINDS = new Set(['create', 'event', 'intent', 'note', 'snapshot']);

/** A record handed to `append()` is invalid: names the field and the rule. Nothing was written. */
export class LogRecordError extends TapstateError {
  override readonly name = 'LogRecordError';
  readonly code = 'LOG_RECORD_INVALID';
  constructor(
    /** e.g. `records[2].seq`. */
    readonly field: string,
    /** e.g. `must be 8 (contiguous after 7)`. */
    readonly rule: string,
  ) {
    super(`invalid log record: ${field} ${rule}`);
  }
}

/** The store was closed, or died in a simulated crash; every further call throws this. */
export class LogStoreClosedError extends TapstateError {
  override readonly name = 'LogStoreClosedError';
  readonly code = 'LOG_STORE_CLOSED';
  constructor(
    readonly file: string,
    readonly why: 'closed' | 'crashed' | 'read-only' | 'write-failed',
  ) {
    super(
      why === 'read-only'
        ? `log store ${file} is open read-only`
        : `log store ${file} is ${why === 'crashed' ? 'dead after a simulated crash' : why === 'closed' ? 'closed' : 'unusable after a failed write'}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Frame one JSON text: `<crc32 hex> <json>\n` (the JSON never contains a raw newline). */
export function frameJson(json: string): Buffer {
  const len = Buffer.byteLength(json, 'utf8');
  const out = Buffer.allocUnsafe(len + FRAME_OVERHEAD);
  out.write(json, 9, len, 'utf8');
  out.write(hex8(crc32(out.subarray(9, 9 + len))), 0, 8, 'latin1');
  out[8] = SP;
  out[len + 9] = NL;
  return out;
}

/** Encode one record as its line. Does not validate (see {@link encodeBatch}). */
export function encodeRecord(rec: LogRecord): Buffer {
  return frameJson(JSON.stringify(rec));
}

/** Encode the header line; key order is fixed so that the line starts with the format magic. */
export function encodeHeader(h: LogHeader): Buffer {
  const ordered: LogHeader = {
    k: 'header',
    format: h.format,
    version: h.version,
    created: h.created,
    meta: h.meta,
    ...(h.base ? { base: h.base } : {}),
    ...(h.start ? { start: h.start } : {}),
  };
  return frameJson(JSON.stringify(ordered));
}

/** A new header for this build's format version. */
export function newHeader(meta: Record<string, unknown>, now: Date = new Date()): LogHeader {
  return { k: 'header', format: LOG_FORMAT, version: LOG_VERSION_SINGLE, created: now.toISOString(), meta };
}

/**
 * The start of a segment begun by a rotation (version 3): the header line, which names where the
 * segment starts, then the base line — `baseLine`, the checkpoint at that point already framed
 * (the bytes of checkpoint.json). Opening reads only the header; the base is read when the
 * history is replayed from this segment.
 */
export function segmentStart(meta: Record<string, unknown>, base: Checkpoint, baseLine: Buffer, now: Date = new Date()): { header: LogHeader; bytes: Buffer } {
  const header: LogHeader = {
    k: 'header',
    format: LOG_FORMAT,
    version: LOG_VERSION_SEGMENT_LINE,
    created: now.toISOString(),
    meta,
    start: { seq: base.seq, offset: base.offset, base: baseLine.length },
  };
  return { header, bytes: Buffer.concat([encodeHeader(header), baseLine]) };
}

/** The version 2 header of a segment begun by a rotation, its base embedded (earlier builds; tests of old stores). */
export function segmentHeaderV2(meta: Record<string, unknown>, base: Checkpoint, now: Date = new Date()): LogHeader {
  return { k: 'header', format: LOG_FORMAT, version: LOG_VERSION_SEGMENT, created: now.toISOString(), meta, base };
}

/** Where a segment's records start, from its header: the seq before its first record, its logical offset, and the bytes between the header line and it. */
export function segmentLayout(h: LogHeader, headerEnd: number): { startSeq: number; start: number; baseBytes: number } {
  if (h.start) return { startSeq: h.start.seq, start: h.start.offset, baseBytes: h.start.base };
  if (h.base) return { startSeq: h.base.seq, start: h.base.offset, baseBytes: 0 };
  return { startSeq: 0, start: headerEnd, baseBytes: 0 };
}

/**
 * The base checkpoint of a segment (null for a log's first segment): embedded in a version 2
 * header, or read from the base line after a version 3 header (`headerEnd` = the header line's
 * length) and checked against the header. Damage is `LogCorruptError` at the base line.
 */
export function readSegmentBase(h: LogHeader, headerEnd: number, readAt: ReadAt, file: string): Checkpoint | null {
  if (h.base) return h.base;
  if (!h.start) return null;
  const buf = readAt(headerEnd, h.start.base);
  const nl = buf.length === h.start.base ? buf.indexOf(NL) : -1;
  if (nl !== buf.length - 1) throw new LogCorruptError(file, headerEnd, 'syntax', `the base line is not ${h.start.base} bytes ending in a newline`);
  const v = decodeFrame(buf, 0, nl, file, headerEnd);
  const p = checkpointProblem(v);
  if (p) throw new LogCorruptError(file, headerEnd, 'record-shape', `base.${p.field} ${p.rule}`.replace('. ', ' '));
  const cp = v as Checkpoint;
  if (cp.version > CHECKPOINT_VERSION) throw new LogFormatError(file, 'newer-version', `${file}: base checkpoint version ${cp.version} is newer than this build reads (${CHECKPOINT_VERSION})`);
  if (cp.seq !== h.start.seq || cp.offset !== h.start.offset)
    throw new LogCorruptError(file, headerEnd, 'record-shape', `the base line is at seq ${cp.seq} offset ${cp.offset}, the header says seq ${h.start.seq} offset ${h.start.offset}`);
  return cp;
}

/** Encode the checkpoint file's single line. */
export function encodeCheckpoint(cp: Checkpoint): Buffer {
  return frameJson(JSON.stringify(cp));
}

/**
 * Validate the records of one `append()` call (shape, and seq contiguous from `nextSeq`) and
 * encode them. Throws {@link LogRecordError} naming `records[i].<field>`.
 */
export function encodeBatch(records: readonly LogRecord[], nextSeq: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < records.length; i++) {
    const rec = records[i] as unknown;
    const problem = recordProblem(rec);
    if (problem) throw new LogRecordError(`records[${i}].${problem.field}`, problem.rule);
    const r = rec as LogRecord;
    if (r.seq !== nextSeq + i) {
      throw new LogRecordError(`records[${i}].seq`, `must be ${nextSeq + i} (contiguous after ${nextSeq + i - 1}), got ${r.seq}`);
    }
    let json: string;
    try {
      json = JSON.stringify(r);
    } catch (e) {
      throw new LogRecordError(`records[${i}]`, `must be JSON-serialisable (${(e as Error).message})`);
    }
    frames.push(frameJson(json));
  }
  return frames;
}

/** What one `append()` writes when a test hook is installed (see `AppendHook`). */
export interface AppendPlan {
  /** All bytes to write, in one write. */
  bytes: Buffer;
  /** The hook's verdict that stops the append, or null. */
  crash: 'crash-before' | 'crash-after' | 'torn' | null;
  /** Index of the record the crash happened at. */
  at: number;
}

/**
 * Consult `hook` before each record. Records before the crashing one are written whole;
 * `crash-after` writes the record too, `torn` a strict prefix of it (half, at least 1 byte).
 */
export function planAppend(frames: readonly Buffer[], records: readonly LogRecord[], hook?: AppendHook): AppendPlan {
  if (hook) {
    for (let i = 0; i < records.length; i++) {
      const verdict = hook(records[i]!);
      if (verdict === 'ok') continue;
      const parts = frames.slice(0, i);
      const f = frames[i]!;
      if (verdict === 'crash-after') parts.push(f);
      else if (verdict === 'torn') parts.push(f.subarray(0, Math.max(1, Math.floor(f.length / 2))));
      return { bytes: Buffer.concat(parts), crash: verdict, at: i };
    }
  }
  return { bytes: frames.length === 1 ? frames[0]! : Buffer.concat(frames), crash: null, at: -1 };
}

// ---------------------------------------------------------------------------------------------
// Validation

/** A shape problem: the offending field (dotted path) and the rule it breaks. */
export interface ShapeProblem {
  field: string;
  rule: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isPosInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 1;
const isNonEmptyString = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const HEX8 = /^[0-9a-f]{8}$/;

function stampProblem(v: unknown): ShapeProblem | null {
  if (!isObject(v)) return { field: 'state', rule: 'must be an object { v, h }' };
  if (typeof v.v !== 'string') return { field: 'state.v', rule: 'must be a string (dotted state value)' };
  if (typeof v.h !== 'string' || !HEX8.test(v.h)) return { field: 'state.h', rule: 'must be 8 lowercase hex digits' };
  return null;
}

/** Why `v` is not a valid {@link LogRecord}, or null. */
export function recordProblem(v: unknown): ShapeProblem | null {
  if (!isObject(v)) return { field: '', rule: 'must be an object' };
  if (typeof v.k !== 'string' || !RECORD_KINDS.has(v.k)) return { field: 'k', rule: 'must be one of create|event|intent|note|snapshot' };
  if (!isPosInt(v.seq)) return { field: 'seq', rule: 'must be a positive integer' };
  if (typeof v.ts !== 'number' || !Number.isFinite(v.ts)) return { field: 'ts', rule: 'must be a finite number' };
  if (!isNonEmptyString(v.ep)) return { field: 'ep', rule: 'must be a non-empty string' };
  switch (v.k) {
    case 'create':
      if (v.input === undefined) return { field: 'input', rule: 'is required (use null for none)' };
      return stampProblem(v.state);
    case 'event':
      if (!isObject(v.event) || !isNonEmptyString(v.event.type)) return { field: 'event.type', rule: 'must be a non-empty string' };
      if (v.ms !== undefined && (typeof v.ms !== 'number' || !Number.isFinite(v.ms) || v.ms < 0))
        return { field: 'ms', rule: 'must be a non-negative finite number when present' };
      if (v.reconciled !== undefined && !isObject(v.reconciled)) return { field: 'reconciled', rule: 'must be an object when present' };
      return stampProblem(v.state);
    case 'intent':
      if (!isNonEmptyString(v.id)) return { field: 'id', rule: 'must be a non-empty string' };
      if (!isNonEmptyString(v.src)) return { field: 'src', rule: 'must be a non-empty string' };
      if (v.input === undefined) return { field: 'input', rule: 'is required (use null for none)' };
      if (!isPosInt(v.attempt)) return { field: 'attempt', rule: 'must be a positive integer' };
      return null;
    case 'snapshot':
      if (!isObject(v.snapshot) || v.snapshot.value === undefined || !isObject(v.snapshot.context) || typeof v.snapshot.status !== 'string')
        return { field: 'snapshot', rule: 'must be {value, context (object), status (string)}' };
      return stampProblem(v.state);
    default: // note
      if (typeof v.note !== 'string') return { field: 'note', rule: 'must be a string' };
      if (v.data !== undefined && !isObject(v.data)) return { field: 'data', rule: 'must be an object when present' };
      return null;
  }
}

function headerProblem(v: Record<string, unknown>): ShapeProblem | null {
  if (v.k !== 'header') return { field: 'k', rule: 'must be "header"' };
  if (v.format !== LOG_FORMAT) return { field: 'format', rule: `must be "${LOG_FORMAT}"` };
  if (typeof v.created !== 'string') return { field: 'created', rule: 'must be an ISO time string' };
  if (!isObject(v.meta)) return { field: 'meta', rule: 'must be an object' };
  if (v.version === LOG_VERSION_SEGMENT_LINE) {
    if (v.base !== undefined) return { field: 'base', rule: `is only allowed in a version ${LOG_VERSION_SEGMENT} header` };
    const st = v.start;
    if (!isObject(st)) return { field: 'start', rule: `is required in a version ${LOG_VERSION_SEGMENT_LINE} header` };
    if (!Number.isSafeInteger(st.seq) || (st.seq as number) < 0) return { field: 'start.seq', rule: 'must be a non-negative integer' };
    if (!Number.isSafeInteger(st.offset) || (st.offset as number) < 0) return { field: 'start.offset', rule: 'must be a non-negative integer' };
    if (!Number.isSafeInteger(st.base) || (st.base as number) < 11) return { field: 'start.base', rule: 'must be an integer >= 11 (a framed line)' };
    return null;
  }
  if (v.start !== undefined) return { field: 'start', rule: `is only allowed in a version ${LOG_VERSION_SEGMENT_LINE} header` };
  if (v.base !== undefined) {
    if (v.version !== LOG_VERSION_SEGMENT) return { field: 'base', rule: `is only allowed in a version ${LOG_VERSION_SEGMENT} header` };
    const p = checkpointProblem(v.base);
    if (p) return { field: `base.${p.field}`.replace(/\.$/, ''), rule: p.rule };
  } else if (v.version !== LOG_VERSION_SINGLE) return { field: 'base', rule: `is required in a version ${String(v.version)} header` };
  return null;
}

/** Why `v` is not a valid {@link Checkpoint} (version aside), or null. */
export function checkpointProblem(v: unknown): ShapeProblem | null {
  if (!isObject(v)) return { field: '', rule: 'must be an object' };
  if (v.format !== LOG_FORMAT) return { field: 'format', rule: `must be "${LOG_FORMAT}"` };
  if (!isPosInt(v.version)) return { field: 'version', rule: 'must be a positive integer' };
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 0) return { field: 'seq', rule: 'must be a non-negative integer' };
  if (!Number.isSafeInteger(v.offset) || (v.offset as number) < 0) return { field: 'offset', rule: 'must be a non-negative integer' };
  if (!isObject(v.endpoints)) return { field: 'endpoints', rule: 'must be an object' };
  if (v.ref !== undefined && !isObject(v.ref)) return { field: 'ref', rule: 'must be an object when present' };
  if (v.retired !== undefined && (!Number.isSafeInteger(v.retired) || (v.retired as number) < 0))
    return { field: 'retired', rule: 'must be a non-negative integer when present' };
  for (const [ep, e] of Object.entries(v.endpoints)) {
    const f = `endpoints[${JSON.stringify(ep)}]`;
    if (!isObject(e)) return { field: f, rule: 'must be an object' };
    const sn = e.snapshot;
    if (!isObject(sn) || typeof sn.status !== 'string' || !('value' in sn)) return { field: `${f}.snapshot`, rule: 'must be { value, context, status: string }' };
    if (!('context' in sn)) {
      // version 2: a compact context (docs/log-format.md)
      if ((v.version as number) < 2 || typeof sn.delta !== 'string') return { field: `${f}.snapshot`, rule: 'must be { value, context, status: string } (or, version 2, { value, delta: string, h, status })' };
      if (typeof sn.h !== 'string' || !HEX8.test(sn.h)) return { field: `${f}.snapshot.h`, rule: 'must be 8 lowercase hex digits' };
      if (!isObject(v.ref)) return { field: 'ref', rule: 'must be an object when a context is compact' };
    }
    if (!Number.isSafeInteger(e.lastSeq) || (e.lastSeq as number) < 0 || (e.lastSeq as number) > (v.seq as number))
      return { field: `${f}.lastSeq`, rule: `must be an integer in 0..seq (${String(v.seq)})` };
    if (e.pending !== null) {
      const p = recordProblem(e.pending);
      if (p) return { field: `${f}.pending.${p.field}`, rule: p.rule };
      if ((e.pending as IntentRecord).k !== 'intent') return { field: `${f}.pending.k`, rule: 'must be "intent" (or pending null)' };
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Decoding

function parseHex8(buf: Buffer, p: number): number {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const c = buf[p + i]!;
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Decode the frame `buf[start, nl)` (nl = index of its newline) and parse its JSON.
 * Throws {@link LogCorruptError} (`syntax` or `checksum`) at `base + start`.
 */
function decodeFrame(buf: Buffer, start: number, nl: number, file: string, base: number, text?: string): unknown {
  const off = base + start;
  if (nl - start < 11 || buf[start + 8] !== SP) throw new LogCorruptError(file, off, 'syntax', 'not a "<crc32> <json>" line');
  const want = parseHex8(buf, start);
  if (want < 0) throw new LogCorruptError(file, off, 'syntax', 'checksum field is not 8 lowercase hex digits');
  const got = crc32(buf.subarray(start + 9, nl));
  if (got !== want) throw new LogCorruptError(file, off, 'checksum', `stored ${hex8(want)}, computed ${hex8(got)}`);
  try {
    return JSON.parse(text !== undefined ? text.slice(start + 9, nl) : buf.toString('utf8', start + 9, nl)) as unknown;
  } catch (e) {
    throw new LogCorruptError(file, off, 'syntax', (e as Error).message);
  }
}

/** True if `buf` (no newline in it) could be the beginning of one of our header lines. */
function isHeaderPrefix(buf: Buffer): boolean {
  const n = buf.length;
  for (let i = 0; i < Math.min(8, n); i++) {
    const c = buf[i]!;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  if (n > 8 && buf[8] !== SP) return false;
  if (n > 9) {
    const m = Math.min(n - 9, HEADER_MAGIC.length);
    if (buf.compare(HEADER_MAGIC, 0, m, 9, 9 + m) !== 0) return false;
  }
  return true;
}

function hasMagic(buf: Buffer, nl: number): boolean {
  return nl >= 9 + HEADER_MAGIC.length && isHeaderPrefix(buf.subarray(0, 9 + HEADER_MAGIC.length));
}

/**
 * Decode the header line at the start of `buf` (the first bytes of the file; if `buf` holds no
 * newline it must be the whole file).
 *
 * - zero bytes, or only a prefix of a header line (no newline: a crash while creating) →
 *   `LogFormatError('empty')`: the store was never completely created and may be re-initialised;
 * - anything else without our format magic → `LogFormatError('foreign')`;
 * - version > {@link LOG_VERSION} → `LogFormatError('newer-version')`;
 * - our magic but a bad checksum, JSON or shape → `LogCorruptError` at offset 0.
 */
export function decodeHeader(buf: Buffer, file: string): { header: LogHeader; end: number } {
  if (buf.length === 0) throw new LogFormatError(file, 'empty', `${file}: empty log file (store never initialised)`);
  const nl = buf.indexOf(NL);
  if (nl < 0) {
    if (isHeaderPrefix(buf))
      throw new LogFormatError(file, 'empty', `${file}: holds only a partial header (${buf.length} bytes): the store was never completely created`);
    throw new LogFormatError(file, 'foreign', `${file}: not a ${LOG_FORMAT} file (no header line)`);
  }
  if (!hasMagic(buf, nl)) throw new LogFormatError(file, 'foreign', `${file}: not a ${LOG_FORMAT} file (first line is not its header)`);
  const v = decodeFrame(buf, 0, nl, file, 0) as Record<string, unknown>;
  if (!isObject(v) || !isPosInt(v.version)) throw new LogCorruptError(file, 0, 'record-shape', 'header.version must be a positive integer');
  if ((v.version as number) > LOG_VERSION)
    throw new LogFormatError(
      file,
      'newer-version',
      `${file}: log format version ${String(v.version)} is newer than this build reads (${LOG_VERSION})`,
    );
  const p = headerProblem(v);
  if (p) throw new LogCorruptError(file, 0, 'record-shape', `header.${p.field} ${p.rule}`);
  return { header: v as unknown as LogHeader, end: nl + 1 };
}

/** Records decoded from a span of the log. */
export interface DecodedRecords {
  records: PositionedRecord[];
  /** Bytes after the last newline of the span: a partial record, dropped. */
  torn: TornTail | null;
  /** File offset just after the last whole record. */
  end: number;
}

/**
 * Decode every record of `buf`, which holds the file bytes starting at file offset `base` (a
 * record boundary). `expectSeq`: the seq the first record must have (unknown: any, then
 * contiguous). Records are views into `buf` decoded in place (one `JSON.parse` per line).
 */
export function decodeRecords(buf: Buffer, opts: { file: string; base: number; expectSeq?: number }): DecodedRecords {
  const { file, base } = opts;
  let expect = opts.expectSeq;
  const records: PositionedRecord[] = [];
  let p = 0;
  let torn: TornTail | null = null;
  // Fast path: decode the span once; if every character is one byte (the text is as long as the
  // bytes), string indices equal byte indices and each line's JSON is a cheap slice.
  let text: string | undefined;
  if (buf.length > 0 && buf.length < MAX_TEXT) {
    const t = buf.toString('utf8');
    if (t.length === buf.length) text = t;
  }
  while (p < buf.length) {
    const nl = buf.indexOf(NL, p);
    if (nl < 0) {
      torn = { offset: base + p, bytes: buf.length - p };
      break;
    }
    const value = decodeFrame(buf, p, nl, file, base, text);
    const problem = recordProblem(value);
    if (problem) throw new LogCorruptError(file, base + p, 'record-shape', `${problem.field || 'record'} ${problem.rule}`);
    const record = value as LogRecord;
    if (expect !== undefined && record.seq !== expect) {
      throw new LogCorruptError(
        file,
        base + p,
        record.seq < expect ? 'sequence-duplicate' : 'sequence-gap',
        `seq ${record.seq}, expected ${expect}`,
      );
    }
    expect = record.seq + 1;
    records.push({ record, offset: base + p, length: nl + 1 - p });
    p = nl + 1;
  }
  return { records, torn, end: base + p };
}

/** A whole log decoded. */
export interface DecodedLog extends DecodedRecords {
  header: LogHeader;
  /** Offset just after the header line (where records start). */
  headerEnd: number;
}

/**
 * Decode a whole log file held in `buf`: header, then the records from `fromOffset` (default:
 * just after the header). `expectSeq` defaults to 1 at the header end, and elsewhere to the seq
 * after the record ending at `fromOffset` (which must be a record boundary: RangeError if not).
 */
export function decodeLog(buf: Buffer, opts: { file: string; fromOffset?: number; expectSeq?: number }): DecodedLog {
  const { header, end: headerEnd } = decodeHeader(buf, opts.file);
  const from = opts.fromOffset ?? headerEnd;
  if (!Number.isSafeInteger(from) || from < headerEnd || from > buf.length)
    throw new RangeError(`fromOffset must be an integer in ${headerEnd}..${buf.length}, got ${from}`);
  let expectSeq = opts.expectSeq;
  if (expectSeq === undefined) {
    if (from === headerEnd) expectSeq = 1;
    else {
      const probe = probeRecordBefore(buf.subarray(headerEnd, from), headerEnd, true, opts.file);
      if (probe.kind !== 'record') throw new RangeError(`fromOffset ${from} is not a record boundary`);
      expectSeq = probe.record.record.seq + 1;
    }
  }
  const recs = decodeRecords(buf.subarray(from), { file: opts.file, base: from, expectSeq });
  return { header, headerEnd, ...recs };
}

/** Result of looking at the record that ends just before a given offset. */
export type BoundaryProbe =
  | { kind: 'record'; record: PositionedRecord }
  /** The window does not reach back to that record's start: read a larger one. */
  | { kind: 'need-more' }
  /** The offset is not just after a newline. */
  | { kind: 'not-boundary' };

/**
 * Decode the record ending exactly at the end of `window` (file bytes from `base`). `atStart`:
 * `base` is itself a record boundary (the header end), so the record may start there.
 * Throws LogCorruptError if that record is damaged. The window must not be empty.
 */
export function probeRecordBefore(window: Buffer, base: number, atStart: boolean, file: string): BoundaryProbe {
  const n = window.length;
  if (n === 0 || window[n - 1] !== NL) return { kind: 'not-boundary' };
  const prev = n >= 2 ? window.lastIndexOf(NL, n - 2) : -1;
  if (prev < 0 && !atStart) return { kind: 'need-more' };
  const start = prev + 1;
  const value = decodeFrame(window, start, n - 1, file, base);
  const problem = recordProblem(value);
  if (problem) throw new LogCorruptError(file, base + start, 'record-shape', `${problem.field || 'record'} ${problem.rule}`);
  return { kind: 'record', record: { record: value as LogRecord, offset: base + start, length: n - start } };
}

/** What the end of a log looks like (see {@link scanTail}). */
export interface TailScan {
  /** Offset just after the last whole record (the header end if none). */
  end: number;
  torn: TornTail | null;
  /** The last whole record, verified, or null if there is none. */
  last: PositionedRecord | null;
}

/**
 * Find the end of the log from a window of its last bytes: `window` = file bytes
 * `[base, size)` with `base >= headerEnd`. Returns null when the window is too small (no record
 * start inside it); the caller retries with a larger window.
 */
export function scanTail(window: Buffer, base: number, headerEnd: number, file: string): TailScan | null {
  const size = base + window.length;
  const lastNl = window.lastIndexOf(NL);
  if (lastNl < 0) {
    if (base > headerEnd) return null;
    return { end: headerEnd, torn: size > headerEnd ? { offset: headerEnd, bytes: size - headerEnd } : null, last: null };
  }
  const end = base + lastNl + 1;
  const probe = probeRecordBefore(window.subarray(0, lastNl + 1), base, base === headerEnd, file);
  if (probe.kind === 'need-more') return null;
  if (probe.kind === 'not-boundary') throw new Error('unreachable: window ends with a newline');
  return { end, torn: size > end ? { offset: end, bytes: size - end } : null, last: probe.record };
}

/**
 * Decode the checkpoint file. Bad framing, checksum, JSON or shape → `LogCorruptError(reason
 * 'checkpoint')`; a newer version → `LogFormatError('newer-version')`. The position check
 * against the log is the store's (see {@link checkpointPositionProblem}).
 */
export function decodeCheckpoint(buf: Buffer, file: string): Checkpoint {
  const nl = buf.indexOf(NL);
  if (nl < 0 || nl !== buf.length - 1) throw new LogCorruptError(file, 0, 'checkpoint', 'not exactly one "<crc32> <json>" line');
  let v: unknown;
  try {
    v = decodeFrame(buf, 0, nl, file, 0);
  } catch (e) {
    throw new LogCorruptError(file, 0, 'checkpoint', e instanceof LogCorruptError ? `${e.reason}: ${e.message}` : String(e));
  }
  if (isObject(v) && isPosInt(v.version) && (v.version as number) > CHECKPOINT_VERSION)
    throw new LogFormatError(file, 'newer-version', `${file}: checkpoint version ${String(v.version)} is newer than this build reads (${CHECKPOINT_VERSION})`);
  const p = checkpointProblem(v);
  if (p) throw new LogCorruptError(file, 0, 'checkpoint', `${p.field || 'checkpoint'} ${p.rule}`);
  return v as Checkpoint;
}

/**
 * Check a checkpoint's position against the log: `offset` within `headerEnd..end`, and the record
 * just before `offset` has seq `cp.seq` (`seq` 0 ⇔ offset at the header end). `probe` is the
 * {@link BoundaryProbe} of the record before `offset` (not needed when offset is the header end).
 * Returns the problem or null.
 */
export function checkpointPositionProblem(
  cp: Checkpoint,
  headerEnd: number,
  end: number,
  probe: () => BoundaryProbe,
  /** seq of the record just before `headerEnd` (0 for a log's first segment; `base.seq` after a rotation). */
  startSeq = 0,
): string | null {
  if (cp.offset > end) return `offset ${cp.offset} is beyond the log end ${end}`;
  if (cp.offset < headerEnd) return `offset ${cp.offset} is inside the header (records start at ${headerEnd})`;
  if (cp.offset === headerEnd) return cp.seq === startSeq ? null : `offset ${cp.offset} is the log start but seq is ${cp.seq} (must be ${startSeq})`;
  if (cp.seq === startSeq) return `seq ${startSeq} but offset ${cp.offset} is not the log start ${headerEnd}`;
  const pr = probe();
  if (pr.kind !== 'record') return `offset ${cp.offset} is not a record boundary`;
  if (pr.record.record.seq !== cp.seq) return `the record before offset ${cp.offset} has seq ${pr.record.record.seq}, checkpoint says ${cp.seq}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Bounded reads through a positional reader (the stores pass their pread)

/** Reads `len` bytes at file offset `pos` (fewer only at end of file). */
export type ReadAt = (pos: number, len: number) => Buffer;

const FIRST_WINDOW = 4096;

/** Read and decode the header from the start of a file of `size` bytes, growing the read as needed. */
export function readHeader(readAt: ReadAt, size: number, file: string): { header: LogHeader; end: number } {
  let len = Math.min(size, FIRST_WINDOW);
  for (;;) {
    const buf = readAt(0, len);
    if (buf.indexOf(NL) >= 0 || len >= size) return decodeHeader(buf, file);
    len = Math.min(size, len * 4);
  }
}

/** The window in which {@link readTail} looks for the last newline, backwards. */
export const TAIL_CHUNK = 1 << 20;

/**
 * {@link scanTail} over a file of `size` bytes. The last newline is looked for backwards in
 * windows of at most {@link TAIL_CHUNK} bytes, so a long torn tail (zeros after a crash, garbage)
 * is never read into memory whole (a 3 GiB one was read in windows growing to the whole tail);
 * then the last record before it is read through a window growing as needed.
 */
export function readTail(readAt: ReadAt, size: number, headerEnd: number, file: string): TailScan {
  let end = headerEnd; // just after the last newline
  for (let hi = size; hi > headerEnd; ) {
    const lo = Math.max(headerEnd, hi - TAIL_CHUNK);
    const i = readAt(lo, hi - lo).lastIndexOf(NL);
    if (i >= 0) {
      end = lo + i + 1;
      break;
    }
    hi = lo;
  }
  const torn = size > end ? { offset: end, bytes: size - end } : null;
  if (end === headerEnd) return { end, torn, last: null };
  let len = Math.min(end - headerEnd, FIRST_WINDOW);
  for (;;) {
    const base = end - len;
    const scan = scanTail(readAt(base, len), base, headerEnd, file);
    if (scan) return { ...scan, torn };
    len = Math.min(end - headerEnd, len * 4);
  }
}

/**
 * The record ending exactly at `offset` (`offset > headerEnd`), read through a bounded window
 * before it that grows only if one record is larger than the window.
 */
export function readRecordBefore(readAt: ReadAt, offset: number, headerEnd: number, file: string): BoundaryProbe {
  let len = Math.min(offset - headerEnd, FIRST_WINDOW);
  for (;;) {
    const base = offset - len;
    const probe = probeRecordBefore(readAt(base, len), base, base === headerEnd, file);
    if (probe.kind !== 'need-more') return probe;
    len = Math.min(offset - headerEnd, len * 4);
  }
}
