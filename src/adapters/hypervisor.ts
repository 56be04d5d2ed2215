/**
 * The hypervisor adapter contract: the VMM-side effects of a TAP endpoint. Implemented by the
 * QEMU/QMP adapter (`src/qemu/`) and by the in-memory hypervisor model
 * (`src/adapters/memory/`); one contract suite (`test/adapters/hypervisor.contract.ts`) runs
 * against both.
 */

import type { NicInput } from '../../machines/effects.js';
import { TapstateError } from '../../machines/tapstate-error.js';

/** What the VMM needs to build a virtio-net NIC backed by a TAP: the machine's effect input. */
export type NicSpec = NicInput;

/**
 * What hot-unplug needs. `deviceId: ""` means the device id is unknown (a NIC upstream's runtime
 * plugged: it never persists it): the adapter finds the virtio-net device whose MAC is `mac`,
 * cross-checked with its netdev (see `takeoverProblem`), and unplugs that. `queues`: how
 * many fds a hot plug passed under the names derived from the netdev id (`<netdevId>-fd<i>`);
 * the unplug closes any that no netdev took.
 */
export type UnplugSpec = Pick<NicSpec, 'netdevId' | 'deviceId'> & { mac?: string; queues?: number };

/** A virtio-net NIC found in the VMM. */
export interface FoundNic {
  /** Its id; or its QOM path (`/machine/peripheral-anon/device[3]` in QEMU) when it has none: QEMU's `device_del` takes either. */
  deviceId: string;
  netdevId: string;
}

/**
 * Is `nic` (found by its MAC) the one an endpoint whose expected netdev is `expected` may take
 * over? Its netdev must be `expected` (upstream's `br<idx>_kata`), or tapstate's own pair
 * (`virtio-net-X` backed by `net-X`: a NIC a tapstate store plugged, saved and loaded again).
 * Returns why not, or null.
 */
export function takeoverProblem(nic: FoundNic, expected: string): string | null {
  if (nic.netdevId === expected) return null;
  if (nic.deviceId.startsWith('virtio-net-') && nic.netdevId === `net-${nic.deviceId.slice('virtio-net-'.length)}`) return null;
  return `device ${nic.deviceId} is backed by netdev ${nic.netdevId || '(none)'}, not ${expected}`;
}

/**
 * Pick the NIC to take over among those carrying the MAC: the one(s) passing
 * `takeoverProblem`. None carrying the MAC: null (already gone). Carrying it but failing
 * the cross-check, or more than one passing: a {@link HypervisorError} (`invalid`) — a device
 * that cannot be proved ours is never unplugged.
 */
export function pickTakeover(op: string, mac: string, candidates: readonly FoundNic[], expected: string): FoundNic | null {
  if (candidates.length === 0) return null;
  const ok = candidates.filter((c) => takeoverProblem(c, expected) === null);
  if (ok.length === 1) return ok[0]!;
  const why = ok.length > 1 ? `${ok.length} devices carry MAC ${mac} and pass the check (${ok.map((c) => c.deviceId).join(', ')})` : candidates.map((c) => takeoverProblem(c, expected)).join('; ');
  throw new HypervisorError({ kind: 'invalid', op, message: `${op}: the NIC with MAC ${mac} cannot be taken over: ${why}` });
}

export interface HotplugResult {
  /** PCI path `bridgeSlot/devSlot` (upstream's PciPath string), e.g. `02/00`. */
  pciPath: string;
}

export interface ColdPlugResult {
  /** The `-netdev` and `-device` argument pairs, e.g. `['-netdev', 'tap,id=…', '-device', 'driver=virtio-net-pci,…']`. */
  args: string[];
  /**
   * The fds the VMM must inherit, in the order the args number them (fds=3:4 → inherit these
   * at 3 and 4). Empty when the `ifname=` form is used. The adapter owns (dup'd) copies; the
   * caller still closes its own.
   */
  inheritFds: number[];
}

export interface DeviceProbe {
  present: boolean;
  /** The PCI path, when present and known. */
  pciPath?: string;
  /** true when an unplug was requested and has not completed (QEMU: "already in the process of unplug"). */
  unplugPending?: boolean;
}

export interface HypervisorAdapter {
  /**
   * Hot-plug: pass the queue fds (getfd + SCM_RIGHTS), netdev_add, device_add on a free
   * hot-pluggable slot. A failed device_add undoes the netdev_add. The caller keeps ownership of
   * `fds` and closes its copies afterwards whatever the outcome (QEMU holds its own).
   * `vhostFds` (vhost on): one open `/dev/vhost-net` fd per queue, passed with `getfd` and given
   * as `vhostfds` (the caller keeps and closes its copies the same way); without them a vhost NIC
   * needs `/dev/vhost-net` (else `vhost-unavailable`).
   */
  hotplug(nic: NicSpec, fds: readonly number[], vhostFds?: readonly number[]): Promise<HotplugResult>;
  /**
   * Hot-unplug: device_del (subscribe to DEVICE_DELETED first), wait with a timeout, then
   * netdev_del, then release any fd a hot plug passed for this netdev (`queues` of them) that no
   * netdev took. Idempotent: a missing device, netdev or fd is skipped. A stuck unplug is a
   * {@link HypervisorError} with kind `unplug-stuck` (the netdev is still deleted, releasing the tap).
   * `deviceId: ""` (a taken-over NIC): the device is found by `mac` and its netdev (see {@link UnplugSpec}).
   */
  hotunplug(nic: UnplugSpec): Promise<void>;
  /** Cold plug: the arguments (and fds) to start the VMM with. No VMM call. */
  coldplug(nic: NicSpec, fds: readonly number[], vhostFds?: readonly number[]): Promise<ColdPlugResult>;
  /** Probe: is a device with this id present? */
  probeDevice(deviceId: string): Promise<DeviceProbe>;
  /** Probe: is a netdev with this id present? */
  probeNetdev(netdevId: string): Promise<boolean>;
  /** Is the VMM reachable at all (false: it died or never ran → its devices are gone)? */
  alive(): Promise<boolean>;
  close(): Promise<void>;
}

export type HypervisorErrorKind =
  /** The VMM answered with an error (QMP `class`/`desc`). */
  | 'command-failed'
  /** device_del did not complete within the timeout, or an unplug is already pending. */
  | 'unplug-stuck'
  /** No free hot-pluggable slot. */
  | 'no-slot'
  /** vhost requested but unavailable. */
  | 'vhost-unavailable'
  /** The connection closed, the VMM died or answered garbage. */
  | 'disconnected'
  /** A command got no answer in time. */
  | 'timeout'
  /** Bad arguments (caught before talking to the VMM). */
  | 'invalid';

export class HypervisorError extends TapstateError {
  override readonly name: string = 'HypervisorError';
  readonly code: string = 'HYPERVISOR_ERROR';
  readonly kind: HypervisorErrorKind;
  /** The operation: `hotplug`, `hotunplug`, `netdev_add`, `device_del`, … */
  readonly op: string;
  /** QMP error class (`GenericError`, `DeviceNotFound`, …) when the VMM answered one. */
  readonly qmpClass: string;

  constructor(init: { kind: HypervisorErrorKind; op: string; message: string; qmpClass?: string }) {
    super(init.message);
    this.kind = init.kind;
    this.op = init.op;
    this.qmpClass = init.qmpClass ?? '';
  }
}
