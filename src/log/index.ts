/**
 * `tapstate/log`: the durable event log — its record types, the store contract, and the file
 * and memory stores. The wire codec is internal (docs/log-format.md documents the bytes).
 */
export * from './records.js';
export type { AppendHook, CompactionHook, History, LogStore, MaintenanceReport, ReadResult, TornTail } from './store.js';
export { DEFAULT_RETENTION, MIN_SEGMENT_BYTES, checkRetention, parseAge, parseSize, type RetentionPolicy } from './retention.js';
export { RETENTION_FILE, readRetentionFile, writeRetentionFile } from './retention-file.js';
export { ARCHIVE_DIR, SEGMENTS_DIR, type SettledTest } from './segments.js';
export { LogCorruptError, LogFormatError } from './errors.js';
export { LogRecordError, LogStoreClosedError } from './codec.js';
export type { LogStoreOptions } from './log-engine.js';
export { CHECKPOINT_FILE, FileLogStore, LOG_FILE, type FileLogStoreOptions } from './file-store.js';
export { MemoryLogMedium, MemoryLogStore } from './memory-store.js';
