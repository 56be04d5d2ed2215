/**
 * Hot-pluggable slots: what QEMU has ({@link discoverControllers}, asked over QMP) and, for
 * launching a guest-less QEMU, topologies to create (pure).
 *
 * Found in QEMU: every `pcie-root-port` (or `ioh3420`), `pci-bridge` and `pcie-pci-bridge` under
 * `/machine/peripheral` (i.e. created with `-device …,id=ID`) that sits on the machine's root bus
 * (`/machine/q35/pcie.0`, `/machine/i440fx/pci.0`) or behind another such controller (libvirt's
 * q35 layout: a `pcie-pci-bridge` behind a root port). A root port offers one slot (addr 0) unless
 * created with `hotplug=off`; a bridge offers slots 1..31. Whatever the ids.
 *
 * Created by the launcher: PCIe root ports `rp0..rpN` on `pcie.0` (one device each, at addr 0;
 * unplug completes without a guest when ACPI PCI hotplug is off), or SHPC PCI bridges `br0..` with
 * slots 1..30 each (upstream's layout).
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import { HypervisorError } from '../adapters/hypervisor.js';
import { placementOf, takeCensus, type CensusDevice, type DeviceCensus } from './device-census.js';
import type { QmpClient } from './qmp-client.js';

/** One place a NIC can be hot-plugged. */
export interface Slot {
  /** The QEMU bus id to pass as `device_add {bus}` (a root port or bridge id). */
  bus: string;
  /** The device address on that bus (0 for a root port). */
  addr: number;
  /** The slot of the root port / bridge on `pcie.0` (the first half of the PCI path). */
  bridgeAddr: number;
  /**
   * A controller behind another one: the slots below `bridgeAddr` down to it (the PCI path is
   * then `bridgeAddr/via…/addr`, e.g. `02/00/01` for a bridge behind the root port at 02).
   */
  via?: number[];
}

/** A hot-plug topology: the controllers to create and the slots they offer. */
export interface Topology {
  kind: 'root-ports' | 'shpc-bridges';
  /** The slots, in allocation order. */
  slots: Slot[];
  /** `-device` arguments creating the controllers. */
  args: string[];
}

/** Options of {@link rootPortTopology} / {@link shpcBridgeTopology}. */
export interface TopologyOptions {
  /** Number of root ports / bridges. Default 4 (root ports) or 1 (bridges). */
  count?: number;
  /** Slot of the first controller on pcie.0 (next ones follow). Default 3. */
  firstAddr?: number;
  /** Id prefix. Default `rp` / `br`. */
  prefix?: string;
  /** The root bus the controllers sit on: `pcie.0` (q35, default) or `pci.0` (i440fx, bridges only). */
  rootBus?: string;
}

/** Bad topology parameters. */
export class TopologyError extends TapstateError {
  override readonly name = 'TopologyError';
  readonly code = 'TOPOLOGY_INVALID';
}

function check(count: number, firstAddr: number, prefix: string): void {
  if (!Number.isInteger(count) || count < 1) throw new TopologyError(`count: must be an integer >= 1, got ${count}`);
  if (!Number.isInteger(firstAddr) || firstAddr < 1 || firstAddr + count - 1 > 0x1f) {
    throw new TopologyError(`firstAddr: controllers must sit at slots 1..31 of pcie.0, got ${firstAddr}..${firstAddr + count - 1}`);
  }
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(prefix)) throw new TopologyError(`prefix: must be a QEMU id (letter, then letters/digits/_/-), got ${JSON.stringify(prefix)}`);
}

/** PCIe root ports `rp0..rpN-1` at pcie.0 slots `firstAddr..`. */
export function rootPortTopology(opts: TopologyOptions = {}): Topology {
  const count = opts.count ?? 4;
  const firstAddr = opts.firstAddr ?? 3;
  const prefix = opts.prefix ?? 'rp';
  check(count, firstAddr, prefix);
  const slots: Slot[] = [];
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = firstAddr + i;
    slots.push({ bus: `${prefix}${i}`, addr: 0, bridgeAddr: a });
    args.push('-device', `pcie-root-port,id=${prefix}${i},bus=${opts.rootBus ?? 'pcie.0'},chassis=${i + 1},addr=0x${a.toString(16)}`);
  }
  return { kind: 'root-ports', slots, args };
}

