/** Model-specific behaviour of MemoryHypervisor, beyond the hypervisor contract. */
import { beforeEach, describe, expect, it } from 'vitest';
import { HypervisorError, type HypervisorErrorKind, type NicSpec } from '../../../src/adapters/hypervisor.js';
import { MemoryHypervisor, MemoryKernel } from '../../../src/adapters/memory/index.js';

const NS = '/run/netns/hv-model';

async function rejection(p: Promise<unknown> | (() => unknown), kind: HypervisorErrorKind): Promise<HypervisorError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(HypervisorError);
    expect((e as HypervisorError).kind).toBe(kind);
    return e as HypervisorError;
  }
  throw new Error(`expected a HypervisorError ${kind}`);
}

function nic(i: number, queues = 1, over: Partial<NicSpec> = {}): NicSpec {
  return {
    netdevId: `network-${i}`,
    deviceId: `virtio-network-${i}`,
    mac: `02:00:00:00:00:0${i}`,
    queues,
    tapName: `tap${i}_kata`,
    vhost: false,
    ...over,
  };
}

describe('MemoryHypervisor', () => {
  let k: MemoryKernel;
  let hv: MemoryHypervisor;
  let tapCounter = 0;

  beforeEach(() => {
    k = new MemoryKernel();
    k.addNetns(NS);
    hv = new MemoryHypervisor({ kernel: k, slots: 4 });
  });

  /** createTap + hotplug + close our copies, like the runtime does. */
  async function plug(i: number, queues = 1): Promise<string> {
    const { fds } = await k.createTap({ netns: NS, name: `tap${i}_${tapCounter++}`, queues });
    try {
      return (await hv.hotplug(nic(i, queues), fds)).pciPath;
    } finally {
      await k.closeFds(fds);
    }
  }

  it('places NICs on root ports rp0.. at PCI slots 03, 04, …', async () => {
    expect(await plug(0)).toBe('03/00');
    expect(await plug(1, 4)).toBe('04/00');
    expect(hv.devices().map((d) => [d.id, d.bus, d.pciPath, d.queues])).toEqual([
      ['virtio-network-0', 'rp0', '03/00', 1],
      ['virtio-network-1', 'rp1', '04/00', 4],
    ]);
    expect(hv.commands()).toEqual(['netdev_add network-0', 'device_add virtio-network-0', 'netdev_add network-1', 'device_add virtio-network-1']);
  });

  it('holds its own fd copies: the tap keeps its queues after we close ours, until unplug', async () => {
    await plug(0, 2);
    expect(k.openFdCount('self')).toBe(0);
    expect(k.openFdCount('hypervisor')).toBe(2);
    expect(hv.netdevs()[0]!.fds).toEqual(k.openFds('hypervisor').map((f) => f.fd));
    const tap = k.openFds('hypervisor')[0]!.link!;
    expect((await k.getLink(NS, tap)).tun?.numQueues).toBe(2);
    await hv.hotunplug(nic(0));
    expect(k.openFdCount()).toBe(0);
    expect((await k.getLink(NS, tap)).tun?.numQueues).toBe(0);
  });

  it('refuses fds that are closed or whose tap is gone, adding nothing', async () => {
    const { fds } = await k.createTap({ netns: NS, name: 'tap0_kata', queues: 1 });
    await k.deleteLink(NS, 'tap0_kata');
    const e = await rejection(hv.hotplug(nic(0), fds), 'command-failed');
    expect(e.op).toBe('getfd');
    await k.closeFds(fds);
    await rejection(hv.hotplug(nic(0), fds), 'command-failed');
    expect(hv.netdevs()).toEqual([]);
    expect(hv.devices()).toEqual([]);
    expect(k.openFdCount()).toBe(0);
  });

  it.each([
    ['mac', { mac: '02:00:00:00:00' }],
    ['mac', { mac: '03:00:00:00:00:01' }],
    ['queues', { queues: -1 }],
    ['netdevId', { netdevId: '' }],
    ['deviceId', { deviceId: 'has space' }],
  ] as const)('rejects a bad %s as invalid, naming the field', async (field, over) => {
    const { fds } = await k.createTap({ netns: NS, name: 'tap0_kata', queues: 1 });
    const e = await rejection(hv.hotplug({ ...nic(0), ...over }, fds), 'invalid');
    expect(e.message).toContain(field);
    expect(hv.commands()).toEqual([]);
    expect(k.openFdCount('hypervisor')).toBe(0);
    await k.closeFds(fds);
  });

  it('the constructor validates slots', () => {
    expect(() => new MemoryHypervisor({ slots: -1 })).toThrow(HypervisorError);
    expect(() => new MemoryHypervisor({ slots: 1.5 })).toThrow(/slots/);
    expect(new MemoryHypervisor().slots).toBe(8);
  });

  describe('stuck unplug', () => {
    it('stickNextUnplug: unplug-stuck, netdev deleted and fds released, device pending until reset()', async () => {
      await plug(0, 2);
      hv.stickNextUnplug();
      const e = await rejection(hv.hotunplug(nic(0)), 'unplug-stuck');
      expect(e.op).toBe('device_del');
      expect(await hv.probeNetdev('network-0')).toBe(false);
      expect(k.openFdCount()).toBe(0);
      expect(await hv.probeDevice('virtio-network-0')).toEqual({ present: true, pciPath: '03/00', unplugPending: true });

      // again: QEMU answers "already in the process of unplug"
      const again = await rejection(hv.hotunplug(nic(0)), 'unplug-stuck');
      expect(again.qmpClass).toBe('GenericError');
      expect(again.message).toMatch(/already in the process of unplug/);

      // the pending device still occupies its port
      expect(await plug(1)).toBe('04/00');

      hv.reset();
      expect(await hv.probeDevice('virtio-network-0')).toEqual({ present: false });
      expect(await plug(2)).toBe('03/00');
      // after a reset, an unplug of the (now absent) device is a no-op
      await hv.hotunplug(nic(0));
    });

    it('stickNextUnplug affects only the next unplug', async () => {
      await plug(0);
      await plug(1);
      hv.stickNextUnplug();
      await rejection(hv.hotunplug(nic(0)), 'unplug-stuck');
      await hv.hotunplug(nic(1));
      expect(hv.devices().map((d) => d.id)).toEqual(['virtio-network-0']);
    });

    it('stickUnplugOf sticks those ids every time until unstick()', async () => {
      hv.stickUnplugOf('virtio-network-0');
      await plug(0);
      await rejection(hv.hotunplug(nic(0)), 'unplug-stuck');
      hv.reset();
      await plug(0);
      await rejection(hv.hotunplug(nic(0)), 'unplug-stuck');
      hv.unstick();
      await plug(1);
      await hv.hotunplug(nic(1));
      // still pending from before: unstick does not complete it
      expect(hv.devices().map((d) => [d.id, d.unplugPending])).toEqual([['virtio-network-0', true]]);
      // plugging the same device id again while its unplug is pending fails, and undoes netdev_add
      const { fds } = await k.createTap({ netns: NS, name: 'tapx', queues: 1 });
      await rejection(hv.hotplug(nic(0), fds), 'command-failed');
      expect(await hv.probeNetdev('network-0')).toBe(false);
      await k.closeFds(fds);
    });
  });

  describe('cold plug and boot', () => {
    it('coldplug stages dup’d copies; boot() makes cold-plugged devices that never unplug without a reset', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0_kata', queues: 2 });
      const { args, inheritFds } = await hv.coldplug(nic(0, 2), fds);
      expect(args).toEqual([
        '-netdev',
        'tap,id=network-0,fds=3:4',
        '-device',
        'driver=virtio-net-pci,netdev=network-0,mac=02:00:00:00:00:00,disable-modern=false,mq=on,vectors=6,romfile=,id=virtio-network-0',
      ]);
      expect(inheritFds).toEqual(k.openFds('hypervisor').map((f) => f.fd));
      await k.closeFds(fds);
      expect(await hv.probeNetdev('network-0')).toBe(false);

      hv.boot();
      expect(hv.devices()).toEqual([
        expect.objectContaining({ id: 'virtio-network-0', coldPlugged: true, pciPath: '03/00', unplugPending: false }),
      ]);
      expect(await hv.probeNetdev('network-0')).toBe(true);
      expect((await k.getLink(NS, 'tap0_kata')).tun?.numQueues).toBe(2);

      await rejection(hv.hotunplug(nic(0)), 'unplug-stuck');
      expect(k.openFdCount()).toBe(0);
      hv.reset();
      expect(hv.devices()).toEqual([]);
    });

    it('the ifname= form passes no fds', async () => {
      const { args, inheritFds } = await hv.coldplug(nic(0), []);
      expect(args[1]).toBe('tap,id=network-0,ifname=tap0_kata,script=no,downscript=no');
      expect(args[3]).not.toContain('mq=on');
      expect(inheritFds).toEqual([]);
    });

    it('close() releases staged copies that were never booted', async () => {
      const { fds } = await k.createTap({ netns: NS, name: 'tap0_kata', queues: 1 });
      await hv.coldplug(nic(0), fds);
      expect(k.openFdCount('hypervisor')).toBe(1);
      await hv.close();
      expect(hv.isClosed()).toBe(true);
      expect(k.openFdCount('hypervisor')).toBe(0);
      await k.closeFds(fds);
    });

    it('boot() with more cold-plugged NICs than ports is no-slot and changes nothing', async () => {
      const small = new MemoryHypervisor({ kernel: k, slots: 1 });
      await small.coldplug(nic(0), []);
      await small.coldplug(nic(1), []);
      await rejection(() => small.boot(), 'no-slot');
      expect(small.devices()).toEqual([]);
    });
  });

  describe('kill', () => {
    it('releases every fd copy; every VMM call then fails disconnected', async () => {
      await plug(0, 4);
      const { fds } = await k.createTap({ netns: NS, name: 'tap9', queues: 1 });
      await hv.coldplug(nic(9), fds);
      await k.closeFds(fds);
      hv.kill();
      expect(k.openFdCount()).toBe(0);
      expect(hv.devices()).toEqual([]);
      expect(hv.netdevs()).toEqual([]);
      expect(await hv.alive()).toBe(false);
      await rejection(hv.hotunplug(nic(0)), 'disconnected');
      await rejection(() => hv.reset(), 'disconnected');
      await rejection(() => hv.boot(), 'disconnected');
      hv.kill(); // idempotent
    });
  });
});
