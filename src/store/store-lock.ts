/**
 * One writer per store: an advisory `flock(2)` (LOCK_EX | LOCK_NB) on `<store>/lock`, taken
 * through koffi. The kernel drops the lock when its holder's file description closes — also when
 * the holder is killed with SIGKILL — so a stale lock never blocks recovery. The file holds the
 * holder's pid, so a second writer is told who holds it. A caller may wait for the lock
 * (`timeoutMs`): the non-blocking flock is retried until then, never blocking the event loop.
 *
 * A store may be removed while its lock is held ({@link removeStore}): a waiter that then gets
 * the flock holds it on an unlinked file. So after flock the lock file at the path must be the
 * one locked (same device and inode); if not, the lock is dropped and taken again on the file
 * now at the path (`ENOENT` when the directory is gone).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { TapstateError } from '../../machines/tapstate-error.js';
import { checkOption, numberProblem, StoreOptionError } from '../runtime/store-options.js';

/** The lock file inside the store directory. */
export const LOCK_FILE = 'lock';

/** Another live process holds the store's write lock. */
export class StoreLockedError extends TapstateError {
  override readonly name = 'StoreLockedError';
  readonly code = 'STORE_LOCKED';
  constructor(
    readonly store: string,
    /** The holder's pid (0 when it had not written it yet). */
    readonly pid: number,
    /** How long we waited for it (`--lock-timeout`), ms. */
    readonly waitedMs = 0,
  ) {
    super(
      `store locked by pid ${pid || '?'} (${store}): one writer at a time; ` +
        (waitedMs > 0 ? `still held after waiting ${waitedMs} ms` : 'wait for it (--lock-timeout MS) or stop it'),
    );
  }
}

/** The lock file is not usable (not a regular file, or flock failed other than "held"). */
export class StoreLockFileError extends TapstateError {
  override readonly name = 'StoreLockFileError';
  readonly code = 'STORE_LOCK_FILE';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** Check lock options as a JavaScript caller may pass them (undefined = the defaults). */
export function checkLockOptions(opts: unknown): StoreLockOptions {
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null) throw new StoreOptionError('lock', 'object', `must be an object ({ timeoutMs, retryMs }) or false (got ${opts === null ? 'null' : typeof opts})`);
  checkOption(opts, 'timeoutMs', (v) => numberProblem(v, 0), 'range', 'lock.');
  checkOption(opts, 'retryMs', (v) => numberProblem(v, 1), 'range', 'lock.');
  return opts as StoreLockOptions;
}

/** How to take a store's lock. */
export interface StoreLockOptions {
  /** Wait up to this long for a holder to let go (default 0: fail at once with {@link StoreLockedError}). */
  timeoutMs?: number;
  /** How often to retry while waiting (default 20 ms). */
  retryMs?: number;
}

interface Flock {
  flock(fd: number, op: number): number;
  errno(): number;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const { EWOULDBLOCK, EINTR } = constants.errno;

let bound: Flock | undefined;
function flockBinding(): Flock {
  if (!bound) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const koffi = createRequire(import.meta.url)('koffi') as any;
    const lib = koffi.load('libc.so.6');
    bound = { flock: lib.func('int flock(int fd, int operation)'), errno: () => koffi.errno() as number };
  }
  return bound;
}

