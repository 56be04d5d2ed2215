/** The durable event log: records, the store contract, the codec and the two stores. */
export * from './records.js';
export type { AppendHook, CompactionHook, History, LogStore, MaintenanceReport, ReadResult, TornTail } from './store.js';
export { DEFAULT_RETENTION, MIN_SEGMENT_BYTES, checkRetention, parseAge, parseSize, type RetentionPolicy } from './retention.js';
export { RETENTION_FILE, readRetentionFile, writeRetentionFile } from './retention-file.js';
export { ARCHIVE_DIR, SEGMENTS_DIR, segmentName, segmentFirstSeq, type SettledTest } from './segments.js';
export { LogCorruptError, LogFormatError } from './errors.js';
export {
  FRAME_OVERHEAD,
  LogRecordError,
  LogStoreClosedError,
  checkpointProblem,
  decodeCheckpoint,
  decodeHeader,
  decodeLog,
  decodeRecords,
  encodeBatch,
  encodeCheckpoint,
  encodeHeader,
  encodeRecord,
  frameJson,
  newHeader,
  segmentHeader,
  recordProblem,
  type DecodedLog,
  type DecodedRecords,
  type ShapeProblem,
} from './codec.js';
export type { LogStoreOptions } from './log-engine.js';
export { CHECKPOINT_FILE, FileLogStore, LOG_FILE, type FileLogStoreOptions } from './file-store.js';
export { MemoryLogMedium, MemoryLogStore } from './memory-store.js';
