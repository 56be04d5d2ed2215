/** The durable event log: records, the store contract, the codec and the two stores. */
export * from './records.js';
export type { AppendHook, LogStore, ReadResult, TornTail } from './store.js';
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
  recordProblem,
  type DecodedLog,
  type DecodedRecords,
  type ShapeProblem,
} from './codec.js';
export type { LogStoreOptions } from './log-engine.js';
export { CHECKPOINT_FILE, FileLogStore, LOG_FILE, type FileLogStoreOptions } from './file-store.js';
export { MemoryLogMedium, MemoryLogStore } from './memory-store.js';
