/**
 * The log store contract: a durable, append-only record sequence plus a checkpoint. Implemented
 * on disk (`file-store.ts`) and in memory (`memory-store.ts`); one contract suite runs against both.
 * All methods are synchronous: records are small and a single writer owns the store.
 */
import type { Checkpoint, LogHeader, LogRecord, PositionedRecord } from './records.js';

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
  /** Offset just after the last record written. */
  readonly end: number;
  readCheckpoint(): Checkpoint | null;
  /** Atomically replace the checkpoint (the log is synced first). */
  writeCheckpoint(cp: Checkpoint): void;
  close(): void;
}
