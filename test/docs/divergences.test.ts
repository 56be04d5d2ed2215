/**
 * docs/divergences.md, row by row: one test per row (`row N: …`), each asserting tapstate's side
 * of the row on the in-memory kernel and hypervisor (the real-world versions live with the
 * adapters, e2e and QEMU tests), and tests of what the page calls faithful, with upstream's
 * literal text. A test checks that the page's rows and this file's tests match.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOT_ATTACH_STEPS, TEARDOWN_STEPS, resolveEndpointInput, EndpointInputError } from '../../machines/index.js';
import { HypervisorError } from '../../src/adapters/hypervisor.js';
import { NetlinkError, type ErrnoName } from '../../src/adapters/netlink.js';
import { PersistFormatError } from '../../src/persist/persist-json.js';
import { EndpointOperationError } from '../../src/runtime/errors.js';
import { coldplugArgs } from '../../src/qemu/coldplug.js';
import { fdNames, vhostFdName } from '../../src/qemu/hotplug.js';
import { scanNetns } from '../../src/scan/scan.js';
import { memoryWorld, NETNS } from '../support/memory-world.js';

const MAC = '02:00:00:00:00:01';
const nlErr = (op: string, errno: ErrnoName = 'EINVAL') => new NetlinkError({ op, netns: NETNS, errno, errnoNumber: 22 });
const fail = (method: string, e: Error) => (c: { method: string }) => (c.method === method ? { fail: e } : ('ok' as const));
const tuntapDoc = (idx: number, name: string, mac: string) => ({
  NetNsPath: NETNS,
  NetmonPID: 0,
  NetNsCreated: true,
  Endpoints: [{ Type: 'tuntap', Tuntap: { TuntapInterface: { Name: name, TAPIface: { Name: `tap${idx}_kata`, HardAddr: mac, Addrs: null } } } }],
});

const ROWS: Record<number, () => Promise<void> | void> = {
  1: async () => {
    const w = memoryWorld();
    const store = await w.open({ faults: fail('setUp', nlErr('setUp')) });
    store.createEndpoint({ idx: 0, mac: MAC });
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^Could not enable TAP eth0: /);
    expect(store.get('ep0').state).toBe('created');
    expect(w.taps()).toEqual([]);
    await store.close();
  },
  2: () => {
    expect(TEARDOWN_STEPS.indexOf('unplug')).toBeLessThan(TEARDOWN_STEPS.indexOf('deleteTap'));
  },
  3: async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0');
    expect(store.heldFds).toBe(0);
    expect(w.kernel.openFdCount('self')).toBe(0);
    expect(w.kernel.openFdCount()).toBe(2); // the hypervisor's copies
    await store.hotDetach('ep0');
    expect(w.kernel.openFdCount()).toBe(0);
    await store.close();
  },
  4: async () => {
    const w = memoryWorld();
    await w.kernel.closeFds((await w.kernel.createTap({ netns: NETNS, name: 'tap0_kata', queues: 1 })).fds);
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^Could not create TAP interface: .*EEXIST/);
    expect(w.taps()).toEqual([`${NETNS}:tap0_kata`]); // the leftover is not ours: never deleted
    await store.close();
  },
  5: () => {
    expect(() => resolveEndpointInput({ id: 'e', idx: 0, ifName: 'x'.repeat(16), mac: MAC, netnsPath: '', netnsCreated: true, vcpus: 1 })).toThrow(
      expect.objectContaining({ field: 'ifName' }) as never,
    );
    expect(() => resolveEndpointInput({ id: 'e', idx: 12345678, mac: MAC, netnsPath: '', netnsCreated: true, vcpus: 1 })).toThrow(EndpointInputError);
  },
  6: async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0');
    await w.kernel.deleteLink(NETNS, 'tap0_kata'); // gone under us
    expect(await store.hotDetach('ep0')).toMatchObject({ state: 'detached', error: null });
    await store.close();
  },
  7: async () => {
    const w = memoryWorld({ netnsCreated: false });
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0');
    expect(await store.detach('ep0')).toMatchObject({ state: 'detached' });
    expect(w.hypervisor.devices()).toEqual([]); // unplugged
    expect(w.taps()).toEqual([`${NETNS}:tap0_kata`]); // left to the netns owner
    await store.close();
  },
  8: async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.attach('ep0');
    expect(await w.kernel.hasIngressQdisc(NETNS, 'eth0')).toBe(true);
    await store.detach('ep0');
    expect(await w.kernel.hasIngressQdisc(NETNS, 'eth0')).toBe(false);
    await store.close();
  },
  9: async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0');
    w.hypervisor.stickNextUnplug();
    const e = await store.hotDetach('ep0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EndpointOperationError);
    expect(store.get('ep0').state).toBe('dirty');
    w.hypervisor.reset();
    expect(await store.cleanup('ep0')).toMatchObject({ state: 'detached' });
    await store.close();
  },
  10: async () => {
    const w = memoryWorld();
    const { fds } = await w.kernel.createTap({ netns: NETNS, name: 'tap0_kata', queues: 2 });
    await w.hypervisor.hotplug({ netdevId: 'br0_kata', deviceId: 'virtio-9f3c1e2a-0000-4000-8000-000000000000', mac: '5a:94:ef:e4:0c:ee', queues: 2, tapName: 'tap0_kata', vhost: false }, fds);
    await w.kernel.closeFds(fds);
    const store = await w.open();
    expect((await store.load(tuntapDoc(0, 'tap0', '5a:94:ef:e4:0c:ee'))).endpoints).toMatchObject([{ state: 'hotAttached' }]);
    await store.hotDetach('ep0');
    expect(w.hypervisor.devices()).toEqual([]);
    expect(w.hypervisor.netdevs()).toEqual([]);
    expect(w.taps()).toEqual([]);
    // never attached: no tap → created
    expect((await store.load(tuntapDoc(1, 'eth1', ''))).endpoints).toMatchObject([{ state: 'created' }]);
    await store.close();
  },
  11: async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0');
    await store.close();
    expect(w.medium.log.toString()).toContain('"k":"intent"');
    expect((await w.open()).get('ep0').state).toBe('hotAttached');
  },
  12: () => {
    expect(() => resolveEndpointInput({ id: 'e', idx: 0, mac: MAC, netnsPath: '', netnsCreated: true, vcpus: 1, model: 'macvtap' })).toThrow(expect.objectContaining({ field: 'model' }) as never);
  },
  13: async () => {
    const w = memoryWorld();
    const calls: string[] = [];
    const store = await w.open({
      faults: (c) => {
        if (c.adapter === 'hypervisor') calls.push(c.method);
        return c.method === 'hotplug' ? { fail: new HypervisorError({ kind: 'timeout', op: 'device_add', message: 'device_add: no answer' }) } : 'ok';
      },
    });
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0').catch(() => {});
    expect(calls.filter((m) => m === 'hotplug' || m === 'hotunplug')).toEqual(['hotplug', 'hotunplug']);
    expect(store.get('ep0').state).toBe('created');
    await store.close();
  },
  14: async () => {
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 3, mac: MAC });
    await store.hotAttach('ep3');
    expect(w.hypervisor.devices().map((d) => [d.id, d.netdevId])).toEqual([['virtio-net-ep3', 'net-ep3']]);
    await store.close();
  },
  15: async () => {
    const w = memoryWorld();
    const store = await w.open();
    const doc = tuntapDoc(0, 'eth0', MAC) as { Endpoints: Array<Record<string, unknown>> };
    doc.Endpoints[0]!.Tuntap = null;
    await expect(store.load(doc)).rejects.toMatchObject({ name: 'PersistFormatError', field: 'Endpoints[0].Tuntap' });
    const mixed = { ...tuntapDoc(0, 'eth0', ''), Endpoints: [{ Type: 'virtual', Veth: { x: 1 } }] };
    await store.load(mixed);
    expect(store.save()).toEqual(mixed);
    void PersistFormatError;
    await store.close();
  },
  16: async () => {
    const w = memoryWorld(); // eth0 is a dummy
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    expect(await store.attach('ep0')).toMatchObject({ state: 'attached' });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
    const e = await store.attach('ep1').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^LinkByName\(\) failed for tuntap name eth1: /);
    await store.close();
  },
  17: () => {
    const base = { id: 'e', idx: 0, netnsPath: '', netnsCreated: true, vcpus: 1 };
    expect(() => resolveEndpointInput({ ...base, mac: '01:00:5e:00:00:01' })).toThrow(expect.objectContaining({ field: 'mac', rule: 'unicast-mac' }) as never);
    expect(() => resolveEndpointInput({ ...base, mac: MAC, mtu: 67 })).toThrow(expect.objectContaining({ field: 'mtu' }) as never);
    expect(() => resolveEndpointInput({ ...base, mac: MAC, vcpus: 0 })).toThrow(expect.objectContaining({ field: 'vcpus' }) as never);
  },
  18: async () => {
    const w = memoryWorld();
    w.kernel.addLink(NETNS, 'tun0', { tunMode: 'tun' });
    w.kernel.addLink(NETNS, 'tapA', { tunMode: 'tap' }); // no address: still considered
    const store = await w.open();
    const r = await scanNetns(store, w.kernel);
    expect(r.entries.map((e) => [e.name, e.action])).toEqual([
      ['lo', 'loopback'],
      ['eth0', 'other'],
      ['tun0', 'refused'],
      ['tapA', 'add'],
    ]);
    expect(r.added).toMatchObject([{ idx: 1, name: 'tapA' }]); // eth0 counted
    await store.close();
  },
  19: () => {
    const nic = { netdevId: 'n0', deviceId: 'virtio-n0', mac: MAC, queues: 2, tapName: 'tap0_kata', vhost: false };
    expect(coldplugArgs(nic, [3, 4])[1]).toBe('tap,id=n0,fds=3:4');
    expect(coldplugArgs(nic, [])[1]).toBe('tap,id=n0,ifname=tap0_kata,script=no,downscript=no,queues=2');
  },
  20: async () => {
    const w = memoryWorld();
    const store = await w.open();
    await store.load(tuntapDoc(0, 'eth0', ''));
    const e = await store.hotAttach('ep0').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/mac/);
    expect(store.get('ep0').state).toBe('created');
    expect(w.taps()).toEqual([]);
    expect(await store.attach('ep0')).toMatchObject({ state: 'attached', hardAddr: '02:aa:bb:cc:dd:01' });
    await store.close();
  },
  21: async () => {
    const { vhostNetPresent } = await import('../../src/runtime/vhost-default.js');
    const w = memoryWorld({ vhost: undefined });
    const store = await w.open();
    expect(store.sandbox.vhost).toBe(vhostNetPresent()); // absent here: off
    await store.close();
    const on = memoryWorld({ vhost: true }, { vhostNet: true });
    const s = await on.open();
    s.createEndpoint({ idx: 0, mac: MAC });
    await s.hotAttach('ep0');
    expect(on.hypervisor.netdevs()[0]!.vhostFds).toHaveLength(2);
    expect(s.heldFds).toBe(0);
    await s.close();
  },
  22: () => {
    // the same names in every process: derived from the netdev id and the queue index
    expect(fdNames('net-ep0', 2)).toEqual(['net-ep0-fd0', 'net-ep0-fd1']);
    expect(fdNames('net-ep0', 2, 'vhostfd')).toEqual(['net-ep0-vhostfd0', 'net-ep0-vhostfd1']);
    expect(vhostFdName('net-ep0', 1)).toBe('net-ep0-vhostfd1');
  },
  23: async () => {
    // a dummy where the tap should be: neither set down nor deleted, the endpoint ends dirty
    const w = memoryWorld();
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0');
    await w.kernel.deleteLink(NETNS, 'tap0_kata');
    w.kernel.addDummyLink(NETNS, 'tap0_kata', { up: true });
    const e = await store.hotDetach('ep0').catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/^Could not get TAP interface: Incorrect link type dummy, expecting tuntap/);
    expect(store.get('ep0').state).toBe('dirty');
    expect(await w.kernel.probeLink(NETNS, 'tap0_kata')).toMatchObject({ kind: 'dummy', flags: { up: true } });
    await store.close();
  },
};

describe('docs/divergences.md, row by row', () => {
  it('every row of the table has exactly one test here, and every test a row', () => {
    const md = fs.readFileSync(new URL('../../docs/divergences.md', import.meta.url), 'utf8');
    const rows = [...md.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    expect(rows).toEqual(Object.keys(ROWS).map(Number));
  });
  for (const [n, test] of Object.entries(ROWS)) it(`row ${n}`, test);
});

describe('faithful on purpose: upstream literal text and behaviour', () => {
  it("`Could not enable TAP %s: %s`: hot attach with TuntapInterface.Name, cold attach with tap<idx>_kata", async () => {
    const w = memoryWorld();
    const store = await w.open({ faults: fail('setUp', nlErr('setUp')) });
    store.createEndpoint({ idx: 0, ifName: 'eth0', mac: MAC });
    expect(String(await store.hotAttach('ep0').catch((e: Error) => e.message))).toMatch(/^Could not enable TAP eth0: /);
    expect(String(await store.attach('ep0').catch((e: Error) => e.message))).toMatch(/^Could not enable TAP tap0_kata: /);
    await store.close();
  });
  it('IFF_MULTI_QUEUE and mq=on,vectors=4 with one vCPU (queues > 0)', async () => {
    const w = memoryWorld({ vcpus: 1 });
    const store = await w.open();
    store.createEndpoint({ idx: 0, mac: MAC });
    await store.hotAttach('ep0');
    expect((await w.kernel.getLink(NETNS, 'tap0_kata')).tun).toMatchObject({ multiQueue: true });
    expect(w.hypervisor.devices()).toMatchObject([{ queues: 1 }]);
    const args = await w.hypervisor.coldplug({ netdevId: 'n', deviceId: 'virtio-n', mac: MAC, queues: 1, tapName: 'tap0_kata', vhost: false }, (await w.kernel.createTap({ netns: NETNS, name: 'tapq', queues: 1 })).fds);
    expect(args.args[3]).toContain('mq=on,vectors=4');
    await store.close();
  });
  it('queues = 0 when the hypervisor reports no multi-queue support: one fd, no IFF_MULTI_QUEUE, no mq', async () => {
    const w = memoryWorld({ vcpus: 4, multiQueue: false });
    const store = await w.open();
    expect(store.createEndpoint({ idx: 0, mac: MAC }).queues).toBe(0);
    await store.hotAttach('ep0');
    expect((await w.kernel.getLink(NETNS, 'tap0_kata')).tun).toMatchObject({ multiQueue: false, numQueues: 1 });
    expect(w.hypervisor.netdevs()).toMatchObject([{ queues: 0, fds: [expect.any(Number)] }]);
    await store.hotDetach('ep0');
    expect(w.kernel.openFdCount()).toBe(0);
    await store.close();
  });
  it('hot attach steps in upstream order (createLink, MTU, up, hotplug)', () => {
    expect(HOT_ATTACH_STEPS).toEqual(['createTap', 'setMtu', 'setUp', 'hotplug']);
  });
});
