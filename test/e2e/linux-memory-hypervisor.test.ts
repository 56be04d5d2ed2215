/**
 * Issue #3 done-when: the endpoint machine end to end on the real kernel (LinuxNetlinkAdapter in a
 * netns the test creates) with the in-memory hypervisor, through Tapstore on a durable
 * FileLogStore. The kernel is checked independently with `ip -d -j link` and `tc -j`.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedCrash, withFaults } from '../../src/adapters/faults.js';
import { HypervisorError } from '../../src/adapters/hypervisor.js';
import { MemoryHypervisor } from '../../src/adapters/memory/index.js';
import { EndpointOperationError } from '../../src/runtime/errors.js';
import { E2eWorld, tunFds } from './world.js';

let world: E2eWorld | undefined;

function newWorld(vcpus = 4): E2eWorld {
  world = new E2eWorld({ qemu: false, vcpus });
  return world;
}

afterEach(async () => {
  const w = world;
  world = undefined;
  await w?.teardown();
});

const ORIG_MAC = '02:aa:bb:cc:dd:01';

describe('real kernel + in-memory hypervisor, through Tapstore and a FileLogStore', () => {
  it('hot-attach creates a 4-queue tap with the MTU and flags; hot-detach removes it', async () => {
    const w = newWorld(4);
    const hv = new MemoryHypervisor();
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    const fdsBefore = tunFds().length;
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01', mtu: 1400 });
    const v = await store.hotAttach('ep0');
    expect(v).toMatchObject({ state: 'hotAttached', status: 'settled', tapName: 'tap0_kata', queues: 4, mtu: 1400 });
    expect(v.pciPath).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}$/);
    const tap = w.link('tap0_kata');
    expect(tap).not.toBeNull();
    expect(tap!.mtu).toBe(1400);
    expect(tap!.flags).toContain('UP');
    expect(tap!.linkinfo?.info_kind).toBe('tun');
    expect(tap!.linkinfo?.info_data).toMatchObject({ type: 'tap', pi: false, vnet_hdr: true, multi_queue: true, persist: true });
    // the in-memory hypervisor does not hold real fds and ours were closed after hotplug
    expect(tap!.linkinfo?.info_data).toMatchObject({ numqueues: 0, numdisabled: 0 });
    expect(tunFds().length).toBe(fdsBefore);
    expect(store.heldFds).toBe(0);
    expect(hv.devices().map((d) => d.id)).toEqual(['virtio-net-ep0']);

    const d = await store.hotDetach('ep0');
    expect(d.state).toBe('detached');
    expect(w.link('tap0_kata')).toBeNull();
    expect(hv.devices()).toEqual([]);
    expect(hv.netdevs()).toEqual([]);
    await store.close();
    // the durable log replays to the same end state
    const again = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    expect(again.list()).toEqual([]); // detached: retired from the live set
    expect(again.retired).toBe(1);
    expect(again.recovery.endpoints).toEqual([]);
  });

  it('cold attach installs ingress qdiscs and mirred redirects both ways; detach removes the tap and the tc', async () => {
    const w = newWorld(2);
    w.addIfb('orig0', 1450, ORIG_MAC);
    const hv = new MemoryHypervisor();
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    store.createEndpoint({ idx: 1, ifName: 'orig0', mac: '02:00:00:00:00:02' });
    const v = await store.attach('ep1');
    expect(v.state).toBe('attached');
    expect(v.hardAddr).toBe(ORIG_MAC); // upstream: the tap record takes the original link's MAC
    expect(v.coldplugArgs.length).toBeGreaterThan(0);
    const tap = w.link('tap1_kata');
    expect(tap?.mtu).toBe(1450); // cold attach copies the original link's MTU
    expect(tap?.flags).toContain('UP');
    expect(tap?.linkinfo?.info_data).toMatchObject({ multi_queue: true, persist: true, vnet_hdr: true });
    expect(w.qdiscKinds('orig0')).toContain('ingress');
    expect(w.qdiscKinds('tap1_kata')).toContain('ingress');
    expect(w.redirects('orig0')).toEqual([{ to: 'tap1_kata', action: 'redirect', direction: 'egress' }]);
    expect(w.redirects('tap1_kata')).toEqual([{ to: 'orig0', action: 'redirect', direction: 'egress' }]);
    expect(store.heldFds).toBe(0);

    const d = await store.detach('ep1');
    expect(d.state).toBe('detached');
    expect(w.link('tap1_kata')).toBeNull();
    expect(w.qdiscKinds('orig0')).not.toContain('ingress');
    expect(w.redirects('orig0')).toEqual([]);
    expect(w.link('orig0')).not.toBeNull(); // the original link is never touched beyond its tc
    expect(w.link('orig0')!.mtu).toBe(1450);
  });

  it('a cold attach whose original link has an MTU the tap cannot take (65535) rolls back: nothing left', async () => {
    const w = newWorld(2);
    w.addIfb('orig2', 65535, ORIG_MAC);
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: new MemoryHypervisor() } });
    store.createEndpoint({ idx: 2, ifName: 'orig2', mac: '02:00:00:00:00:03' });
    const fdsBefore = tunFds().length;
    const err = await store.attach('ep2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointOperationError);
    expect(err).toMatchObject({ step: 'setMtu', state: 'created', cause: { errno: 'EINVAL' } });
    expect((err as Error).message).toMatch(/^Could not set TAP MTU 65535: /);
    expect(w.link('tap2_kata')).toBeNull();
    expect(w.linkNames().sort()).toEqual(['lo', 'orig2']);
    expect(w.qdiscKinds('orig2')).not.toContain('ingress');
    expect(tunFds().length).toBe(fdsBefore);
    expect(store.get('ep2').state).toBe('created');
  });

  it('a fault at the last redirect rolls back the qdiscs, filters and tap', async () => {
    const w = newWorld(2);
    w.addIfb('orig3', 1500, ORIG_MAC);
    let redirects = 0;
    const netlink = withFaults(w.netlink, 'netlink', (c) =>
      c.method === 'addRedirect' && ++redirects === 2 ? { fail: new Error('injected: addRedirect refused') } : 'ok',
    );
    const store = await w.open({ adapters: { netlink, hypervisor: new MemoryHypervisor() } });
    store.createEndpoint({ idx: 3, ifName: 'orig3', mac: '02:00:00:00:00:04' });
    const err = await store.attach('ep3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointOperationError);
    expect(err).toMatchObject({ step: 'redirectOut', state: 'created' });
    expect(redirects).toBe(2);
    expect(w.link('tap3_kata')).toBeNull();
    expect(w.qdiscKinds('orig3')).not.toContain('ingress');
    expect(w.redirects('orig3')).toEqual([]);
  });

  it('a failing hotplug rolls a hot-attach back: the real tap is deleted', async () => {
    const w = newWorld(4);
    const hv = withFaults(new MemoryHypervisor(), 'hypervisor', (c) =>
      c.method === 'hotplug' ? { fail: new HypervisorError({ kind: 'no-slot', op: 'hotplug', message: 'injected: no slot' }) } : 'ok',
    );
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    store.createEndpoint({ idx: 4, mac: '02:00:00:00:00:05' });
    const fdsBefore = tunFds().length;
    await expect(store.hotAttach('ep4')).rejects.toMatchObject({ name: 'EndpointOperationError', step: 'hotplug', state: 'created' });
    expect(w.link('tap4_kata')).toBeNull();
    expect(tunFds().length).toBe(fdsBefore);
  });

  it('a crash right after createTap: reopening the store recovers and removes the real tap', async () => {
    const w = newWorld(4);
    const hv = new MemoryHypervisor();
    const before = new Set(tunFds());
    const crashing = withFaults(w.netlink, 'netlink', (c) => (c.method === 'createTap' ? 'crash-after' : 'ok'));
    const s1 = await w.open({ adapters: { netlink: crashing, hypervisor: hv } });
    s1.createEndpoint({ idx: 5, mac: '02:00:00:00:00:06', mtu: 9000 });
    await expect(s1.hotAttach('ep5')).rejects.toBeInstanceOf(SimulatedCrash);
    // the "dead process": the kernel would close its queue fds; the persistent tap stays
    const leaked = tunFds().filter((fd) => !before.has(fd));
    expect(leaked).toHaveLength(4);
    for (const fd of leaked) fs.closeSync(fd);
    const leftover = w.link('tap5_kata');
    expect(leftover?.linkinfo?.info_data).toMatchObject({ persist: true, multi_queue: true });
    expect(leftover?.mtu).toBe(1500); // setMtu never ran

    const s2 = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    expect(s2.recovery.endpoints).toMatchObject([
      { id: 'ep5', effect: 'hotAttach.createTap', ran: true, action: 'rolled-back', finalState: 'created', observed: { tap: true } },
    ]);
    expect(w.link('tap5_kata')).toBeNull();
    expect(s2.get('ep5')).toMatchObject({ state: 'created', status: 'settled' });
    // and the endpoint attaches again on the real kernel
    expect((await s2.hotAttach('ep5')).state).toBe('hotAttached');
    expect(w.link('tap5_kata')?.mtu).toBe(9000);
    expect((await s2.hotDetach('ep5')).state).toBe('detached');
    expect(w.link('tap5_kata')).toBeNull();
  });
});
