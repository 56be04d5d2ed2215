/**
 * The netns scan, as upstream's network scan (`createEndpointsFromScan` → `createEndpoint`) finds
 * the endpoints of a sandbox: list the links of the netns in order, skip loopback, and make a
 * TuntapEndpoint of each `tun` link in TAP mode — `idx` counting the accepted links in scan
 * order, its name as `TuntapInterface.Name`, its MAC and MTU. A TUN-mode or undetermined link is
 * refused with upstream's messages; other kinds are not tuntap endpoints and are left alone.
 *
 * Idempotent: a link that already is an endpoint of the store (by `TuntapInterface.Name`), and
 * the store's own `tap<idx>_kata` taps, are recognised and add nothing. Differences from upstream
 * (docs/divergences.md): a refused link does not abort the scan, and links without addresses are
 * not skipped.
 */
import type { LinkInfo, NetlinkAdapter } from '../adapters/netlink.js';
import type { EndpointView } from '../runtime/endpoint-view.js';
import { Tapstore } from '../runtime/tapstore.js';
import { StoreOptionError } from '../runtime/store-options.js';

/** Upstream's netlink.TuntapMode numbers: 0 undetermined, 1 TUN, 2 TAP. */
export function tuntapModeNumber(mode: 'tun' | 'tap' | 'undetermined' | undefined): number {
  return mode === 'tun' ? 1 : mode === 'tap' ? 2 : 0;
}

/** upstream createEndpoint's refusal of a tuntap link in `mode`, verbatim; null for TAP (2). */
export function tuntapModeRefusal(mode: number): string | null {
  switch (mode) {
    case 0:
      return 'Network device mode not determined correctly. Mount sysfs in caller';
    case 1:
      return 'tun networking device not yet supported';
    case 2:
      return null;
    default:
      return `tuntap network ${mode} mode unsupported`;
  }
}

export type ScanAction =
  /** A new TuntapEndpoint (created, or with `dryRun` to be created). */
  | { action: 'add'; idx: number; id: string }
  /** Already an endpoint of the store (a second scan): nothing added. */
  | { action: 'known'; id: string }
  /** One of the store's own taps (`tap<idx>_kata`): not a scan candidate. */
  | { action: 'own-tap'; id: string }
  /** A tuntap link upstream refuses: its message. */
  | { action: 'refused'; message: string }
  /** Not a tuntap endpoint: left alone. */
  | { action: 'other' }
  | { action: 'loopback' };

export type ScanEntry = { name: string; kind: string; mac: string; mtu: number } & ScanAction;

export interface ScanReport {
  netns: string;
  dryRun: boolean;
  entries: ScanEntry[];
  /** The endpoints created (empty with `dryRun`). */
  added: EndpointView[];
}

/**
 * Plan a scan (pure): what becomes of each link, given the store's endpoints. `freeId` names a
 * new endpoint for an idx.
 */
export function planScan(links: readonly LinkInfo[], endpoints: readonly Pick<EndpointView, 'id' | 'idx' | 'name' | 'tapName' | 'state'>[], freeId: (idx: number) => string): ScanEntry[] {
  const live = endpoints.filter((e) => e.state !== 'detached');
  const out: ScanEntry[] = [];
  let idx = 0;
  for (const l of [...links].sort((a, b) => a.index - b.index)) {
    const base = { name: l.name, kind: l.kind, mac: l.mac, mtu: l.mtu };
    if (l.flags.loopback) {
      out.push({ ...base, action: 'loopback' });
      continue;
    }
    const own = live.find((e) => e.tapName === l.name);
    if (own) {
      out.push({ ...base, action: 'own-tap', id: own.id });
      continue;
    }
    if (l.kind === 'tun') {
      const refusal = tuntapModeRefusal(tuntapModeNumber(l.tun?.mode));
      if (refusal) {
        out.push({ ...base, action: 'refused', message: refusal });
        continue;
      }
      const known = live.find((e) => e.name === l.name);
      const clash = live.find((e) => e.idx === idx);
      if (known) out.push({ ...base, action: 'known', id: known.id });
      else if (clash) out.push({ ...base, action: 'refused', message: `idx ${idx} is already used by endpoint ${clash.id}` });
      else out.push({ ...base, action: 'add', idx, id: freeId(idx) });
    } else out.push({ ...base, action: 'other' });
    // upstream: idx counts every link that became an endpoint (of any type), in scan order
    idx++;
  }
  return out;
}

/**
 * Scan the store's netns and create a TuntapEndpoint for each new TAP-mode tuntap link (nothing
 * with `dryRun`). Errors of `createEndpoint` (an idx already used by another endpoint) propagate
 * before anything after them is created.
 */
export async function scanNetns(store: Tapstore, netlink: Pick<NetlinkAdapter, 'listLinks'>, opts: { dryRun?: boolean } = {}): Promise<ScanReport> {
  // what a JavaScript caller may pass: typed errors naming the argument, never a TypeError
  if (!(store instanceof Tapstore)) throw new StoreOptionError('store', 'object', 'must be a Tapstore (openStore / Tapstore.open)');
  if (typeof netlink !== 'object' || netlink === null || typeof netlink.listLinks !== 'function') throw new StoreOptionError('netlink', 'methods', 'must be a netlink adapter (with listLinks())');
  const netns = store.sandbox.netnsPath;
  const links = await netlink.listLinks(netns);
  const views = store.list();
  const taken = new Set(views.map((v) => v.id));
  const entries = planScan(links, views, (idx) => {
    let id = `ep${idx}`;
    for (let n = 2; taken.has(id); n++) id = `ep${idx}-${n}`;
    taken.add(id);
    return id;
  });
  const added: EndpointView[] = [];
  if (!opts.dryRun)
    for (const e of entries) if (e.action === 'add') added.push(store.createEndpoint({ id: e.id, idx: e.idx, ifName: e.name, hwAddr: e.mac, mtu: e.mtu }));
  return { netns, dryRun: opts.dryRun === true, entries, added };
}
