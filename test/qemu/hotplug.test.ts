import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HypervisorError, type NicSpec } from '../../src/adapters/hypervisor.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import type { QemuInstance } from '../../src/qemu/launcher.js';
import { RealEnv } from './qemu-fixture.js';
import { queueCounts, tapDetails, uniqueName } from './tap-helper.js';

let env: RealEnv;
let q: QemuInstance;
let adapter: QemuHypervisorAdapter;

function nic(tapName: string, queues: number, over: Partial<NicSpec> = {}): NicSpec {
  const id = uniqueName('n', 12);
  const b = () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0');
  return { netdevId: id, deviceId: `virtio-${id}`, mac: `02:${b()}:${b()}:${b()}:${b()}:${b()}`, queues, tapName, vhost: false, ...over };
}

const qom = (path: string, property: string) => q.control.execute('qom-get', { path, property });

beforeAll(async () => {
  env = new RealEnv();
  q = await env.qemu();
  adapter = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000 });
});

afterAll(async () => {
  await adapter?.close();
  await env?.teardown();
});

describe('QemuHypervisorAdapter against a real QEMU (root ports, ACPI hotplug off)', () => {
  it('hot-plugs a single-queue tap by fd, QEMU and host agree, then unplugs cleanly', async () => {
    const tap = env.tap(1);
    const n = nic(tap.tapName, 1);
    const { pciPath } = await adapter.hotplug(n, tap.fds);
    expect(pciPath).toMatch(/^0[3-6]\/00$/);
    tap.closeFds(); // the caller closes its copies; QEMU holds its own
    const dev = `/machine/peripheral/${n.deviceId}`;
    expect(await qom(dev, 'mac')).toBe(n.mac);
    expect(await qom(dev, 'netdev')).toBe(n.netdevId);
    // upstream govmm: mq=on whenever queues > 0, so also for one queue
    expect(await qom(dev, 'mq')).toBe(true);
    expect(await qom(dev, 'vectors')).toBe(4);
    const rx = (await q.control.execute('query-rx-filter', { name: n.deviceId })) as { 'main-mac': string }[];
    expect(rx[0]?.['main-mac']).toBe(n.mac);
    expect(tapDetails(env.netnsName, tap.tapName)).not.toContain('NO-CARRIER');
    expect(await adapter.probeDevice(n.deviceId)).toEqual({ present: true, pciPath });
    expect(await adapter.probeNetdev(n.netdevId)).toBe(true);

    await adapter.hotunplug(n);
    expect(await adapter.probeDevice(n.deviceId)).toEqual({ present: false });
    expect(await adapter.probeNetdev(n.netdevId)).toBe(false);
    await expect(qom(dev, 'mac')).rejects.toMatchObject({ qmpClass: 'DeviceNotFound' });
    expect(tapDetails(env.netnsName, tap.tapName)).toContain('NO-CARRIER');
  });

  it('hot-plugs a 4-queue tap with mq=on, vectors=10; host sees 1 enabled + 3 disabled queues', async () => {
    const tap = env.tap(4);
    const n = nic(tap.tapName, 4);
    expect(queueCounts(tapDetails(env.netnsName, tap.tapName))).toEqual({ numqueues: 4, numdisabled: 0 });
    await adapter.hotplug(n, tap.fds);
    tap.closeFds();
    const dev = `/machine/peripheral/${n.deviceId}`;
    expect(await qom(dev, 'mq')).toBe(true);
    expect(await qom(dev, 'vectors')).toBe(10);
    expect(await qom(dev, 'mac')).toBe(n.mac);
    expect(queueCounts(tapDetails(env.netnsName, tap.tapName))).toEqual({ numqueues: 1, numdisabled: 3 });
    expect(await adapter.probeNetdev(n.netdevId)).toBe(true);
    await adapter.hotunplug(n);
    expect(queueCounts(tapDetails(env.netnsName, tap.tapName))).toEqual({ numqueues: 0, numdisabled: 0 });
    expect(await adapter.probeNetdev(n.netdevId)).toBe(false);
  });

  it('a failed device_add (duplicate device id) undoes its netdev_add', async () => {
    const t1 = env.tap(1);
    const t2 = env.tap(1);
    const a = nic(t1.tapName, 1);
    const b = nic(t2.tapName, 1, { deviceId: a.deviceId });
    await adapter.hotplug(a, t1.fds);
    const err = await adapter.hotplug(b, t2.fds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HypervisorError);
    expect(err).toMatchObject({ kind: 'command-failed', op: 'device_add', qmpClass: 'GenericError' });
    expect((err as Error).message).toContain('Duplicate');
    expect(await adapter.probeNetdev(b.netdevId)).toBe(false);
    expect(await adapter.probeNetdev(a.netdevId)).toBe(true);
    await adapter.hotunplug(a);
  });

  it('a failed device_add (bad bus) leaves no netdev, and the tap is released', async () => {
    const bad = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, slots: [{ bus: 'nosuchbus', addr: 0, bridgeAddr: 9 }] });
    // QEMU serves one client per socket: release the main adapter's connection first.
    await adapter.close();
    try {
      const t = env.tap(1);
      const n = nic(t.tapName, 1);
      await expect(bad.hotplug(n, t.fds)).rejects.toMatchObject({ kind: 'command-failed', op: 'device_add', qmpClass: 'GenericError' });
      t.closeFds();
      expect(await bad.probeNetdev(n.netdevId)).toBe(false);
      expect(tapDetails(env.netnsName, t.tapName)).toContain('NO-CARRIER');
    } finally {
      await bad.close();
      adapter = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000 });
    }
  });

  it('finds free slots by asking QEMU, so a restarted adapter does not reuse a busy slot', async () => {
    const t1 = env.tap(1);
    const a = nic(t1.tapName, 1);
    const r1 = await adapter.hotplug(a, t1.fds);
    await adapter.close();
    adapter = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000 });
    const t2 = env.tap(1);
    const b = nic(t2.tapName, 1);
    const r2 = await adapter.hotplug(b, t2.fds);
    expect(r2.pciPath).not.toBe(r1.pciPath);
    expect(await adapter.probeDevice(a.deviceId)).toEqual({ present: true, pciPath: r1.pciPath });
    await adapter.hotunplug(a);
    await adapter.hotunplug(b);
  });

  it('concurrent hot plugs get distinct slots and fd names', async () => {
    const taps = [env.tap(2), env.tap(1), env.tap(3)];
    const nics = taps.map((t, i) => nic(t.tapName, [2, 1, 3][i]!));
    const res = await Promise.all(nics.map((n, i) => adapter.hotplug(n, taps[i]!.fds)));
    expect(new Set(res.map((r) => r.pciPath)).size).toBe(3);
    for (const n of nics) expect(await qom(`/machine/peripheral/${n.deviceId}`, 'mac')).toBe(n.mac);
    await Promise.all(nics.map((n) => adapter.hotunplug(n)));
    for (const n of nics) expect(await adapter.probeDevice(n.deviceId)).toEqual({ present: false });
  });

  it('reports no-slot when every slot is taken, and sends nothing else', async () => {
    await adapter.close();
    const one = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, slots: [{ bus: 'rp0', addr: 0, bridgeAddr: 3 }] });
    try {
      const t1 = env.tap(1);
      const t2 = env.tap(1);
      const a = nic(t1.tapName, 1);
      const b = nic(t2.tapName, 1);
      expect(await one.hotplug(a, t1.fds)).toEqual({ pciPath: '03/00' });
      await expect(one.hotplug(b, t2.fds)).rejects.toMatchObject({ kind: 'no-slot' });
      expect(await one.probeNetdev(b.netdevId)).toBe(false);
      await one.hotunplug(a);
    } finally {
      await one.close();
      adapter = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, unplugTimeoutMs: 3000 });
    }
  });

  it('hot unplug is idempotent: a missing device and netdev are skipped', async () => {
    const t = env.tap(1);
    const n = nic(t.tapName, 1);
    await adapter.hotplug(n, t.fds);
    await adapter.hotunplug(n);
    await expect(adapter.hotunplug(n)).resolves.toBeUndefined();
    await expect(adapter.hotunplug({ netdevId: 'neverthere', deviceId: 'virtio-neverthere' })).resolves.toBeUndefined();
  });

  it('rejects bad input with a typed invalid error naming the field, before any QMP command', async () => {
    const t = env.tap(2);
    const n = nic(t.tapName, 2);
    await expect(adapter.hotplug({ ...n, mac: '02:00:00:00:00:0G' }, t.fds)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('mac') });
    await expect(adapter.hotplug(n, t.fds.slice(0, 1))).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('fds') });
    await expect(adapter.hotplug(n, [])).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('fds') });
    await expect(adapter.hotplug({ ...n, netdevId: '1bad' }, t.fds)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('netdevId') });
    await expect(adapter.hotplug({ ...n, queues: 0 }, t.fds)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('queues') });
    await expect(adapter.hotplug(n, [999_999, 999_998])).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('fds') });
    expect(await adapter.probeNetdev(n.netdevId)).toBe(false);
    expect(await adapter.probeDevice(n.deviceId)).toEqual({ present: false });
  });

  it('re-plugging the same multiqueue fds after an unplug works (QEMU 7.2 would abort on a detached queue)', async () => {
    const tap = env.tap(4);
    const n = nic(tap.tapName, 4);
    for (let i = 0; i < 3; i++) {
      await adapter.hotplug(n, tap.fds);
      expect(queueCounts(tapDetails(env.netnsName, tap.tapName))).toEqual({ numqueues: 1, numdisabled: 3 });
      await adapter.hotunplug(n);
    }
    expect(await adapter.alive()).toBe(true);
    expect(q.stderr()).not.toContain('Assertion');
  });
});
