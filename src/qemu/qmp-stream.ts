/**
 * A pure, incremental parser of the QMP byte stream (QEMU → client).
 *
 * QMP sends one JSON object per line (`\r\n`-terminated), or, from a monitor created with
 * `-mon …,mode=control,pretty=on`, one pretty-printed object over many lines: a frame is one
 * complete JSON object. Reads may split a frame anywhere (even inside a multi-byte UTF-8
 * character) or merge several; {@link feedQmpStream} takes the
 * parser state and a chunk and returns the new state plus the complete messages. A line that is not
 * a QMP message, or an unterminated frame longer than the limit, yields a typed
 * {@link QmpStreamError} — the stream cannot be trusted after that, so the caller should close it.
 */
import { TapstateError } from '../../machines/tapstate-error.js';

/** The greeting QEMU sends when a client connects. */
export interface QmpGreeting {
  kind: 'greeting';
  version: unknown;
  capabilities: unknown;
}

/** A successful answer to a command. */
export interface QmpReturn {
  kind: 'return';
  id?: string;
  value: unknown;
}

/** A failed answer to a command (`{"error":{"class":…,"desc":…}}`). */
export interface QmpErrorReply {
  kind: 'error';
  id?: string;
  errorClass: string;
  desc: string;
}

/** An asynchronous event. */
export interface QmpEvent {
  kind: 'event';
  event: string;
  data: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** Any message QEMU can send. */
export type QmpMessage = QmpGreeting | QmpReturn | QmpErrorReply | QmpEvent;

/** Why the stream cannot be parsed. */
export type QmpStreamErrorReason = 'garbled' | 'not-a-message' | 'oversized';

/** The stream is corrupt: a non-JSON line, a JSON line that is not a QMP message, or a frame too large. */
export class QmpStreamError extends TapstateError {
  override readonly name = 'QmpStreamError';
  readonly code = 'QMP_STREAM_INVALID';
  constructor(
    readonly reason: QmpStreamErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** Parser state: the bytes of the current, not yet terminated, line. Immutable. */
export interface QmpStreamState {
  readonly pending: Uint8Array;
  readonly maxFrame: number;
}

/** Result of feeding one chunk. Stops at the first error (`error` set, later bytes dropped). */
export interface QmpFeedResult {
  state: QmpStreamState;
  messages: QmpMessage[];
  error?: QmpStreamError;
}

/** Default frame limit: 1 MiB (QMP answers for our commands are a few hundred bytes). */
export const DEFAULT_MAX_FRAME = 1 << 20;

/** A fresh parser state. `maxFrame` (bytes, ≥ 2) bounds one line. */
export function createQmpStream(maxFrame: number = DEFAULT_MAX_FRAME): QmpStreamState {
  if (!Number.isInteger(maxFrame) || maxFrame < 2) {
    throw new RangeError(`maxFrame: must be an integer >= 2, got ${String(maxFrame)}`);
  }
  return { pending: new Uint8Array(0), maxFrame };
}

const NL = 0x0a;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Feed one chunk. Pure: `state` is not modified. */
export function feedQmpStream(state: QmpStreamState, chunk: Uint8Array): QmpFeedResult {
  const messages: QmpMessage[] = [];
  let buf = concat(state.pending, chunk);
  let start = 0;
  for (;;) {
    const end = frameEnd(buf, start);
    if (end < 0) break;
    if (end - start > state.maxFrame) {
      return fail(state, messages, new QmpStreamError('oversized', `QMP frame of ${end - start} bytes exceeds the limit of ${state.maxFrame}`));
    }
    const frame = buf.subarray(start, end);
    start = end;
    const parsed = parseLine(frame);
    if (parsed === null) continue;
    if (parsed instanceof QmpStreamError) return fail(state, messages, parsed);
    messages.push(parsed);
  }
  buf = buf.subarray(start);
  if (buf.length > state.maxFrame) {
    return fail(state, messages, new QmpStreamError('oversized', `unterminated QMP frame exceeds the limit of ${state.maxFrame} bytes`));
  }
  return { state: { pending: buf.slice(), maxFrame: state.maxFrame }, messages };
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Where the frame starting at `start` ends (exclusive), or -1 when it is not complete yet.
 * A frame is one JSON object or array — compact on one line, or pretty-printed over many
 * (`-mon …,mode=control,pretty=on`): it ends at the bracket that balances its first one, found
 * by scanning bytes (strings and escapes skipped; every structural byte is ASCII, so UTF-8
 * needs no decoding here). Anything else (blank or garbage) is a frame up to its newline.
 */
function frameEnd(buf: Uint8Array, start: number): number {
  let i = start;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d)) i++;
  if (i >= buf.length) return -1;
  if (buf[i] !== OPEN_BRACE && buf[i] !== OPEN_BRACKET) {
    const nl = buf.indexOf(NL, i);
    return nl < 0 ? -1 : nl + 1;
  }
  let depth = 0;
  let inString = false;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
  }
  return -1;
}

function fail(state: QmpStreamState, messages: QmpMessage[], error: QmpStreamError): QmpFeedResult {
  return { state: { pending: new Uint8Array(0), maxFrame: state.maxFrame }, messages, error };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** One line → message, null for a blank line, or an error. */
function parseLine(line: Uint8Array): QmpMessage | QmpStreamError | null {
  let text: string;
  try {
    text = decoder.decode(line);
  } catch {
    return new QmpStreamError('garbled', 'QMP line is not valid UTF-8');
  }
  text = text.trim();
  if (text === '') return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new QmpStreamError('garbled', `QMP line is not JSON: ${snippet(text)}`);
  }
  return classify(json, text);
}

/** Classify a parsed JSON value as a QMP message. Exported for tests. */
export function classify(json: unknown, text = JSON.stringify(json) ?? ''): QmpMessage | QmpStreamError {
  if (!isObject(json)) return new QmpStreamError('not-a-message', `QMP line is not an object: ${snippet(text)}`);
  const id = typeof json['id'] === 'string' ? json['id'] : undefined;
  if ('QMP' in json && isObject(json['QMP'])) {
    const q = json['QMP'];
    return { kind: 'greeting', version: q['version'], capabilities: q['capabilities'] };
  }
  if ('return' in json) return id === undefined ? { kind: 'return', value: json['return'] } : { kind: 'return', id, value: json['return'] };
  if ('error' in json && isObject(json['error'])) {
    const e = json['error'];
    const errorClass = typeof e['class'] === 'string' ? e['class'] : 'GenericError';
    const desc = typeof e['desc'] === 'string' ? e['desc'] : '';
    return id === undefined ? { kind: 'error', errorClass, desc } : { kind: 'error', id, errorClass, desc };
  }
  if (typeof json['event'] === 'string') {
    const data = isObject(json['data']) ? json['data'] : {};
    const ts = json['timestamp'];
    const msg: QmpEvent = { kind: 'event', event: json['event'], data };
    if (isObject(ts) && typeof ts['seconds'] === 'number' && typeof ts['microseconds'] === 'number') {
      msg.timestamp = { seconds: ts['seconds'], microseconds: ts['microseconds'] };
    }
    return msg;
  }
  return new QmpStreamError('not-a-message', `QMP object is neither greeting, return, error nor event: ${snippet(text)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function snippet(s: string): string {
  return JSON.stringify(s.length > 120 ? s.slice(0, 120) + '…' : s);
}
