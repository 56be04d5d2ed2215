/**
 * The methods the two adapter contracts require, as lists the library checks a caller's adapters
 * against where they enter (`openStore`, `Tapstore.open`): an object missing one was accepted and
 * failed later, half-way through an operation (a `TypeError` turned into a rollback). The lists
 * are `Record<keyof …, true>`, so the compiler keeps them complete and exact.
 */
import type { HypervisorAdapter } from './hypervisor.js';
import type { NetlinkAdapter } from './netlink.js';

const netlink: Record<keyof NetlinkAdapter, true> = {
  createTap: true,
  getLink: true,
  listLinks: true,
  setMtu: true,
  setMac: true,
  setUp: true,
  deleteLink: true,
  addIngressQdisc: true,
  deleteIngressQdisc: true,
  hasIngressQdisc: true,
  addRedirect: true,
  listRedirects: true,
  probeLink: true,
  netnsExists: true,
  openVhostFds: true,
  closeFds: true,
  close: true,
};

const hypervisor: Record<keyof HypervisorAdapter, true> = {
  hotplug: true,
  hotunplug: true,
  coldplug: true,
  probeDevice: true,
  probeNetdev: true,
  alive: true,
  close: true,
};

/** Every method of {@link NetlinkAdapter}. */
export const NETLINK_METHODS: readonly string[] = Object.keys(netlink);
/** Every method of {@link HypervisorAdapter}. */
export const HYPERVISOR_METHODS: readonly string[] = Object.keys(hypervisor);

/** The names among `methods` that `adapter` does not have as functions (own or inherited, or through a Proxy). */
export function missingMethods(adapter: object, methods: readonly string[]): string[] {
  return methods.filter((m) => typeof (adapter as Record<string, unknown>)[m] !== 'function');
}
