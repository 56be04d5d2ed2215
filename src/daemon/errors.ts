/**
 * Errors of the daemon's API layer. Each names what was wrong; {@link toApiError} maps these and
 * the runtime's typed errors to an HTTP status and the `{"error":{type,code,message,…}}` body.
 */

/** A request field breaks a rule. Nothing was changed. */
export class RequestFieldError extends Error {
  override readonly name = 'RequestFieldError';
  constructor(
    readonly field: string,
    readonly rule: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The request body is not valid JSON, or not an object. */
export class BadJsonError extends Error {
  override readonly name = 'BadJsonError';
}

/** The request body exceeds the daemon's limit. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** No such route. */
export class RouteNotFoundError extends Error {
  override readonly name = 'RouteNotFoundError';
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`no route ${method} ${path} (see docs/api/openapi.yaml)`);
  }
}

/** The route exists, not with this method. */
export class MethodNotAllowedError extends Error {
  override readonly name = 'MethodNotAllowedError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly allowed: string[],
  ) {
    super(`${method} not allowed on ${path} (allowed: ${allowed.join(', ')})`);
  }
}

export class SandboxNotFoundError extends Error {
  override readonly name = 'SandboxNotFoundError';
  constructor(readonly sandbox: string) {
    super(`no sandbox ${sandbox}`);
  }
}

/** A sandbox with that id exists with a different config. */
export class SandboxExistsError extends Error {
  override readonly name = 'SandboxExistsError';
  constructor(readonly sandbox: string) {
    super(`sandbox ${sandbox} exists already with a different config`);
  }
}

/** Deleting a sandbox whose endpoints still hold something in the world. */
export class SandboxNotEmptyError extends Error {
  override readonly name = 'SandboxNotEmptyError';
  constructor(
    readonly sandbox: string,
    readonly endpoints: string[],
  ) {
    super(`sandbox ${sandbox} still has live endpoints (${endpoints.join(', ')}): detach them first`);
  }
}

/** The sandbox is being deleted or the daemon is shutting down. */
export class SandboxUnavailableError extends Error {
  override readonly name = 'SandboxUnavailableError';
  constructor(
    readonly sandbox: string,
    readonly reason: string,
  ) {
    super(`sandbox ${sandbox} is unavailable: ${reason}`);
  }
}

/** The same idempotency key was used for a different request. */
export class IdempotencyKeyReusedError extends Error {
  override readonly name = 'IdempotencyKeyReusedError';
  constructor(
    readonly key: string,
    readonly firstRequest: string,
  ) {
    super(`idempotency key ${JSON.stringify(key)} was used for a different request (${firstRequest})`);
  }
}

/** An action keyed by an idempotency key was interrupted by a daemon crash; recovery settled the endpoint elsewhere. */
export class OperationInterruptedError extends Error {
  override readonly name = 'OperationInterruptedError';
  constructor(
    readonly endpoint: string,
    readonly action: string,
    readonly state: string,
  ) {
    super(`${action} of ${endpoint} was interrupted by a daemon crash and recovered: the endpoint is in state ${state}`);
  }
}

/** The peer's credentials are not allowed. */
export class PeerRejectedError extends Error {
  override readonly name = 'PeerRejectedError';
  constructor(
    readonly uid: number,
    readonly gid: number,
  ) {
    super(`peer uid ${uid} gid ${gid} is not allowed (root, the daemon's uid, or the --group)`);
  }
}

/** The queue fds cannot be handed over (endpoint not cold-attached, or the tap cannot be opened). */
export class FdHandoverError extends Error {
  override readonly name = 'FdHandoverError';
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`cannot hand over the queue fds of ${endpoint}: ${reason}`);
  }
}

/** The daemon cannot listen on its socket path. */
export class SocketPathError extends Error {
  override readonly name = 'SocketPathError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`--socket ${path}: ${reason}`);
  }
}
