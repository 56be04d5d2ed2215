/**
 * An in-memory model of QEMU as seen over QMP: netdevs, virtio-net devices on hot-pluggable
 * PCIe root ports, cold-plug staging, stuck unplugs and VMM death. It implements
 * {@link HypervisorAdapter} and behaves like a real QEMU (the contract suite
 * `test/adapters/hypervisor.contract.ts` runs the same cases against the model and QEMU):
 *
 * - root ports `rp0..rp{n-1}` sit at PCI slots 3, 4, …; a NIC on `rpI` has pciPath `<slot hex2>/00`;
 * - a hot-plugged NIC unplugs at once (native PCIe, no guest), unless the model is told to make
 *   the unplug stick; a cold-plugged NIC never unplugs without a guest. A stuck unplug keeps the
 *   device listed with `unplugPending` until {@link MemoryHypervisor.reset} (QEMU's
 *   `system_reset`), while its netdev is deleted;
 * - with a {@link MemoryKernel}, the queue fds QEMU receives are dup'd in the kernel's fd table
 *   (held by `hypervisor`) and released when the netdev goes or the VMM dies, so "no fd left
 *   open" can be checked globally.
 *
 * Deterministic: no clock, no randomness.
 */
import {
  HypervisorError,
  type ColdPlugResult,
  type DeviceProbe,
  type HotplugResult,
  type HypervisorAdapter,
  type HypervisorErrorKind,
  type NicSpec,
  type UnplugSpec,
  pickTakeover,
} from '../hypervisor.js';
import { NetlinkError } from '../netlink.js';
import type { MemoryKernel } from './kernel.js';

/** Options of {@link MemoryHypervisor}. */
export interface MemoryHypervisorOptions {
  /** Number of hot-pluggable root ports (default 8). */
  slots?: number;
  /** Whether `/dev/vhost-net` is available (default false, like the reference machine). */
  vhostAvailable?: boolean;
  /** The kernel whose fd table models the fds QEMU holds. */
  kernel?: MemoryKernel;
}

/** A netdev as the model sees it. */
export interface MemoryNetdev {
  id: string;
  queues: number;
  vhost: boolean;
  /** The hypervisor's own copies of the queue fds, then of the vhost fds (kernel fd numbers when a kernel is given). */
  fds: number[];
  /** The vhost fds among `fds`. */
  vhostFds?: number[];
}

/** A device as the model sees it. */
export interface MemoryDevice {
  id: string;
  netdevId: string;
  mac: string;
  queues: number;
  /** Root port id, e.g. `rp0`. */
  bus: string;
  pciPath: string;
  /** device_del was sent and has not completed. */
  unplugPending: boolean;
  /** Came from a cold-plug (`-device` on the command line) rather than device_add. */
  coldPlugged: boolean;
}

interface Staged {
  nic: NicSpec;
  fds: number[];
}

/** PCI slot of root port `rpI` (the reference command line puts rp0 at addr 0x3). */
const FIRST_PORT_SLOT = 3;

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** The in-memory hypervisor. */
export class MemoryHypervisor implements HypervisorAdapter {
  // State is TS-`private` rather than `#private` so that the model keeps working behind
  // withFaults' Proxy (which may call methods with the Proxy as `this`).
  /** Number of hot-pluggable root ports. (Plain fields, not getters: safe through `withFaults`' Proxy.) */
  readonly slots: number;
  /** Whether vhost-net is available. */
  readonly vhostAvailable: boolean;
  private readonly _kernel: MemoryKernel | undefined;
  private readonly _netdevs = new Map<string, MemoryNetdev>();
  private readonly _devices = new Map<string, MemoryDevice>();
  /** Cold-plugged NICs waiting for {@link boot}, by netdev id. */
  private readonly _staged = new Map<string, Staged>();
  private readonly _stuckIds = new Set<string>();
  private readonly _commands: string[] = [];
  private _stickNext = false;
  private _alive = true;
  private _closed = false;

  constructor(opts: MemoryHypervisorOptions = {}) {
    const slots = opts.slots ?? 8;
    if (!Number.isInteger(slots) || slots < 0 || slots > 29) {
      throw new HypervisorError({ kind: 'invalid', op: 'MemoryHypervisor', message: `slots must be an integer in 0..29, got ${slots}` });
    }
    this.slots = slots;
    this.vhostAvailable = opts.vhostAvailable ?? false;
    this._kernel = opts.kernel;
  }

  // ---------------------------------------------------------------- model controls

