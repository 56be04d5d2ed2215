/**
 * The real hypervisor adapter: QEMU over QMP (see {@link HypervisorAdapter}).
 *
 * One QMP connection, opened lazily and reopened after it drops (a restarted adapter, or a
 * reconnect after a transport error). The hot-pluggable slots (the root ports and bridges QEMU
 * has, whatever their ids) and which of them are free are found by asking QEMU, so bookkeeping
 * survives adapter restarts; slots being plugged by this adapter are reserved in memory meanwhile.
 */
import fs from 'node:fs';
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
} from '../adapters/hypervisor.js';
import { findNicsByMac } from './find-nic.js';
import { coldplugArgs, fdNumbers } from './coldplug.js';
import {
  closeFdNames,
  deviceAddArgs,
  devicePlacement,
  fdNames,
  isNotFound,
  isBusRefusal,
  isSlotTaken,
  netdevAddArgs,
  passFds,
  passVhostFds,
  peripheralIds,
  releaseFdNames,
  unplugSequence,
} from './hotplug.js';
import { SimulatedCrash, type FaultPlan } from '../adapters/faults.js';
import { netdevIds } from './info-network.js';
import { checkFds, checkId, checkNic } from './nic-spec.js';
import { QmpClient, QmpError } from './qmp-client.js';
import { closeFd, dupFd, isOpenFd, SyscallError } from './scm-rights.js';
import { attachTapQueues } from './tun-queue.js';
import { SlotOccupancy } from './slot-occupancy.js';
import { takeCensus, type DeviceCensus } from './device-census.js';
import { discoverControllers, firstFreeSlot, NoSlotError, pciPathOf, rootPortTopology, slotKey, slotsOf, type FoundController, type Slot } from './topology.js';

/** Options of {@link QemuHypervisorAdapter}. */
export interface QemuAdapterOptions {
  /** The QMP unix socket (one client at a time: give the adapter its own). */
  qmpPath: string;
  /**
   * Explicit hot-pluggable slots, in allocation order (QEMU is then not asked which exist). Default:
   * discovered from QEMU at hot plug ({@link discoverControllers}). Cold plug places NICs on these
   * slots, by default on root ports rp0..rp3 at pcie.0 slots 3..6 (the launcher's default).
   */
  slots?: readonly Slot[];
  /** Hot plug only onto these root ports / bridges (QEMU ids). Default: any found. */
  hotplugBuses?: readonly string[];
  /** Per-command timeout (ms). Default 5000. */
  commandTimeoutMs?: number;
  /** Connect + greeting timeout (ms). Default 2000. */
  connectTimeoutMs?: number;
  /** How long to wait for DEVICE_DELETED (ms). Default 5000. */
  unplugTimeoutMs?: number;
  /** Is vhost-net usable? Default: `/dev/vhost-net` exists. */
  vhostAvailable?: () => boolean;
  /** First child-side fd number for cold plug. Default 3. */
  coldplugFdBase?: number;
  /**
   * Test only: fault injection at the QMP command level (`method` is the QMP command, e.g.
   * `getfd`), so a crash can land between two commands of one hot plug. A simulated crash is
   * never cleaned up after: it propagates as is.
   */
  qmpFaults?: FaultPlan;
}

/** Last timings, for reports and benches (ms). */
export interface QemuAdapterTimings {
  hotplugMs?: number;
  unplugMs?: number;
  deviceDeletedMs?: number;
}

function toHypervisorError(op: string, e: unknown): HypervisorError {
  if (e instanceof HypervisorError) return e;
  if (e instanceof SyscallError) return new HypervisorError({ kind: 'invalid', op, message: `${op}: fds: ${e.message}` });
  if (e instanceof QmpError) {
    const kind: HypervisorErrorKind = e.kind === 'command' ? 'command-failed' : e.kind === 'timeout' ? 'timeout' : 'disconnected';
    return new HypervisorError({ kind, op: e.command || op, message: `${op}: ${e.message}`, qmpClass: e.qmpClass });
  }
  return new HypervisorError({ kind: 'disconnected', op, message: `${op}: ${(e as Error)?.message ?? String(e)}` });
}

