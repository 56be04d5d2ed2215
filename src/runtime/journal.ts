/**
 * The journal: the store's only writer of log records. It numbers and timestamps records,
 * makes them durable with group commit (callers that ask in the same event-loop turn, or while
 * a sync is in flight, share one fdatasync, run off the event loop: {@link GroupCommit}), counts records since the last checkpoint, and fails closed: after a write or sync
 * fails it refuses every further write — with {@link StoreFailedError} for a real failure (an
 * errno), and with {@link SimulatedCrash} when a test crashed the "process".
 */
import { SimulatedCrash } from '../adapters/faults.js';
import { CHECKPOINT_VERSION, LOG_FORMAT, type Checkpoint, type CheckpointEndpoint, type LogRecord } from '../log/records.js';
import type { LogStore } from '../log/store.js';
import { isEffectState } from '../../machines/index.js';
import { LogStoreClosedError } from '../log/codec.js';
import { StoreFailedError } from './errors.js';
import { GroupCommit } from './group-commit.js';

/** A record as the store builds it: the journal adds `seq` and `ts`. */
export type RecordBody = LogRecord extends infer R ? (R extends LogRecord ? Omit<R, 'seq' | 'ts'> : never) : never;

/** An endpoint at a checkpoint is settled: no effect pending, not in an effect state. */
const settledAtCheckpoint = (e: CheckpointEndpoint): boolean => e.pending === null && !isEffectState(e.snapshot.value);

export interface JournalOptions {
  /** The seq of the last record already in the log. */
  seq: number;
  /** Wall clock for record timestamps. */
  clock: () => number;
  /** Called on every failure (e.g. to forget fds that died with a crashed process). */
  onFail?: (cause: unknown) => void;
}

export class Journal {
  #seq: number;
  #sinceCheckpoint = 0;
  #failure: unknown = null;
  /** Group commit of {@link durable}: one asynchronous fdatasync at a time, shared. */
  readonly #commits = new GroupCommit(() => this.#syncAsync());

  constructor(
    private readonly log: LogStore,
    private readonly opts: JournalOptions,
  ) {
    this.#seq = opts.seq;
  }

  /** seq of the last record appended. */
  get seq(): number {
    return this.#seq;
  }
  /** Records appended since the last checkpoint. */
  get sinceCheckpoint(): number {
    return this.#sinceCheckpoint;
  }
  /** The active log segment is full: a checkpoint now lets it rotate. */
  get segmentFull(): boolean {
    return this.log.segmentFull;
  }
  /** Whether a write or sync failed (or the process "crashed"): nothing more is written. */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /**
   * Enter the failed state because of `cause` and return the error to throw: a failure of the
   * log medium (an errno) as a {@link StoreFailedError}; a {@link SimulatedCrash} or anything
   * else (a bug) as is.
   */
  fail(cause: unknown, during: 'write' | 'fsync' = 'write'): unknown {
    const err = cause instanceof SimulatedCrash || StoreFailedError.errnoOf(cause) === null ? cause : StoreFailedError.of(cause, during);
    if (this.#failure === null) this.#failure = err;
    this.opts.onFail?.(cause);
    return err;
  }

  /** Throw if the journal failed: nothing may be written or acted on after that. */
  assertUsable(): void {
    const f = this.#failure;
    if (f === null) return;
    if (f instanceof SimulatedCrash) throw new SimulatedCrash('store used after a crash');
    throw new StoreFailedError(f instanceof StoreFailedError ? f.errno : 'unknown', 'used-after-failure', { cause: f });
  }

  /** Append records in one write (`durable`: and fdatasync at once). Returns them as written. */
  append(bodies: readonly RecordBody[], durable: boolean): LogRecord[] {
    this.assertUsable();
    const ts = this.opts.clock();
    const recs = bodies.map((b) => ({ ...b, seq: ++this.#seq, ts }) as LogRecord);
    try {
      this.log.append(recs, durable);
    } catch (e) {
      // a read-only log refuses before writing anything: the store stays as it was (a reader), not failed
      if (e instanceof LogStoreClosedError && e.why === 'read-only') {
        this.#seq -= recs.length;
        throw e;
      }
      throw this.fail(e, 'write'); // the log is in an unknown state: never write again from this process
    }
    this.#sinceCheckpoint += recs.length;
    return recs;
  }

  /**
   * Make everything appended so far durable. Group commit: operations running concurrently
   * (many endpoints, recovery) that ask in the same turn of the event loop, or while a sync is in
   * flight, share one fdatasync. The fdatasync runs off the event loop (libuv's threadpool for
   * the file store): the caller — an effect waiting for its intent — waits, nothing else does.
   */
  durable(): Promise<void> {
    return this.#commits.request();
  }

  async #syncAsync(): Promise<void> {
    this.assertUsable();
    try {
      await this.log.syncAsync();
    } catch (e) {
      throw this.fail(e, 'fsync');
    }
  }

  /** Resolves when no fdatasync of {@link durable} is running or waiting (before closing). */
  idle(): Promise<void> {
    return this.#commits.idle();
  }

  /**
   * Write a checkpoint of `endpoints` at the current log position (the log is synced first). A
   * failure is typed but does not fail the journal: the checkpoint is replaced atomically, so the
   * log and the previous checkpoint stay intact. Then the log's maintenance (bounded history):
   * rotate a full segment, remove what retention no longer wants; a failure there leaves the log
   * in an unknown state, so it fails the journal.
   */
  writeCheckpoint(endpoints: Checkpoint['endpoints'], extra: { network?: unknown; retired: number; ref?: Record<string, unknown> }): void {
    const cp: Checkpoint = {
      format: LOG_FORMAT,
      version: CHECKPOINT_VERSION,
      seq: this.#seq,
      offset: this.log.end,
      ...(extra.ref ? { ref: extra.ref } : {}),
      endpoints,
      retired: extra.retired,
      ...(extra.network !== undefined ? { network: extra.network } : {}),
    };
    try {
      this.log.writeCheckpoint(cp);
    } catch (e) {
      throw StoreFailedError.errnoOf(e) === null ? e : StoreFailedError.of(e, 'write');
    }
    this.#sinceCheckpoint = 0;
    try {
      this.log.maintain(cp, settledAtCheckpoint);
    } catch (e) {
      throw this.fail(e, 'write');
    }
  }

  close(): void {
    this.log.close();
  }
}
