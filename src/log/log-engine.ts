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
import { CHECKPOINT_VERSION, type Checkpoint, type LogHeader, type LogRecord, type PositionedRecord } from './records.js';
import { DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';
import { ARCHIVE_DIR, SEGMENTS_DIR, mustStay, overRetention, pendingIsNull, segmentName, type SealedInfo, type SettledTest } from './segments.js';
import { chunked, readSealed, sealedRecords } from './segment-reader.js';
import type { AppendHook, CompactionHook, History, LogStore, MaintenanceReport, ReadResult, TornTail } from './store.js';
import { readSegmentBase, segmentLayout, segmentStart } from './codec.js';

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
  /**
   * The same off the calling thread (the file store: `fs.fdatasync` on libuv's threadpool), for
   * {@link LogStore.syncAsync}. Covers at least every byte written before the call. Optional: a
   * medium without it is synced with {@link datasync}.
   */
  datasyncAsync?(): Promise<void>;
  /** The checkpoint bytes, or null if there is none. */
  readCheckpoint(): Buffer | null;
  /** Replace the checkpoint atomically and durably. */
  writeCheckpoint(bytes: Buffer): void;
  close(): void;
  /** Names of the sealed segments in `where`, oldest first. */
  listSealed(where: SealedDir): string[];
  /** Open a sealed segment for reading. */
  openSealed(where: SealedDir, name: string): SealedFile;
  /** Rotation, step 1: the next active segment's header, written and fsync'd under a temp name. */
  rotateWriteHeader(bytes: Buffer): void;
  /** Rotation, step 2: the active file also becomes `segments/<name>` (a hard link), durably. */
  rotateLink(name: string): void;
  /** Rotation, step 3: the temp file replaces the active one (rename), durably; the medium now appends to it. */
  rotateSwitch(): void;
  /** Remove `segments/<name>`: moved to `archive/` when `archive`, else deleted; durably. */
  removeSealed(name: string, archive: boolean): void;
}

/** Where sealed segments live. */
export type SealedDir = typeof SEGMENTS_DIR | typeof ARCHIVE_DIR;

/** A sealed segment open for reading (physical offsets of its file). */
export interface SealedFile {
  /** For errors: the file's path. */
  readonly name: string;
  size(): number;
  readAt: ReadAt;
  close(): void;
}

/** Options common to both stores. */
export interface LogStoreOptions {
  /** Test hook consulted before each record is written (crash injection). */
  hook?: AppendHook;
  /** Open for reading only: the torn tail is reported but not truncated; writes throw. */
  readOnly?: boolean;
  /** Rotation and compaction policy (the file store reads `retention.json` when absent; default {@link DEFAULT_RETENTION}). */
  retention?: RetentionPolicy;
  /** Test hook consulted before each step of a rotation or compaction (crash injection). */
  compactHook?: CompactionHook;
  /** Clock for the age rule of retention (default Date.now). */
  now?: () => number;
}

/**
 * `LogStore` over a {@link LogMedium}. Offsets are **logical**: a log that was never rotated has
 * logical offsets equal to its file offsets; after a rotation, the active segment's first record
 * sits at the logical offset where the previous segment ended (`header.base.offset`), so
 * checkpoint offsets stay valid across rotations.
 */
export class LogEngine implements LogStore {
  #header: LogHeader;
  /** Bytes of the active segment's header line (its base line, version 3, follows). */
  #headerLine: number;
  /** Logical offset of the active segment's first record. */
  #start: number;
  /** seq of the record before the active segment's first one (0 for the first segment). */
  #startSeq: number;
  /** file offset − logical offset in the active segment. */
  #delta: number;
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
  readonly #retention: RetentionPolicy;
  readonly #compactHook: CompactionHook | undefined;
  readonly #now: () => number;
  /** Sealed segments are immutable: what compaction learned about them is kept. */
  readonly #sealedInfo = new Map<string, SealedInfo>();

