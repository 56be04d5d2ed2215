/**
 * The QMP sequences of hot plug and hot unplug of a tap-backed virtio-net NIC, over a
 * {@link QmpClient}. Errors are {@link QmpError}s; the adapter maps them to `HypervisorError`s.
 */
import type { NicSpec } from '../adapters/hypervisor.js';
import { multiQueue, vectorsFor } from './nic-spec.js';
import { QmpError, type QmpClient } from './qmp-client.js';
import { SimulatedCrash } from '../adapters/faults.js';
import { placementOf, takeCensus, type DeviceCensus } from './device-census.js';
import { hex2, slotKey, type Slot } from './topology.js';

/**
 * `netdev_add` arguments: by fd names only (never `ifname=`); with vhost, the vhost fds by name
 * (`vhostfds`, as upstream's ExecuteNetdevAddByFds). Without vhost fd names QEMU opens
 * /dev/vhost-net itself.
 */
export function netdevAddArgs(nic: Pick<NicSpec, 'netdevId' | 'vhost'>, fdNames: readonly string[], vhostFdNames: readonly string[] = []): Record<string, unknown> {
  const a: Record<string, unknown> = { type: 'tap', id: nic.netdevId, fds: fdNames.join(':') };
  if (nic.vhost) a['vhost'] = true;
  if (nic.vhost && vhostFdNames.length > 0) a['vhostfds'] = vhostFdNames.join(':');
  return a;
}

/** The name a vhost fd is passed under: derived from the netdev id and the queue index. */
export const vhostFdName = (netdevId: string, queue: number): string => `${netdevId}-vhostfd${queue}`;

/** `getfd` each vhost fd under {@link vhostFdName}; on failure release the names already passed. */
export async function passVhostFds(client: QmpClient, netdevId: string, fds: readonly number[]): Promise<string[]> {
  const names: string[] = [];
  try {
    for (const [i, fd] of fds.entries()) {
      const fdname = vhostFdName(netdevId, i);
      await client.execute('getfd', { fdname }, { fds: [fd] });
      names.push(fdname);
    }
    return names;
  } catch (e) {
    if (!(e instanceof SimulatedCrash)) await releaseFdNames(client, names);
    throw e;
  }
}

/** `device_add` arguments for `slot`. */
export function deviceAddArgs(nic: Pick<NicSpec, 'netdevId' | 'deviceId' | 'mac' | 'queues'>, slot: Slot): Record<string, unknown> {
  const a: Record<string, unknown> = {
    id: nic.deviceId,
    driver: 'virtio-net-pci',
    romfile: '',
    bus: slot.bus,
    addr: `0x${slot.addr.toString(16)}`,
    mac: nic.mac,
    netdev: nic.netdevId,
  };
  if (multiQueue(nic.queues)) {
    a['mq'] = 'on';
    a['vectors'] = vectorsFor(nic.queues);
  }
  return a;
}

/** Is this QMP error "the thing does not exist"? */
export function isNotFound(e: unknown): boolean {
  return e instanceof QmpError && e.kind === 'command' && e.qmpClass === 'DeviceNotFound';
}

/**
 * QEMU 7.2's refusals of a `device_add` at function 0 of a slot someone else uses: function 0
 * taken (`PCI: slot 0 function 0 not available for virtio-net-pci, in use by …`), or another
 * function of the slot taken (`PCI: 2.0 indicates single function, but 2.1 is already populated.`).
 */
const SLOT_TAKEN = [/^PCI: slot \d+ function \d+ not available for /, /^PCI: [0-9a-f]+\.0 indicates single function, but [0-9a-f]+\.[0-7] is already populated/];

/** Is this QEMU refusing a `device_add` because its slot is taken (see {@link SLOT_TAKEN})? */
export function isSlotTaken(e: unknown): boolean {
  return e instanceof QmpError && e.kind === 'command' && SLOT_TAKEN.some((re) => re.test(e.desc));
}

/**
 * Is this QEMU refusing a `device_add` because `bus` cannot take hot-plugged devices (QEMU 7.2:
 * `Bus 'br0' does not support hotplugging` — a pci-bridge with shpc=off while ACPI PCI hotplug
 * is off)?
 */
export function isBusNotHotpluggable(e: unknown, bus: string): boolean {
  return e instanceof QmpError && e.kind === 'command' && e.desc === `Bus '${bus}' does not support hotplugging`;
}

/**
 * Why QEMU refused a `device_add` onto `bus` for good, or undefined: a bus that cannot take
 * hot-plugged devices ({@link isBusNotHotpluggable}), or a root port created with `hotplug=off`
 * (QEMU 7.2: `Hot-plug failed: unsupported by the port device 'rp0'`; the adapter's first ask on a
 * connection does not read `hotplug`, so this refusal is how it learns).
 */