  /** The next device_del (of any device) never completes. */
  stickNextUnplug(): void {
    this._stickNext = true;
  }

  /** device_del of these device ids never completes (until {@link unstick}). */
  stickUnplugOf(...deviceIds: string[]): void {
    for (const id of deviceIds) this._stuckIds.add(id);
  }

  /** Forget every stuck-unplug instruction (pending unplugs stay pending until {@link reset}). */
  unstick(): void {
    this._stickNext = false;
    this._stuckIds.clear();
  }

  /** `system_reset`: every pending unplug completes. */
  reset(): void {
    this._requireAlive('system_reset');
    this._commands.push('system_reset');
    for (const d of [...this._devices.values()]) if (d.unplugPending) this._devices.delete(d.id);
  }

  /**
   * The VMM starts with the cold-plug arguments handed out so far: each staged NIC becomes a
   * netdev plus a device on the next free root port (cold-plugged devices never unplug without
   * a guest). Fails with `no-slot` (nothing changed) when the ports do not suffice.
   */
  boot(): void {
    this._requireAlive('boot');
    const staged = [...this._staged.values()];
    const free = this._freeSlots();
    if (staged.length > free.length) {
      throw this._error('no-slot', 'boot', `${staged.length} cold-plugged NICs but ${free.length} free root ports`);
    }
    for (const [i, s] of staged.entries()) {
      const slot = free[i]!;
      this._netdevs.set(s.nic.netdevId, { id: s.nic.netdevId, queues: s.nic.queues, vhost: s.nic.vhost, fds: s.fds });
      this._devices.set(s.nic.deviceId, this._device(s.nic, slot, true));
    }
    this._staged.clear();
    this._commands.push('boot');
  }

  /** The VMM dies: every device and netdev is gone, its fds are released, calls fail `disconnected`. */
  kill(): void {
    if (!this._alive) return;
    this._alive = false;
    for (const n of this._netdevs.values()) this._release(n.fds);
    for (const s of this._staged.values()) this._release(s.fds);
    this._netdevs.clear();
    this._devices.clear();
    this._staged.clear();
  }

  /** Devices, sorted by id. */
  devices(): MemoryDevice[] {
    return [...this._devices.values()].sort((a, b) => a.id.localeCompare(b.id)).map((d) => ({ ...d }));
  }

  /** Netdevs, sorted by id. */
  netdevs(): MemoryNetdev[] {
    return [...this._netdevs.values()].sort((a, b) => a.id.localeCompare(b.id)).map((n) => ({ ...n, fds: [...n.fds] }));
  }

  /** The QMP-like commands that reached the VMM, in order (e.g. `netdev_add network-0`). */
  commands(): readonly string[] {
    return [...this._commands];
  }

  /** Whether {@link close} was called. */
  isClosed(): boolean {
    return this._closed;
  }

  // ---------------------------------------------------------------- HypervisorAdapter

  async hotplug(nic: NicSpec, fds: readonly number[], vhostFds: readonly number[] = []): Promise<HotplugResult> {
    const op = 'hotplug';
    this._validate(op, nic, fds);
    this._validateVhost(op, nic, fds, vhostFds);
    this._requireAlive(op);
    if (nic.vhost && !this.vhostAvailable && vhostFds.length === 0) {
      throw this._error('vhost-unavailable', op, `vhost requested for ${nic.netdevId} but /dev/vhost-net is unavailable`);
    }
    if (this._netdevs.has(nic.netdevId)) {
      throw this._error('command-failed', 'netdev_add', `Duplicate ID '${nic.netdevId}' for netdev`, 'GenericError');
    }
    if (this._devices.has(nic.deviceId)) {
      // QEMU: netdev_add succeeded, device_add failed, the netdev is deleted again.
      this._commands.push(`netdev_add ${nic.netdevId}`, `netdev_del ${nic.netdevId}`);
      throw this._error('command-failed', 'device_add', `Duplicate device ID '${nic.deviceId}'`, 'GenericError');
    }
    const slot = this._freeSlots()[0];
    if (slot === undefined) {
      throw this._error('no-slot', op, `no free hot-pluggable slot among ${this.slots} root ports`);
    }
    const copies = this._dup([...fds, ...vhostFds]);
    this._commands.push(`netdev_add ${nic.netdevId}`, `device_add ${nic.deviceId}`);
    this._netdevs.set(nic.netdevId, { id: nic.netdevId, queues: nic.queues, vhost: nic.vhost, fds: copies, vhostFds: copies.slice(fds.length) });
    const dev = this._device(nic, slot, false);
    this._devices.set(nic.deviceId, dev);
    return { pciPath: dev.pciPath };
  }