/** Consult `plan` before every QMP command of `client` (test only; see {@link QemuAdapterOptions.qmpFaults}). */
function injectQmpFaults(client: QmpClient, plan: FaultPlan): void {
  const execute = client.execute.bind(client);
  let n = 0;
  client.execute = async (command, args, opts) => {
    const action = plan({ adapter: 'qmp', method: command, args: [args], n: n++ });
    if (action === 'crash-before') throw new SimulatedCrash(`before qmp ${command}`);
    if (typeof action === 'object') throw action.fail;
    const result = await execute(command, args, opts);
    if (action === 'crash-after') throw new SimulatedCrash(`after qmp ${command}`);
    return result;
  };
}

/** QEMU over QMP. */
export class QemuHypervisorAdapter implements HypervisorAdapter {
  private readonly opts: Required<Omit<QemuAdapterOptions, 'slots' | 'hotplugBuses' | 'qmpFaults'>> & {
    slots: readonly Slot[] | undefined;
    hotplugBuses: readonly string[] | undefined;
    qmpFaults?: FaultPlan;
  };
  /** The controllers found on a connection (asked again on a new one, or when no slot is free). */
  private discovered: { client: QmpClient; found: FoundController[] } | undefined;
  /** Controllers whose bus QEMU refused to hot plug into, on one connection, and why. */
  private refused: { client: QmpClient; buses: Map<string, string> } | undefined;
  private client: QmpClient | undefined;
  private connecting: Promise<QmpClient> | undefined;
  private closed = false;
  /** Slots reserved by hot plugs in flight (`bus:addr`). */
  private readonly reserved = new Set<string>();
  /**
   * Netdevs whose `netdev_add` by this adapter succeeded: QEMU consumed their getfd names, so
   * their unplug need not `closefd` them (two commands, ~145 bytes, ~1 ms of QEMU per unplug).
   */
  private readonly fdNamesConsumed = new Set<string>();
  /** The occupied slots, asked once per connection and kept up to date by our plugs and unplugs. */
  private readonly occupancy = new SlotOccupancy();
  /** Device ids whose unplug was requested and did not complete. */
  private readonly pendingUnplug = new Set<string>();
  /**
   * Netdev ids this adapter deleted. QEMU keeps a deleted netdev's name (and `info network`
   * line) while its NIC still exists — e.g. a stuck unplug — although the tap is released.
   */
  private readonly deletedNetdevs = new Set<string>();
  /** Cold plug: dup'd fds we own, in child-position order, and the next position / slot. */
  private readonly coldFds: number[] = [];
  private nextColdFd: number;
  private nextColdSlot = 0;
  /** Timings of the last operations. */
  readonly timings: QemuAdapterTimings = {};

  constructor(options: QemuAdapterOptions) {
    if (typeof options?.qmpPath !== 'string' || options.qmpPath === '') {
      throw new HypervisorError({ kind: 'invalid', op: 'constructor', message: 'qmpPath: must be a non-empty socket path' });
    }
    const slots = options.slots;
    if (slots && slots.length === 0) throw new HypervisorError({ kind: 'invalid', op: 'constructor', message: 'slots: must not be empty' });
    const buses = options.hotplugBuses;
    if (buses !== undefined) {
      if (!Array.isArray(buses) || buses.length === 0) throw new HypervisorError({ kind: 'invalid', op: 'constructor', message: 'hotplugBuses: must be a non-empty list of QEMU ids' });
      for (const b of buses) checkId('constructor', 'hotplugBuses', b);
    }
    const base = options.coldplugFdBase ?? 3;
    if (!Number.isInteger(base) || base < 3) throw new HypervisorError({ kind: 'invalid', op: 'constructor', message: `coldplugFdBase: must be an integer >= 3, got ${base}` });
    for (const [k, v] of [['commandTimeoutMs', options.commandTimeoutMs], ['connectTimeoutMs', options.connectTimeoutMs], ['unplugTimeoutMs', options.unplugTimeoutMs]] as const) {
      if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw new HypervisorError({ kind: 'invalid', op: 'constructor', message: `${k}: must be a positive number of ms, got ${v}` });
    }
    this.opts = {
      qmpPath: options.qmpPath,
      slots,
      hotplugBuses: buses ? [...buses] : undefined,
      commandTimeoutMs: options.commandTimeoutMs ?? 5000,
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      unplugTimeoutMs: options.unplugTimeoutMs ?? 5000,
      vhostAvailable: options.vhostAvailable ?? (() => fs.existsSync('/dev/vhost-net')),
      coldplugFdBase: base,
      ...(options.qmpFaults && { qmpFaults: options.qmpFaults }),
    };
    this.nextColdFd = base;
  }