/** SHPC PCI bridges `br0..` at pcie.0 slots `firstAddr..`, each with device slots 1..30. */
export function shpcBridgeTopology(opts: TopologyOptions = {}): Topology {
  const count = opts.count ?? 1;
  const firstAddr = opts.firstAddr ?? 3;
  const prefix = opts.prefix ?? 'br';
  check(count, firstAddr, prefix);
  const slots: Slot[] = [];
  const args: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = firstAddr + i;
    args.push('-device', `pci-bridge,id=${prefix}${i},bus=${opts.rootBus ?? 'pcie.0'},chassis_nr=${i + 1},addr=0x${a.toString(16)},shpc=on`);
    for (let s = 1; s <= 30; s++) slots.push({ bus: `${prefix}${i}`, addr: s, bridgeAddr: a });
  }
  return { kind: 'shpc-bridges', slots, args };
}

/** Two lower-case hex digits. */
export function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Upstream's PciPath string `bridgeSlot/devSlot`, e.g. `03/00` (`02/00/01` behind two controllers). */
export function pciPathOf(slot: Slot): string {
  return [slot.bridgeAddr, ...(slot.via ?? []), slot.addr].map(hex2).join('/');
}

/** The first slot not in `used` (keys `bus:addr`), or undefined. */
export function firstFreeSlot(slots: readonly Slot[], used: ReadonlySet<string>): Slot | undefined {
  return slots.find((s) => !used.has(slotKey(s.bus, s.addr)));
}

/** The key of an occupied position. */
export function slotKey(bus: string, addr: number): string {
  return `${bus}:${addr}`;
}

/** QOM types of PCIe root ports: one hot-pluggable slot each (addr 0). */
export const ROOT_PORT_TYPES: readonly string[] = ['pcie-root-port', 'ioh3420'];
/** QOM types of PCI-PCI bridges: hot-pluggable slots 1..31 each (SHPC or ACPI). */
export const BRIDGE_TYPES: readonly string[] = ['pci-bridge', 'pcie-pci-bridge'];
/** Device slots a bridge offers to hot plug (QEMU: "Valid slots are between 1 and 31"). */
export const BRIDGE_SLOTS = { first: 1, last: 31 } as const;
/** QOM types of PCI expander bridges: another PCI root bus (controllers behind one are not used). */
export const EXPANDER_TYPES: readonly string[] = ['pxb-pcie', 'pxb'];
/** A parent bus that is the machine's root bus: `/machine/q35/pcie.0`, `/machine/i440fx/pci.0`. */
const ROOT_BUS_RE = /^\/machine\/(?:q35|i440fx)\/[^/]+$/;

/** A root port or bridge QEMU has, as {@link discoverControllers} found it. */
export interface FoundController {
  /** Its QEMU id (= the id of the bus it provides, the `device_add {bus}`). */
  id: string;
  /** Its QOM type: `pcie-root-port`, `ioh3420`, `pci-bridge`. */
  type: string;
  /** Its slot on the root bus, or its root-bus ancestor's (the first of the PCI path); -1 when not reached from the root bus. */
  rootSlot: number;
  /** Behind other controllers: the slots below `rootSlot` down to it (see {@link Slot.via}). */
  via?: number[];
  /** The QOM path of the bus it sits on. */
  parentBus: string;
  /** Why it offers no slot (not reached from the root bus, `hotplug=off`); absent when usable. */
  unusable?: string;
  /** The slots it offers, in allocation order (empty when unusable). */
  slots: Slot[];
}

/** Is `e` a QMP command error (QEMU answered)? Structural, to keep this file free of the client. */
function isCommandError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { kind?: unknown }).kind === 'command';
}