  protected constructor(medium: LogMedium, opts: LogStoreOptions) {
    this.#medium = medium;
    this.#hook = opts.hook;
    this.#readOnly = opts.readOnly ?? false;
    this.#retention = opts.retention ?? DEFAULT_RETENTION;
    this.#compactHook = opts.compactHook;
    this.#now = opts.now ?? Date.now;
    try {
      const size = medium.size();
      const h = readHeader((p, l) => medium.readAt(p, l), size, medium.logName);
      this.#header = h.header;
      this.#headerLine = h.end;
      const lay = segmentLayout(h.header, h.end);
      this.#start = lay.start;
      this.#startSeq = lay.startSeq;
      this.#delta = h.end + lay.baseBytes - this.#start;
      if (size < h.end + lay.baseBytes) throw new LogCorruptError(medium.logName, h.end, 'truncated-segment', `the segment ends inside its base line (${size} < ${h.end + lay.baseBytes} bytes)`);
      const tail = readTail(this.#readAt, size - this.#delta, this.#start, medium.logName);
      this.#end = tail.end;
      this.#nextSeq = tail.last ? tail.last.record.seq + 1 : this.#startSeq + 1;
      this.tornAtOpen = tail.torn;
      this.#tornReport = tail.torn;
      if (!this.#readOnly) {
        if (tail.torn) medium.truncate(tail.end + this.#delta);
        // a rotation interrupted between its link and its switch: the link names the active file itself
        const dup = segmentName(this.#startSeq + 1);
        if (medium.listSealed(SEGMENTS_DIR).includes(dup)) medium.removeSealed(dup, false);
      }
    } catch (e) {
      medium.close();
      throw e;
    }
  }

  /** Logical positional read of the active segment. */
  readonly #readAt: ReadAt = (p, l) => this.#medium.readAt(p + this.#delta, l);

  #alive(): void {
    if (this.#state !== 'open') throw new LogStoreClosedError(this.#medium.logName, this.#state);
  }

  #writable(): void {
    this.#alive();
    if (this.#readOnly) throw new LogStoreClosedError(this.#medium.logName, 'read-only');
  }

  /** The active segment's header. */
  get header(): LogHeader {
    return this.#header;
  }

  /** Logical offset where the active segment's records start (the header end of a log never rotated). */
  get headerEnd(): number {
    return this.#start;
  }

  get end(): number {
    this.#alive();
    return this.#end;
  }

  get segmentFull(): boolean {
    this.#alive();
    return this.#end - this.#start >= this.#retention.segmentBytes;
  }

  /** seq the next appended record must have. */
  get nextSeq(): number {
    this.#alive();
    return this.#nextSeq;
  }

  /** The retention policy in force. */
  get retention(): RetentionPolicy {
    return this.#retention;
  }

  read(offset?: number): ReadResult {
    this.#alive();
    const m = this.#medium;
    const from = offset ?? this.#start;
    if (!Number.isSafeInteger(from) || from < this.#start || from > this.#end)
      throw new RangeError(`read offset must be an integer in ${this.#start}..${this.#end}, got ${String(offset)}`);
    let expectSeq = this.#startSeq + 1;
    if (from > this.#start) {
      const probe = readRecordBefore(this.#readAt, from, this.#start, m.logName);
      if (probe.kind !== 'record') throw new RangeError(`read offset ${from} is not a record boundary`);
      expectSeq = probe.record.record.seq + 1;
    }
    const buf = from < this.#end ? this.#readAt(from, this.#end - from) : Buffer.alloc(0);
    const d = decodeRecords(buf, { file: m.logName, base: from, expectSeq });
    return { header: this.#header, records: d.records, torn: d.torn ?? this.#tornReport, end: d.end };
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
      this.#die();
      throw new SimulatedCrash(`${plan.crash} log record seq ${records[plan.at]!.seq}`);
    }
    this.#nextSeq += records.length;
    this.#tornReport = null;
    if (durable) this.#datasync();
  }

  #die(): void {
    this.#state = 'crashed';
    this.#medium.close();
  }

  #write(bytes: Buffer): void {
    try {
      this.#medium.write(bytes);
    } catch (e) {
      // Never leave a partial record in front of later appends: cut back to the last record.
      try {
        this.#medium.truncate(this.#end + this.#delta);
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

  async syncAsync(): Promise<void> {
    this.#writable();
    const m = this.#medium;
    if (!m.datasyncAsync) return this.sync();
    if (this.#syncedEnd === this.#end) return;
    // what is written now is what this sync covers: appends made while it runs need another one
    const end = this.#end;
    await m.datasyncAsync();
    if (end > this.#syncedEnd) this.#syncedEnd = end;
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
    return checkpointPositionProblem(
      cp,
      this.#start,
      this.#end,
      () => readRecordBefore(this.#readAt, cp.offset, this.#start, this.#medium.logName),
      this.#startSeq,
    );
  }

  writeCheckpoint(cp: Checkpoint): void {
    this.#writable();
    const shape = checkpointProblem(cp);
    if (shape) throw new LogRecordError(`checkpoint.${shape.field}`.replace(/\.$/, ''), shape.rule);
    if (cp.version > CHECKPOINT_VERSION) throw new LogRecordError('checkpoint.version', `must be <= ${CHECKPOINT_VERSION}`);
    const pos = this.#positionProblem(cp);
    if (pos) throw new LogRecordError('checkpoint.offset', pos);
    if (this.#syncedEnd !== this.#end) this.#datasync();
    const bytes = encodeCheckpoint(cp);
    this.#medium.writeCheckpoint(bytes);
    this.#lastCheckpoint = { cp, bytes };
  }

  /** The checkpoint last written by this process, and its bytes (a rotation reuses them as its base line). */
  #lastCheckpoint: { cp: Checkpoint; bytes: Buffer } | null = null;

  // ------------------------------------------------------------------ segments

  #step(step: string): void {
    if (this.#compactHook?.(step) === 'crash') {
      this.#die();
      throw new SimulatedCrash(`crash before ${step}`);
    }
  }

  /**
   * Keep the log bounded; call right after {@link writeCheckpoint}`(cp)` with the same `cp`.
   * If the checkpoint covers the whole active segment and it has reached `segmentBytes`, the
   * segment is sealed and a new one started (its header carries `cp` as its base). Then sealed
   * segments are removed, oldest first, while the retention policy asks for it and each is
   * removable ({@link mustStay}). Every step is atomic and durable; a crash between two steps
   * leaves a store that opens to the same live state.
   */
  maintain(cp: Checkpoint, settled: SettledTest = pendingIsNull): MaintenanceReport {
    this.#writable();
    const report: MaintenanceReport = { rotated: false, removed: [], archived: false };
    if (cp.offset === this.#end && cp.seq === this.#nextSeq - 1 && this.#end - this.#start >= this.#retention.segmentBytes && this.#end > this.#start) {
      this.#rotate(cp);
      report.rotated = true;
    }
    report.removed = this.#compact(cp, settled);
    report.archived = report.removed.length > 0 && this.#retention.keepHistory;
    this.#step('done');
    return report;
  }

  #rotate(cp: Checkpoint): void {
    const m = this.#medium;
    if (this.#syncedEnd !== this.#end) this.#datasync();
    const last = this.#lastCheckpoint;
    const baseLine = last && last.cp === cp ? last.bytes : encodeCheckpoint(cp);
    const { header, bytes } = segmentStart(this.#header.meta, cp, baseLine, new Date(this.#now()));
    this.#step('rotate:header');
    m.rotateWriteHeader(bytes);
    this.#step('rotate:link');
    const sealed = segmentName(this.#startSeq + 1);
    m.rotateLink(sealed);
    this.#step('rotate:switch');
    m.rotateSwitch();
    this.#header = header;
    this.#headerLine = bytes.length - baseLine.length;
    this.#start = cp.offset;
    this.#startSeq = cp.seq;
    this.#delta = bytes.length - cp.offset;
    this.#syncedEnd = this.#end;
    this.#tornReport = null;
  }

  #compact(cp: Checkpoint, settled: SettledTest): string[] {
    const p = this.#retention;
    if (p.maxBytes === null && p.maxAgeMs === null) return [];
    const m = this.#medium;
    const names = m.listSealed(SEGMENTS_DIR).filter((n) => n !== segmentName(this.#startSeq + 1));
    if (names.length === 0) return [];
    const infos = (n: string): SealedInfo => {
      let info = this.#sealedInfo.get(n);
      if (!info) {
        info = readSealed(m, SEGMENTS_DIR, n);
        this.#sealedInfo.set(n, info);
      }
      return info;
    };
    let total = m.size(); // the active segment, header included
    for (const n of names) total += infos(n).bytes;
    const removed: string[] = [];
    const now = this.#now();
    for (const n of names) {
      const info = infos(n);
      if (!overRetention(info, total, p, now) || mustStay(info, cp, settled) !== null) break;
      this.#step(`compact:remove ${n}`);
      m.removeSealed(n, p.keepHistory);
      this.#sealedInfo.delete(n);
      total -= info.bytes;
      removed.push(n);
    }
    return removed;
  }

  /**
   * The retained history, oldest first, read in bounded chunks: the sealed segments (with
   * `archive`, the archived ones before them), then the active one. `base` is the state just
   * before the first record (null when history starts at seq 1). Records before logical offset
   * `from` are skipped (whole segments without reading them).
   */
  history(opts: { archive?: boolean; from?: number } = {}): History {
    this.#alive();
    const m = this.#medium;
    const dup = segmentName(this.#startSeq + 1);
    const files: Array<{ where: SealedDir; name: string }> = [
      ...(opts.archive ? m.listSealed(ARCHIVE_DIR).map((name) => ({ where: ARCHIVE_DIR as SealedDir, name })) : []),
      ...m.listSealed(SEGMENTS_DIR)
        .filter((n) => n !== dup)
        .map((name) => ({ where: SEGMENTS_DIR as SealedDir, name })),
    ];
    // an archived copy of a segment also still in segments/ (a crash between the two steps of a move) counts once
    const seen = new Set<string>();
    const unique = files.filter((f) => (seen.has(f.name) ? false : (seen.add(f.name), true)));
    const from = opts.from ?? 0;
    const self = this;
    let base: Checkpoint | null;
    if (unique.length) {
      // the state before the oldest retained record: its segment's base (one file open at a time)
      const f = m.openSealed(unique[0]!.where, unique[0]!.name);
      try {
        const h = readHeader(f.readAt, f.size(), f.name);
        base = readSegmentBase(h.header, h.end, f.readAt, f.name);
      } finally {
        f.close();
      }
    } else base = readSegmentBase(this.#header, this.#headerLine, (p, l) => m.readAt(p, l), m.logName);
    function* records(): Generator<PositionedRecord> {
      let prevLast: number | null = null;
      for (const u of unique) {
        const f = m.openSealed(u.where, u.name);
        try {
          const seg = sealedRecords(f, from, prevLast);
          for (const r of seg.records) yield r;
          prevLast = seg.lastSeq();
        } finally {
          f.close();
        }
      }
      if (prevLast !== null && prevLast !== self.#startSeq)
        throw new LogCorruptError(m.logName, 0, 'sequence-gap', `the sealed segments end at seq ${prevLast}, the active segment starts at ${self.#startSeq + 1}`);
      const startAt = Math.max(from, self.#start);
      if (startAt > self.#end) return;
      yield* activeRecords(self, startAt);
    }
    return { base, records: records() };
  }

  /** @internal chunked read of the active segment from a record boundary. */
  _activeChunks(from: number): Generator<PositionedRecord> {
    return chunked(this.#readAt, from, this.#end, this.#medium.logName, from === this.#start ? this.#startSeq + 1 : undefined, (p) =>
      p > this.#start ? readRecordBefore(this.#readAt, p, this.#start, this.#medium.logName) : null,
    );
  }

  close(): void {
    if (this.#state === 'open') {
      this.#state = 'closed';
      this.#medium.close();
    }
  }
}

function activeRecords(e: LogEngine, from: number): Generator<PositionedRecord> {
  return e._activeChunks(from);
}