  async hotplug(nic: NicSpec, fds: readonly number[], vhostFds: readonly number[] = []): Promise<HotplugResult> {
    const op = 'hotplug';
    checkNic(op, nic);
    checkFds(op, fds, nic.queues, true, isOpenFd);
    if (vhostFds.length > 0) {
      if (!nic.vhost) throw new HypervisorError({ kind: 'invalid', op, message: `${op}: vhostFds given but vhost is off` });
      checkFds(op, vhostFds, nic.queues, true, isOpenFd);
    } else this.checkVhost(op, nic);
    const t0 = performance.now();
    const client = await this.connect(op);
    let slot: Slot | undefined;
    try {
      slot = await this.freeSlot(op, client); // reserved until this hot plug ends
      if (nic.queues > 0) attachTapQueues(fds); // IFF_MULTI_QUEUE: QEMU 7.2 aborts on a still-detached queue
      this.fdNamesConsumed.delete(nic.netdevId); // names passed from here on may stay in QEMU
      // names derived from the netdev: a crash between getfd and netdev_add leaves fds in QEMU
      // that a later unplug (recovery's rollback) can closefd by name
      const names = await passFds(client, fds, fdNames(nic.netdevId, fds.length));
      let vhostNames: string[] = [];
      try {
        vhostNames = await passVhostFds(client, nic.netdevId, vhostFds);
        await client.execute('netdev_add', netdevAddArgs(nic, names, vhostNames));
        this.fdNamesConsumed.add(nic.netdevId);
        this.deletedNetdevs.delete(nic.netdevId);
      } catch (e) {
        if (!(e instanceof SimulatedCrash)) await releaseFdNames(client, [...names, ...vhostNames]);
        throw e;
      }
      try {
        for (let takenRetried = false; ; ) {
          try {
            await client.execute('device_add', deviceAddArgs(nic, slot));
            break;
          } catch (e) {
            // whatever QEMU refused, what we believe of its slots may be stale: ask again next time
            if (e instanceof QmpError && e.kind === 'command') this.occupancy.forget();
            const bus: string = slot.bus;
            const refusal = this.opts.slots ? undefined : isBusRefusal(e, bus);
            if (refusal) {
              // a controller QEMU cannot hot plug into (a pci-bridge with shpc=off while ACPI PCI
              // hotplug is off; a root port with hotplug=off): never again on this connection;
              // try the next controller
              this.refusedBuses(client).set(bus, refusal);
            } else if (isSlotTaken(e) && !takenRetried) {
              // someone else plugged a device there since we last asked (which may be a moment
              // ago, on this very hot plug): ask QEMU, try once more
              takenRetried = true;
            } else throw e;
            this.reserved.delete(slotKey(slot.bus, slot.addr));
            slot = undefined;
            slot = await this.freeSlot(op, client);
          }
        }
        this.occupancy.plugged(client, nic.deviceId, slotKey(slot.bus, slot.addr));
      } catch (e) {
        if (e instanceof SimulatedCrash) throw e;
        // Undo the netdev_add (releases QEMU's tap fds). If QEMU is gone, so is the netdev.
        await client.execute('netdev_del', { id: nic.netdevId }).then(
          () => this.deletedNetdevs.add(nic.netdevId),
          () => undefined,
        );
        throw e;
      }
      this.pendingUnplug.delete(nic.deviceId);
      this.timings.hotplugMs = performance.now() - t0;
      return { pciPath: pciPathOf(slot!) };
    } catch (e) {
      if (e instanceof SimulatedCrash) throw e;
      throw toHypervisorError(op, e);
    } finally {
      if (slot) this.reserved.delete(slotKey(slot.bus, slot.addr));
    }
  }

