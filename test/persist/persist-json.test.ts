import { describe, expect, it } from 'vitest';
import { parsePersistNetwork, PersistFormatError, toPersistNetwork } from '../../src/persist/persist-json.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';
import { EndpointInputError } from '../../machines/index.js';
import { DuplicateEndpointError } from '../../src/runtime/errors.js';

const V1 =
  '{"NetNsPath":"/var/run/netns/cni-5f0c","NetmonPID":0,"NetNsCreated":false,"Endpoints":[{"Type":"tuntap","Tuntap":{"TuntapInterface":{"Name":"tap0","TAPIface":{"Name":"tap0_kata","HardAddr":"5a:94:ef:e4:0c:ee","Addrs":null}}}}]}';

describe('persist.json Network section', () => {
  it("save produces upstream's v1 bytes (Go field names and order, Addrs null)", () => {
    const doc = toPersistNetwork({ netnsPath: '/var/run/netns/cni-5f0c', netnsCreated: false }, [{ name: 'tap0', tapName: 'tap0_kata', hardAddr: '5a:94:ef:e4:0c:ee' }]);
    expect(JSON.stringify(doc)).toBe(V1);
  });
  it('and the 2.x shape', () => {
    const doc = toPersistNetwork({ netnsPath: '/run/netns/x', netnsCreated: true }, [], 'v2');
    expect(JSON.stringify(doc)).toBe('{"NetworkID":"/run/netns/x","Endpoints":[],"NetworkCreated":true}');
  });
  it('load reads both shapes and skips other endpoint types', () => {
    expect(parsePersistNetwork(JSON.parse(V1))).toMatchObject({
      shape: 'v1',
      netnsPath: '/var/run/netns/cni-5f0c',
      netnsCreated: false,
      endpoints: [{ index: 0, idx: 0, ifName: 'tap0', hwAddr: '5a:94:ef:e4:0c:ee', raw: JSON.parse(V1).Endpoints[0] }],
      skipped: [],
    });
    const v2 = { NetworkID: '/run/netns/y', Endpoints: [{ Type: 'veth', Veth: {} }, JSON.parse(V1).Endpoints[0]], NetworkCreated: true };
    expect(parsePersistNetwork(v2)).toMatchObject({ shape: 'v2', netnsCreated: true, skipped: [{ index: 0, type: 'veth' }], endpoints: [{ idx: 0 }] });
    expect(parsePersistNetwork({ NetNsPath: '', Endpoints: null })).toMatchObject({ endpoints: [] });
  });
  it.each([
    [[], 'Network', 'object'],
    [{}, 'Network', 'shape'],
    [{ NetNsPath: 3 }, 'NetNsPath', 'string'],
    [{ NetNsPath: '', Endpoints: {} }, 'Endpoints', 'array'],
    [{ NetNsPath: '', Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'x', TAPIface: { Name: 'tapX' } } } }] }, 'Endpoints[0].Tuntap.TuntapInterface.TAPIface.Name', 'tap<idx>_kata'],
    [{ NetNsPath: '', Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 1 } } }] }, 'Endpoints[0].Tuntap.TuntapInterface.Name', 'string'],
  ])('rejects %j naming %s (%s)', (doc, field, rule) => {
    expect(() => parsePersistNetwork(doc)).toThrow(PersistFormatError);
    try {
      parsePersistNetwork(doc);
    } catch (e) {
      expect(e).toMatchObject({ field, rule });
    }
  });

  it('a loaded endpoint is not dropped (unlike upstream): it can be hot-detached', async () => {
    const w = memoryWorld();
    // a tap the previous runtime left (as upstream's hot-attach would)
    const { fds } = await w.kernel.createTap({ netns: NETNS, name: 'tap0_kata', queues: 2 });
    await w.kernel.closeFds(fds);
    const store = await w.open();
    const doc = JSON.parse(V1);
    doc.NetNsPath = NETNS;
    doc.NetNsCreated = true;
    const { endpoints } = await store.load(doc);
    expect(endpoints).toMatchObject([{ id: 'ep0', state: 'hotAttached', tapName: 'tap0_kata', hardAddr: '5a:94:ef:e4:0c:ee' }]);
    expect(JSON.stringify(store.save())).toBe(JSON.stringify(doc));
    await store.hotDetach('ep0');
    expect(w.taps()).toEqual([]);
    await store.close();
  });

  it("save after a hot-attach persists the guest MAC as TAPIface.HardAddr (upstream tuntapNetwork)", async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 2, ifName: 'tap9', mac: '02:00:00:00:00:09' });
    expect(JSON.stringify(store.save())).toContain('"TAPIface":{"Name":"tap2_kata","HardAddr":"","Addrs":null}');
    await store.hotAttach('ep2');
    expect(store.save()).toEqual({
      NetNsPath: NETNS,
      NetmonPID: 0,
      NetNsCreated: true,
      Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'tap9', TAPIface: { Name: 'tap2_kata', HardAddr: '02:00:00:00:00:09', Addrs: null } } } }],
    });
    await store.close();
  });

  it('a bad document changes nothing: refused with the JSON path of the field', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = w.medium.log;
    const doc = JSON.parse(V1);
    doc.NetNsPath = NETNS;
    doc.Endpoints.push({ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: 'x'.repeat(20), TAPIface: { Name: 'tap1_kata', HardAddr: '5a:94:ef:e4:0c:ef' } } } });
    await expect(store.load(doc)).rejects.toMatchObject({ name: 'PersistFormatError', field: 'Endpoints[1].Tuntap.TuntapInterface.Name', rule: 'ifname' });
    expect(w.medium.log.equals(before)).toBe(true);
    expect(store.list()).toEqual([]);
    // an idx already in use: DuplicateEndpointError, nothing created
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
    const after = w.medium.log;
    await expect(store.load({ NetNsPath: NETNS, Endpoints: [JSON.parse(V1).Endpoints[0]] })).rejects.toBeInstanceOf(DuplicateEndpointError);
    expect(w.medium.log.equals(after)).toBe(true);
    expect(store.list()).toHaveLength(1);
    void EndpointInputError;
    await store.close();
  });

  it('a bad document changes nothing (fresh store)', async () => {
    const w = memoryWorld();
    const store = await w.open();
    const before = w.medium.log;
    await expect(store.load({ NetNsPath: 1 })).rejects.toBeInstanceOf(PersistFormatError);
    expect(w.medium.log.equals(before)).toBe(true);
    expect(store.list()).toEqual([]);
    await store.close();
  });
});
