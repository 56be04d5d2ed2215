/**
 * One CNI attachment (container id, CNI_IFNAME) is one endpoint of the container's store: its
 * original link (`ifName`) is CNI_IFNAME. Ids are `cni-<ifname>` (`-2`, `-3`, … once earlier
 * ones are detached: a detached endpoint is final and keeps its id in the log).
 */
import type { EndpointView, Tapstore } from '../runtime/tapstore.js';

const ID_SAFE = /^[A-Za-z0-9_.-]+$/;

/** The endpoint id base of an interface name. */
export function endpointBase(ifName: string): string {
  return `cni-${ID_SAFE.test(ifName) ? ifName : Buffer.from(ifName, 'utf8').toString('hex')}`;
}

/** A fresh endpoint id for `ifName` in this store. */
export function freshEndpointId(store: Tapstore, ifName: string): string {
  const base = endpointBase(ifName);
  const taken = new Set(store.list().map((v) => v.id));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

/** Is this endpoint one of `ifName`'s (by id, whatever its generation)? */
const isFor = (v: EndpointView, ifName: string): boolean => {
  const base = endpointBase(ifName);
  return v.id === base || (v.id.startsWith(`${base}-`) && /^\d+$/.test(v.id.slice(base.length + 1)));
};

/** The endpoints of `ifName` that are not final (normally at most one). */
export function liveEndpoints(store: Tapstore, ifName: string): EndpointView[] {
  return store.list().filter((v) => isFor(v, ifName) && v.state !== 'detached');
}

/** Whether every endpoint of the store is final (the store can be removed). */
export const allDetached = (store: Tapstore): boolean => store.list().every((v) => v.state === 'detached');
