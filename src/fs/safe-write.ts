/**
 * Writing a file the CLI was asked to write (`view --out`, and any future output file such as
 * shell completion files), safely as root in a directory others can write to:
 *
 * - the data goes to a new temp file in the target's directory, opened
 *   `O_CREAT | O_EXCL | O_NOFOLLOW` (never an existing file, never through a symlink) with mode
 *   0600 unless the caller asks for another, fsynced, then `rename(2)`d over the target — a
 *   reader sees the old file or the new one, never half of one;
 * - a target that is a symbolic link (dangling or not) is refused, as is a directory or any
 *   other non-regular file: rename would replace the link, but the user meant its target, and
 *   following it is how `ln -s /etc/shadow out.html` attacks work;
 * - every failure is an {@link OutputFileError} naming the option, the path (capped) and the
 *   reason; the temp file is removed.
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The default mode of a written file: private to its owner. */
export const DEFAULT_FILE_MODE = 0o600;

const ECHO = 160;
const cap = (s: string) => (s.length <= ECHO ? s : `${s.slice(0, ECHO)}… (${s.length} chars)`);

/** An output file could not be written; nothing was changed at the target. */
export class OutputFileError extends TapstateError {
  override readonly name = 'OutputFileError';
  readonly code = 'OUTPUT_FILE';
  constructor(
    /** The option that named the file, e.g. `--out`. */
    readonly field: string,
    readonly file: string,
    /** `symlink`, `is-directory`, `not-regular`, `no-directory`, `mode`, or an errno code. */
    readonly rule: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${field} ${cap(file)}: ${detail}`, options);
  }
}

/** Options of {@link writeFileSafely}. */
export interface SafeWriteOptions {
  /** Permission bits of the new file (default 0600); applied exactly, whatever the umask. */
  mode?: number;
  /** The option that named the file, for errors (default `--out`). */
  field?: string;
}

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a path component is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
  ELOOP: 'a symbolic link is in the way',
};

/** Parse a `--mode` value: octal permission bits such as `0644` or `644`. */
export function parseFileMode(text: string, field = '--mode'): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new OutputFileError(field, text, 'mode', 'must be octal permission bits such as 0600 or 0644');
  return parseInt(text, 8);
}

/** Write `data` to `target` by temp file + rename; see the module comment. */
export function writeFileSafely(target: string, data: string | Uint8Array, opts: SafeWriteOptions = {}): void {
  const field = opts.field ?? '--out';
  const mode = opts.mode ?? DEFAULT_FILE_MODE;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new OutputFileError(field, target, 'mode', 'mode must be permission bits 0..0777');
  const fail = (rule: string, detail: string, cause?: unknown): never => {
    throw new OutputFileError(field, target, rule, detail, cause === undefined ? undefined : { cause });
  };
  const errnoFail = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw e;
    return fail(code, `${ERRNO_WORDS[code] ?? 'cannot write'} (${code})`, e);
  };
  if (target === '') fail('empty', 'must not be empty');
  if (target.endsWith('/')) fail('is-directory', 'names a directory; give a file name');
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') errnoFail(e);
  }
  if (st) {
    if (st.isSymbolicLink()) fail('symlink', 'is a symbolic link: refusing to write through it (remove it, or give another path)');
    if (st.isDirectory()) fail('is-directory', 'is a directory; give a file name');
    if (!st.isFile()) fail('not-regular', 'exists and is not a regular file');
  }
  const dir = path.dirname(path.resolve(target));
  try {
    if (!fs.statSync(dir).isDirectory()) fail('no-directory', `${cap(dir)} is not a directory`);
  } catch (e) {
    if (e instanceof OutputFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail('no-directory', `directory ${cap(dir)} does not exist`);
    errnoFail(e);
  }
  const tmp = path.join(dir, `.${path.basename(target).slice(0, 100)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  } catch (e) {
    return errnoFail(e);
  }
  let renamed = false;
  try {
    fs.fchmodSync(fd, mode); // the umask filtered open()'s mode
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, target);
    renamed = true;
  } catch (e) {
    errnoFail(e);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    if (!renamed) fs.rmSync(tmp, { force: true });
  }
}
