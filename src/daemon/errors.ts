/**
 * Errors of the daemon's API layer. Each names what was wrong; {@link toApiError} maps these and
 * the runtime's typed errors to an HTTP status and the `{"error":{type,code,message,…}}` body.
 * Each is a TapstateError with its own stable `code`; the API body's `code` is the snake_case
 * of the type (api-error.ts), not this one.
 */
import { TapstateError } from '../../machines/tapstate-error.js';

/** A request field breaks a rule. Nothing was changed. */
export class RequestFieldError extends TapstateError {
  override readonly name = 'RequestFieldError';
  readonly code = 'REQUEST_FIELD';
  constructor(
    readonly field: string,
    readonly rule: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The request body is not valid JSON, or not an object. */
export class BadJsonError extends TapstateError {
  override readonly name = 'BadJsonError';
  readonly code = 'BAD_JSON';
}

/**
 * An object in the request body has the same key twice (`{"action":"hot-detach","action":"hot-attach"}`):
 * refused, not read last-wins. `field` is where: `body.action`, `body.Endpoints[0].Idx`.
 */
export class DuplicateKeyError extends TapstateError {
  override readonly name = 'DuplicateKeyError';
  readonly code = 'DUPLICATE_KEY';
  readonly rule = 'unique-keys';
  constructor(
    readonly key: string,
    readonly field: string,
  ) {
    super(`${field}: the key ${JSON.stringify(key)} appears more than once in the same object (each key at most once: which one counts would be a guess)`);
  }
}

/** The request body exceeds the daemon's limit. */
export class BodyTooLargeError extends TapstateError {
  override readonly name = 'BodyTooLargeError';
  readonly code = 'BODY_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** No such route. */
export class RouteNotFoundError extends TapstateError {
  override readonly name = 'RouteNotFoundError';
  readonly code = 'ROUTE_NOT_FOUND';
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`no route ${method} ${path} (see docs/api/openapi.yaml)`);
  }
}

/** The route exists, not with this method. */
export class MethodNotAllowedError extends TapstateError {
  override readonly name = 'MethodNotAllowedError';
  readonly code = 'METHOD_NOT_ALLOWED';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly allowed: string[],
  ) {
    super(`${method} not allowed on ${path} (allowed: ${allowed.join(', ')})`);
  }
}

export class SandboxNotFoundError extends TapstateError {
  override readonly name = 'SandboxNotFoundError';
  readonly code = 'SANDBOX_NOT_FOUND';
  constructor(readonly sandbox: string) {
    super(`no sandbox ${sandbox}`);
  }
}

/** A sandbox with that id exists with a different config. */
export class SandboxExistsError extends TapstateError {
  override readonly name = 'SandboxExistsError';
  readonly code = 'SANDBOX_EXISTS';
  constructor(readonly sandbox: string) {
    super(`sandbox ${sandbox} exists already with a different config`);
  }
}

/**
 * The sandbox's name in the state directory is taken by something that is not a store (a file, a
 * symlink, a directory that is not empty): `PUT` would have to replace it. Nothing was changed.
 */
export class SandboxPathTakenError extends TapstateError {
  override readonly name = 'SandboxPathTakenError';
  readonly code = 'SANDBOX_PATH_TAKEN';
  constructor(
    readonly sandbox: string,
    readonly path: string,
    /** `file`, `symlink`, `not-empty`, `other` */
    readonly rule: string,
  ) {
    super(`sandbox ${sandbox}: ${path} exists and is not a tapstate store (${rule.replace('-', ' ')}): remove it or choose another id`);
  }
}

/** Deleting a sandbox whose endpoints still hold something in the world. */
export class SandboxNotEmptyError extends TapstateError {
  override readonly name = 'SandboxNotEmptyError';
  readonly code = 'SANDBOX_NOT_EMPTY';
  constructor(
    readonly sandbox: string,
    readonly endpoints: string[],
  ) {
    super(`sandbox ${sandbox} still has live endpoints (${endpoints.join(', ')}): detach them first`);
  }
}

/** Quarantine asked for a sandbox whose store opens: delete it instead (after detaching its endpoints). */
export class SandboxHealthyError extends TapstateError {
  override readonly name = 'SandboxHealthyError';
  readonly code = 'SANDBOX_HEALTHY';
  constructor(readonly sandbox: string) {
    super(`sandbox ${sandbox}: its store opens, so it is not quarantined (quarantine is for a store that cannot be opened; delete a healthy one with DELETE, after detaching its endpoints)`);
  }
}

/** The sandbox is being deleted or the daemon is shutting down. */
export class SandboxUnavailableError extends TapstateError {
  override readonly name = 'SandboxUnavailableError';
  readonly code = 'SANDBOX_UNAVAILABLE';
  constructor(
    readonly sandbox: string,
    readonly reason: string,
  ) {
    super(`sandbox ${sandbox} is unavailable: ${reason}`);
  }
}

/** The same idempotency key was used for a different request. */
export class IdempotencyKeyReusedError extends TapstateError {
  override readonly name = 'IdempotencyKeyReusedError';
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor(
    readonly key: string,
    readonly firstRequest: string,
  ) {
    super(`idempotency key ${JSON.stringify(key)} was used for a different request (${firstRequest})`);
  }
}

