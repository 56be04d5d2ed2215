/**
 * What a store keeps of the persist.json documents it loaded, so that `save` gives them back
 * without loss: the document's top-level fields, and its endpoints in their order — the tuntap
 * ones by the store endpoint each became (with their own bytes), every other type verbatim.
 * Journaled as a `note` record (`ep` {@link NETWORK_EP}, note {@link PERSIST_NOTE}) and carried by
 * checkpoints. Pure functions.
 */
import {
  assembleNetwork,
  networkHeader,
  setOwn,
  tuntapEntry,
  type LoadedNetwork,
  type PersistEndpoint,
  type PersistNetworkV1,
  type PersistNetworkV2,
  type PersistShape,
  type SavedEndpoint,
} from './persist-json.js';

/** The `ep` of the note record that carries the loaded documents (not an endpoint id: ids never start with `@`). */
export const NETWORK_EP = '@network';
export const PERSIST_NOTE = 'persist.network';

export type PersistedEntry =
  /** A tuntap endpoint: the store endpoint it became, and its bytes as loaded. */
  | { endpoint: string; raw: unknown }
  /** An endpoint of another type, verbatim. */
  | { other: unknown };

export interface PersistedNetwork {
  shape: PersistShape;
  /**
   * Top-level fields verbatim, in document order; `Endpoints` a placeholder: `null` when the document
   * had `null` (or none), `[]` when it had an array (logs written before this rule have `null` for both).
   */
  header: Record<string, unknown>;
  entries: PersistedEntry[];
}

/** Add a loaded document (its tuntap endpoints became `ids`, in order) to what the store keeps. */
export function mergeLoaded(prev: PersistedNetwork | null, net: LoadedNetwork, ids: readonly string[]): PersistedNetwork {
  const entries: Array<[number, PersistedEntry]> = [
    ...net.endpoints.map((e, i): [number, PersistedEntry] => [e.index, { endpoint: ids[i]!, raw: e.raw }]),
    ...net.skipped.map((o): [number, PersistedEntry] => [o.index, { other: o.raw }]),
  ];
  entries.sort((a, b) => a[0] - b[0]);
  return {
    shape: prev?.shape ?? net.shape,
    header: prev?.header ?? net.header,
    entries: [...(prev?.entries ?? []), ...entries.map(([, e]) => e)],
  };
}

/** Convert a loaded header to another shape (v1 `NetNsPath…` ↔ 2.x `NetworkID…`), other keys kept. */
function headerAs(h: Record<string, unknown>, from: PersistShape, to: PersistShape): Record<string, unknown> {
  if (from === to) return h;
  const out: Record<string, unknown> = {};
  const set = (k: string, v: unknown) => setOwn(out, k, v);
  // a document without Endpoints: Go's nil slice
  const endpoints = h.Endpoints ?? null;
  if (to === 'v1') {
    set('NetNsPath', h.NetworkID);
    set('NetmonPID', 0);
    set('NetNsCreated', h.NetworkCreated ?? false);
    set('Endpoints', endpoints);
  } else {
    set('NetworkID', h.NetNsPath);
    set('Endpoints', endpoints);
    set('NetworkCreated', h.NetNsCreated ?? false);
  }
  const own = from === 'v1' ? ['NetNsPath', 'NetmonPID', 'NetNsCreated', 'Endpoints'] : ['NetworkID', 'NetworkCreated', 'Endpoints'];
  for (const k of Object.keys(h)) if (!own.includes(k)) set(k, h[k]);
  return out;
}

/** A store endpoint as `save` sees it. */
export interface SaveCandidate extends SavedEndpoint {
  id: string;
  /** Detached endpoints are not saved (upstream saves the endpoints of the network). */
  saved: boolean;
}

/**
 * The Network section: the loaded documents' entries in their order (tuntap ones only while their
 * endpoint is not detached, with tapstate's current values), then the endpoints created in
 * tapstate. `shape` defaults to the loaded document's, else v1.
 */
export function saveNetwork(
  sandbox: { netnsPath: string; netnsCreated: boolean },
  endpoints: readonly SaveCandidate[],
  persisted: PersistedNetwork | null,
  shape?: PersistShape,
): PersistNetworkV1 | PersistNetworkV2 {
  const to = shape ?? persisted?.shape ?? 'v1';
  const header = persisted ? headerAs(persisted.header, persisted.shape, to) : networkHeader(sandbox, to);
  const byId = new Map(endpoints.map((e) => [e.id, e]));
  const out: PersistEndpoint[] = [];
  const placed = new Set<string>();
  for (const entry of persisted?.entries ?? []) {
    if ('other' in entry) {
      out.push(entry.other as PersistEndpoint);
      continue;
    }
    const e = byId.get(entry.endpoint);
    placed.add(entry.endpoint);
    if (e?.saved) out.push(tuntapEntry(e, entry.raw));
  }
  for (const e of endpoints) if (e.saved && !placed.has(e.id)) out.push(tuntapEntry(e));
  return assembleNetwork(header, out);
}

/** The kept documents a log record carries (a `persist.network` note), or undefined. */
export function networkOfRecord(r: { k: string; ep: string; note?: string; data?: Record<string, unknown> }): PersistedNetwork | undefined {
  if (r.k !== 'note' || r.ep !== NETWORK_EP || r.note !== PERSIST_NOTE) return undefined;
  return r.data?.network as PersistedNetwork | undefined;
}
