/**
 * Issue #4 done-when: the endpoint machine drives a real QEMU (launcher, guest-less q35) and the
 * real kernel through Tapstore + LinuxNetlinkAdapter + QemuHypervisorAdapter, on a durable
 * FileLogStore. QEMU is checked on the launcher's own control QMP connection; the host with
 * `ip -d -j link` / `tc -j`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { EndpointOperationError } from '../../src/runtime/errors.js';
import { E2eWorld, listedNetdevs, peripheralIds, tunFds } from './world.js';

let world: E2eWorld | undefined;

function newWorld(vcpus: number): E2eWorld {
  world = new E2eWorld({ qemu: true, vcpus });
  return world;
}

afterEach(async () => {
  const w = world;
  world = undefined;
  await w?.teardown();
});

const ORIG_MAC = '02:aa:bb:cc:dd:07';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('real kernel + real QEMU, through Tapstore', () => {
  it('hot-attach plugs a 4-queue tap-backed virtio-net NIC; hot-detach leaves both sides clean', async () => {
    const w = newWorld(4);
    const q = await w.qemu();
    const hv = w.track(new QemuHypervisorAdapter({ qmpPath: q.qmpPath }));
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    const fdsBefore = tunFds().length;
    store.createEndpoint({ idx: 0, mac: '02:00:00:00:10:01', mtu: 1400 });
    const v = await store.hotAttach('ep0');
    expect(v).toMatchObject({ state: 'hotAttached', status: 'settled', pciPath: '03/00', queues: 4 });
    expect(store.heldFds).toBe(0);
    expect(tunFds().length).toBe(fdsBefore); // only QEMU holds the queues

    // QEMU's view
    expect(await peripheralIds(q.control)).toContain('virtio-net-ep0');
    expect(await q.control.execute('qom-get', { path: '/machine/peripheral/virtio-net-ep0', property: 'mac' })).toBe('02:00:00:00:10:01');
    expect(await q.control.execute('qom-get', { path: '/machine/peripheral/virtio-net-ep0', property: 'mq' })).toBe(true);
    const rx = (await q.control.execute('query-rx-filter', { name: 'virtio-net-ep0' })) as Array<{ name: string; 'main-mac': string }>;
    expect(rx).toMatchObject([{ name: 'virtio-net-ep0', 'main-mac': '02:00:00:00:10:01' }]);
    expect(await listedNetdevs(q.control)).toContain('net-ep0');

    // the host's view: QEMU holds the 4 queues (a guest-less NIC enables only queue 0), carrier on
    const tap = w.link('tap0_kata');
    expect(tap?.mtu).toBe(1400);
    expect(tap?.linkinfo?.info_data).toMatchObject({ multi_queue: true, vnet_hdr: true, persist: true, numqueues: 1, numdisabled: 3 });
    expect(tap?.flags).toEqual(expect.arrayContaining(['UP', 'LOWER_UP']));
    expect(tap?.flags).not.toContain('NO-CARRIER');

    const d = await store.hotDetach('ep0');
    expect(d).toMatchObject({ state: 'detached', pciPath: '', error: null, warnings: [] });
    expect(await peripheralIds(q.control)).not.toContain('virtio-net-ep0');
    expect(await listedNetdevs(q.control)).not.toContain('net-ep0');
    expect(w.link('tap0_kata')).toBeNull();
    expect(tunFds().length).toBe(fdsBefore);
    // QEMU is still healthy and the slot is free again
    expect(await q.control.execute('query-status')).toMatchObject({ status: 'prelaunch' });
    store.createEndpoint({ idx: 1, mac: '02:00:00:00:10:02' });
    expect((await store.hotAttach('ep1')).pciPath).toBe('03/00');
    expect((await store.hotDetach('ep1')).state).toBe('detached');
  });

  it('cold attach: coldplugArgs + inheritFds boot a QEMU with the NIC; stop it, detach removes tap and tc', async () => {
    const w = newWorld(2);
    w.addIfb('orig1', 1460, ORIG_MAC);
    const qdir = path.join(w.dir, 'cold-qemu');
    fs.mkdirSync(qdir, { mode: 0o700 });
    // the adapter's socket is the one the cold-started QEMU will create
    const hv = w.track(new QemuHypervisorAdapter({ qmpPath: path.join(qdir, 'qmp.sock') }));
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    store.createEndpoint({ idx: 1, ifName: 'orig1', mac: '02:00:00:00:10:03' });
    const fdsBefore = tunFds().length;
    const v = await store.attach('ep1');
    expect(v.state).toBe('attached');
    expect(v.coldplugArgs).toEqual([
      '-netdev',
      'tap,id=net-ep1,fds=3:4',
      '-device',
      expect.stringContaining(`netdev=net-ep1,mac=${ORIG_MAC}`),
    ]);
    expect(store.heldFds).toBe(0);
    const inherit = hv.coldplugInheritFds();
    expect(inherit).toHaveLength(2);
    const q = await w.qemu({ dir: qdir, extraArgs: v.coldplugArgs, inheritFds: inherit });
    hv.releaseColdplugFds();
    expect(tunFds().length).toBe(fdsBefore);
    expect(await q.control.execute('qom-get', { path: '/machine/peripheral/virtio-net-ep1', property: 'mac' })).toBe(ORIG_MAC);
    expect(await hv.probeDevice('virtio-net-ep1')).toEqual({ present: true, pciPath: '03/00' });
    const tap = w.link('tap1_kata');
    expect(tap?.mtu).toBe(1460);
    expect(tap?.linkinfo?.info_data).toMatchObject({ numqueues: 1, numdisabled: 1 });
    expect(tap?.flags).not.toContain('NO-CARRIER');
    expect(w.redirects('orig1')).toEqual([{ to: 'tap1_kata', action: 'redirect', direction: 'egress' }]);
    expect(w.redirects('tap1_kata')).toEqual([{ to: 'orig1', action: 'redirect', direction: 'egress' }]);

    await q.stop();
    expect(w.link('tap1_kata')?.flags).toContain('NO-CARRIER');
    const d = await store.detach('ep1');
    expect(d.state).toBe('detached');
    expect(w.link('tap1_kata')).toBeNull();
    expect(w.qdiscKinds('orig1')).not.toContain('ingress');
    expect(w.link('orig1')?.mtu).toBe(1460);
  });

  it('a stuck unplug ends hot-detach in dirty (unplug-stuck) with the tap deleted; after system_reset, cleanup finishes', async () => {
    const w = newWorld(2);
    const q = await w.qemu({ acpiHotplugOff: false }); // device_del never completes without a guest
    const hv = w.track(new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 300 }));
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    store.createEndpoint({ idx: 2, mac: '02:00:00:00:10:04' });
    expect((await store.hotAttach('ep2')).state).toBe('hotAttached');

    const err = await store.hotDetach('ep2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointOperationError);
    expect(err).toMatchObject({ state: 'dirty', step: 'unplug', cause: { name: 'HypervisorError', kind: 'unplug-stuck' } });
    const v = store.get('ep2');
    expect(v).toMatchObject({ state: 'dirty', status: 'settled', progress: { plugged: true, tap: false } });
    expect(v.error).toMatchObject({ cause: { kind: 'unplug-stuck' } });
    expect(w.link('tap2_kata')).toBeNull(); // the tap is deleted although the NIC lingers
    expect(await peripheralIds(q.control)).toContain('virtio-net-ep2');

    await q.control.execute('system_reset');
    for (let i = 0; i < 100 && (await peripheralIds(q.control)).includes('virtio-net-ep2'); i++) await sleep(20);
    expect(await peripheralIds(q.control)).not.toContain('virtio-net-ep2');

    const c = await store.cleanup('ep2');
    expect(c).toMatchObject({ state: 'detached', progress: { plugged: false, tap: false, tcOrig: false } });
    expect(await listedNetdevs(q.control)).not.toContain('net-ep2');
    expect(w.link('tap2_kata')).toBeNull();
  });

  it('QEMU killed while hot-attached: hot-detach still removes the tap and records the VMM as gone', async () => {
    const w = newWorld(2);
    const q = await w.qemu();
    const hv = w.track(new QemuHypervisorAdapter({ qmpPath: q.qmpPath }));
    const store = await w.open({ adapters: { netlink: w.netlink, hypervisor: hv } });
    store.createEndpoint({ idx: 3, mac: '02:00:00:00:10:05' });
    expect((await store.hotAttach('ep3')).state).toBe('hotAttached');
    await q.kill();
    expect(w.link('tap3_kata')?.flags).toContain('NO-CARRIER'); // QEMU's queue fds died with it

    const d = await store.hotDetach('ep3');
    expect(d).toMatchObject({ state: 'detached', progress: { plugged: false, tap: false } });
    expect(w.link('tap3_kata')).toBeNull();
    await store.close();
    const unplug = w.records().find((r) => r['k'] === 'event' && (r['event'] as { type: string }).type === 'xstate.done.actor.teardown.unplug');
    expect(unplug?.['event']).toMatchObject({ output: { vmmGone: true } });
  });
});
