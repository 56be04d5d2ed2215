/**
 * The in-memory log store: the same bytes and semantics as the file store (same codec, same
 * engine), held in a {@link MemoryLogMedium} that outlives store instances so that a test can
 * "crash" a store, damage the bytes, and reopen.
 */
import { LogFormatError } from './errors.js';
import { decodeHeader, encodeHeader, newHeader } from './codec.js';
import { LogEngine, type LogMedium, type LogStoreOptions, type SealedDir, type SealedFile } from './log-engine.js';

/** One file of a memory store: bytes, and how much of them is durable. */
class MemFile {
  buf: Buffer = Buffer.alloc(0);
  len = 0;
  synced = 0;
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
  set(bytes: Buffer): void {
    this.buf = Buffer.from(bytes);
    this.len = bytes.length;
    this.synced = bytes.length;
  }
  readAt(pos: number, len: number): Buffer {
    const end = Math.min(this.len, pos + len);
    return Buffer.from(this.buf.subarray(Math.min(pos, end), end));
  }
  append(bytes: Buffer): void {
    const need = this.len + bytes.length;
    if (need > this.buf.length) {
      const grown = Buffer.alloc(Math.max(need, this.buf.length * 2, 4096));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    bytes.copy(this.buf, this.len);
    this.len = need;
  }
}

/**
 * The "disk" of a memory store: the active log file, the sealed and archived segments, the
 * checkpoint bytes, and how much of the log is durable (for {@link MemoryLogMedium.powerLoss}).
 * Directory operations (link, rename, unlink) are durable at once.
 */
export class MemoryLogMedium {
  #active = new MemFile();
  #tmp: MemFile | null = null;
  readonly #dirs: Record<SealedDir, Map<string, MemFile>> = { segments: new Map(), archive: new Map() };
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

  /** A copy of the active log file's bytes. */
  get log(): Buffer {
    return this.#active.bytes();
  }

  /** Replace the active log file's bytes (tests: truncation, bit flips). All of it counts as durable. */
  set log(bytes: Buffer) {
    this.#active.set(bytes);
  }

  /** A copy of the checkpoint bytes, or null. */
  get checkpoint(): Buffer | null {
    return this.#checkpoint && Buffer.from(this.#checkpoint);
  }

  set checkpoint(bytes: Buffer | null) {
    this.#checkpoint = bytes && Buffer.from(bytes);
  }

  /** Names of the sealed segments in `where`, oldest first. */
  sealed(where: SealedDir = 'segments'): string[] {
    return [...this.#dirs[where].keys()].sort();
  }

  /** A copy of a sealed segment's bytes. */
  sealedBytes(where: SealedDir, name: string): Buffer {
    const f = this.#dirs[where].get(name);
    if (!f) throw new Error(`no segment ${where}/${name}`);
    return f.bytes();
  }

  /** Bytes held: every segment, the active file and the checkpoint. */
  get totalBytes(): number {
    let n = this.#active.len + (this.#checkpoint?.length ?? 0);
    for (const d of Object.values(this.#dirs)) for (const f of d.values()) n += f.len;
    return n;
  }

  /** Bytes of the log that a datasync made durable. */
  get syncedLength(): number {
    return this.#active.synced;
  }

  /** Simulate a power loss: the log loses everything written since its last datasync. */
  powerLoss(): void {
    this.#active.len = Math.min(this.#active.len, this.#active.synced);
  }

  /** @internal */ _size(): number {
    return this.#active.len;
  }
  /** @internal */ _readAt(pos: number, len: number): Buffer {
    return this.#active.readAt(pos, len);
  }
  /** @internal */ _write(bytes: Buffer): void {
    const fail = this.failNextWrite;
    if (fail) {
      this.failNextWrite = null;
      this._write(bytes.subarray(0, Math.min(fail.afterBytes, bytes.length)));
      throw fail.error;
    }
    this.#active.append(bytes);
  }
  /** @internal */ _truncate(len: number): void {
    this.#active.len = Math.min(this.#active.len, len);
    this.#active.synced = Math.min(this.#active.synced, len);
  }
  /** @internal */ _datasync(): void {
    this.datasyncs++;
    this.#active.synced = this.#active.len;
  }
  /** @internal */ _openSealed(where: SealedDir, name: string): SealedFile {
    const f = this.#dirs[where].get(name);
    if (!f) throw new Error(`no segment ${where}/${name}`);
    return { name: `${this.name}#${where}/${name}`, size: () => f.len, readAt: (p, l) => f.readAt(p, l), close: () => {} };
  }
  /** @internal */ _rotateWriteHeader(bytes: Buffer): void {
    const f = new MemFile();
    f.set(bytes);
    this.#tmp = f;
  }
  /** @internal */ _rotateLink(name: string): void {
    this.#dirs.segments.set(name, this.#active); // the same file under two names
  }
  /** @internal */ _rotateSwitch(): void {
    if (!this.#tmp) throw new Error('rotate: no new header written');
    this.#active = this.#tmp;
    this.#tmp = null;
  }
  /** @internal */ _removeSealed(name: string, archive: boolean): void {
    const f = this.#dirs.segments.get(name);
    if (!f) return;
    if (archive) this.#dirs.archive.set(name, f);
    this.#dirs.segments.delete(name);
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
  listSealed(where: SealedDir): string[] {
    return this.m.sealed(where);
  }
  openSealed(where: SealedDir, name: string): SealedFile {
    return this.m._openSealed(where, name);
  }
  rotateWriteHeader(bytes: Buffer): void {
    this.m._rotateWriteHeader(bytes);
  }
  rotateLink(name: string): void {
    this.m._rotateLink(name);
  }
  rotateSwitch(): void {
    this.m._rotateSwitch();
  }
  removeSealed(name: string, archive: boolean): void {
    this.m._removeSealed(name, archive);
  }
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
