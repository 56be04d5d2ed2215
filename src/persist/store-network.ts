/**
 * upstream's save() and load() of the `Network` section of persist.json, over a store's public
 * API: {@link saveNetwork} writes the endpoints not detached; {@link loadNetwork} creates and
 * adopts every tuntap endpoint of a document.
 */
import { resolveEndpointInput } from '../../machines/index.js';
import { DuplicateEndpointError } from '../runtime/errors.js';
import { freeEndpointId, type EndpointView } from '../runtime/endpoint-view.js';
import type { Tapstore } from '../runtime/tapstore.js';
import { parsePersistNetwork, toPersistNetwork, type PersistNetworkV1, type PersistNetworkV2, type PersistShape } from './persist-json.js';

/**
 * upstream save(): the `Network` section of persist.json for the endpoints not detached, in
 * the v1 (`NetNsPath…`) or 2.x (`NetworkID…`) shape.
 */
export function saveNetwork(store: Tapstore, shape: PersistShape = 'v1'): PersistNetworkV1 | PersistNetworkV2 {
  const eps = store
    .list()
    .filter((v) => v.state !== 'detached')
    .map((v) => ({ name: v.name, tapName: v.tapName, hardAddr: v.hardAddr }));
  return toPersistNetwork(store.sandbox, eps, shape);
}

/**
 * upstream load(), without dropping the endpoint: every tuntap endpoint of the document is
 * created and adopted as hot-attached, so it can still be hot-detached. The whole document is
 * validated first: on any error nothing is created.
 */
export async function loadNetwork(store: Tapstore, doc: unknown): Promise<{ endpoints: EndpointView[]; skipped: Array<{ index: number; type: string }> }> {
  const net = parsePersistNetwork(doc);
  const existing = store.list();
  const ids = new Set(existing.map((v) => v.id));
  const inputs = net.endpoints.map((e) => ({
    idx: e.idx,
    id: freeEndpointId((id) => ids.has(id), e.idx),
    ifName: e.ifName,
    hwAddr: e.hwAddr,
    netnsPath: net.netnsPath,
    netnsCreated: net.netnsCreated,
    vcpus: store.sandbox.vcpus,
    vhost: store.sandbox.vhost,
  }));
  for (const i of inputs) {
    resolveEndpointInput(i);
    for (const v of existing) if (v.idx === i.idx && v.state !== 'detached') throw new DuplicateEndpointError('idx', i.idx);
  }
  const endpoints: EndpointView[] = [];
  for (const i of inputs) {
    const v = store.createEndpoint(i);
    endpoints.push(await store.adopt(v.id));
  }
  return { endpoints, skipped: net.skipped };
}
