/**
 * The records of the durable event log (see docs/log-format.md). One store holds the records of
 * every endpoint of one sandbox, in one sequence.
 */

export const LOG_FORMAT = 'tapstate-log';
/**
 * The newest format version this build reads. A log written as one file (no rotation) and every
 * checkpoint are version 1; the header of a segment started by a rotation (it carries `base`) is
 * version 2, so that a build that knows only one file refuses it rather than misread it.
 */
export const LOG_VERSION = 2;
/** Version of headers without `base` and of checkpoints. */
export const LOG_VERSION_SINGLE = 1;
/** Version of a segment header with `base`. */
export const LOG_VERSION_SEGMENT = 2;

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
   * Segments started by a rotation (version 2): the state of every live endpoint just before
   * this segment's first record — a checkpoint whose `seq` is the seq before that record and
   * whose `offset` is that record's logical offset. Absent in the first segment (seq 1 first).
   */
  base?: Checkpoint;
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
   * of the endpoints it touches; a context object is read too.
   */
  snapshot: { value: unknown; context: unknown; status: string };
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
}
