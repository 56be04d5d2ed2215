/**
 * The last line of defence for errors reaching the user: a Node.js system error (`ENOSPC`,
 * `ENAMETOOLONG`, `EACCES`, …, thrown by `fs` with a bare `Error` name) becomes a typed
 * {@link FileSystemError} with one clear line: what was being done, to which path (capped), the
 * reason in words and the errno code. Commands give their own typed errors where they know the
 * field (`--out`, `--store`); this catches the rest.
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import { capEcho } from './quote.js';

/** Reasons in words for the errno codes a user is likely to meet. */
const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'exists already',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'is a symbolic link (or too many levels of them)',
  EMFILE: 'too many open files',
  ENXIO: 'no such device or address',
  EBUSY: 'device or resource busy',
  EXDEV: 'cross-device link',
};

/** A file-system call failed. */
export class FileSystemError extends TapstateError {
  override readonly name = 'FileSystemError';
  readonly code = 'FILE_SYSTEM';
  constructor(
    /** The errno name (`ENOSPC`, `EACCES`, …). */
    readonly errno: string,
    readonly syscall: string,
    readonly path: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${syscall}${path !== undefined ? ` ${capEcho(path)}` : ''}: ${REASONS[errno] ?? 'failed'} (${errno})`, options);
  }
}

/** Is `e` a raw Node.js system error (an errno code, the plain `Error` name)? */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string } {
  return e instanceof Error && e.name === 'Error' && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code!);
}

/** Raw system errors become {@link FileSystemError}; anything else is returned as it is. */
export function typedSystemError(e: unknown): unknown {
  if (!isSystemError(e)) return e;
  return new FileSystemError(e.code, e.syscall ?? 'file operation', e.path, { cause: e });
}