function readPid(fd: number): number {
  const buf = Buffer.alloc(32);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  const pid = Number.parseInt(buf.subarray(0, n).toString('utf8').trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}

/** Whether the file now at `file` is the one `st` describes (false when there is none). */
function sameFile(st: fs.Stats, file: string): boolean {
  try {
    const now = fs.lstatSync(file);
    return now.ino === st.ino && now.dev === st.dev;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** A held store lock. */
export class StoreLock {
  private released = false;
  private constructor(
    private readonly fd: number,
    /** The lock file. */
    readonly file: string,
  ) {}

  /**
   * Take the write lock of the store in `dir`, waiting up to `opts.timeoutMs` for a holder to
   * let go. Throws {@link StoreLockedError} when another process still holds it.
   */
  static async acquireWithin(dir: string, options?: StoreLockOptions): Promise<StoreLock> {
    // a NaN timeout would never be reached (a wait for ever), a negative one is a caller's mistake
    const opts = checkLockOptions(options);
    const timeoutMs = opts.timeoutMs ?? 0;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        return StoreLock.acquire(dir);
      } catch (e) {
        if (!(e instanceof StoreLockedError) || performance.now() >= deadline) {
          if (e instanceof StoreLockedError && timeoutMs > 0) throw new StoreLockedError(e.store, e.pid, timeoutMs);
          throw e;
        }
      }
      await new Promise((r) => setTimeout(r, Math.min(opts.retryMs ?? 20, Math.max(1, deadline - performance.now()))));
    }
  }

  /**
   * Take the write lock of the store in `dir`, waiting at most `timeoutMs` (default 0: not at
   * all; the wait blocks, polling every 20 ms). Throws {@link StoreLockedError} when another
   * process still holds it. The file is opened close-on-exec (Node's default), so child
   * processes never inherit the lock.
   */
  static acquire(dir: string, timeoutMs = 0): StoreLock {
    const p = numberProblem(timeoutMs, 0);
    if (p) throw new StoreOptionError('timeoutMs', 'range', p);
    const t0 = Date.now();
    for (let attempt = 0; attempt < 100; attempt++) {
      const lock = StoreLock.lockOnce(dir, Math.max(0, timeoutMs - (Date.now() - t0)));
      if (lock) return lock;
    }
    throw new StoreLockFileError(path.join(dir, LOCK_FILE), 'keeps being removed and recreated while locking');
  }

  /** One attempt: the lock, or null when the file locked is no longer the one at the path. */
  private static lockOnce(dir: string, timeoutMs: number): StoreLock | null {
    const t0 = Date.now();
    const file = path.join(dir, LOCK_FILE);
    const { O_RDWR, O_CREAT, O_NOFOLLOW } = fs.constants;
    const fd = fs.openSync(file, O_RDWR | O_CREAT | O_NOFOLLOW, 0o600);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new StoreLockFileError(file, 'not a regular file');
      const lib = flockBinding();
      for (;;) {
        if (lib.flock(fd, LOCK_EX | LOCK_NB) === 0) break;
        const err = lib.errno();
        if (err === EINTR) continue;
        if (err === EWOULDBLOCK) {
          const left = timeoutMs - (Date.now() - t0);
          if (left > 0) {
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(20, left));
            continue;
          }
          // the holder may be between flock() and writing its pid: look twice
          let pid = readPid(fd);
          for (let i = 0; i < 20 && pid === 0; i++) {
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
            pid = readPid(fd);
          }
          throw new StoreLockedError(dir, pid, timeoutMs);
        }
        throw new StoreLockFileError(file, `flock failed: errno ${err}`);
      }
      if (!sameFile(st, file)) {
        // a remover unlinked (or replaced) the file while we waited: drop it, lock the live one
        lib.flock(fd, LOCK_UN);
        fs.closeSync(fd);
        return null;
      }
      // overwrite in place, then cut: never an empty file for a reader, and no new block needed
      // (on a full disk, truncating to 0 first would free the block and the write would fail)
      const pid = Buffer.from(`${process.pid}\n`);
      fs.writeSync(fd, pid, 0, pid.length, 0);
      fs.ftruncateSync(fd, pid.length);
      return new StoreLock(fd, file);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** The pid written in a store's lock file (the current or last writer), 0 if none. */
  static holderPid(dir: string): number {
    try {
      const fd = fs.openSync(path.join(dir, LOCK_FILE), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        return readPid(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return 0;
    }
  }

  /** Drop the lock (idempotent). The file stays: it is part of the store. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      flockBinding().flock(this.fd, LOCK_UN);
    } finally {
      fs.closeSync(this.fd);
    }
  }
}
