/** Errors of opening and creating a store directory. */
import { TapstateError } from '../../machines/tapstate-error.js';

/** The directory holds no tapstate store. */
export class StoreNotFoundError extends TapstateError {
  override readonly name = 'StoreNotFoundError';
  readonly code = 'STORE_NOT_FOUND';
  constructor(
    readonly store: string,
    /** `missing` (no log there), or `not-a-directory` (a file: `tapstate init` there would be refused too). */
    readonly reason: 'missing' | 'not-a-directory' = 'missing',
  ) {
    super(
      reason === 'not-a-directory'
        ? `no tapstate store at ${store}: it is not a directory (a store is a directory made by tapstate init)`
        : `no tapstate store at ${store} (create one with: tapstate init --store ${store} --netns PATH)`,
    );
  }
}

/** The store exists already. */
export class StoreExistsError extends TapstateError {
  override readonly name = 'StoreExistsError';
  readonly code = 'STORE_EXISTS';
  constructor(readonly store: string) {
    super(`a tapstate store exists already at ${store} (use it, or choose another --store)`);
  }
}

/** `openStore` was given a sandbox config that differs from the one the existing store records. */
export class SandboxMismatchError extends TapstateError {
  override readonly name = 'SandboxMismatchError';
  readonly code = 'SANDBOX_MISMATCH';
  constructor(
    readonly store: string,
    /** The first field that differs. */
    readonly field: string,
    readonly recorded: unknown,
    readonly given: unknown,
  ) {
    super(`store ${store} serves another sandbox: ${field} is ${JSON.stringify(recorded)}, not ${JSON.stringify(given)}`);
  }
}

/** `removeStore` was given a store that is not an open writer of `openStore`. */
export class StoreNotRemovableError extends TapstateError {
  override readonly name = 'StoreNotRemovableError';
  readonly code = 'STORE_NOT_REMOVABLE';
  constructor() {
    super('cannot remove this store: only one opened for writing by openStore, and not yet closed, can be removed');
  }
}
