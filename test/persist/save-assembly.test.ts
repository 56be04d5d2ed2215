/**
 * How `save` builds the Network section, function by function (pure, in memory): a loaded
 * tuntap endpoint keeps its own bytes with only tapstate's values brought up to date
 * (tuntapEntry), `Endpoints` goes where the header has it (assembleNetwork), a loaded header
 * converts between v1 and 2.x keeping its other fields (saveNetwork), detached endpoints are
 * left out (saveDocument), and the saved document is an ordinary object the caller may edit.
 */
import { describe, expect, it } from 'vitest';
import { assembleNetwork, parsePersistNetwork, toPersistNetwork, tuntapEntry } from '../../src/persist/persist-json.js';
import { mergeLoaded, saveNetwork } from '../../src/persist/persisted-network.js';
import { saveDocument } from '../../src/persist/store-persist.js';
import type { EndpointContext } from '../../machines/index.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

const raw = (tapIface: Record<string, unknown>) => ({
  Type: 'tuntap',
  Tuntap: { TuntapInterface: { Name: 'eth0', TAPIface: { Name: 'tap0_kata', ...tapIface } }, Extra: 1 },
  After: true,
});
const saved = { name: 'eth0', tapName: 'tap0_kata', hardAddr: '02:00:00:00:00:01' };

describe('tuntapEntry: a loaded endpoint keeps its bytes, tapstate values brought up to date', () => {
  it('nothing changed: the same bytes (an upper-case MAC stays upper case)', () => {
    const r = raw({ HardAddr: '02:00:00:00:00:0A', Addrs: [{ Address: '10.0.0.2/24' }] });
    expect(JSON.stringify(tuntapEntry({ ...saved, hardAddr: '02:00:00:00:00:0a' }, r))).toBe(JSON.stringify(r));
  });

  it('a MAC learned since the load (HardAddr "" → the guest MAC) is written in its place', () => {
    const out = tuntapEntry(saved, raw({ HardAddr: '', Addrs: null }));
    expect(JSON.stringify(out)).toBe(JSON.stringify(raw({ HardAddr: '02:00:00:00:00:01', Addrs: null })));
  });

  it('a TAPIface without HardAddr: still without one while the MAC is unknown, given one once it is known', () => {
    const r = raw({ Addrs: null });
    expect(JSON.stringify(tuntapEntry({ ...saved, hardAddr: '' }, r))).toBe(JSON.stringify(r));
    expect((tuntapEntry(saved, r) as ReturnType<typeof raw>).Tuntap.TuntapInterface.TAPIface).toEqual({ Name: 'tap0_kata', Addrs: null, HardAddr: '02:00:00:00:00:01' });
  });

  it('a changed link name or tap name is rewritten in place; the loaded object itself is not touched', () => {
    const r = raw({ HardAddr: '02:00:00:00:00:01', Addrs: null });
    const before = JSON.stringify(r);
    const out = tuntapEntry({ name: 'eth9', tapName: 'tap3_kata', hardAddr: '02:00:00:00:00:01' }, r) as ReturnType<typeof raw>;
    expect(JSON.stringify(out)).toBe(before.replace('"Name":"eth0"', '"Name":"eth9"').replace('tap0_kata', 'tap3_kata'));
    expect(JSON.stringify(r)).toBe(before);
  });
});

describe('assembleNetwork: Endpoints where the header has it', () => {
  const eps = [tuntapEntry(saved)];
  it('in the placeholder’s place', () => {
    expect(Object.keys(assembleNetwork({ NetworkID: 'x', Endpoints: null, NetworkCreated: false }, eps))).toEqual(['NetworkID', 'Endpoints', 'NetworkCreated']);
  });
  it('after the other fields when the header has none (a loaded document without Endpoints)', () => {
    expect(assembleNetwork({ NetNsPath: 'x', NetNsCreated: true }, eps)).toEqual({ NetNsPath: 'x', NetNsCreated: true, Endpoints: eps });
    // none to write: Go's nil slice, null
    expect(JSON.stringify(assembleNetwork({ NetNsPath: 'x', NetNsCreated: true }, []))).toBe('{"NetNsPath":"x","NetNsCreated":true,"Endpoints":null}');
    // an empty key is just another field
    const out = assembleNetwork({ NetNsPath: 'x', '': 1 }, eps);
    expect(Object.keys(out)).toEqual(['NetNsPath', '', 'Endpoints']);
    expect((out as { Endpoints: unknown }).Endpoints).toBe(eps);
  });
});

const persisted = (doc: unknown) => {
  const net = parsePersistNetwork(doc);
  return mergeLoaded(null, net, net.endpoints.map((e) => `ep${e.idx}`));
};
const candidate = { id: 'ep0', ...saved, saved: true };
const ep0 = raw({ HardAddr: '02:00:00:00:00:01', Addrs: null });
const sandbox = { netnsPath: '/run/netns/s', netnsCreated: true };

