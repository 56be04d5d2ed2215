/**
 * CNI error objects (spec 1.0.0 §"Error"): `{cniVersion, code, msg, details}` on stdout with a
 * non-zero exit. Codes 1–99 are the spec's; 100 and up are tapstate-cni's own. Every class is
 * a TapstateError with its own stable string `code`; the CNI number is `cniCode` (the `code` of
 * the error object on stdout).
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import { EndpointInputError } from '../../machines/index.js';
import { DuplicateEndpointError, EndpointOperationError, InDoubtError } from '../runtime/errors.js';
import { LogCorruptError, LogFormatError } from '../log/errors.js';
import { StoreLockedError } from './container-store.js';
import { ForeignDirectoryError } from './store-dir.js';

/** The spec's well-known error codes, and ours (≥ 100). */
export const CNI_CODE = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  /** Spec: "Invalid necessary environment variables, like CNI_COMMAND, CNI_CONTAINERID, etc." */
  invalidEnv: 4,
  io: 5,
  decode: 6,
  /** Spec: "Invalid network config". */
  invalidConfig: 7,
  tryAgainLater: 11,
  /** tapstate-cni: an endpoint operation failed (upstream's message); what it made was rolled back. */
  operationFailed: 100,
  /** tapstate-cni: CHECK found the world different from the store. */
  checkFailed: 101,
  /** tapstate-cni: the container's store is damaged or not a tapstate store. */
  storeDamaged: 102,
  /** tapstate-cni: anything else. */
  internal: 199,
} as const;

/** A failure reported to the runtime as a CNI error object. */
export class CniError extends TapstateError {
  override readonly name: string = 'CniError';
  readonly code: string = 'CNI_ERROR';
  constructor(
    /** The CNI error code (the spec's 1–99, ours ≥ 100): the `code` of {@link toJSON}. */
    readonly cniCode: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
  /** The error object the spec prints on stdout. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.cniCode, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** A bad network configuration (stdin): names the field and the rule. Code 7. */
export class CniConfigError extends CniError {
  override readonly name = 'CniConfigError';
  override readonly code = 'CNI_CONFIG_INVALID';
  constructor(
    readonly field: string,
    readonly rule: string,
    message: string,
  ) {
    super(CNI_CODE.invalidConfig, message, `field ${field}: rule ${rule}`);
  }
}

/** The configuration on stdin cannot be decoded (not JSON). Code 6. */
export class CniDecodeError extends CniError {
  override readonly name = 'CniDecodeError';
  override readonly code = 'CNI_DECODE';
  constructor(message: string) {
    super(CNI_CODE.decode, message);
  }
}

/** A bad or missing CNI_* environment variable: names it and the rule. Code 4. */
export class CniEnvError extends CniError {
  override readonly name = 'CniEnvError';
  override readonly code = 'CNI_ENV_INVALID';
  constructor(
    readonly variable: string,
    readonly rule: string,
    message: string,
  ) {
    super(CNI_CODE.invalidEnv, message, `variable ${variable}: rule ${rule}`);
  }
}

/** A config field tapstate-cni knows but does not support (code 2). */
export class CniUnsupportedFieldError extends CniError {
  override readonly name = 'CniUnsupportedFieldError';
  override readonly code = 'CNI_UNSUPPORTED_FIELD';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(CNI_CODE.unsupportedField, message, `field ${field}`);
  }
}

/** A cniVersion this plugin does not speak (code 1). */
export class CniVersionError extends CniError {
  override readonly name = 'CniVersionError';
  override readonly code = 'CNI_VERSION_UNSUPPORTED';
  constructor(
    readonly version: string,
    supported: readonly string[],
    /** The command that needs a newer version, when that is the problem. */
    command?: string,
  ) {
    super(
      CNI_CODE.incompatibleVersion,
      command
        ? `${command} needs cniVersion ${supported[0]} or later (the config says ${JSON.stringify(version)})`
        : `cniVersion ${JSON.stringify(version)} is not supported (supported: ${supported.join(', ')})`,
    );
  }
}

/** CHECK found a difference between the store and the kernel (code 101). */
export class CniCheckError extends CniError {
  override readonly name = 'CniCheckError';
  override readonly code = 'CNI_CHECK_FAILED';
  constructor(message: string, details = '') {
    super(CNI_CODE.checkFailed, message, details);
  }
}

/** Map anything thrown while handling a command to a CNI error. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof StoreLockedError)
    return new CniError(CNI_CODE.tryAgainLater, `another tapstate-cni holds this container's store (pid ${e.pid || '?'}): try again later`, e.store);
  if (e instanceof EndpointInputError) return new CniConfigError(e.field, e.rule, e.message);
  if (e instanceof EndpointOperationError)
    return new CniError(CNI_CODE.operationFailed, e.message, `endpoint ${e.endpoint}: ${e.op} failed at ${e.step}, left in state ${e.state}`);
  if (e instanceof DuplicateEndpointError && e.field === 'idx')
    return new CniConfigError(
      'idx',
      'unique',
      `another network of this container already uses idx ${e.value} (tap tap${e.value}_kata): give this network its own "idx" or "tapName"`,
    );
  if (e instanceof InDoubtError) return new CniError(CNI_CODE.tryAgainLater, e.message);
  if (e instanceof LogCorruptError || e instanceof LogFormatError) return new CniError(CNI_CODE.storeDamaged, e.message);
  if (e instanceof ForeignDirectoryError) return new CniError(CNI_CODE.storeDamaged, e.message, `directory ${e.dir}`);
  const errno = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) return new CniError(CNI_CODE.io, e instanceof Error ? e.message : String(e));
  return new CniError(CNI_CODE.internal, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}