export function isBusRefusal(e: unknown, bus: string): string | undefined {
  if (isBusNotHotpluggable(e, bus)) return 'QEMU refused to hot plug into it: a pci-bridge needs shpc=on, or ACPI PCI hotplug on';
  if (e instanceof QmpError && e.kind === 'command' && e.desc === `Hot-plug failed: unsupported by the port device '${bus}'`) return 'hotplug=off';
  return undefined;
}

/** Is this the answer to a second device_del while one is pending? */
export function isUnplugPending(e: unknown): boolean {
  return e instanceof QmpError && e.kind === 'command' && /already in the process of unplug/i.test(e.desc);
}

/** The ids under `/machine/peripheral`. */
export async function peripheralIds(client: QmpClient): Promise<string[]> {
  const list = (await client.execute('qom-list', { path: '/machine/peripheral' })) as { name: string; type: string }[];
  return list.filter((p) => p.type.startsWith('child<')).map((p) => p.name);
}

/** Where a device sits: its bus id, its slot, and the PCI path from the root bus down to it. */
export interface DevicePlacement {
  bus: string;
  addr: number;
  /** `bridgeSlot/devSlot` (`bridgeSlot/…/devSlot` behind nested controllers), when its bus belongs to a device reached from the root bus. */
  pciPath?: string;
}

/** How many controllers deep {@link devicePlacement} walks up at most (a loop guard). */
const MAX_DEPTH = 8;

/**
 * Ask QEMU where `/machine/peripheral/<id>` sits (qom-get parent_bus + addr; addr is a devfn), and
 * walk up through the controllers whose bus it is on to the root bus for the PCI path.
 */
export async function devicePlacement(client: QmpClient, id: string): Promise<DevicePlacement> {
  const dev = `/machine/peripheral/${id}`;
  const addrOf = (path: string): Promise<number | undefined> =>
    client.execute('qom-get', { path, property: 'addr' }).then(
      (v) => (typeof v === 'number' ? v : undefined),
      (e: unknown) => {
        if (e instanceof QmpError && e.kind === 'command') return undefined; // not a PCI device
        throw e;
      },
    );
  const [busPath, devfn] = (await Promise.all([client.execute('qom-get', { path: dev, property: 'parent_bus' }), addrOf(dev)])) as [string, number | undefined];
  const bus = busPath.slice(busPath.lastIndexOf('/') + 1);
  const addr = typeof devfn === 'number' ? devfn >> 3 : -1;
  const out: DevicePlacement = { bus, addr };
  if (addr < 0) return out;
  const slots = [addr];
  let parentBus = busPath;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const parentDev = parentBus.slice(0, parentBus.lastIndexOf('/'));
    if (!parentDev.startsWith('/machine/peripheral')) break; // the root bus (/machine/q35/pcie.0) or no bus of a device
    const parentDevfn = await addrOf(parentDev);
    if (parentDevfn === undefined) return out;
    slots.unshift(parentDevfn >> 3);
    const up = await client.execute('qom-get', { path: parentDev, property: 'parent_bus' }).catch((e: unknown) => {
      if (e instanceof QmpError && e.kind === 'command') return undefined;
      throw e;
    });
    if (typeof up !== 'string') return out;
    parentBus = up;
  }
  if (slots.length > 1 && !parentBus.slice(0, parentBus.lastIndexOf('/')).startsWith('/machine/peripheral')) out.pciPath = slots.map(hex2).join('/');
  return out;
}

/**
 * The occupied positions (`bus:addr` keys) on the buses of `slots`, asked from QEMU — so slot
 * bookkeeping survives adapter restarts. Devices created without an id (`-device
 * virtio-serial-pci,bus=rp0`, as other launchers do) occupy slots too: the census lists both
 * containers. What the census already places (the devices with an id on the root bus, the
 * controllers discovery read) costs nothing; any other device one `qom-get parent_bus`, and
 * `addr` only on a bridge's bus (a root port takes one device, at slot 0: QEMU refuses any other).
 */
export async function occupiedSlots(client: QmpClient, slots: readonly Slot[], census?: DeviceCensus): Promise<Set<string>> {
  const look = census ?? (await takeCensus(client));
  /** The candidate addrs per bus id. */
  const addrs = new Map<string, Set<number>>();
  for (const s of slots) addrs.set(s.bus, (addrs.get(s.bus) ?? new Set()).add(s.addr));
  const used = new Set<string>();
  await Promise.all(
    look.devices.map(async ({ path }) => {
      const at = await placementOf(client, look, path, false);
      if (!at) return; // removed meanwhile, or not a bus device
      const bus = at.bus.slice(at.bus.lastIndexOf('/') + 1);
      const want = addrs.get(bus);
      if (!want) return;
      if (want.size === 1 && want.has(0)) {
        used.add(slotKey(bus, 0)); // a root port's bus: whatever sits there sits at slot 0
        return;
      }
      const placed = await placementOf(client, look, path);
      if (typeof placed?.devfn === 'number') used.add(slotKey(bus, placed.devfn >> 3));
    }),
  );
  return used;
}