  async hotunplug(spec: UnplugSpec): Promise<void> {
    const op = 'hotunplug';
    checkId(op, 'netdevId', spec?.netdevId);
    const takeover = spec.deviceId === '';
    if (takeover) {
      if (typeof spec.mac !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(spec.mac))
        throw new HypervisorError({ kind: 'invalid', op, message: `${op}: mac must be a MAC when deviceId is unknown (""), got ${JSON.stringify(spec.mac)}` });
    } else checkId(op, 'deviceId', spec?.deviceId);
    const queues = spec.queues ?? 0;
    if (!Number.isInteger(queues) || queues < 0) throw new HypervisorError({ kind: 'invalid', op, message: `${op}: queues must be an integer >= 0, got ${queues}` });
    const t0 = performance.now();
    const client = await this.connect(op);
    let nic: { netdevId: string; deviceId: string } = spec;
    let outcome;
    try {
      if (takeover) {
        // a NIC upstream's runtime plugged: found by its MAC, cross-checked with its netdev
        const found = pickTakeover(op, spec.mac!, await findNicsByMac(client, spec.mac!), spec.netdevId);
        if (!found) {
          // no device with that MAC: only its netdev may be left
          await client.execute('netdev_del', { id: spec.netdevId }).catch((e: unknown) => {
            if (!isNotFound(e)) throw e;
          });
          this.deletedNetdevs.add(spec.netdevId);
          return;
        }
        nic = found;
      }
      outcome = await unplugSequence(client, nic, this.opts.unplugTimeoutMs);
      // fds passed by a hot plug that never reached netdev_add (a crash, a lost reply)
      if (!this.fdNamesConsumed.has(nic.netdevId)) await closeFdNames(client, [...fdNames(nic.netdevId, queues), ...fdNames(nic.netdevId, queues, 'vhostfd')]);
    } catch (e) {
      if (e instanceof SimulatedCrash) throw e;
      throw toHypervisorError(op, e);
    }
    this.timings.unplugMs = performance.now() - t0;
    this.deletedNetdevs.add(nic.netdevId); // deleted now, or already gone
    this.fdNamesConsumed.delete(nic.netdevId);
    if (!outcome.stuck) this.occupancy.unplugged(client, nic.deviceId, outcome.devicePresent);
    if (outcome.deleteMs !== undefined) this.timings.deviceDeletedMs = outcome.deleteMs;
    if (outcome.stuck) {
      this.pendingUnplug.add(nic.deviceId);
      throw new HypervisorError({
        kind: 'unplug-stuck',
        op: 'device_del',
        message: `hotunplug: ${outcome.stuckReason ?? 'unplug did not complete'}; netdev ${nic.netdevId} ${outcome.netdevDeleted ? 'deleted' : 'was already gone'}`,
      });
    }
    this.pendingUnplug.delete(nic.deviceId);
  }

  async coldplug(nic: NicSpec, fds: readonly number[], vhostFds: readonly number[] = []): Promise<ColdPlugResult> {
    const op = 'coldplug';
    checkNic(op, nic);
    checkFds(op, fds, nic.queues, false, isOpenFd);
    if (vhostFds.length > 0) {
      if (!nic.vhost || fds.length === 0) throw new HypervisorError({ kind: 'invalid', op, message: `${op}: vhostFds need vhost on and queue fds` });
      checkFds(op, vhostFds, nic.queues, true, isOpenFd);
    } else this.checkVhost(op, nic);
    const coldSlots = this.opts.slots ?? rootPortTopology().slots;
    const slot = coldSlots[this.nextColdSlot];
    if (!slot) throw new HypervisorError({ kind: 'no-slot', op, message: `coldplug: all ${coldSlots.length} slots already used by cold plugs` });
    const dups: number[] = [];
    try {
      for (const fd of [...fds, ...vhostFds]) dups.push(dupFd(fd));
    } catch (e) {
      for (const d of dups) closeFd(d);
      throw new HypervisorError({ kind: 'invalid', op, message: `coldplug: fds: could not duplicate: ${(e as Error).message}` });
    }
    // the queue fds first, then the vhost fds, at consecutive child-side positions
    const numbers = fdNumbers(this.nextColdFd, dups.length);
    this.nextColdFd += dups.length;
    this.nextColdSlot++;
    this.coldFds.push(...dups);
    return { args: coldplugArgs(nic, numbers.slice(0, fds.length), slot, numbers.slice(fds.length)), inheritFds: dups };
  }

