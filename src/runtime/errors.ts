/** Typed errors of the tapstate runtime. */
import type { EffectFailure, EndpointError } from '../../machines/index.js';
import { capEcho, quoteArg } from '../../machines/echo.js';
import { TapstateError } from '../../machines/tapstate-error.js';

/** An operation failed; `message` is upstream's message for that failure. */
export class EndpointOperationError extends TapstateError {
  override readonly name = 'EndpointOperationError';
  readonly code = 'ENDPOINT_OPERATION_FAILED';
  readonly endpoint: string;
  readonly op: string;
  readonly step: string;
  override readonly cause: EffectFailure;
  /** The state the endpoint settled in (e.g. `created` after a rollback, `dirty`). */
  readonly state: string;
  constructor(endpoint: string, err: EndpointError, state: string) {
    super(err.message);
    this.endpoint = endpoint;
    this.op = err.op;
    this.step = err.step;
    this.cause = err.cause;
    this.state = state;
  }
}

/** The command is not accepted in the endpoint's current state. Nothing was logged. */
export class InvalidCommandError extends TapstateError {
  override readonly name = 'InvalidCommandError';
  readonly code = 'INVALID_COMMAND';
  constructor(
    readonly endpoint: string,
    readonly command: string,
    readonly state: string,
  ) {
    super(`endpoint ${capEcho(endpoint)}: ${command} is not possible in state ${state}`);
  }
}

/** Another command is running on this endpoint. */
export class EndpointBusyError extends TapstateError {
  override readonly name = 'EndpointBusyError';
  readonly code = 'ENDPOINT_BUSY';
  constructor(readonly endpoint: string) {
    super(`endpoint ${capEcho(endpoint)} is busy with another command`);
  }
}

export class UnknownEndpointError extends TapstateError {
  override readonly name = 'UnknownEndpointError';
  readonly code = 'UNKNOWN_ENDPOINT';
  constructor(readonly endpoint: string) {
    super(`no endpoint ${capEcho(endpoint)} in this store`);
  }
}

/**
 * An endpoint with that id, idx, MAC or original link exists already (`holder`: the endpoint
 * that has it). Two live endpoints sharing a MAC or an original link would break the machine's
 * invariants: one endpoint's teardown would act on the other's link.
 */
export class DuplicateEndpointError extends TapstateError {
  override readonly name = 'DuplicateEndpointError';
  readonly code = 'DUPLICATE_ENDPOINT';
  constructor(
    readonly field: 'id' | 'idx' | 'mac' | 'ifName',
    readonly value: string | number,
    readonly holder?: string,
  ) {
    super(`an endpoint with ${field} ${capEcho(String(value))} exists already${field === 'id' || holder === undefined ? '' : `: ${capEcho(holder)}`}`);
  }
}

/**
 * A document or input names a network namespace other than the store's. tapstate acts only in
 * its store's netns (docs/security.md); nothing was changed.
 */
export class NetnsMismatchError extends TapstateError {
  override readonly name = 'NetnsMismatchError';
  readonly code = 'NETNS_MISMATCH';
  constructor(
    /** Which field named it, e.g. `NetNsPath` (persist.json) or `netnsPath` (endpoint input). */
    readonly field: string,
    readonly given: string,
    readonly storeNetns: string,
    hint = '',
  ) {
    super(
      `${field} ${quoteArg(given)} is not this store's network namespace ${JSON.stringify(storeNetns)}: ` +
        `tapstate acts only in its store's netns${hint ? ` (${hint})` : ''}`,
    );
  }
}

/** An effect of this endpoint is in doubt (interrupted by a crash): recover first. */
export class InDoubtError extends TapstateError {
  override readonly name = 'InDoubtError';
  readonly code = 'IN_DOUBT';
  constructor(
    readonly endpoint: string,
    readonly effect: string,
  ) {
    super(`endpoint ${capEcho(endpoint)} has an interrupted effect (${effect}): run recovery first (tapstate recover)`);
  }
}

/** Replaying a record gave a different state than the one the log recorded: the machine changed under an old log. */
export class NonDeterminismError extends TapstateError {
  override readonly name = 'NonDeterminismError';
  readonly code = 'NON_DETERMINISM';
  constructor(
    readonly seq: number,
    readonly endpoint: string,
    readonly recorded: unknown,
    readonly replayed: unknown,
  ) {
    super(
      `non-deterministic replay at record ${seq} (endpoint ${endpoint}): the log recorded ${JSON.stringify(recorded)}, replay gives ${JSON.stringify(replayed)}`,
    );
  }
}

export class StoreClosedError extends TapstateError {
  override readonly name = 'StoreClosedError';
  readonly code = 'STORE_CLOSED';
  constructor() {
    super('the store is closed');
  }
}

/**
 * A real write or fdatasync of the log failed (disk full, I/O error): the log is in an unknown
 * state, so this process writes nothing more to it. A fresh process (`tapstate recover`) reads
 * the log back, cuts any partial record and settles what was interrupted.
 */
export class StoreFailedError extends TapstateError {
  override readonly name = 'StoreFailedError';
  readonly code = 'STORE_FAILED';
  constructor(
    /** The errno name of the failure (`ENOSPC`, `EIO`, …), or `unknown`. */
    readonly errno: string,
    /** `write`, `fsync`, or `used-after-failure` (a later call on the same failed store). */
    readonly during: 'write' | 'fsync' | 'used-after-failure',
    options?: { cause?: unknown },
  ) {
    super(
      during === 'used-after-failure'
        ? `the store stopped after a failed log write (${errno}); run 'tapstate recover' once the cause is fixed`
        : `log ${during} failed (${errno}); run 'tapstate recover' once ${errno === 'ENOSPC' || errno === 'EDQUOT' ? 'space is available' : 'the cause is fixed'}`,
      options,
    );
  }

  /** The errno name of a failure of the log medium (`ENOSPC`), or null if it is not one. */
  static errnoOf(e: unknown): string | null {
    const code = (e as { code?: unknown } | null)?.code;
    return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : null;
  }

  /** Wrap a failure of the log medium. */
  static of(e: unknown, during: 'write' | 'fsync'): StoreFailedError {
    if (e instanceof StoreFailedError) return e;
    return new StoreFailedError(StoreFailedError.errnoOf(e) ?? 'unknown', during, { cause: e });
  }
}