/**
 * The getfd names of an endpoint's fds: derived from the netdev id and the queue index
 * (`<netdevId>-fd0`, `<netdevId>-fd1`, …; `kind` `vhostfd` for vhost fds), so that every process
 * — the one that passed them, a restarted one, recovery — knows them and can `closefd` them.
 * A netdev id starts with a letter, so QEMU never reads a name as an fd number.
 */
export function fdNames(netdevId: string, count: number, kind: 'fd' | 'vhostfd' = 'fd'): string[] {
  return Array.from({ length: count }, (_, i) => `${netdevId}-${kind}${i}`);
}

/**
 * Pass `fds` with getfd, under `names` (one per fd; a string: a per-connection prefix), on
 * failure release the names already passed. Returns the names. A simulated crash releases
 * nothing: a dead process sends nothing more.
 */
export async function passFds(client: QmpClient, fds: readonly number[], names: readonly string[] | string = 'fd'): Promise<string[]> {
  const passed: string[] = [];
  try {
    for (const [i, fd] of fds.entries()) {
      if (typeof names === 'string') passed.push(await client.passFd(fd, names));
      else {
        const fdname = names[i]!;
        // listed before the call: a getfd that timed out may still have landed
        passed.push(fdname);
        await client.passNamedFd(fd, fdname);
      }
    }
    return passed;
  } catch (e) {
    if (!(e instanceof SimulatedCrash)) await releaseFdNames(client, passed);
    throw e;
  }
}

/** `closefd` each name, ignoring errors (names consumed by netdev_add are already gone). */
export async function releaseFdNames(client: QmpClient, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((fdname) => client.execute('closefd', { fdname }).catch(() => undefined)));
}

/**
 * `closefd` each name; idempotent: QEMU's "not found" answer (the name was consumed by
 * netdev_add, closed already, or never passed) is success. Transport errors propagate.
 */
export async function closeFdNames(client: QmpClient, names: readonly string[]): Promise<void> {
  await Promise.all(
    names.map((fdname) =>
      client.execute('closefd', { fdname }).catch((e: unknown) => {
        if (!(e instanceof QmpError && e.kind === 'command')) throw e;
      }),
    ),
  );
}

/** Outcome of {@link unplugSequence}. */
export interface UnplugOutcome {
  /** The device existed when device_del was sent. */
  devicePresent: boolean;
  /** The device removal did not complete (timeout or already pending). */
  stuck: boolean;
  /** Why it is stuck. */
  stuckReason?: string;
  /** The netdev existed and was deleted. */
  netdevDeleted: boolean;
  /** ms from device_del to DEVICE_DELETED (when it came). */
  deleteMs?: number;
}

/**
 * device_del (after subscribing to DEVICE_DELETED with `data.device === deviceId`; `data.path`
 * when `deviceId` is a QOM path: a device without an id), wait at most
 * `timeoutMs`, then netdev_del — also when stuck, so the tap is released. Missing device/netdev
 * are skipped. QMP transport errors propagate.
 */
export async function unplugSequence(client: QmpClient, ids: { deviceId: string; netdevId: string }, timeoutMs: number): Promise<UnplugOutcome> {
  // a device without an id is named by its QOM path: its DEVICE_DELETED has no `device`, only
  // `path` (after a first one for `<path>/virtio-backend`)
  const byPath = ids.deviceId.startsWith('/');
  const sub = client.subscribe('DEVICE_DELETED', (e) => (byPath ? e.data['path'] === ids.deviceId : e.data['device'] === ids.deviceId));
  const out: UnplugOutcome = { devicePresent: true, stuck: false, netdevDeleted: false };
  try {
    const t0 = performance.now();
    try {
      await client.execute('device_del', { id: ids.deviceId });
      try {
        await sub.next(timeoutMs);
        out.deleteMs = performance.now() - t0;
      } catch (e) {
        if (!(e instanceof QmpError && e.kind === 'timeout')) throw e;
        out.stuck = true;
        out.stuckReason = `DEVICE_DELETED for ${ids.deviceId} did not arrive within ${timeoutMs} ms (the guest has not released it: with ACPI PCI hotplug on, QEMU's default, removal waits for the guest OS)`;
      }
    } catch (e) {
      if (isNotFound(e)) out.devicePresent = false;
      else if (isUnplugPending(e)) {
        out.stuck = true;
        out.stuckReason = `device ${ids.deviceId} is already in the process of unplug`;
      } else throw e;
    }
  } finally {
    sub.cancel();
  }
  try {
    await client.execute('netdev_del', { id: ids.netdevId });
    out.netdevDeleted = true;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  return out;
}
