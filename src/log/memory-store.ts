/**
 * The in-memory log store: the same bytes and semantics as the file store (same codec, same
 * engine), held in a {@link MemoryLogMedium} that outlives store instances so that a test can
 * "crash" a store, damage the bytes, and reopen.
 */
import { LogFormatError } from './errors.js';
import { decodeHeader, encodeHeader, newHeader } from './codec.js';
import { LogEngine, type LogMedium, type LogStoreOptions } from './log-engine.js';

/**
 * The "disk" of a memory store: the log bytes, the checkpoint bytes, and how much of the log
 * is durable (for {@link MemoryLogMedium.powerLoss}).
 */
export class MemoryLogMedium {
  #buf: Buffer = Buffer.alloc(0);
  #len = 0;
  #synced = 0;
  #checkpoint: Buffer | null = null;
  /** Number of datasyncs of the log so far. */
  datasyncs = 0;
  /**
   * Test knob: the next write stores only its first `afterBytes` bytes and throws `error` (a
   * full disk). Cleared when used.
   */
  failNextWrite: { afterBytes: number; error: Error } | null = null;

  constructor(
    /** Used in error messages as the log's "file" name. */
    readonly name = 'memory:log.jsonl',
  ) {}

  /** A copy of the log bytes. */
  get log(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#len));
  }

  /** Replace the log bytes (tests: truncation, bit flips). All of it counts as durable. */
  set log(bytes: Buffer) {
    this.#buf = Buffer.from(bytes);
    this.#len = bytes.length;
    this.#synced = bytes.length;
  }

  /** A copy of the checkpoint bytes, or null. */
  get checkpoint(): Buffer | null {
    return this.#checkpoint && Buffer.from(this.#checkpoint);
  }

  set checkpoint(bytes: Buffer | null) {
    this.#checkpoint = bytes && Buffer.from(bytes);
  }

  /** Bytes of the log that a datasync made durable. */
  get syncedLength(): number {
    return this.#synced;
  }

  /** Simulate a power loss: the log loses everything written since its last datasync. */
  powerLoss(): void {
    this.#len = Math.min(this.#len, this.#synced);
  }

  /** @internal */ _size(): number {
    return this.#len;
  }
  /** @internal */ _readAt(pos: number, len: number): Buffer {
    const end = Math.min(this.#len, pos + len);
    return Buffer.from(this.#buf.subarray(Math.min(pos, end), end));
  }
  /** @internal */ _write(bytes: Buffer): void {
    const fail = this.failNextWrite;
    if (fail) {
      this.failNextWrite = null;
      this._write(bytes.subarray(0, Math.min(fail.afterBytes, bytes.length)));
      throw fail.error;
    }
    const need = this.#len + bytes.length;
    if (need > this.#buf.length) {
      const grown = Buffer.alloc(Math.max(need, this.#buf.length * 2, 4096));
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    bytes.copy(this.#buf, this.#len);
    this.#len = need;
  }
  /** @internal */ _truncate(len: number): void {
    this.#len = Math.min(this.#len, len);
    this.#synced = Math.min(this.#synced, len);
  }
  /** @internal */ _datasync(): void {
    this.datasyncs++;
    this.#synced = this.#len;
  }
}

class MemoryMedium implements LogMedium {
  readonly logName: string;
  readonly checkpointName: string;
  constructor(readonly m: MemoryLogMedium) {
    this.logName = m.name;
    this.checkpointName = `${m.name}#checkpoint`;
  }
  size(): number {
    return this.m._size();
  }
  readAt(pos: number, len: number): Buffer {
    return this.m._readAt(pos, len);
  }
  write(bytes: Buffer): void {
    this.m._write(bytes);
  }
  truncate(length: number): void {
    this.m._truncate(length);
  }
  datasync(): void {
    this.m._datasync();
  }
  readCheckpoint(): Buffer | null {
    return this.m.checkpoint;
  }
  writeCheckpoint(bytes: Buffer): void {
    this.m.checkpoint = bytes;
  }
  close(): void {}
}

/** The log store in memory; see {@link MemoryLogMedium}. */
export class MemoryLogStore extends LogEngine {
  readonly medium: MemoryLogMedium;

  private constructor(medium: MemoryLogMedium, opts: LogStoreOptions) {
    super(new MemoryMedium(medium), opts);
    this.medium = medium;
  }

  /**
   * Initialise `medium` with a new header (atomically) and open it. Same rules as
   * `FileLogStore.create`: an empty or partially-headed medium is re-initialised, a valid log is
   * `LogFormatError('exists')`, anything else is never overwritten.
   */
  static create(
    medium: MemoryLogMedium,
    meta: Record<string, unknown>,
    opts: Omit<LogStoreOptions, 'readOnly'> = {},
  ): MemoryLogStore {
    const bytes = medium.log;
    try {
      decodeHeader(bytes, medium.name);
      throw new LogFormatError(medium.name, 'exists', `${medium.name}: a log store already exists (open it instead)`);
    } catch (e) {
      if (!(e instanceof LogFormatError && e.reason === 'empty')) throw e;
    }
    medium.log = encodeHeader(newHeader(meta));
    medium.checkpoint = null;
    return new MemoryLogStore(medium, opts);
  }

  /** Open the log held by `medium` (after a crash: the bytes as they were left). */
  static open(medium: MemoryLogMedium, opts: LogStoreOptions = {}): MemoryLogStore {
    return new MemoryLogStore(medium, opts);
  }
}