  async hotunplug(spec: UnplugSpec): Promise<void> {
    const op = 'hotunplug';
    if (typeof spec?.netdevId !== 'string' || typeof spec.deviceId !== 'string') {
      throw this._error('invalid', op, 'netdevId and deviceId must be strings');
    }
    if (spec.deviceId === '' && typeof spec.mac !== 'string') throw this._error('invalid', op, 'mac must be a string when deviceId is unknown ("")');
    this._requireAlive(op);
    let nic: { netdevId: string; deviceId: string } = spec;
    if (spec.deviceId === '') {
      // a taken-over NIC: found by its MAC, cross-checked with its netdev (like qom-list + qom-get)
      const mac = spec.mac!.toLowerCase();
      const found = pickTakeover(op, mac, [...this._devices.values()].filter((d) => d.mac === mac).map((d) => ({ deviceId: d.id, netdevId: d.netdevId })), spec.netdevId);
      this._commands.push(`find-nic ${mac}`);
      nic = found ?? { netdevId: spec.netdevId, deviceId: '' };
    }
    const dev = this._devices.get(nic.deviceId);
    let stuck: string | null = null;
    if (dev) {
      this._commands.push(`device_del ${dev.id}`);
      if (dev.unplugPending) {
        stuck = `Device ${dev.id} is already in the process of unplug`;
      } else if (dev.coldPlugged || this._stickNext || this._stuckIds.has(dev.id)) {
        this._stickNext = false;
        dev.unplugPending = true;
        stuck = `device_del ${dev.id}: DEVICE_DELETED never arrived`;
      } else {
        this._devices.delete(dev.id);
      }
    }
    const netdev = this._netdevs.get(nic.netdevId);
    if (netdev) {
      this._commands.push(`netdev_del ${netdev.id}`);
      this._netdevs.delete(netdev.id);
      this._release(netdev.fds);
    }
    if (stuck !== null) throw this._error('unplug-stuck', 'device_del', stuck, stuck.includes('already') ? 'GenericError' : '');
  }

  async coldplug(nic: NicSpec, fds: readonly number[], vhostFds: readonly number[] = []): Promise<ColdPlugResult> {
    const op = 'coldplug';
    this._validate(op, nic, fds);
    this._validateVhost(op, nic, fds, vhostFds);
    if (nic.vhost && !this.vhostAvailable && vhostFds.length === 0) {
      throw this._error('vhost-unavailable', op, `vhost requested for ${nic.netdevId} but /dev/vhost-net is unavailable`);
    }
    const copies = this._dup([...fds, ...vhostFds]);
    const previous = this._staged.get(nic.netdevId);
    if (previous) this._release(previous.fds);
    this._staged.set(nic.netdevId, { nic: { ...nic }, fds: copies });

    const numbers = copies.map((_, i) => 3 + i);
    let netdev =
      fds.length > 0
        ? `tap,id=${nic.netdevId},fds=${numbers.slice(0, fds.length).join(':')}`
        : `tap,id=${nic.netdevId},ifname=${nic.tapName},script=no,downscript=no`;
    if (nic.vhost) netdev += ',vhost=on';
    if (vhostFds.length > 0) netdev += `,vhostfds=${numbers.slice(fds.length).join(':')}`;
    const device = [`driver=virtio-net-pci`, `netdev=${nic.netdevId}`, `mac=${nic.mac}`, 'disable-modern=false'];
    if (fds.length > 0 ? nic.queues > 0 : nic.queues > 1) device.push('mq=on', `vectors=${2 * nic.queues + 2}`);
    device.push('romfile=', `id=${nic.deviceId}`);
    return { args: ['-netdev', netdev, '-device', device.join(',')], inheritFds: copies };
  }

  async probeDevice(deviceId: string): Promise<DeviceProbe> {
    const d = this._alive ? this._devices.get(deviceId) : undefined;
    return d ? { present: true, pciPath: d.pciPath, unplugPending: d.unplugPending } : { present: false };
  }

  async probeNetdev(netdevId: string): Promise<boolean> {
    return this._alive && this._netdevs.has(netdevId);
  }

  async alive(): Promise<boolean> {
    return this._alive;
  }

  async close(): Promise<void> {
    // The adapter gives up the cold-plug copies it still owns; the VMM itself keeps running.
    for (const s of this._staged.values()) this._release(s.fds);
    this._staged.clear();
    this._closed = true;
  }

