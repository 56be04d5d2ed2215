/**
 * Adapters for a store that never runs an effect (a read-only open, a replay-only
 * `Tapstore.open` with a `null` side): every call is refused with {@link InertAdapterError};
 * `close()` does nothing. Not a thenable, so it may be awaited.
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import type { HypervisorAdapter } from './hypervisor.js';
import type { NetlinkAdapter } from './netlink.js';

/** An adapter call on a store opened without adapters (read-only, or replay only). */
export class InertAdapterError extends TapstateError {
  override readonly name = 'InertAdapterError';
  readonly code = 'INERT_ADAPTER';
  constructor(readonly method: string) {
    super(`read-only store: ${method} not available`);
  }
}

export const inertAdapter: NetlinkAdapter & HypervisorAdapter = new Proxy({} as NetlinkAdapter & HypervisorAdapter, {
  get(_t, prop) {
    if (prop === 'then') return undefined;
    if (prop === 'close') return async () => {};
    return () => Promise.reject(new InertAdapterError(String(prop)));
  },
});
