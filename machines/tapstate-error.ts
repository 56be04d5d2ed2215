/**
 * The base of every error tapstate throws on purpose: `catch (e) { if (e instanceof
 * TapstateError) … }` catches any of them, and `e.code` tells them apart with a string that
 * stays the same across releases (unlike messages, which may be reworded). It lives in the pure
 * core because the core's input errors extend it too.
 */
export abstract class TapstateError extends Error {
  /** Stable, machine-readable identifier of the error class, e.g. `ENDPOINT_BUSY`. */
  abstract readonly code: string;
}
