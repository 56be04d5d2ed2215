import { afterAll, describe, expect, it } from 'vitest';
import type { NicSpec } from '../../src/adapters/hypervisor.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { coldplugArgs, fdNumbers } from '../../src/qemu/coldplug.js';
import { isOpenFd } from '../../src/qemu/scm-rights.js';
import { RealEnv } from './qemu-fixture.js';
import { openFdCount, queueCounts, tapDetails } from './tap-helper.js';

const base: NicSpec = { netdevId: 'network-0', deviceId: 'virtio-network-0', mac: '02:aa:bb:cc:dd:ee', queues: 2, tapName: 'tap0_kata', vhost: false };

describe('coldplugArgs (pure, upstream shape)', () => {
  it('fds form with mq/vectors for N > 1, bus and addr', () => {
    expect(coldplugArgs(base, [3, 4], { bus: 'rp0', addr: 0 })).toEqual([
      '-netdev',
      'tap,id=network-0,fds=3:4',
      '-device',
      'driver=virtio-net-pci,netdev=network-0,mac=02:aa:bb:cc:dd:ee,disable-modern=false,mq=on,vectors=6,romfile=,id=virtio-network-0,bus=rp0,addr=0',
    ]);
  });
  it('single queue: mq=on,vectors=4 as upstream (queues > 0); vhost adds vhost=on', () => {
    const a = coldplugArgs({ ...base, queues: 1, vhost: true }, [7], { bus: 'br0', addr: 10 });
    expect(a[1]).toBe('tap,id=network-0,fds=7,vhost=on');
    expect(a[3]).toBe('driver=virtio-net-pci,netdev=network-0,mac=02:aa:bb:cc:dd:ee,disable-modern=false,mq=on,vectors=4,romfile=,id=virtio-network-0,bus=br0,addr=a');
  });
  it('queues 0 (no multi-queue support): one fd, no mq/vectors', () => {
    const a = coldplugArgs({ ...base, queues: 0 }, [7]);
    expect(a[1]).toBe('tap,id=network-0,fds=7');
    expect(a[3]).toBe('driver=virtio-net-pci,netdev=network-0,mac=02:aa:bb:cc:dd:ee,disable-modern=false,romfile=,id=virtio-network-0');
  });
  it('no fds: the ifname form with queues', () => {
    expect(coldplugArgs(base, [])[1]).toBe('tap,id=network-0,ifname=tap0_kata,script=no,downscript=no,queues=2');
    expect(coldplugArgs({ ...base, queues: 1 }, [])[1]).toBe('tap,id=network-0,ifname=tap0_kata,script=no,downscript=no');
  });
  it('fd numbering counts from the base', () => {
    expect(fdNumbers(3, 2)).toEqual([3, 4]);
    expect(fdNumbers(10, 3)).toEqual([10, 11, 12]);
  });
});

describe('cold plug against a real QEMU', () => {
  const env = new RealEnv();
  afterAll(() => env.teardown());

  it('boots QEMU with two cold-plugged NICs on inherited fds (3,4 and 5) and QMP sees them', async () => {
    const before = openFdCount();
    const t1 = env.tap(2);
    const t2 = env.tap(1);
    const a = new QemuHypervisorAdapter({ qmpPath: '/nonexistent/not-used-for-coldplug.sock' });
    const n1 = { ...base, netdevId: 'cold1', deviceId: 'virtio-cold1', tapName: t1.tapName };
    const n2 = { ...base, netdevId: 'cold2', deviceId: 'virtio-cold2', mac: '02:aa:bb:cc:dd:ef', queues: 1, tapName: t2.tapName };
    const r1 = await a.coldplug(n1, t1.fds);
    const r2 = await a.coldplug(n2, t2.fds);
    expect(r1.args[1]).toBe('tap,id=cold1,fds=3:4');
    expect(r2.args[1]).toBe('tap,id=cold2,fds=5');
    expect(r1.args[3]).toContain('bus=rp0,addr=0');
    expect(r2.args[3]).toContain('bus=rp1,addr=0');
    // The adapter owns dup'd copies: distinct from the caller's, open.
    expect(r1.inheritFds).toHaveLength(2);
    for (const fd of [...r1.inheritFds, ...r2.inheritFds]) {
      expect(t1.fds.concat(t2.fds)).not.toContain(fd);
      expect(isOpenFd(fd)).toBe(true);
    }
    t1.closeFds();
    t2.closeFds();
    const inherit = a.coldplugInheritFds();
    expect(inherit).toEqual([...r1.inheritFds, ...r2.inheritFds]);
    const q = await env.qemu({ extraArgs: [...r1.args, ...r2.args], inheritFds: inherit });
    a.releaseColdplugFds();
    for (const fd of inherit) expect(isOpenFd(fd)).toBe(false);
    expect(await q.control.execute('qom-get', { path: '/machine/peripheral/virtio-cold1', property: 'mac' })).toBe(n1.mac);
    expect(await q.control.execute('qom-get', { path: '/machine/peripheral/virtio-cold1', property: 'mq' })).toBe(true);
    expect(await q.control.execute('qom-get', { path: '/machine/peripheral/virtio-cold2', property: 'mac' })).toBe(n2.mac);
    // Only QEMU holds the taps now.
    expect(queueCounts(tapDetails(env.netnsName, t1.tapName))).toEqual({ numqueues: 1, numdisabled: 1 });
    expect(tapDetails(env.netnsName, t2.tapName)).not.toContain('NO-CARRIER');
    const probe = new QemuHypervisorAdapter({ qmpPath: q.qmpPath });
    try {
      expect(await probe.probeNetdev('cold1')).toBe(true);
      expect(await probe.probeDevice('virtio-cold1')).toEqual({ present: true, pciPath: '03/00' });
      expect(await probe.probeDevice('virtio-cold2')).toEqual({ present: true, pciPath: '04/00' });
      // Hot plug picks a slot the cold plugs left free.
      const t3 = env.tap(1);
      const n3 = { ...base, netdevId: 'hot3', deviceId: 'virtio-hot3', queues: 1, tapName: t3.tapName };
      expect(await probe.hotplug(n3, t3.fds)).toEqual({ pciPath: '05/00' });
      t3.closeFds();
    } finally {
      await probe.close();
    }
    await q.stop();
    expect(tapDetails(env.netnsName, t1.tapName)).toContain('NO-CARRIER');
    await a.close();
    expect(openFdCount()).toBe(before);
  });

  it('rejects a cold plug with a wrong fd count or bad id, and owns nothing afterwards', async () => {
    const a = new QemuHypervisorAdapter({ qmpPath: '/nonexistent.sock' });
    const t = env.tap(2);
    await expect(a.coldplug({ ...base, tapName: t.tapName }, t.fds.slice(0, 1))).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('fds') });
    await expect(a.coldplug({ ...base, deviceId: 'bad,id', tapName: t.tapName }, t.fds)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('deviceId') });
    await expect(a.coldplug({ ...base, tapName: 'bad,name' }, [])).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('tapName') });
    expect(a.coldplugInheritFds()).toEqual([]);
    await a.close();
  });
});
