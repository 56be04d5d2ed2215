/**
 * One look at the devices QEMU has, shared by hot-plug controller discovery
 * ({@link discoverControllers}) and slot occupancy ({@link occupiedSlots}) on the same ask, so
 * that neither lists a container or reads a placement the other already has.
 *
 * QEMU 7.2's monitor reads a command one byte per main-loop iteration (~5 µs of QEMU per byte
 * received; docs/benchmarks.md): what costs is the commands and bytes sent, not the answers. So:
 * - the children of `/machine/peripheral` (`-device …,id=ID`) and `/machine/peripheral-anon`
 *   (`device[N]`, no id) with their types: two `qom-list`s;
 * - where each device with an id on the root bus sits: one `query-pci` (its bus-0 entry; the
 *   devices behind bridges are not used: QEMU lists them only once the guest firmware numbered
 *   the bridges' secondary buses, never on a `-S` guest), and the root bus's QOM path from one
 *   `qom-get parent_bus` of one of them — instead of `parent_bus` + `addr` of each;
 * - all of it pipelined: four commands, two waits.
 * Placements read later on the same ask are kept in {@link DeviceCensus.placements}.
 */
import { QmpError, type QmpClient } from './qmp-client.js';

/** A device under one of the two containers. */
export interface CensusDevice {
  /** Its QOM path. */
  path: string;
  /** Its id (`/machine/peripheral/<id>`); absent under `/machine/peripheral-anon`. */
  id?: string;
  /** Its QOM type (`pcie-root-port`, `virtio-net-pci`, …). */
  type: string;
}

/**
 * Where a device sits: its parent bus's QOM path, and its devfn (`slot << 3 | function`): null
 * when it has none (not a PCI device), undefined when not asked yet.
 */
export interface Placement {
  bus: string;
  devfn?: number | null;
}

/** What one look found. */
export interface DeviceCensus {
  devices: CensusDevice[];
  /** Placements known on this ask, by device QOM path (the root-bus ones from `query-pci`). */
  placements: Map<string, Placement>;
}

/** The two containers of `-device`s. */
const CONTAINERS = [
  { path: '/machine/peripheral', named: true },
  { path: '/machine/peripheral-anon', named: false },
] as const;

const isCommandError = (e: unknown): boolean => e instanceof QmpError && e.kind === 'command';

/**
 * Take a {@link DeviceCensus}: `query-pci` and the two `qom-list`s sent together, then one
 * `qom-get parent_bus` of a device with an id that `query-pci` puts on the root bus (sent as soon
 * as `query-pci` answers, while QEMU may still be reading the `qom-list`s).
 */
export async function takeCensus(client: Pick<QmpClient, 'execute'>): Promise<DeviceCensus> {
  const root = client
    .execute('query-pci')
    .catch((e: unknown) => {
      if (isCommandError(e)) return []; // no PCI: every placement is asked
      throw e;
    })
    .then(async (pci) => {
      const devfns = rootBusDevfns(pci);
      const first = devfns.keys().next().value as string | undefined;
      if (first === undefined) return { devfns, bus: undefined };
      const bus = await client.execute('qom-get', { path: `/machine/peripheral/${first}`, property: 'parent_bus' }).catch((e: unknown) => {
        if (isCommandError(e)) return undefined; // removed meanwhile
        throw e;
      });
      return { devfns, bus: typeof bus === 'string' ? bus : undefined };
    });
  const lists = Promise.all(
    CONTAINERS.map(async (c) => {
      const list = (await client.execute('qom-list', { path: c.path })) as { name: string; type: string }[];
      return list.flatMap((p): CensusDevice[] => {
        const type = /^child<(.+)>$/.exec(p.type)?.[1];
        if (!type) return [];
        const path = `${c.path}/${p.name}`;
        return [c.named ? { path, id: p.name, type } : { path, type }];
      });
    }),
  );
  const [{ devfns, bus }, found] = await Promise.all([root, lists]);
  const devices = found.flat();
  const placements = new Map<string, Placement>();
  if (bus !== undefined) {
    for (const d of devices) {
      const devfn = d.id === undefined ? undefined : devfns.get(d.id);
      if (devfn !== undefined) placements.set(d.path, { bus, devfn });
    }
  }
  return { devices, placements };
}

/** The devfn of each device with an id on bus 0, from a `query-pci` answer (empty unless exactly one bus-0 entry). */
export function rootBusDevfns(pci: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(pci)) return out;
  const roots = pci.filter((b) => (b as { bus?: unknown })?.bus === 0) as { devices?: unknown }[];
  if (roots.length !== 1 || !Array.isArray(roots[0]!.devices)) return out;
  for (const d of roots[0]!.devices as { qdev_id?: unknown; slot?: unknown; function?: unknown }[]) {
    if (typeof d?.qdev_id === 'string' && d.qdev_id !== '' && typeof d.slot === 'number' && typeof d.function === 'number') out.set(d.qdev_id, (d.slot << 3) | d.function);
  }
  return out;
}

/**
 * The placement of `path`, from the census or asked (`qom-get parent_bus`, and `addr` unless
 * `addr` is false), then kept in the census. Undefined: gone, or on no bus.
 */
export async function placementOf(client: Pick<QmpClient, 'execute'>, census: DeviceCensus, path: string, addr = true): Promise<Placement | undefined> {
  const known = census.placements.get(path);
  if (known && (known.devfn !== undefined || !addr)) return known;
  const get = (property: string): Promise<unknown> =>
    client.execute('qom-get', { path, property }).catch((e: unknown) => {
      if (isCommandError(e)) return undefined; // removed meanwhile, or no such property (not a bus / PCI device)
      throw e;
    });
  const [bus, devfn] = await Promise.all([known ? known.bus : get('parent_bus'), addr ? get('addr') : undefined]);
  if (typeof bus !== 'string') return undefined;
  const p: Placement = addr ? { bus, devfn: typeof devfn === 'number' ? devfn : null } : { bus };
  census.placements.set(path, p);
  return p;
}
