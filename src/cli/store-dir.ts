/**
 * What `tapstate init` accepts as a store directory: a new one (created 0700), or an existing
 * empty directory of ours (tightened to 0700 if wider, and said so), or one holding only what an
 * init killed half-way left (its lock, retention.json, the log header's temp file). A directory holding anything
 * — another tool's files, a `log.jsonl` that is not a tapstate log, an existing store — is
 * refused with a typed error and left exactly as it was: init never deletes a file it did not
 * create.
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeHeader } from '../log/codec.js';
import { LOG_FILE } from '../log/index.js';
import { RETENTION_FILE } from '../log/retention-file.js';
import { LOCK_FILE } from '../store/store-lock.js';
import { makeDirs } from '../fs/make-dirs.js';
import { capEcho } from './quote.js';

/** Longest path and component the kernel accepts (PATH_MAX - 1, NAME_MAX). */
const PATH_MAX = 4095;
const NAME_MAX = 255;

export { StoreExistsError } from '../store/errors.js';
import { StoreExistsError } from '../store/errors.js';

/** The directory is not a place for a new store (not empty, not a directory, foreign log, not ours). */
export class StoreDirError extends TapstateError {
  override readonly name = 'StoreDirError';
  readonly code = 'STORE_DIR_INVALID';
  constructor(
    readonly store: string,
    /** `not-empty`, `foreign-log`, `not-a-directory`, `symlink`, `owner`, `path-length` */
    readonly rule: string,
    detail: string,
  ) {
    super(`--store ${capEcho(store)}: ${detail}`);
  }
}

/** Why `p` cannot be a path at all, or null. */
export function pathLengthProblem(p: string): string | null {
  const bytes = Buffer.byteLength(p);
  if (bytes > PATH_MAX) return `path is ${bytes} bytes, longer than PATH_MAX (${PATH_MAX})`;
  const long = p.split('/').find((c) => Buffer.byteLength(c) > NAME_MAX);
  if (long !== undefined) return `a path component is ${Buffer.byteLength(long)} bytes, longer than NAME_MAX (${NAME_MAX})`;
  return null;
}

/** What {@link prepareStoreDir} did. */
export interface PreparedStoreDir {
  created: boolean;
  /** The mode it had, when it was tightened to 0700. */
  tightenedFrom?: number;
  /** The leftovers of an interrupted init found there (initialised over). */
  leftovers?: string[];
}

/**
 * Check (and create or tighten) `dir` for a new store. Throws {@link StoreExistsError} or
 * {@link StoreDirError}; on error nothing was changed.
 */
export function prepareStoreDir(dir: string): PreparedStoreDir {
  const lenP = pathLengthProblem(dir);
  if (lenP) throw new StoreDirError(dir, 'path-length', lenP);
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new StoreDirError(dir, 'not-a-directory', 'a parent is not a directory');
    if (code !== 'ENOENT') throw e;
  }
  if (st === null) {
    makeDirs(dir, 0o700); // the kernel's errno (EROFS), not Node's recursive mkdir's ENOENT
    fs.chmodSync(dir, 0o700); // mkdir's mode is filtered by the umask
    return { created: true };
  }
  if (st.isSymbolicLink()) throw new StoreDirError(dir, 'symlink', 'is a symbolic link (give the real directory)');
  if (!st.isDirectory()) throw new StoreDirError(dir, 'not-a-directory', 'exists and is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new StoreDirError(dir, 'owner', `is owned by uid ${st.uid}, not ${uid}`);
  const entries = fs.readdirSync(dir);
  if (entries.includes(LOG_FILE)) {
    if (isTapstateLog(path.join(dir, LOG_FILE))) throw new StoreExistsError(dir);
    throw new StoreDirError(dir, 'foreign-log', `holds a ${LOG_FILE} that is not a tapstate log: not touching it (choose another --store)`);
  }
  const leftovers = initLeftovers(dir, entries);
  if (leftovers) return { created: false, ...tighten(dir, st), leftovers };
  if (entries.length > 0) {
    const shown = entries.sort().slice(0, 3).map((e) => capEcho(e, 40)).join(', ');
    throw new StoreDirError(dir, 'not-empty', `is not empty (${shown}${entries.length > 3 ? `, … ${entries.length} entries` : ''}): init takes only a new or empty directory`);
  }
  return { created: false, ...tighten(dir, st) };
}

/** Tighten `dir` to 0700 if it is wider; returns the mode it had then. */
function tighten(dir: string, st: fs.Stats): { tightenedFrom?: number } {
  const mode = st.mode & 0o777;
  if (mode === 0o700) return {};
  fs.chmodSync(dir, 0o700);
  return { tightenedFrom: mode };
}

/**
 * What an init killed half-way leaves (createStore: the lock, then retention.json, then the
 * log header as log.jsonl.tmp, linked to log.jsonl last — the log marks a store as made).
 */
const INIT_LEFTOVERS: ReadonlySet<string> = new Set([LOCK_FILE, `${RETENTION_FILE}.tmp`, RETENTION_FILE, `${LOG_FILE}.tmp`]);
/** The start of every line tapstate frames: `<crc32 hex> {`, or a prefix of it (a torn write). */
const FRAMED_PREFIX = /^(?:[0-9a-f]{0,8}|[0-9a-f]{8} \{[^]*)$/;

/**
 * The entries of `dir`, if they are all the leftovers of an interrupted init — each of its names,
 * a regular file of ours (mode 0600), holding what tapstate writes there (a pid in `lock`, a
 * framed line or a prefix of one in the others) — else null. Such a directory is initialised over
 * (before, init refused it as not empty and no command could use it).
 */
function initLeftovers(dir: string, entries: readonly string[]): string[] | null {
  if (entries.length === 0 || !entries.every((e) => INIT_LEFTOVERS.has(e))) return null;
  const uid = process.getuid?.();
  for (const e of entries) {
    const st = fs.lstatSync(path.join(dir, e));
    if (!st.isFile() || (st.mode & 0o777) !== 0o600 || (uid !== undefined && st.uid !== uid) || st.size > 64 * 1024) return null;
    const text = fs.readFileSync(path.join(dir, e), 'latin1');
    if (!(e === LOCK_FILE ? /^\d*\n?$/.test(text) : FRAMED_PREFIX.test(text))) return null;
  }
  return [...entries].sort();
}

/** Does `file` start with a valid tapstate log header? (Read-only, never follows a symlink.) */
function isTapstateLog(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return false;
    const buf = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    decodeHeader(buf.subarray(0, n), file);
    return true;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}