  /**
   * All cold-plug fds this adapter owns, in child-position order (pass as the launcher's
   * `inheritFds`, so they land at `coldplugFdBase`, +1, …).
   */
  coldplugInheritFds(): number[] {
    return [...this.coldFds];
  }

  /** Close the cold-plug fds this adapter owns (after QEMU started with them, or to abandon them). */
  releaseColdplugFds(): void {
    for (const fd of this.coldFds.splice(0)) {
      try {
        closeFd(fd);
      } catch {
        /* already closed */
      }
    }
  }

  /** Read-only. A VMM that cannot be reached has no devices: `{present: false}`. */
  async probeDevice(deviceId: string): Promise<DeviceProbe> {
    const op = 'probeDevice';
    checkId(op, 'deviceId', deviceId);
    return this.probe(op, { present: false }, async (client) => {
      const ids = await peripheralIds(client);
      if (!ids.includes(deviceId)) {
        this.pendingUnplug.delete(deviceId);
        return { present: false };
      }
      const probe: DeviceProbe = { present: true };
      try {
        const p = await devicePlacement(client, deviceId);
        if (p.pciPath) probe.pciPath = p.pciPath;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        return { present: false }; // removed between the two calls
      }
      // QEMU offers no read-only "unplug pending" query; we know it only if we asked for it.
      if (this.pendingUnplug.has(deviceId)) probe.unplugPending = true;
      return probe;
    });
  }

  /**
   * Read-only: parses HMP `info network` (QEMU 7.2 has no QMP query listing netdevs). A netdev
   * this adapter deleted while its NIC lingers (stuck unplug) is still listed by QEMU but its tap
   * is released: reported absent. A fresh adapter cannot know that and reports it present; a
   * following hotunplug then skips the netdev_del (DeviceNotFound).
   */
  async probeNetdev(netdevId: string): Promise<boolean> {
    const op = 'probeNetdev';
    checkId(op, 'netdevId', netdevId);
    return this.probe(op, false, async (client) => {
      const text = await client.execute('human-monitor-command', { 'command-line': 'info network' });
      const listed = netdevIds(typeof text === 'string' ? text : '').has(netdevId);
      if (!listed) this.deletedNetdevs.delete(netdevId);
      return listed && !this.deletedNetdevs.has(netdevId);
    });
  }

