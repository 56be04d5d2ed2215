/**
 * The records of the durable event log (see docs/log-format.md). One store holds the records of
 * every endpoint of one sandbox, in one sequence.
 */

export const LOG_FORMAT = 'tapstate-log';
/**
 * The newest header version this build reads. A log's first segment (no rotation) is version 1;
 * a segment started by a rotation is version 3 (its header names where it starts, and its base
 * checkpoint follows on a line of its own, read only when the history is replayed); version 2
 * (written by earlier builds) embeds the base checkpoint in the header line and is still read.
 * A build that knows only one file refuses a rotated segment rather than misread it.
 */
export const LOG_VERSION = 3;
/** Version of headers without `base` (a log's first segment); also checkpoint version 1. */
export const LOG_VERSION_SINGLE = 1;
/** Version of a segment header that embeds its base checkpoint (read, no longer written). */
export const LOG_VERSION_SEGMENT = 2;
/** Version of a segment header followed by its base line (written by rotations). */
export const LOG_VERSION_SEGMENT_LINE = 3;
/**
 * The newest checkpoint version this build reads and the one it writes. Version 1: every
 * endpoint's context whole; version 2 adds compact contexts (`snapshot.delta` + `snapshot.h`,
 * relative to a reference the runtime derives from `ref`), see docs/log-format.md.
 */
export const CHECKPOINT_VERSION = 2;

/** First line of every log file. */
export interface LogHeader {
  k: 'header';
  format: typeof LOG_FORMAT;
  version: number;
  /** ISO time the store was created. */
  created: string;
  /** Free-form store metadata (the sandbox: netns path, vCPUs, QMP socket…). */
  meta: Record<string, unknown>;
  /**
   * Version 2 segments (earlier builds): the state of every live endpoint just before this
   * segment's first record — a checkpoint whose `seq` is the seq before that record and whose
   * `offset` is that record's logical offset. Absent in the first segment (seq 1 first).
   */
  base?: Checkpoint;
  /**
   * Version 3 segments: where the segment starts (`seq` before its first record, that record's
   * logical `offset`) and the byte length of the base line that follows the header (the
   * checkpoint at that point, framed like checkpoint.json).
   */
  start?: SegmentStart;
}

/** Where a rotated segment starts (version 3 header). */
export interface SegmentStart {
  /** seq of the record just before the segment's first one. */
  seq: number;
  /** Logical offset of the segment's first record. */
  offset: number;
  /** Bytes of the base line (frame included) between the header line and the first record. */
  base: number;
}

/** The resulting state of a transition: dotted state value and a checksum of the context. */
export interface StateStamp {
  /** e.g. `hotAttach.createTap`. */
  v: string;
  /** crc32 (8 hex digits) of the canonical JSON of the context. */
  h: string;
}

interface Base {
  /** Sequence number, contiguous from 1. */
  seq: number;
  /** Wall-clock milliseconds (informational; never fed to the machine). */
  ts: number;
  /** Endpoint id. */
  ep: string;
}

/** An endpoint was created: the machine's input. */
export interface CreateRecord extends Base {
  k: 'create';
  input: unknown;
  state: StateStamp;
}

/**
 * An event was applied to the endpoint's machine: a command (`HOT_ATTACH`…) or an effect
 * outcome (`xstate.done.actor.<id>` / `xstate.error.actor.<id>`), with the resulting state.
 */
export interface EventRecord extends Base {
  k: 'event';
  event: { type: string; [key: string]: unknown };
  state: StateStamp;
  /** For effect outcomes: how long the effect took (ms). */
  ms?: number;
  /** For effect outcomes found by recovery rather than observed: what the probes saw. */
  reconciled?: Record<string, unknown>;
}

/** Write-ahead: an effect is about to run (durable before the adapter is called). */
export interface IntentRecord extends Base {
  k: 'intent';
  /** The invoke id (the `<id>` of `xstate.done.actor.<id>`). */
  id: string;
  /** The effect's actor `src`, e.g. `netlink.createTap`. */
  src: string;
  input: unknown;
  /** 1 for the first run; > 1 when recovery re-runs an idempotent teardown effect. */
  attempt: number;
  /**
   * What the world held before the effect, when recovery needs it (attach.qdiscOrig:
   * `{origIngress}`, whether the original link already had an ingress qdisc).
   */
  pre?: Record<string, unknown>;
}

/** Something recovery (or the runtime) wants on the record that is not a transition. */
export interface NoteRecord extends Base {
  k: 'note';
  note: string;
  data?: Record<string, unknown>;
}

/**
 * A settled endpoint's whole snapshot, appended when an operation settles: a per-endpoint
 * checkpoint inside the log. Opening restores the endpoint from its latest one and replays only
 * what follows; `verify` replays everything and checks each one against the replay.
 */
export interface SnapshotRecord extends Base {
  k: 'snapshot';
  snapshot: { value: unknown; context: unknown; status: string };
  state: StateStamp;
}

export type LogRecord = CreateRecord | EventRecord | IntentRecord | NoteRecord | SnapshotRecord;

/** A record together with where it sits in the file. */
export interface PositionedRecord {
  record: LogRecord;
  /** Byte offset of the record's first byte. */
  offset: number;
  /** Bytes, including the newline. */
  length: number;
}

/** A persisted endpoint at a checkpoint. */
export interface CheckpointEndpoint {
  /**
   * `{ value, context, status }` of the machine snapshot (no children). The runtime writes
   * `context` as an embedded JSON string, so that opening a large store parses only the contexts
   * of the endpoints it touches; a context object is read too. Version 2 may instead hold
   * `delta` (an embedded JSON string: the context's fields that differ from the reference the
   * runtime derives from the checkpoint's `ref`, the endpoint id and `idx`) and `h` (8 hex: the
   * crc32 of the whole context's JSON, the state stamp's hash), without `context`.
   */
  snapshot: { value: unknown; context?: unknown; status: string; delta?: string; h?: string };
  /** The intent the endpoint was waiting on at checkpoint time, if any. */
  pending: IntentRecord | null;
  /** seq of the endpoint's last record. */
  lastSeq: number;
}

/** Snapshot of every endpoint plus the log position it covers. */
export interface Checkpoint {
  format: typeof LOG_FORMAT;
  version: number;
  /** Last seq included. */
  seq: number;
  /** Byte offset just after that record (where replay of the tail starts). */
  offset: number;
  /** The live endpoints (a detached endpoint is retired: it is not here). */
  endpoints: Record<string, CheckpointEndpoint>;
  /** Optional: how many endpoints were retired (detached) over the store's life. */
  retired?: number;
  /** What the store keeps of the persist.json documents it loaded (src/persist/persisted-network.ts), when any. */
  network?: unknown;
  /** Version 2: what the runtime derives compact contexts' reference from (the sandbox's input defaults); opaque to the store. */
  ref?: Record<string, unknown>;
}
