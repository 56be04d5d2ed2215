/**
 * Bench suite `qemu` (for the lead to wire into test/bench/main.ts as `test/bench/qemu.ts`
 * re-export): real QEMU, guest-less, root ports with ACPI hotplug off.
 *   - hotplug: QemuHypervisorAdapter.hotplug (validation, slot query by qom, getfd+SCM_RIGHTS,
 *     netdev_add, device_add) vs the bare QMP commands on a fixed slot (baseline).
 *   - unplug: hotunplug (device_del → DEVICE_DELETED → netdev_del) vs the bare commands.
 *   - ready: launch → first QMP answer (no baseline: reported with baseline = itself).
 */
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { launchQemu } from '../../src/qemu/launcher.js';
import { QmpClient } from '../../src/qemu/qmp-client.js';
import { median, result, type BenchSuite } from '../bench/harness.js';
import { createNetns, makeTap } from './tap-helper.js';

export const suite: BenchSuite = async function* ({ quick }) {
  const n = quick ? 5 : 20;
  const netns = createNetns();
  const ready: number[] = [];
  const plug: number[] = [];
  const unplug: number[] = [];
  const rawPlug: number[] = [];
  const rawUnplug: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const q = await launchQemu();
      ready.push(q.readyMs);
      const tap = makeTap(netns.name, 2);
      const tap2 = makeTap(netns.name, 2); // fresh fds for the baseline (queues never detached)
      try {
        const ours = async () => {
          const a = new QemuHypervisorAdapter({ qmpPath: q.qmpPath });
          const nic = { netdevId: 'b0', deviceId: 'virtio-b0', mac: '02:00:00:00:00:0b', queues: 2, tapName: tap.tapName, vhost: false };
          await a.alive(); // connection established outside the timing
          let t = performance.now();
          await a.hotplug(nic, tap.fds);
          plug.push(performance.now() - t);
          t = performance.now();
          await a.hotunplug(nic);
          unplug.push(performance.now() - t);
          await a.close();
        };
        const raw = async () => {
          const c = await QmpClient.connect(q.qmpPath);
          let t = performance.now();
          const names = [await c.passFd(tap2.fds[0]!), await c.passFd(tap2.fds[1]!)];
          await c.execute('netdev_add', { type: 'tap', id: 'r0', fds: names.join(':') });
          await c.execute('device_add', { id: 'virtio-r0', driver: 'virtio-net-pci', romfile: '', bus: 'rp0', addr: '0x0', mac: '02:00:00:00:00:0c', netdev: 'r0', mq: 'on', vectors: 6 });
          rawPlug.push(performance.now() - t);
          t = performance.now();
          const sub = c.subscribe('DEVICE_DELETED', (e) => e.data['device'] === 'virtio-r0');
          await c.execute('device_del', { id: 'virtio-r0' });
          await sub.next(5000);
          await c.execute('netdev_del', { id: 'r0' });
          rawUnplug.push(performance.now() - t);
          c.close();
        };
        // alternate which side goes first on a fresh QEMU: the second unplug on the same QEMU is slower
        if (i % 2 === 0) {
          await ours();
          await raw();
        } else {
          await raw();
          await ours();
        }
      } finally {
        tap.closeFds();
        tap2.closeFds();
        await q.stop();
      }
    }
  } finally {
    netns.delete();
  }
  const r = (x: number) => Number(x.toFixed(3));
  yield result({ suite: 'qemu', case: 'launch → QMP ready', ours: r(median(ready)), baseline: r(median(ready)), baseline_name: 'same', unit: 'ms', extra: { max: r(Math.max(...ready)) } });
  yield result({ suite: 'qemu', case: 'hotplug 2-queue NIC', ours: r(median(plug)), baseline: r(median(rawPlug)), baseline_name: 'bare QMP', unit: 'ms' });
  yield result({ suite: 'qemu', case: 'hotunplug 2-queue NIC', ours: r(median(unplug)), baseline: r(median(rawUnplug)), baseline_name: 'bare QMP', unit: 'ms' });
};
