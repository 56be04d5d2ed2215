/**
 * The on-disk log store: `<dir>/log.jsonl` and `<dir>/checkpoint.json` (docs/log-format.md).
 * The directory must be ours and not group/other-writable; files are 0600 regular files opened
 * with O_NOFOLLOW; checkpoints are replaced atomically (temp file + fsync + rename + fsync dir).
 */
import * as fs from 'node:fs';
import * as buffer from 'node:buffer';
import * as path from 'node:path';
import { LogFormatError } from './errors.js';
import { decodeHeader, encodeHeader, newHeader } from './codec.js';
import { LogEngine, type LogMedium, type LogStoreOptions, type SealedDir, type SealedFile } from './log-engine.js';
import { readRetentionFile } from './retention-file.js';
import { ARCHIVE_DIR, SEGMENTS_DIR, segmentFirstSeq } from './segments.js';

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = fs.constants;

/** File names inside the store directory. */
export const LOG_FILE = 'log.jsonl';
export const CHECKPOINT_FILE = 'checkpoint.json';
const TMP_SUFFIX = '.tmp';

/** Options of {@link FileLogStore}. */
export interface FileLogStoreOptions extends LogStoreOptions {
  /** Replaces `fs.fdatasyncSync` for the log (tests count calls). */
  fdatasync?: (fd: number) => void;
  /** Replaces `fs.fdatasync` (libuv's threadpool) for the log's `syncAsync` (tests hold it open). */
  fdatasyncAsync?: (fd: number) => Promise<void>;
  /** Replaces `fs.fsyncSync` for the checkpoint temp file and the directory. */
  fsync?: (fd: number) => void;
}

const fdatasyncOnPool = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function unsafe(file: string, why: string): LogFormatError {
  return new LogFormatError(file, 'unsafe-file', `${file}: refused: ${why}`);
}

