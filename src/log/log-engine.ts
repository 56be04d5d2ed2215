/**
 * The store logic shared by the file and memory stores: one implementation of the `LogStore`
 * contract over a small byte medium, so that both stores have identical semantics.
 */
import { SimulatedCrash } from '../adapters/faults.js';
import {
  LogRecordError,
  LogStoreClosedError,
  checkpointPositionProblem,
  checkpointProblem,
  decodeCheckpoint,
  decodeRecords,
  encodeBatch,
  encodeCheckpoint,
  planAppend,
  readHeader,
  readRecordBefore,
  readTail,
  type ReadAt,
} from './codec.js';
import { LogCorruptError } from './errors.js';
import { LOG_VERSION, type Checkpoint, type LogHeader, type LogRecord } from './records.js';
import type { AppendHook, LogStore, ReadResult, TornTail } from './store.js';

/** The bytes a store lives on (a file and its directory, or memory). */
export interface LogMedium {
  /** Name of the log for errors (the file path). */
  readonly logName: string;
  /** Name of the checkpoint for errors. */
  readonly checkpointName: string;
  size(): number;
  readAt: ReadAt;
  /** Append all of `bytes` at the end, in one write. */
  write(bytes: Buffer): void;
  truncate(length: number): void;
  /** Make the log's written bytes durable (fdatasync). */
  datasync(): void;
  /** The checkpoint bytes, or null if there is none. */
  readCheckpoint(): Buffer | null;
  /** Replace the checkpoint atomically and durably. */
  writeCheckpoint(bytes: Buffer): void;
  close(): void;
}

/** Options common to both stores. */
export interface LogStoreOptions {
  /** Test hook consulted before each record is written (crash injection). */
  hook?: AppendHook;
  /** Open for reading only: the torn tail is reported but not truncated; writes throw. */
  readOnly?: boolean;
}

/** `LogStore` over a {@link LogMedium}. */
export class LogEngine implements LogStore {
  /** The log's header. */
  readonly header: LogHeader;
  /** Offset just after the header: where records start. */
  readonly headerEnd: number;
  /** The torn tail found when the store was opened (truncated away unless read-only). */
  readonly tornAtOpen: TornTail | null;
  #end: number;
  #nextSeq: number;
  #syncedEnd = 0;
  #tornReport: TornTail | null;
  #state: 'open' | 'closed' | 'crashed' | 'write-failed' = 'open';
  readonly #medium: LogMedium;
  readonly #hook: AppendHook | undefined;
  readonly #readOnly: boolean;