/** An action keyed by an idempotency key was interrupted by a daemon crash; recovery settled the endpoint elsewhere. */
export class OperationInterruptedError extends TapstateError {
  override readonly name = 'OperationInterruptedError';
  readonly code = 'OPERATION_INTERRUPTED';
  constructor(
    readonly endpoint: string,
    readonly action: string,
    readonly state: string,
  ) {
    super(`${action} of ${endpoint} was interrupted by a daemon crash and recovered: the endpoint is in state ${state}`);
  }
}

/** The peer's credentials are not allowed. */
export class PeerRejectedError extends TapstateError {
  override readonly name = 'PeerRejectedError';
  readonly code = 'PEER_REJECTED';
  constructor(
    readonly uid: number,
    readonly gid: number,
  ) {
    super(`peer uid ${uid} gid ${gid} is not allowed (root, the daemon's uid, or the --group)`);
  }
}

/** The queue fds cannot be handed over (endpoint not cold-attached, or the tap cannot be opened). */
export class FdHandoverError extends TapstateError {
  override readonly name = 'FdHandoverError';
  readonly code = 'FD_HANDOVER';
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`cannot hand over the queue fds of ${endpoint}: ${reason}`);
  }
}

/**
 * The fd hand-over of an endpoint attached with vhost, on a host where `/dev/vhost-net` cannot be
 * opened (absent: `ENOENT`): refused before any fd is opened (500, `vhost_unavailable`).
 */
export class VhostUnavailableError extends TapstateError {
  override readonly name = 'VhostUnavailableError';
  readonly code = 'VHOST_UNAVAILABLE';
  readonly op = 'handOverFds';
  readonly device = '/dev/vhost-net';
  constructor(
    readonly endpoint: string,
    /** errno name of opening the device (`ENOENT` when it is absent). */
    readonly errno: string,
  ) {
    super(`cannot hand over the fds of ${endpoint}: it uses vhost-net and /dev/vhost-net cannot be opened (${errno}); no fd was opened`);
  }
}

/** The daemon cannot listen on its socket path. */
export class SocketPathError extends TapstateError {
  override readonly name = 'SocketPathError';
  readonly code = 'SOCKET_PATH';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`--socket ${path}: ${reason}`);
  }
}

/**
 * The request could not be parsed as HTTP/1.1 (an unknown method, a bad header or
 * `Content-Length`, a bad chunk): node's parser refused it before any route ran. `reason` is
 * the parser's code (e.g. `HPE_INVALID_METHOD`). The connection is closed. Nothing was changed.
 */
export class MalformedRequestError extends TapstateError {
  override readonly name = 'MalformedRequestError';
  readonly code = 'MALFORMED_REQUEST';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`malformed HTTP request: ${detail} (${reason})`);
  }
}

/** The request line and headers exceed node's limit (16 KiB): `431`. The connection is closed. */
export class HeadersTooLargeError extends TapstateError {
  override readonly name = 'HeadersTooLargeError';
  readonly code = 'HEADERS_TOO_LARGE';
  constructor() {
    super('request line and headers larger than 16 KiB');
  }
}

/** The request did not arrive within `--headers-timeout-ms` / `--request-timeout-ms`: `408`. The connection is closed. */
export class RequestTimeoutError extends TapstateError {
  override readonly name = 'RequestTimeoutError';
  readonly code = 'REQUEST_TIMEOUT';
  constructor() {
    super('the request did not arrive in time (--headers-timeout-ms / --request-timeout-ms)');
  }
}

/**
 * The daemon's `--state-dir` is not safe to keep root's stores in: not a directory, owned by
 * another uid, or writable by group/other (whoever can write it can rename one sandbox's store
 * over another's, or plant `.new-*` / `.trash-*` entries the daemon removes at start).
 */
export class StateDirError extends TapstateError {
  override readonly name = 'StateDirError';
  readonly code = 'STATE_DIR';
  constructor(
    readonly path: string,
    /** `not-a-directory`, `owner`, `mode` */
    readonly rule: string,
    reason: string,
  ) {
    super(`--state-dir ${path}: ${reason}`);
  }
}

/**
 * A {@link Daemon} option (a `tapstate serve` flag) breaks its rule: refused before anything is
 * created. `option` is the Daemon option (`maxConnections`), `flag` the CLI's (`--max-connections`).
 */
export class DaemonOptionError extends TapstateError {
  override readonly name = 'DaemonOptionError';
  readonly code = 'DAEMON_OPTION';
  constructor(
    readonly option: string,
    readonly flag: string,
    /** `positive-integer` */
    readonly rule: string,
    detail: string,
  ) {
    super(`${flag} (${option}): ${detail}`);
  }
}

/**
 * The daemon serves `--max-connections` connections already: a new one gets this (`503`) and is
 * closed; the connections it serves are not touched.
 */
export class TooManyConnectionsError extends TapstateError {
  override readonly name = 'TooManyConnectionsError';
  readonly code = 'TOO_MANY_CONNECTIONS';
  constructor(readonly limit: number) {
    super(`the daemon serves ${limit} connections already (--max-connections): try again when one closes`);
  }
}

/**
 * `--max-event-streams` event streams are open already (each may buffer up to
 * `eventsBehindBytes` for a slow reader): a new `GET …/events` gets this (`503`).
 */
export class TooManyEventStreamsError extends TapstateError {
  override readonly name = 'TooManyEventStreamsError';
  readonly code = 'TOO_MANY_EVENT_STREAMS';
  constructor(readonly limit: number) {
    super(`${limit} event streams are open already (--max-event-streams): try again when one ends`);
  }
}