describe('saveNetwork: a loaded header in the other shape', () => {
  it('2.x → v1: NetNsPath, NetmonPID 0, NetNsCreated, Endpoints, then the other fields in their order', () => {
    const p = persisted({ Before: 'b', NetworkID: '/run/netns/x', Endpoints: [ep0], NetworkCreated: true, After: [1] });
    expect(JSON.stringify(saveNetwork(sandbox, [candidate], p, 'v1'))).toBe(
      JSON.stringify({ NetNsPath: '/run/netns/x', NetmonPID: 0, NetNsCreated: true, Endpoints: [ep0], Before: 'b', After: [1] }),
    );
  });
  it('v1 → 2.x: NetworkID, Endpoints, NetworkCreated, then the other fields (NetmonPID dropped)', () => {
    const p = persisted({ NetNsPath: '/run/netns/x', NetmonPID: 42, Future: 'f', NetNsCreated: true, Endpoints: [ep0] });
    expect(JSON.stringify(saveNetwork(sandbox, [candidate], p, 'v2'))).toBe(
      JSON.stringify({ NetworkID: '/run/netns/x', Endpoints: [ep0], NetworkCreated: true, Future: 'f' }),
    );
  });
  it('a missing created flag converts to false, never dropped', () => {
    expect(saveNetwork(sandbox, [], persisted({ NetworkID: '/run/netns/x', Endpoints: [] }), 'v1')).toEqual({ NetNsPath: '/run/netns/x', NetmonPID: 0, NetNsCreated: false, Endpoints: [] });
    expect(saveNetwork(sandbox, [], persisted({ NetNsPath: '/run/netns/x', Endpoints: [] }), 'v2')).toEqual({ NetworkID: '/run/netns/x', Endpoints: [], NetworkCreated: false });
  });
  it('an empty list converts as the document wrote it: null (or no Endpoints: Go\'s nil slice) stays null, [] stays []', () => {
    const v1 = (Endpoints: unknown) => JSON.stringify({ NetNsPath: '/run/netns/x', NetmonPID: 0, NetNsCreated: false, Endpoints });
    expect(JSON.stringify(saveNetwork(sandbox, [], persisted({ NetworkID: '/run/netns/x', Endpoints: null, NetworkCreated: false }), 'v1'))).toBe(v1(null));
    expect(JSON.stringify(saveNetwork(sandbox, [], persisted({ NetworkID: '/run/netns/x', NetworkCreated: false }), 'v1'))).toBe(v1(null));
    expect(JSON.stringify(saveNetwork(sandbox, [], persisted({ NetworkID: '/run/netns/x', Endpoints: [], NetworkCreated: false }), 'v1'))).toBe(v1([]));
    // and once there is an endpoint, the list
    expect(saveNetwork(sandbox, [candidate], persisted({ NetworkID: '/run/netns/x', Endpoints: null }), 'v1')).toMatchObject({ Endpoints: [tuntapEntry(saved)] });
  });
  it('the same shape: the header as loaded', () => {
    const doc = { NetworkID: '/run/netns/x', Endpoints: [ep0], NetworkCreated: false, Z: 0 };
    expect(JSON.stringify(saveNetwork(sandbox, [candidate], persisted(doc), 'v2'))).toBe(JSON.stringify(doc));
  });
});

describe('saveDocument: detached endpoints are left out', () => {
  const ctx = (idx: number) => ({ name: `eth${idx}`, tapName: `tap${idx}_kata`, hardAddr: `02:00:00:00:00:0${idx}` }) as EndpointContext;
  it('status done (detached, not yet retired) is not saved; every other status is', () => {
    const doc = saveDocument(sandbox, [
      { id: 'ep1', status: 'active', context: ctx(1) },
      { id: 'ep2', status: 'done', context: ctx(2) },
      { id: 'ep3', status: 'error', context: ctx(3) },
    ], null) as { Endpoints: Array<{ Tuntap: { TuntapInterface: { Name: string } } }> };
    expect(doc.Endpoints.map((e) => e.Tuntap.TuntapInterface.Name)).toEqual(['eth1', 'eth3']);
  });
  it('a loaded endpoint now detached leaves its place; the others keep theirs', () => {
    const p = persisted({ NetNsPath: '/run/netns/x', Endpoints: [ep0, { Type: 'virtual', Veth: {} }] });
    expect(saveDocument(sandbox, [{ id: 'ep0', status: 'done', context: ctx(0) }], p)).toEqual({ NetNsPath: '/run/netns/x', Endpoints: [{ Type: 'virtual', Veth: {} }] });
  });
});

describe('the saved document is an ordinary object: the caller may edit it', () => {
  const edit = (doc: Record<string, unknown>) => {
    for (const k of Object.keys(doc)) doc[k] = 'edited';
    for (const k of Object.keys(doc)) delete doc[k];
    return Object.keys(doc);
  };
  it('fresh (toPersistNetwork), loaded, and loaded then converted', async () => {
    expect(edit(toPersistNetwork(sandbox, [saved]) as unknown as Record<string, unknown>)).toEqual([]);
    const w = memoryWorld();
    const store = await w.open();
    await store.load({ NetNsPath: NETNS, Future: 1, NetNsCreated: true, Endpoints: [{ Type: 'virtual', Veth: {} }] });
    expect(edit(store.save() as unknown as Record<string, unknown>)).toEqual([]);
    expect(edit(store.save('v2') as unknown as Record<string, unknown>)).toEqual([]);
    // and the store's own copy is not affected
    expect(store.save()).toEqual({ NetNsPath: NETNS, Future: 1, NetNsCreated: true, Endpoints: [{ Type: 'virtual', Veth: {} }] });
    await store.close();
  });
});
