/**
 * The log store contract: a durable, append-only record sequence plus a checkpoint. Implemented
 * on disk (`file-store.ts`) and in memory (`memory-store.ts`); one contract suite runs against both.
 * All methods but `syncAsync` are synchronous: records are small and a single writer owns the store.
 */
import type { Checkpoint, LogHeader, LogRecord, PositionedRecord } from './records.js';
import type { SettledTest } from './segments.js';

export interface TornTail {
  /** Offset of the first byte of the partial record. */
  offset: number;
  /** How many bytes were dropped. */
  bytes: number;
}

export interface ReadResult {
  header: LogHeader;
  /** Records at or after the requested offset, in order, checksums and sequence verified. */
  records: PositionedRecord[];
  /** A partial last record that was dropped (and truncated away when opened for writing). */
  torn: TornTail | null;
  /** Offset just after the last whole record. */
  end: number;
}

/**
 * Called before each record is written; lets tests crash the writer at any record.
 * `crash-before`: nothing is written; `crash-after`: the record is written (and synced if the
 * append was durable); `torn`: only a prefix of the record's bytes is written. In all three
 * cases the append throws {@link SimulatedCrash} and the store refuses further writes.
 */
export type AppendHook = (record: LogRecord) => 'ok' | 'crash-before' | 'crash-after' | 'torn';

/**
 * Called before each step of a rotation or compaction (`rotate:header`, `rotate:link`,
 * `rotate:switch`, `compact:remove <segment>`, and `done` after the last): `crash` makes the
 * store die there ({@link SimulatedCrash}), as a kill -9 would.
 */
export type CompactionHook = (step: string) => 'ok' | 'crash';

/** What {@link LogStore.maintain} did. */
export interface MaintenanceReport {
  /** The active segment was sealed and a new one started. */
  rotated: boolean;
  /** Sealed segments removed (oldest first). */
  removed: string[];
  /** They were moved to `archive/` rather than deleted. */
  archived: boolean;
}

/** The retained history (see {@link LogStore.history}). */
export interface History {
  /** The state of every live endpoint just before the first record; null when history starts at seq 1. */
  base: Checkpoint | null;
  /** The records, oldest first, read lazily in bounded chunks. */
  records: Iterable<PositionedRecord>;
}

export interface LogStore {
  /** Read and verify from `offset` (default: just after the header). */
  read(offset?: number): ReadResult;
  /**
   * Append records in one write. `durable`: fdatasync before returning (group commit: pass
   * every record that must be durable in one call).
   */
  append(records: readonly LogRecord[], durable: boolean): void;
  /** fdatasync whatever was appended. */
  sync(): void;
  /**
   * fdatasync whatever was appended so far, without blocking the calling thread (the file store
   * syncs on libuv's threadpool; the memory store at once). Resolves once those bytes are
   * durable; records appended meanwhile are not covered.
   */
  syncAsync(): Promise<void>;
  /** Offset just after the last record written. */
  readonly end: number;
  /** The active segment has reached the retention policy's `segmentBytes`: a checkpoint now lets it rotate. */
  readonly segmentFull: boolean;
  readCheckpoint(): Checkpoint | null;
  /** Atomically replace the checkpoint (the log is synced first). */
  writeCheckpoint(cp: Checkpoint): void;
  /**
   * Right after `writeCheckpoint(cp)`: rotate the active segment if it is full, then remove the
   * sealed segments retention no longer wants and `cp` makes unnecessary.
   */
  maintain(cp: Checkpoint, settled?: SettledTest): MaintenanceReport;
  /** Every retained record, oldest first, with bounded memory (`archive`: archived segments too). */
  history(opts?: { archive?: boolean; from?: number }): History;
  close(): void;
}