  // ---------------------------------------------------------------- internals

  private _validate(op: string, nic: NicSpec, fds: readonly number[]): void {
    const bad = (field: string, rule: string): never => {
      throw this._error('invalid', op, `${op}: ${field} ${rule}`);
    };
    if (typeof nic !== 'object' || nic === null) bad('nic', 'must be an object');
    if (typeof nic.netdevId !== 'string' || !/^[A-Za-z][A-Za-z0-9._-]*$/.test(nic.netdevId)) {
      bad('netdevId', 'must start with a letter and contain only letters, digits, "-", "." and "_"');
    }
    if (typeof nic.deviceId !== 'string' || !/^[A-Za-z][A-Za-z0-9._-]*$/.test(nic.deviceId)) {
      bad('deviceId', 'must start with a letter and contain only letters, digits, "-", "." and "_"');
    }
    if (typeof nic.mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(nic.mac)) {
      bad('mac', 'must be six lower-case colon-separated hex octets');
    }
    if ((parseInt(nic.mac.slice(0, 2), 16) & 1) !== 0) bad('mac', 'must be unicast');
    if (!Number.isInteger(nic.queues) || nic.queues < 0) bad('queues', 'must be an integer ≥ 0');
    if (!Array.isArray(fds) || !fds.every((fd) => Number.isInteger(fd) && fd >= 0)) bad('fds', 'must be non-negative integers');
    const want = Math.max(1, nic.queues);
    if (op === 'hotplug' && fds.length !== want) bad('fds', `must hold one fd per queue (${want}), got ${fds.length}`);
    if (op === 'coldplug' && fds.length !== 0 && fds.length !== want) {
      bad('fds', `must hold one fd per queue (${want}) or none (ifname= form), got ${fds.length}`);
    }
    if (op === 'coldplug' && fds.length === 0 && (typeof nic.tapName !== 'string' || nic.tapName.length === 0)) {
      bad('tapName', 'must be set when no fds are given');
    }
  }

  private _validateVhost(op: string, nic: NicSpec, fds: readonly number[], vhostFds: readonly number[]): void {
    if (!Array.isArray(vhostFds) || vhostFds.length === 0) return;
    if (!nic.vhost) throw this._error('invalid', op, `${op}: vhostFds given but vhost is off`);
    if (vhostFds.length !== fds.length) throw this._error('invalid', op, `${op}: vhostFds must hold one fd per queue fd (${fds.length}), got ${vhostFds.length}`);
  }

  private _requireAlive(op: string): void {
    if (!this._alive) throw this._error('disconnected', op, `${op}: the VMM is gone (QMP connection closed)`);
  }

  /** Root-port indexes with no device (a device pending unplug still occupies its port). */
  private _freeSlots(): number[] {
    const used = new Set([...this._devices.values()].map((d) => d.bus));
    const free: number[] = [];
    for (let i = 0; i < this.slots; i++) if (!used.has(`rp${i}`)) free.push(i);
    return free;
  }

  private _device(nic: NicSpec, slot: number, coldPlugged: boolean): MemoryDevice {
    return {
      id: nic.deviceId,
      netdevId: nic.netdevId,
      mac: nic.mac,
      queues: nic.queues,
      bus: `rp${slot}`,
      pciPath: `${hex2(FIRST_PORT_SLOT + slot)}/00`,
      unplugPending: false,
      coldPlugged,
    };
  }

  /** The VMM receives copies of `fds` (getfd/SCM_RIGHTS). Dead fds are refused like QEMU's netdev_add. */
  private _dup(fds: readonly number[]): number[] {
    if (!this._kernel) return [...fds];
    const k = this._kernel;
    const dead = fds.filter((fd) => !k.fdAlive(fd) && !k.isVhostFd(fd));
    if (dead.length > 0) {
      throw this._error('command-failed', 'getfd', `fds ${dead.join(', ')} are closed or not attached to a tap`, 'GenericError');
    }
    try {
      return k.dupFds(fds);
    } catch (e) {
      if (e instanceof NetlinkError) throw this._error('command-failed', 'getfd', e.message, 'GenericError');
      throw e;
    }
  }

  private _release(fds: readonly number[]): void {
    if (this._kernel && fds.length > 0) this._kernel.releaseFds(fds);
  }

  private _error(kind: HypervisorErrorKind, op: string, message: string, qmpClass?: string): HypervisorError {
    return new HypervisorError({ kind, op, message, ...(qmpClass ? { qmpClass } : {}) });
  }
}
