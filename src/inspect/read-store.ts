/**
 * Read a store's whole retained log without owning it: read-only (nothing is truncated, locked
 * or recovered), every record from the oldest retained one, checksums and sequence verified.
 */
import { FileLogStore } from '../log/file-store.js';
import type { Checkpoint, LogHeader, LogRecord } from '../log/records.js';
import type { LogStore, TornTail } from '../log/store.js';

/** A store's log as read. */
export interface SavedLog {
  header: LogHeader;
  /** The state just before the first record (null when the history starts at seq 1). */
  base: Checkpoint | null;
  /** Every whole retained record, in order. */
  records: LogRecord[];
  /** A partial last record (a crash while writing): reported, left in place. */
  torn: TornTail | null;
}

/** Read every retained record of an open log store (ignoring the checkpoint). */
export function readLog(log: LogStore, opts: { archive?: boolean } = {}): SavedLog {
  const h = log.history(opts);
  const records = [...h.records].map((p) => p.record);
  const r = log.read(log.end);
  return { header: r.header, base: h.base, records, torn: r.torn };
}

/** Open the store directory read-only, read its whole retained log, close it. */
export function readStoreDir(dir: string, opts: { archive?: boolean } = {}): SavedLog {
  const log = FileLogStore.open(dir, { readOnly: true });
  try {
    return readLog(log, opts);
  } finally {
    log.close();
  }
}
