/**
 * The store side of `save` and `load`, as free functions over what a store holds: plan a load
 * (validate the whole document, name the endpoints, probe which taps exist) before anything is
 * written, and build the saved document. Only `Tapstore.save`/`load` call these.
 */
import { normalPath } from '../runtime/sandbox-path.js';
import { resolveEndpointInput, type EndpointContext, type EndpointInput } from '../../machines/index.js';
import type { NetlinkAdapter } from '../adapters/netlink.js';
import { DuplicateEndpointError, NetnsMismatchError } from '../runtime/errors.js';
import { parsePersistNetwork, PersistFormatError, type LoadedNetwork, type PersistNetworkV1, type PersistNetworkV2, type PersistShape } from './persist-json.js';
import { mergeLoaded, NETWORK_EP, PERSIST_NOTE, saveNetwork, type PersistedNetwork } from './persisted-network.js';

/** What `load` did. */
export interface LoadResult<V> {
  /** The tuntap endpoints created: hot-attached (adopted) when their tap exists, else `created`. */
  endpoints: V[];
  /** Endpoints of other types: kept verbatim for `save`, not managed. */
  skipped: Array<{ index: number; type: string }>;
}

export interface LoadPlan {
  net: LoadedNetwork;
  inputs: Array<{ input: EndpointInput & { id: string }; tapExists: boolean }>;
  skipped: Array<{ index: number; type: string }>;
}

export interface LoadDeps {
  /** A free endpoint id for `idx`, not in `taken`. */
  freeId(idx: number, taken: ReadonlySet<string>): string;
  /** Is `idx` used by an endpoint that is not detached? */
  idxInUse(idx: number): boolean;
  netlink: Pick<NetlinkAdapter, 'probeLink' | 'netnsExists'>;
}

/** The sandbox defaults a loaded endpoint takes. */
interface SandboxDefaults {
  /** The store's netns: the only one a loaded endpoint may act in (docs/security.md). */
  netnsPath: string;
  netnsCreated: boolean;
  vcpus: number;
  vhost?: boolean;
  multiQueue?: boolean;
}

/**
 * Validate a document completely and plan its load. Throws (PersistFormatError,
 * NetnsMismatchError, EndpointInputError, DuplicateEndpointError) before anything is written.
 * A document naming a netns other than the store's (`""` included, unless the store's is `""`)
 * is refused before any kernel call.
 */
export async function loadPlan(doc: unknown, sandbox: SandboxDefaults, deps: LoadDeps): Promise<LoadPlan> {
  const net = parsePersistNetwork(doc);
  // one spelling per path (src/runtime/sandbox-path.ts): `/run/netns/a/` names the store's `/run/netns/a`
  if (normalPath(net.netnsPath) !== sandbox.netnsPath)
    throw new NetnsMismatchError(net.shape === 'v1' ? 'NetNsPath' : 'NetworkID', net.netnsPath, sandbox.netnsPath);
  const taken = new Set<string>();
  const resolved: Array<EndpointInput & { id: string }> = [];
  for (const e of net.endpoints) {
    const id = deps.freeId(e.idx, taken);
    taken.add(id);
    const input: EndpointInput & { id: string } = {
      id,
      idx: e.idx,
      ifName: e.ifName,
      hwAddr: e.hwAddr,
      netnsPath: sandbox.netnsPath,
      // never delete a tap the document says belongs to someone else
      netnsCreated: sandbox.netnsCreated && net.netnsCreated,
      vcpus: sandbox.vcpus,
      vhost: sandbox.vhost ?? false,
      ...(sandbox.multiQueue === false ? { multiQueue: false } : {}),
      fromPersist: true,
    };
    resolveEndpointInput(input);
    if (deps.idxInUse(e.idx)) throw new DuplicateEndpointError('idx', e.idx);
    resolved.push(input);
  }
  // never attached (no tap in the netns): the endpoint must not come back as hot-attached. A
  // link of that name that is not a TAP-mode tuntap is not ours: never adopted, so never deleted
  const inputs: LoadPlan['inputs'] = [];
  for (const input of resolved) {
    const ns = input.netnsPath;
    const link = ns === '' || (await deps.netlink.netnsExists(ns)) ? await deps.netlink.probeLink(ns, `tap${input.idx}_kata`) : null;
    inputs.push({ input, tapExists: link !== null && link.kind === 'tun' && link.tun?.mode === 'tap' });
  }
  return { net, inputs, skipped: net.skipped.map((s) => ({ index: s.index, type: s.type })) };
}

/** The note record that keeps the loaded document, and what the store keeps from now on. */
export function loadRecords(prev: PersistedNetwork | null, plan: LoadPlan): [{ k: 'note'; ep: string; note: string; data: Record<string, unknown> }, PersistedNetwork] {
  const network = mergeLoaded(prev, plan.net, plan.inputs.map((i) => i.input.id));
  return [{ k: 'note', ep: NETWORK_EP, note: PERSIST_NOTE, data: { network } }, network];
}

/** The saved document of a store's endpoints (detached ones left out). */
export function saveDocument(
  sandbox: { netnsPath: string; netnsCreated: boolean },
  endpoints: ReadonlyArray<{ id: string; status: string; context: EndpointContext }>,
  network: PersistedNetwork | null,
  shape?: PersistShape,
): PersistNetworkV1 | PersistNetworkV2 {
  // a JavaScript caller may pass anything: an unknown shape is refused, not taken for 2.x
  if (shape !== undefined && shape !== 'v1' && shape !== 'v2')
    throw new PersistFormatError('shape', 'known', `must be "v1" or "v2" (got ${typeof shape === 'string' ? JSON.stringify(shape) : String(shape)})`);
  const candidates = endpoints.map(({ id, status, context: c }) => ({ id, name: c.name, tapName: c.tapName, hardAddr: c.hardAddr, saved: status !== 'done' }));
  return saveNetwork(sandbox, candidates, network, shape);
}
