/**
 * The adapter asks QEMU which hot-plug slots are taken once per connection, then keeps that up
 * to date with its own plugs and unplugs (src/qemu/slot-occupancy.ts) — and stays right when
 * another plugger changes the slots under it. Real QEMU, four root ports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NicSpec } from '../../src/adapters/hypervisor.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import type { QemuInstance } from '../../src/qemu/launcher.js';
import { rootPortTopology, type Slot } from '../../src/qemu/topology.js';
import { RealEnv } from './qemu-fixture.js';
import { uniqueName } from './tap-helper.js';

let env: RealEnv;
let q: QemuInstance;
let n = 0;

function nic(tapName: string): NicSpec {
  const id = uniqueName('o', 12);
  return { netdevId: id, deviceId: `virtio-${id}`, mac: `02:00:00:00:51:${(n++ % 256).toString(16).padStart(2, '0')}`, queues: 1, tapName, vhost: false };
}

/** An adapter that records the QMP commands it sends. */
function recording(slots?: Slot[]) {
  const sent: string[] = [];
  const adapter = new QemuHypervisorAdapter({
    qmpPath: q.qmpPath,
    unplugTimeoutMs: 3000,
    ...(slots && { slots }),
    qmpFaults: (c) => (sent.push(c.method), 'ok'),
  });
  return { adapter, sent, take: () => sent.splice(0) };
}

/** A device plugged by someone else (a runtime's own disk, say) on the control socket. */
const plugOther = (id: string, bus: string) => q.control.execute('device_add', { id, driver: 'virtio-net-pci', romfile: '', bus, addr: '0x0' });
const parentBus = async (id: string) => ((await q.control.execute('qom-get', { path: `/machine/peripheral/${id}`, property: 'parent_bus' })) as string).split('/').pop();

beforeAll(async () => {
  env = new RealEnv();
  q = await env.qemu({ topology: rootPortTopology({ count: 4 }) });
});

afterAll(async () => {
  await env?.teardown();
});

describe('hot-plug slot occupancy, asked once per connection', () => {
  it('the 4th hot plug sends getfd, netdev_add and device_add only; its unplug device_del and netdev_del only', async () => {
    const { adapter, take } = recording();
    const nics: NicSpec[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const tap = env.tap(1);
        const x = nic(tap.tapName);
        take();
        await adapter.hotplug(x, tap.fds);
        tap.closeFds();
        nics.push(x);
      }
      // before: qom-list plus qom-get parent_bus and addr for each of the 3 NICs already there
      expect(take()).toEqual(['getfd', 'netdev_add', 'device_add']);
      await adapter.hotunplug(nics.pop()!);
      // before: two closefd for fd names a completed netdev_add had already consumed
      expect(take()).toEqual(['device_del', 'netdev_del']);
      for (const x of nics) await adapter.hotunplug(x);
      // the freed slots are known free: a new hot plug asks nothing
      const tap = env.tap(1);
      const again = nic(tap.tapName);
      take();
      await adapter.hotplug(again, tap.fds);
      tap.closeFds();
      expect(take()).toEqual(['getfd', 'netdev_add', 'device_add']);
      await adapter.hotunplug(again);
    } finally {
      await adapter.close();
    }
  });

  it('the first hot plug on a connection asks with 4 short commands: query-pci, two qom-lists, one qom-get (regression: 19 commands, ~2,000 bytes: parent_bus, addr and hotplug of every root port, the peripheral list twice)', async () => {
    const sent: { method: string; bytes: number }[] = [];
    const adapter = new QemuHypervisorAdapter({
      qmpPath: q.qmpPath,
      unplugTimeoutMs: 3000,
      qmpFaults: (c) => (sent.push({ method: c.method, bytes: JSON.stringify({ execute: c.method, arguments: c.args[0] }).length }), 'ok'),
    });
    const tap = env.tap(1);
    const x = nic(tap.tapName);
    try {
      const { pciPath } = await adapter.hotplug(x, tap.fds);
      expect(pciPath).toBe('03/00');
      const asked = sent.slice(0, sent.findIndex((c) => c.method === 'getfd'));
      expect(asked.map((c) => c.method)).toEqual(['query-pci', 'qom-list', 'qom-list', 'qom-get']);
      expect(asked.reduce((n, c) => n + c.bytes, 0)).toBeLessThan(320);
    } finally {
      tap.closeFds();
      await adapter.hotunplug(x);
      await adapter.close();
    }
  });

  it('a slot another plugger took since the last look: QEMU refuses it, the adapter asks again and plugs elsewhere', async () => {
    const { adapter, take } = recording();
    const t1 = env.tap(1);
    const t2 = env.tap(1);
    const a = nic(t1.tapName);
    const b = nic(t2.tapName);
    try {
      await adapter.hotplug(a, t1.fds); // asks QEMU: rp0 is taken now, rp1 believed free
      expect(await parentBus(a.deviceId)).toBe('rp0');
      await plugOther('other-disk', 'rp1');
      take();
      const { pciPath } = await adapter.hotplug(b, t2.fds);
      expect(await parentBus(b.deviceId)).toBe('rp2');
      expect(pciPath).toMatch(/^0[3-6]\/00$/);
      const sent = take();
      expect(sent.filter((c) => c === 'device_add')).toHaveLength(2); // refused on rp1, then rp2
      expect(sent).toContain('qom-list');
      await adapter.hotunplug(b);
      await adapter.hotunplug(a);
    } finally {
      t1.closeFds();
      t2.closeFds();
      await q.control.execute('device_del', { id: 'other-disk' }).catch(() => undefined);
      await adapter.close();
    }
  });

  it('a slot believed taken but freed by someone else: asked again before giving up', async () => {
    // one slot only: rp3
    const { adapter } = recording([{ bus: 'rp3', addr: 0, bridgeAddr: 6 }]);
    const t1 = env.tap(1);
    const t2 = env.tap(1);
    const a = nic(t1.tapName);
    const b = nic(t2.tapName);
    try {
      await adapter.hotplug(a, t1.fds);
      // someone else removes our NIC (the adapter still believes rp3 taken)
      const sub = q.control.subscribe('DEVICE_DELETED', (e) => e.data['device'] === a.deviceId);
      await q.control.execute('device_del', { id: a.deviceId });
      await sub.next(5000);
      await q.control.execute('netdev_del', { id: a.netdevId });
      expect(await adapter.hotplug(b, t2.fds)).toEqual({ pciPath: '06/00' });
      expect(await parentBus(b.deviceId)).toBe('rp3');
      await adapter.hotunplug(b);
    } finally {
      t1.closeFds();
      t2.closeFds();
      await adapter.close();
    }
  });
});
