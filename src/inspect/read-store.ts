/**
 * Read a store's whole log without owning it: read-only (nothing is truncated, locked or
 * recovered), every record from the first, checksums and sequence verified.
 */
import { FileLogStore } from '../log/file-store.js';
import type { LogHeader, LogRecord } from '../log/records.js';
import type { LogStore, TornTail } from '../log/store.js';

/** A store's log as read. */
export interface SavedLog {
  header: LogHeader;
  /** Every whole record, in order. */
  records: LogRecord[];
  /** A partial last record (a crash while writing): reported, left in place. */
  torn: TornTail | null;
}

/** Read every record of an open log store (from the first record, ignoring the checkpoint). */
export function readLog(log: LogStore): SavedLog {
  const r = log.read();
  return { header: r.header, records: r.records.map((p) => p.record), torn: r.torn };
}

/** Open the store directory read-only, read its whole log, close it. */
export function readStoreDir(dir: string): SavedLog {
  const log = FileLogStore.open(dir, { readOnly: true });
  try {
    return readLog(log);
  } finally {
    log.close();
  }
}
