/** Typed errors of the tapstate runtime. */
import type { EffectFailure, EndpointError } from '../../machines/index.js';

/** An operation failed; `message` is upstream's message for that failure. */
export class EndpointOperationError extends Error {
  override readonly name = 'EndpointOperationError';
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
export class InvalidCommandError extends Error {
  override readonly name = 'InvalidCommandError';
  constructor(
    readonly endpoint: string,
    readonly command: string,
    readonly state: string,
  ) {
    super(`endpoint ${endpoint}: ${command} is not possible in state ${state}`);
  }
}

/** Another command is running on this endpoint. */
export class EndpointBusyError extends Error {
  override readonly name = 'EndpointBusyError';
  constructor(readonly endpoint: string) {
    super(`endpoint ${endpoint} is busy with another command`);
  }
}

export class UnknownEndpointError extends Error {
  override readonly name = 'UnknownEndpointError';
  constructor(readonly endpoint: string) {
    super(`no endpoint ${endpoint} in this store`);
  }
}

/**
 * An endpoint with that id, idx, MAC or original link exists already (`holder`: the endpoint
 * that has it). Two live endpoints sharing a MAC or an original link would break the machine's
 * invariants: one endpoint's teardown would act on the other's link.
 */
export class DuplicateEndpointError extends Error {
  override readonly name = 'DuplicateEndpointError';
  constructor(
    readonly field: 'id' | 'idx' | 'mac' | 'ifName',
    readonly value: string | number,
    readonly holder?: string,
  ) {
    super(`an endpoint with ${field} ${value} exists already${field === 'id' || holder === undefined ? '' : `: ${holder}`}`);
  }
}

/**
 * A document or input names a network namespace other than the store's. tapstate acts only in
 * its store's netns (docs/security.md); nothing was changed.
 */
export class NetnsMismatchError extends Error {
  override readonly name = 'NetnsMismatchError';
  constructor(
    /** Which field named it, e.g. `NetNsPath` (persist.json) or `netnsPath` (endpoint input). */
    readonly field: string,
    readonly given: string,
    readonly storeNetns: string,
    hint = '',
  ) {
    super(
      `${field} ${JSON.stringify(given)} is not this store's network namespace ${JSON.stringify(storeNetns)}: ` +
        `tapstate acts only in its store's netns${hint ? ` (${hint})` : ''}`,
    );
  }
}

/**
 * A real write or fdatasync of the log failed (disk full, I/O error): the log is in an unknown
 * state, so this process writes nothing more to it. A fresh process (`tapstate recover`) reads
 * the log back, cuts any partial record and settles what was interrupted.
 */
export class StoreFailedError extends Error {
  override readonly name = 'StoreFailedError';
  constructor(
    /** The errno code of the failure (`ENOSPC`, `EIO`, …), or `unknown`. */
    readonly code: string,
    /** `write`, `fsync`, or `used-after-failure` (a later call on the same failed store). */
    readonly during: 'write' | 'fsync' | 'used-after-failure',
    options?: { cause?: unknown },
  ) {
    super(
      during === 'used-after-failure'
        ? `the store stopped after a failed log write (${code}); run 'tapstate recover' once the cause is fixed`
        : `log ${during} failed (${code}); run 'tapstate recover' once ${code === 'ENOSPC' || code === 'EDQUOT' ? 'space is available' : 'the cause is fixed'}`,
      options,
    );
  }

  /** Wrap a failure of the log medium. */
  static of(e: unknown, during: 'write' | 'fsync'): StoreFailedError {
    if (e instanceof StoreFailedError) return e;
    const code = (e as NodeJS.ErrnoException | null)?.code ?? 'unknown';
    return new StoreFailedError(code, during, { cause: e });
  }
}

/** An effect of this endpoint is in doubt (interrupted by a crash): recover first. */
export class InDoubtError extends Error {
  override readonly name = 'InDoubtError';
  constructor(
    readonly endpoint: string,
    readonly effect: string,
  ) {
    super(`endpoint ${endpoint} has an interrupted effect (${effect}): run recovery first (tapstate recover)`);
  }
}

/** Replaying a record gave a different state than the one the log recorded: the machine changed under an old log. */
export class NonDeterminismError extends Error {
  override readonly name = 'NonDeterminismError';
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

export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor() {
    super('the store is closed');
  }
}
