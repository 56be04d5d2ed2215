/** Typed errors of the event log. */
import { TapstateError } from '../../machines/tapstate-error.js';

/** A record in the middle of the log is damaged (checksum, syntax, sequence). Never skipped. */
export class LogCorruptError extends TapstateError {
  override readonly name = 'LogCorruptError';
  readonly code = 'LOG_CORRUPT';
  constructor(
    readonly file: string,
    /** Byte offset of the damaged record. */
    readonly offset: number,
    /** `checksum`, `syntax`, `sequence-gap`, `sequence-duplicate`, `record-shape`, `checkpoint` */
    readonly reason: string,
    detail?: string,
  ) {
    super(`corrupt log ${file} at byte ${offset}: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

/** Not a tapstate log (foreign file), or a format version this build does not read. */
export class LogFormatError extends TapstateError {
  override readonly name = 'LogFormatError';
  readonly code = 'LOG_FORMAT';
  constructor(
    readonly file: string,
    /** `foreign`, `newer-version`, `unsafe-file` (symlink, wrong mode, not a regular file), `empty`, `not-fresh`, `too-large` (more bytes to read than a Buffer holds) */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
