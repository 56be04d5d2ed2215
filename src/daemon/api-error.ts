/**
 * Any thrown value → an HTTP status and the API's error body
 * `{"error":{"type","code","message",…the error's own typed fields}}`.
 * 400 bad input (also unparseable HTTP) · 403 peer not allowed · 404 unknown · 405 method · 408 request too slow · 409 busy, in doubt, not
 * possible now, exists · 413 body too large · 431 headers too large · 423 store locked by another process · 503 unavailable (closing; too many connections or event streams) ·
 * 500 an adapter failure (the operation's typed fields: op, step, cause {name, errno|kind}, state).
 */

const STATUS: Record<string, number> = {
  RequestFieldError: 400,
  BadJsonError: 400,
  DuplicateKeyError: 400,
  MalformedRequestError: 400,
  EndpointInputError: 400,
  PersistFormatError: 400,
  SandboxConfigError: 400,
  NetnsMismatchError: 400,
  PeerRejectedError: 403,
  RouteNotFoundError: 404,
  SandboxNotFoundError: 404,
  UnknownEndpointError: 404,
  MethodNotAllowedError: 405,
  RequestTimeoutError: 408,
  SandboxExistsError: 409,
  SandboxPathTakenError: 409,
  SandboxNotEmptyError: 409,
  SandboxHealthyError: 409,
  DuplicateEndpointError: 409,
  EndpointBusyError: 409,
  InDoubtError: 409,
  InvalidCommandError: 409,
  IdempotencyKeyReusedError: 409,
  OperationInterruptedError: 409,
  FdHandoverError: 409,
  BodyTooLargeError: 413,
  HeadersTooLargeError: 431,
  StoreLockedError: 423,
  SandboxUnavailableError: 503,
  StoreClosedError: 503,
  TooManyConnectionsError: 503,
  TooManyEventStreamsError: 503,
};

export interface ApiErrorBody {
  error: { type: string; code: string; message: string; [field: string]: unknown };
}

/** `EndpointBusyError` → `endpoint_busy`. */
export function errorCode(type: string): string {
  // a plain Error (an unexpected failure) would be '': say what it is
  if (type === 'Error') return 'internal_error';
  return type
    .replace(/Error$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

export function toApiError(e: unknown): { status: number; body: ApiErrorBody } {
  const err = e instanceof Error ? e : new Error(String(e));
  const type = err.name || 'Error';
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    // `code`: the API's own snake_case code below, not TapstateError's
    if (k === 'stack' || k === 'message' || k === 'name' || k === 'code') continue;
    fields[k] = v;
  }
  if (err.cause !== undefined && fields.cause === undefined) fields.cause = err.cause instanceof Error ? { name: err.cause.name, message: err.cause.message } : err.cause;
  const status = STATUS[type] ?? 500;
  return { status, body: { error: { type, code: errorCode(type), message: err.message, ...fields } } };
}