/** Options of {@link discoverControllers}. */
export interface DiscoverOptions {
  /** A look at QEMU's devices taken for this ask (shared with the slot occupancy). Default: taken here. */
  census?: DeviceCensus;
  /**
   * Read each root port's `hotplug` property (one `qom-get` each), and place the controllers
   * created without an id, to report why they are unusable. Default true. The adapter's first
   * ask on a connection skips both: a root port with `hotplug=off` refuses the `device_add`
   * ({@link isBusRefusal}), and an id-less controller is never used.
   */
  full?: boolean;
}

/** A QOM path's last component. */
const lastOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * Ask QEMU for its hot-plug controllers: the root ports and bridges under `/machine/peripheral`,
 * with their placement, ordered by their slot on the root bus (then id). Unusable ones are listed
 * too (with the reason) so that an out-of-slots error can say what was found: `hotplug=off`,
 * behind a PCI expander bridge, and (with `full`) those created without an id, named by their QOM path.
 */
export async function discoverControllers(client: Pick<QmpClient, 'execute'>, opts: DiscoverOptions = {}): Promise<FoundController[]> {
  const full = opts.full ?? true;
  const census = opts.census ?? (await takeCensus(client));
  const isController = (type: string): boolean => ROOT_PORT_TYPES.includes(type) || BRIDGE_TYPES.includes(type);
  const named = census.devices.filter((d) => d.id !== undefined && isController(d.type)) as (CensusDevice & { id: string })[];
  const anonymous = full ? census.devices.filter((d) => d.id === undefined && isController(d.type)) : [];
  const expanders = new Map(census.devices.flatMap((d) => (d.id !== undefined && EXPANDER_TYPES.includes(d.type) ? [[d.id, d.type] as const] : [])));
  const get = async (path: string, property: string): Promise<unknown> => {
    try {
      return await client.execute('qom-get', { path, property });
    } catch (e) {
      if (isCommandError(e)) return undefined; // removed meanwhile, or no such property
      throw e;
    }
  };
  const raw = await Promise.all(
    [...named, ...anonymous].map(async (d) => {
      const [at, hotplug] = await Promise.all([placementOf(client, census, d.path), full && ROOT_PORT_TYPES.includes(d.type) ? get(d.path, 'hotplug') : Promise.resolve(true)]);
      return at ? { ...d, parentBus: at.bus, devfn: at.devfn, hotplug } : undefined; // undefined: gone
    }),
  );
  const byId = new Map(raw.flatMap((r) => (r?.id !== undefined ? [[r.id, r] as const] : [])));
  /** The slots from the root bus down to controller `id`, or undefined when not reached from it. */
  const pathOf = (id: string, seen: Set<string>): number[] | undefined => {
    const r = byId.get(id);
    if (!r || typeof r.devfn !== 'number' || seen.has(id)) return undefined;
    if (ROOT_BUS_RE.test(r.parentBus)) return [r.devfn >> 3];
    // the bus of a controller is named after its id: /machine/peripheral/<id>/<id>
    const m = /^\/machine\/peripheral\/([^/]+)\/\1$/.exec(r.parentBus);
    const up = m ? pathOf(m[1]!, new Set(seen).add(id)) : undefined;
    return up && [...up, r.devfn >> 3];
  };
  const found = raw.flatMap((r): FoundController[] => {
    if (!r) return [];
    const { id, type, parentBus, hotplug, devfn } = r;
    if (id === undefined) {
      // its bus is named by QEMU (pcie.N / pci.N, the first one like the root bus) and device_add
      // bus= takes a bus name only, never a QOM path (QEMU 7.2)
      const c: FoundController = { id: r.path, type, rootSlot: ROOT_BUS_RE.test(parentBus) && typeof devfn === 'number' ? devfn >> 3 : -1, parentBus, slots: [] };
      c.unusable = 'created without an id: QEMU names its bus itself (pcie.N or pci.N, the first one like the root bus) and device_add bus= takes a bus name, not a QOM path; give it an id';
      return [c];
    }
    const path = pathOf(id, new Set());
    const c: FoundController = { id, type, rootSlot: path ? path[0]! : -1, parentBus, slots: [] };
    if (path && path.length > 1) c.via = path.slice(1);
    const expander = expanders.get(lastOf(parentBus));
    if (!path && expander && /^\/machine\/unattached\//.test(parentBus)) {
      c.unusable = `behind PCI expander bridge ${expander} ${lastOf(parentBus)}: its own PCI root bus, which a PCI path (slots from the root bus) cannot name`;
    } else if (!path) c.unusable = `not on the root bus nor behind a root port or bridge found here (on ${parentBus})`;
    else if (hotplug === false) c.unusable = 'hotplug=off';
    else c.slots = controllerSlots(c);
    return [c];
  });
  const order = (c: FoundController): number[] => (c.rootSlot < 0 ? [-1] : [c.rootSlot, ...(c.via ?? [])]);
  const cmp = (a: number[], b: number[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  };
  return found.sort((a, b) => cmp(order(a), order(b)) || a.id.localeCompare(b.id));
}

/** The slots one usable controller offers: addr 0 of a root port, 1..31 of a bridge. */
export function controllerSlots(c: Pick<FoundController, 'id' | 'type' | 'rootSlot' | 'via'>): Slot[] {
  const slot = (addr: number): Slot => (c.via ? { bus: c.id, addr, bridgeAddr: c.rootSlot, via: [...c.via] } : { bus: c.id, addr, bridgeAddr: c.rootSlot });
  if (ROOT_PORT_TYPES.includes(c.type)) return [slot(0)];
  const out: Slot[] = [];
  for (let a = BRIDGE_SLOTS.first; a <= BRIDGE_SLOTS.last; a++) out.push(slot(a));
  return out;
}

/** The slots of the usable controllers, restricted to `buses` when given (in discovery order). */
export function slotsOf(found: readonly FoundController[], buses?: readonly string[]): Slot[] {
  return found.filter((c) => !buses || buses.includes(c.id)).flatMap((c) => c.slots);
}

/** No free hot-pluggable slot: names every controller found, and the restriction if any. */
export class NoSlotError extends HypervisorError {
  override readonly name = 'NoSlotError';
  override readonly code = 'NO_SLOT';
  /** The root ports and bridges QEMU has (usable or not). */
  readonly found: FoundController[];
  /** The restriction in force (`init --hotplug-bus`), if any. */
  readonly hotplugBuses: string[] | null;

  constructor(op: string, found: readonly FoundController[], used: ReadonlySet<string>, hotplugBuses?: readonly string[]) {
    super({ kind: 'no-slot', op, message: `${op}: ${describeNoSlot(found, used, hotplugBuses)}` });
    this.found = [...found];
    this.hotplugBuses = hotplugBuses ? [...hotplugBuses] : null;
  }
}

/** The message of a {@link NoSlotError}. */
export function describeNoSlot(found: readonly FoundController[], used: ReadonlySet<string>, buses?: readonly string[]): string {
  const restrict = buses ? `; restricted to hotplug bus(es) ${buses.join(',')}` : '';
  const missing = buses ? buses.filter((b) => !found.some((c) => c.id === b)) : [];
  const missingText = missing.length ? ` (${missing.join(', ')}: no such root port or bridge)` : '';
  if (found.length === 0) {
    return (
      'no hot-pluggable slot: QEMU has no pcie-root-port, pci-bridge or pcie-pci-bridge with an id on its root bus ' +
      '(start it with e.g. -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3 per NIC on q35, ' +
      'or -device pci-bridge,id=br0,bus=pci.0,chassis_nr=1,addr=0x5,shpc=on on -machine pc)' +
      restrict + missingText
    );
  }
  const parts = found.map((c) => {
    const at = c.rootSlot >= 0 ? ` at ${[c.rootSlot, ...(c.via ?? [])].map(hex2).join('/')}` : '';
    if (c.unusable) return `${c.type} ${c.id}${at} (${c.unusable})`;
    const inUse = c.slots.filter((s) => used.has(slotKey(s.bus, s.addr))).length;
    const allowed = !buses || buses.includes(c.id) ? '' : ', not allowed';
    return `${c.type} ${c.id}${at} (${inUse} of ${c.slots.length} slot(s) in use${allowed})`;
  });
  return `no free hot-pluggable slot: found ${parts.join(', ')}${restrict}${missingText}`;
}
