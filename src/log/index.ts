/**
 * `tapstate/log`: the durable event log — its record types, the store contract, and the file
 * and memory stores. The wire codec is internal (docs/log-format.md documents the bytes).
 */
export * from './records.js';
export type { AppendHook, LogStore, ReadResult, TornTail } from './store.js';
export { LogCorruptError, LogFormatError } from './errors.js';
export { LogRecordError, LogStoreClosedError } from './codec.js';
export type { LogStoreOptions } from './log-engine.js';
export { CHECKPOINT_FILE, FileLogStore, LOG_FILE, type FileLogStoreOptions } from './file-store.js';
export { MemoryLogMedium, MemoryLogStore } from './memory-store.js';