  protected constructor(medium: LogMedium, opts: LogStoreOptions) {
    this.#medium = medium;
    this.#hook = opts.hook;
    this.#readOnly = opts.readOnly ?? false;
    try {
      const size = medium.size();
      const readAt: ReadAt = (p, l) => medium.readAt(p, l);
      const h = readHeader(readAt, size, medium.logName);
      this.header = h.header;
      this.headerEnd = h.end;
      const tail = readTail(readAt, size, h.end, medium.logName);
      this.#end = tail.end;
      this.#nextSeq = tail.last ? tail.last.record.seq + 1 : 1;
      this.tornAtOpen = tail.torn;
      this.#tornReport = tail.torn;
      if (tail.torn && !this.#readOnly) medium.truncate(tail.end);
    } catch (e) {
      medium.close();
      throw e;
    }
  }

  #alive(): void {
    if (this.#state !== 'open') throw new LogStoreClosedError(this.#medium.logName, this.#state);
  }

  #writable(): void {
    this.#alive();
    if (this.#readOnly) throw new LogStoreClosedError(this.#medium.logName, 'read-only');
  }

  get end(): number {
    this.#alive();
    return this.#end;
  }

  /** seq the next appended record must have. */
  get nextSeq(): number {
    this.#alive();
    return this.#nextSeq;
  }

  read(offset?: number): ReadResult {
    this.#alive();
    const m = this.#medium;
    const from = offset ?? this.headerEnd;
    if (!Number.isSafeInteger(from) || from < this.headerEnd || from > this.#end)
      throw new RangeError(`read offset must be an integer in ${this.headerEnd}..${this.#end}, got ${String(offset)}`);
    let expectSeq = 1;
    if (from > this.headerEnd) {
      const probe = readRecordBefore((p, l) => m.readAt(p, l), from, this.headerEnd, m.logName);
      if (probe.kind !== 'record') throw new RangeError(`read offset ${from} is not a record boundary`);
      expectSeq = probe.record.record.seq + 1;
    }
    const buf = from < this.#end ? m.readAt(from, this.#end - from) : Buffer.alloc(0);
    const d = decodeRecords(buf, { file: m.logName, base: from, expectSeq });
    return { header: this.header, records: d.records, torn: d.torn ?? this.#tornReport, end: d.end };
  }

  append(records: readonly LogRecord[], durable: boolean): void {
    this.#writable();
    if (records.length === 0) {
      if (durable) this.sync();
      return;
    }
    const frames = encodeBatch(records, this.#nextSeq);
    const plan = planAppend(frames, records, this.#hook);
    if (plan.bytes.length > 0) this.#write(plan.bytes);
    if (plan.crash) {
      if (plan.crash === 'crash-after' && durable) this.#medium.datasync();
      this.#state = 'crashed';
      this.#medium.close();
      throw new SimulatedCrash(`${plan.crash} log record seq ${records[plan.at]!.seq}`);
    }
    this.#nextSeq += records.length;
    this.#tornReport = null;
    if (durable) this.#datasync();
  }

  #write(bytes: Buffer): void {
    try {
      this.#medium.write(bytes);
    } catch (e) {
      // Never leave a partial record in front of later appends: cut back to the last record.
      try {
        this.#medium.truncate(this.#end);
      } catch {
        this.#state = 'write-failed';
        this.#medium.close();
      }
      throw e;
    }
    this.#end += bytes.length;
  }

  #datasync(): void {
    this.#medium.datasync();
    this.#syncedEnd = this.#end;
  }

  sync(): void {
    this.#writable();
    // #syncedEnd starts at 0: after open the existing bytes may not be durable yet (a crashed
    // writer's page cache), so the first sync always syncs.
    if (this.#syncedEnd !== this.#end) this.#datasync();
  }

  readCheckpoint(): Checkpoint | null {
    this.#alive();
    const m = this.#medium;
    const bytes = m.readCheckpoint();
    if (bytes === null) return null;
    const cp = decodeCheckpoint(bytes, m.checkpointName);
    const problem = this.#positionProblem(cp);
    if (problem) throw new LogCorruptError(m.checkpointName, 0, 'checkpoint', problem);
    return cp;
  }

  #positionProblem(cp: Checkpoint): string | null {
    const m = this.#medium;
    return checkpointPositionProblem(cp, this.headerEnd, this.#end, () =>
      readRecordBefore((p, l) => m.readAt(p, l), cp.offset, this.headerEnd, m.logName),
    );
  }

  writeCheckpoint(cp: Checkpoint): void {
    this.#writable();
    const shape = checkpointProblem(cp);
    if (shape) throw new LogRecordError(`checkpoint.${shape.field}`.replace(/\.$/, ''), shape.rule);
    if (cp.version > LOG_VERSION) throw new LogRecordError('checkpoint.version', `must be <= ${LOG_VERSION}`);
    const pos = this.#positionProblem(cp);
    if (pos) throw new LogRecordError('checkpoint.offset', pos);
    if (this.#syncedEnd !== this.#end) this.#datasync();
    this.#medium.writeCheckpoint(encodeCheckpoint(cp));
  }

  close(): void {
    if (this.#state === 'open') {
      this.#state = 'closed';
      this.#medium.close();
    }
  }
}
