/**
 * Hot-pluggable slots of a guest-less q35 machine. Pure.
 *
 * Default: PCIe root ports `rp0..rpN` on `pcie.0` (one device each, at addr 0; unplug completes
 * without a guest when ACPI PCI hotplug is off). Alternative: SHPC PCI bridges `br0..` with
 * slots 1..30 each (upstream's layout).
 */
import { TapstateError } from '../../machines/tapstate-error.js';

/** One place a NIC can be hot-plugged. */
export interface Slot {
  /** The QEMU bus id to pass as `device_add {bus}` (a root port or bridge id). */
  bus: string;
  /** The device address on that bus (0 for a root port). */
  addr: number;
  /** The slot of the root port / bridge on `pcie.0` (the first half of the PCI path). */
  bridgeAddr: number;
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
    args.push('-device', `pcie-root-port,id=${prefix}${i},bus=pcie.0,chassis=${i + 1},addr=0x${a.toString(16)}`);
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
    args.push('-device', `pci-bridge,id=${prefix}${i},bus=pcie.0,chassis_nr=${i + 1},addr=0x${a.toString(16)},shpc=on`);
    for (let s = 1; s <= 30; s++) slots.push({ bus: `${prefix}${i}`, addr: s, bridgeAddr: a });
  }
  return { kind: 'shpc-bridges', slots, args };
}

/** Two lower-case hex digits. */
export function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Upstream's PciPath string `bridgeSlot/devSlot`, e.g. `03/00`. */
export function pciPathOf(slot: Slot): string {
  return `${hex2(slot.bridgeAddr)}/${hex2(slot.addr)}`;
}

/** The first slot not in `used` (keys `bus:addr`), or undefined. */
export function firstFreeSlot(slots: readonly Slot[], used: ReadonlySet<string>): Slot | undefined {
  return slots.find((s) => !used.has(slotKey(s.bus, s.addr)));
}

/** The key of an occupied position. */
export function slotKey(bus: string, addr: number): string {
  return `${bus}:${addr}`;
}
