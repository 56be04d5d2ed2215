/**
 * The fields a library caller may give in an endpoint input (`createEndpoint`) and a sandbox
 * config (`openStore`'s `sandbox`, `createStore`, `resolveSandbox`). Any other field is refused
 * with a typed error naming it, as the daemon refuses an unknown field of a request body: a typo
 * (`mtus`, `vcpu`) was silently ignored — the endpoint or the store made with a default instead.
 * The lists are `Record<keyof …, true>`, so the compiler keeps them complete and exact.
 */
import type { EndpointInput } from '../../machines/index.js';
import type { SandboxInit } from './sandbox-config.js';

const endpoint: Record<keyof EndpointInput, true> = {
  id: true,
  idx: true,
  tapName: true,
  ifName: true,
  hwAddr: true,
  mac: true,
  mtu: true,
  netnsPath: true,
  netnsCreated: true,
  vcpus: true,
  multiQueue: true,
  vhost: true,
  model: true,
  fromPersist: true,
};

const sandbox: Record<keyof SandboxInit, true> = {
  netnsPath: true,
  hostNetns: true,
  netnsCreated: true,
  vcpus: true,
  vhost: true,
  multiQueue: true,
  qmp: true,
  hotplugBuses: true,
};

/** Every field of {@link EndpointInput}. */
export const ENDPOINT_INPUT_FIELDS: readonly string[] = Object.keys(endpoint);
/** Every field of {@link SandboxInit} (a stored `SandboxConfig` has no other). */
export const SANDBOX_FIELDS: readonly string[] = Object.keys(sandbox);

/** The first own enumerable field of `o` not in `known`, or null. */
export function unknownField(o: object, known: readonly string[]): string | null {
  return Object.keys(o).find((k) => !known.includes(k)) ?? null;
}