/** Refuse anything that is not a `kind` owned by us and not writable by group/other. */
function checkStat(st: fs.Stats, file: string, kind: 'directory' | 'file'): void {
  if (kind === 'directory' ? !st.isDirectory() : !st.isFile()) throw unsafe(file, `not a ${kind === 'file' ? 'regular file' : 'directory'}`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw unsafe(file, `owned by uid ${st.uid}, not ${uid}`);
  if (st.mode & 0o022) throw unsafe(file, `mode ${(st.mode & 0o777).toString(8)} is group/other-writable`);
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Open with O_NOFOLLOW, mapping a symlink to `unsafe-file`; checks the result with fstat. */
function openChecked(file: string, flags: number, kind: 'directory' | 'file', mode = 0o600): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO planted in our place must not hang (no effect on regular files).
    fd = fs.openSync(file, flags | O_NOFOLLOW | O_NONBLOCK, mode);
  } catch (e) {
    if (errno(e) === 'ELOOP') throw unsafe(file, 'is a symbolic link');
    if (errno(e) === 'EISDIR' && kind === 'file') throw unsafe(file, 'not a regular file (a directory)');
    // O_DIRECTORY|O_NOFOLLOW on a symlink (even to a directory) fails ENOTDIR, not ELOOP: say which
    if (errno(e) === 'ENOTDIR' && kind === 'directory') throw unsafe(file, isSymlink(file) ? 'is a symbolic link' : 'not a directory');
    throw e;
  }
  try {
    checkStat(fs.fstatSync(fd), file, kind);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

function openDir(dir: string): number {
  try {
    return openChecked(dir, O_RDONLY | O_DIRECTORY, 'directory');
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new LogFormatError(dir, 'empty', `${dir}: no log store (directory does not exist)`);
    throw e;
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/** The most one read(2) is asked for: readSync's length is a 32-bit int (a 3 GiB read threw a RangeError). */
const READ_CHUNK = 1 << 30;

/**
 * `len` bytes of `fd` from `pos` (fewer at end of file), read in chunks of at most
 * {@link READ_CHUNK}. More than a Buffer can hold is {@link LogFormatError} `too-large` naming the
 * file, never an untyped RangeError.
 */
function readFully(fd: number, pos: number, len: number, file: string): Buffer {
  if (len > buffer.constants.MAX_LENGTH)
    throw new LogFormatError(file, 'too-large', `${file}: ${len} bytes to read at byte ${pos}, more than this Node.js can hold in memory (${buffer.constants.MAX_LENGTH})`);
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, Math.min(len - got, READ_CHUNK), pos + got);
    if (n === 0) break;
    got += n;
  }
  return got === len ? buf : buf.subarray(0, got);
}

function readAllFd(fd: number, file: string): Buffer {
  return readFully(fd, 0, fs.fstatSync(fd).size, file);
}

function unlinkIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

/** Open (creating it 0700 when `create`) a sub-directory of the store, checked like the store's. */
function openSubdir(dir: string, create: boolean): number | null {
  if (create) {
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
  }
  try {
    return openChecked(dir, O_RDONLY | O_DIRECTORY, 'directory');
  } catch (e) {
    if (errno(e) === 'ENOENT') return null;
    throw e;
  }
}

class FileMedium implements LogMedium {
  readonly logName: string;
  readonly checkpointName: string;
  #closed = false;
  readonly #fdatasync: (fd: number) => void;
  readonly #fdatasyncAsync: (fd: number) => Promise<void>;
  readonly #fsync: (fd: number) => void;
  /** Log fds with an fdatasync in flight on the threadpool, and how many: closing them waits. */
  readonly #syncing = new Map<number, number>();
  /** Log fds closed (or replaced by a rotation) while a sync was in flight: closed when it ends. */
  readonly #closeWhenSynced = new Set<number>();

  constructor(
    readonly dir: string,
    readonly dirFd: number,
    public fd: number,
    opts: FileLogStoreOptions,
  ) {
    this.logName = path.join(dir, LOG_FILE);
    this.checkpointName = path.join(dir, CHECKPOINT_FILE);
    this.#fdatasync = opts.fdatasync ?? fs.fdatasyncSync;
    // an injected synchronous fdatasync (tests counting calls) is used by syncAsync too
    this.#fdatasyncAsync = opts.fdatasyncAsync ?? (opts.fdatasync ? async (fd) => this.#fdatasync(fd) : fdatasyncOnPool);
    this.#fsync = opts.fsync ?? fs.fsyncSync;
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  readAt(pos: number, len: number): Buffer {
    return readFully(this.fd, pos, len, this.logName);
  }

  write(bytes: Buffer): void {
    writeAll(this.fd, bytes); // O_APPEND: one write(2) in the normal case
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }

  datasync(): void {
    this.#fdatasync(this.fd);
  }

  async datasyncAsync(): Promise<void> {
    const fd = this.fd;
    this.#syncing.set(fd, (this.#syncing.get(fd) ?? 0) + 1);
    try {
      await this.#fdatasyncAsync(fd);
    } finally {
      const n = (this.#syncing.get(fd) ?? 1) - 1;
      if (n > 0) this.#syncing.set(fd, n);
      else {
        this.#syncing.delete(fd);
        if (this.#closeWhenSynced.delete(fd)) fs.closeSync(fd);
      }
    }
  }

  /** Close a log fd, or — while a threadpool fdatasync still uses it — once that ends (its number must not be reused under it). */
  #closeLogFd(fd: number): void {
    if (this.#syncing.has(fd)) this.#closeWhenSynced.add(fd);
    else fs.closeSync(fd);
  }

  readCheckpoint(): Buffer | null {
    let fd: number;
    try {
      fd = openChecked(this.checkpointName, O_RDONLY, 'file');
    } catch (e) {
      if (errno(e) === 'ENOENT') return null;
      throw e;
    }
    try {
      return readAllFd(fd, this.checkpointName);
    } finally {
      fs.closeSync(fd);
    }
  }

  writeCheckpoint(bytes: Buffer): void {
    const tmp = this.checkpointName + TMP_SUFFIX;
    unlinkIfPresent(tmp); // left over by a crash in the middle of a previous checkpoint
    const fd = openChecked(tmp, O_WRONLY | O_CREAT | O_EXCL, 'file');
    try {
      writeAll(fd, bytes);
      this.#fsync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.checkpointName);
    this.#fsync(this.dirFd);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeLogFd(this.fd);
    fs.closeSync(this.dirFd);
  }

  listSealed(where: SealedDir): string[] {
    // the sub-directory must be ours like the store's (a symlink or a foreign one is refused)
    const fd = openSubdir(path.join(this.dir, where), false);
    if (fd === null) return [];
    fs.closeSync(fd);
    return fs
      .readdirSync(path.join(this.dir, where))
      .filter((n) => segmentFirstSeq(n) !== null)
      .sort();
  }

  openSealed(where: SealedDir, name: string): SealedFile {
    const file = path.join(this.dir, where, name);
    const fd = openChecked(file, O_RDONLY, 'file');
    let closed = false;
    return {
      name: file,
      size: () => fs.fstatSync(fd).size,
      readAt: (pos, len) => readFully(fd, pos, len, file),
      close: () => {
        if (!closed) fs.closeSync(fd);
        closed = true;
      },
    };
  }

  rotateWriteHeader(bytes: Buffer): void {
    const tmp = this.logName + TMP_SUFFIX;
    unlinkIfPresent(tmp); // left over by a rotation that crashed before its switch
    const fd = openChecked(tmp, O_WRONLY | O_CREAT | O_EXCL, 'file');
    try {
      writeAll(fd, bytes);
      this.#fsync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  rotateLink(name: string): void {
    const sub = openSubdir(path.join(this.dir, SEGMENTS_DIR), true)!;
    try {
      fs.linkSync(this.logName, path.join(this.dir, SEGMENTS_DIR, name));
      this.#fsync(sub);
    } finally {
      fs.closeSync(sub);
    }
  }

  rotateSwitch(): void {
    fs.renameSync(this.logName + TMP_SUFFIX, this.logName);
    this.#fsync(this.dirFd);
    const fd = openChecked(this.logName, O_RDWR | O_APPEND, 'file');
    this.#closeLogFd(this.fd);
    this.fd = fd;
  }

  removeSealed(name: string, archive: boolean): void {
    const from = path.join(this.dir, SEGMENTS_DIR, name);
    const seg = openSubdir(path.join(this.dir, SEGMENTS_DIR), false);
    if (seg === null) return;
    try {
      if (archive) {
        const arc = openSubdir(path.join(this.dir, ARCHIVE_DIR), true)!;
        try {
          fs.renameSync(from, path.join(this.dir, ARCHIVE_DIR, name));
          this.#fsync(arc);
        } finally {
          fs.closeSync(arc);
        }
      } else unlinkIfPresent(from);
      this.#fsync(seg);
    } finally {
      fs.closeSync(seg);
    }
  }
}

/** A fresh log header for `meta` in `<log>.tmp` (any stale one replaced), fsynced; its path. */
function writeTempHeader(logPath: string, meta: Record<string, unknown>, fsync: (fd: number) => void): string {
  const tmp = logPath + TMP_SUFFIX;
  unlinkIfPresent(tmp);
  const fd = openChecked(tmp, O_WRONLY | O_CREAT | O_EXCL, 'file');
  try {
    writeAll(fd, encodeHeader(newHeader(meta)));
    fsync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return tmp;
}

/**
 * The durable log store on disk. Create a new store with {@link FileLogStore.create}, open an
 * existing one with {@link FileLogStore.open}.
 */
export class FileLogStore extends LogEngine {
  /** The store directory. */
  readonly dir: string;

  private constructor(medium: FileMedium, opts: FileLogStoreOptions) {
    super(medium, opts);
    this.dir = medium.dir;
  }

  /**
   * Create a store in `dir` (created 0700 if missing). The header is written to a temp file,
   * fsynced and linked into place, so a crash never leaves a half-created log. An existing log
   * that is empty or holds only a partial header is re-initialised; an existing valid log is
   * `LogFormatError('exists')`; a foreign or damaged file is never overwritten.
   */
  static create(dir: string, meta: Record<string, unknown>, opts: Omit<FileLogStoreOptions, 'readOnly'> = {}): FileLogStore {
    const d = path.resolve(dir);
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    const dirFd = openDir(d);
    const fsync = opts.fsync ?? fs.fsyncSync;
    try {
      const logPath = path.join(d, LOG_FILE);
      let existing: number | null = null;
      try {
        existing = openChecked(logPath, O_RDONLY, 'file');
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw e;
      }
      if (existing !== null) {
        try {
          decodeHeader(readAllFd(existing, logPath), logPath);
          throw new LogFormatError(logPath, 'exists', `${logPath}: a log store already exists (open it instead)`);
        } catch (e) {
          if (!(e instanceof LogFormatError && e.reason === 'empty')) throw e;
          fs.unlinkSync(logPath); // never completely created: re-initialise
        } finally {
          fs.closeSync(existing);
        }
      }
      // Any checkpoint here belongs to no log (there is none, or it never got a header).
      unlinkIfPresent(path.join(d, CHECKPOINT_FILE));
      const tmp = writeTempHeader(logPath, meta, fsync);
      try {
        fs.linkSync(tmp, logPath); // fails (EEXIST) rather than replace a log created meanwhile
      } catch (e) {
        if (errno(e) === 'EEXIST') throw new LogFormatError(logPath, 'exists', `${logPath}: a log store already exists`);
        throw e;
      } finally {
        fs.unlinkSync(tmp);
      }
      fsync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
    return FileLogStore.open(d, opts);
  }

  /**
   * Replace the header's `meta` of a store that holds no record yet (a fresh `init`): the new
   * header goes to a temp file, fsynced, renamed over the log, the directory fsynced. A store
   * with any record or a checkpoint is `LogFormatError('not-fresh')`, unchanged. The caller
   * holds the store's write lock.
   */
  static replaceFreshMeta(dir: string, meta: Record<string, unknown>, opts: Pick<FileLogStoreOptions, 'fsync'> = {}): void {
    const d = path.resolve(dir);
    const fsync = opts.fsync ?? fs.fsyncSync;
    const logPath = path.join(d, LOG_FILE);
    const current = FileLogStore.open(d, { readOnly: true });
    try {
      if (current.end !== current.headerEnd || current.readCheckpoint() !== null)
        throw new LogFormatError(logPath, 'not-fresh', `${logPath}: the store has records already; its header is fixed`);
    } finally {
      current.close();
    }
    const dirFd = openDir(d);
    try {
      const tmp = writeTempHeader(logPath, meta, fsync);
      fs.renameSync(tmp, logPath);
      fsync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  }

  /**
   * Open the store in `dir`. Verifies the header and the last record (not the whole log: `read()`
   * verifies what it returns); a torn tail is reported by `read()` and, unless `readOnly`,
   * truncated away. A missing or never-completed log is `LogFormatError('empty')`.
   */
  static open(dir: string, opts: FileLogStoreOptions = {}): FileLogStore {
    const d = path.resolve(dir);
    const dirFd = openDir(d);
    const logPath = path.join(d, LOG_FILE);
    let fd: number;
    try {
      fd = openChecked(logPath, opts.readOnly ? O_RDONLY : O_RDWR | O_APPEND, 'file');
    } catch (e) {
      fs.closeSync(dirFd);
      if (errno(e) === 'ENOENT') throw new LogFormatError(logPath, 'empty', `${logPath}: no log file`);
      throw e;
    }
    let retention = opts.retention;
    try {
      retention ??= readRetentionFile(d) ?? undefined;
    } catch (e) {
      fs.closeSync(fd);
      fs.closeSync(dirFd);
      throw e;
    }
    return new FileLogStore(new FileMedium(d, dirFd, fd, opts), { ...opts, retention });
  }
}
