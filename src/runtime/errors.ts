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

/** An endpoint with that id or idx exists already. */
export class DuplicateEndpointError extends Error {
  override readonly name = 'DuplicateEndpointError';
  constructor(
    readonly field: 'id' | 'idx',
    readonly value: string | number,
  ) {
    super(`an endpoint with ${field} ${value} exists already`);
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
