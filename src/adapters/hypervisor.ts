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
   */
  hotplug(nic: NicSpec, fds: readonly number[]): Promise<HotplugResult>;
  /**
   * Hot-unplug: device_del (subscribe to DEVICE_DELETED first), wait with a timeout, then
   * netdev_del. Idempotent: a missing device or netdev is skipped. A stuck unplug is a
   * {@link HypervisorError} with kind `unplug-stuck` (the netdev is still deleted, releasing the tap).
   */
  hotunplug(nic: Pick<NicSpec, 'netdevId' | 'deviceId'>): Promise<void>;
  /** Cold plug: the arguments (and fds) to start the VMM with. No VMM call. */
  coldplug(nic: NicSpec, fds: readonly number[]): Promise<ColdPlugResult>;
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
  override readonly name = 'HypervisorError';
  readonly code = 'HYPERVISOR_ERROR';
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