  async alive(): Promise<boolean> {
    if (this.closed) return false;
    let client: QmpClient;
    try {
      client = await this.connect('alive');
    } catch (e) {
      if (e instanceof HypervisorError && e.kind === 'disconnected') return false;
      throw e;
    }
    try {
      await client.execute('query-status');
      return true;
    } catch (e) {
      const he = toHypervisorError('alive', e);
      if (he.kind === 'disconnected') return false;
      throw he;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client?.close();
    this.client = undefined;
    this.releaseColdplugFds();
  }

  /**
   * Run a read-only probe. A VMM that cannot be reached (socket gone or refused, also after one
   * reconnect when the connection dropped mid-probe) has no devices: `absent` is returned.
   */
  private async probe<T>(op: string, absent: T, fn: (client: QmpClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let client: QmpClient;
      try {
        client = await this.connect(op);
      } catch (e) {
        if (!this.closed && e instanceof HypervisorError && e.kind === 'disconnected') return absent;
        throw e;
      }
      try {
        return await fn(client);
      } catch (e) {
        const he = toHypervisorError(op, e);
        if (he.kind === 'disconnected' && attempt === 0 && !this.closed) continue;
        throw he;
      }
    }
  }

  /**
   * A free slot, reserved: among the explicit slots, or among those of the controllers QEMU has
   * (asked once per connection). Which are occupied is asked once per connection too, then kept
   * up to date ({@link SlotOccupancy}). Before giving up, both are asked again. Out of slots: {@link NoSlotError}.
   */
  private async freeSlot(op: string, client: QmpClient): Promise<Slot> {
    const buses = this.opts.hotplugBuses;
    for (let fresh = false; ; fresh = true) {
      let found: FoundController[] | undefined;
      let candidates: readonly Slot[];
      // one look at QEMU's devices per ask, shared by discovery and occupancy
      let census: Promise<DeviceCensus> | undefined;
      const look = (): Promise<DeviceCensus> => (census ??= takeCensus(client));
      if (this.opts.slots) candidates = this.opts.slots.filter((s) => !buses || buses.includes(s.bus));
      else {
        // the first ask on a connection reads no `hotplug` property and skips id-less controllers
        // (QEMU's refusal tells); the one before giving up reads everything, for NoSlotError
        if (fresh || this.discovered?.client !== client) this.discovered = { client, found: await discoverControllers(client, { census: await look(), full: fresh }) };
        const refused = this.refusedBuses(client);
        found = this.discovered.found.map((c) => {
          const why = refused.get(c.id);
          return why && !c.unusable ? { ...c, slots: [], unusable: why } : c;
        });
        candidates = slotsOf(found, buses);
      }
      const { used, cached } = await this.occupancy.used(client, candidates, fresh, look);
      for (const r of this.reserved) used.add(r);
      const slot = firstFreeSlot(candidates, used);
      if (slot) {
        this.reserved.add(slotKey(slot.bus, slot.addr));
        return slot;
      }
      if (cached) continue; // what we know may be stale: ask QEMU
      if (!found) throw new HypervisorError({ kind: 'no-slot', op, message: `${op}: no free hot-pluggable slot among ${candidates.length}` });
      if (fresh) throw new NoSlotError(op, found, used, buses);
    }
  }

  /** The buses QEMU refused to hot plug into on `client`, and why (a fresh map on a new connection). */
  private refusedBuses(client: QmpClient): Map<string, string> {
    if (this.refused?.client !== client) this.refused = { client, buses: new Map() };
    return this.refused.buses;
  }

  private checkVhost(op: string, nic: NicSpec): void {
    if (nic.vhost && !this.opts.vhostAvailable()) {
      throw new HypervisorError({ kind: 'vhost-unavailable', op, message: `${op}: vhost requested but /dev/vhost-net is unavailable (QEMU 7.2 would abort)` });
    }
  }

  private async connect(op: string): Promise<QmpClient> {
    if (this.closed) throw new HypervisorError({ kind: 'disconnected', op, message: `${op}: adapter closed` });
    if (this.client?.connected) return this.client;
    this.connecting ??= QmpClient.connect(this.opts.qmpPath, {
      connectTimeoutMs: this.opts.connectTimeoutMs,
      commandTimeoutMs: this.opts.commandTimeoutMs,
    }).then(
      (c) => {
        this.connecting = undefined;
        if (this.closed) {
          c.close();
          throw new HypervisorError({ kind: 'disconnected', op, message: `${op}: adapter closed` });
        }
        if (this.opts.qmpFaults) injectQmpFaults(c, this.opts.qmpFaults);
        this.client = c;
        c.onClose(() => {
          if (this.client === c) this.client = undefined;
        });
        return c;
      },
      (e: unknown) => {
        this.connecting = undefined;
        throw e;
      },
    );
    try {
      return await this.connecting;
    } catch (e) {
      if (e instanceof HypervisorError) throw e;
      if (e instanceof QmpError && e.kind === 'garbled') {
        // Something answers there, but not QMP (an HMP monitor: `-mon …` without mode=control, a
        // serial console): a misconfiguration, never "QEMU is gone" — probes must not say absent.
        throw new HypervisorError({
          kind: 'invalid',
          op,
          message: `${op}: qmpPath ${this.opts.qmpPath} is not a QMP monitor (give QEMU -qmp unix:PATH,server=on,wait=off or -mon chardev=ID,mode=control): ${e.message}`,
        });
      }
      const he = toHypervisorError(op, e);
      // Could not reach QEMU at all (no socket, refused, no greeting): it is not there.
      throw new HypervisorError({ kind: he.kind === 'timeout' ? 'timeout' : 'disconnected', op, message: he.message });
    }
  }
}
