/**
 * Bench suite `qemu`: the real kernel and a real guest-less QEMU.
 *
 * - `hot-attach-detach-vs-direct`: hot-attach + hot-detach of one endpoint through tapstate (the
 *   endpoint machine, a durable FileLogStore with the default `command` durability, the
 *   LinuxNetlinkAdapter, the QemuHypervisorAdapter) vs the same kernel and QMP operations issued
 *   directly, in the same order, by a minimal script in the same process on the same adapter
 *   instances (createTap, setMtu, setUp, hotplug, close fds; hotunplug, setUp false, deleteLink).
 *   One QEMU for the whole bench; rounds interleaved (the side that goes first alternates);
 *   medians. Target ratio <= 1.15.
 * - `hot-attach-9th-nic-vs-1st`: test/bench/qemu-many-nics.ts.
 * - then the cases of test/qemu/bench.ts (adapter vs bare QMP, launch time).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NicSpec } from '../../src/adapters/hypervisor.js';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { FileLogStore } from '../../src/log/index.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { launchQemu, type QemuInstance } from '../../src/qemu/launcher.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';
import { makeNetns, type TestNetns } from '../linux/fixture.js';
import { requireRealEnvironment } from '../qemu/tap-helper.js';
import { suite as adapterSuite } from '../qemu/bench.js';
import { median, result, type BenchSuite } from './harness.js';
import { manyNics } from './qemu-many-nics.js';
import { tearDownRig } from './qemu-rig.js';

const QUEUES = 2;
const MTU = 1400;

const r3 = (x: number): number => Number(x.toFixed(3));
const p90 = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;

/** The direct script: the adapter calls tapstate makes for one hot-attach + hot-detach. */
async function direct(netlink: LinuxNetlinkAdapter, hv: QemuHypervisorAdapter, netns: string, n: number): Promise<number> {
  const name = `tapd${n}_kata`;
  const nic: NicSpec = { netdevId: `net-d${n}`, deviceId: `virtio-net-d${n}`, mac: '02:00:00:00:20:01', queues: QUEUES, tapName: name, vhost: false };
  const tap = await netlink.createTap({ netns, name, queues: QUEUES });
  await netlink.setMtu(netns, name, MTU);
  await netlink.setUp(netns, name, true);
  try {
    await hv.hotplug(nic, tap.fds);
  } finally {
    await netlink.closeFds(tap.fds);
  }
  const attached = performance.now();
  await hv.hotunplug({ netdevId: nic.netdevId, deviceId: nic.deviceId });
  await netlink.setUp(netns, name, false);
  await netlink.deleteLink(netns, name);
  return attached;
}

export const suite: BenchSuite = async function* ({ quick }) {
  requireRealEnvironment();
  const rounds = quick ? 10 : 40;
  const warmup = 3;
  const netns: TestNetns = makeNetns();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-bench-qemu-${process.pid}-`));
  const netlink = new LinuxNetlinkAdapter();
  let q: QemuInstance | undefined;
  let hv: QemuHypervisorAdapter | undefined;
  let store: Tapstore | undefined;
  const ours: number[] = [];
  const base: number[] = [];
  /** The attach half of each round (the rest is the detach half). */
  const oursAttach: number[] = [];
  const baseAttach: number[] = [];
  let syncs = 0;
  let syncMs = 0;
  try {
    q = await launchQemu();
    hv = new QemuHypervisorAdapter({ qmpPath: q.qmpPath });
    await hv.alive(); // connect outside the timing
    const sandbox: SandboxConfig = { netnsPath: netns.path, netnsCreated: true, vcpus: QUEUES, vhost: false };
    const log = FileLogStore.create(path.join(dir, 'store'), { sandbox }, {
      fdatasync: (fd) => {
        syncs++;
        const t = performance.now();
        fs.fdatasyncSync(fd);
        syncMs += performance.now() - t;
      },
    });
    store = await Tapstore.open({ log, adapters: { netlink, hypervisor: hv } });
    let idx = 0;
    const viaTapstate = async (record: boolean): Promise<void> => {
      const { id } = store!.createEndpoint({ idx: idx++, mac: '02:00:00:00:20:02', mtu: MTU });
      const t0 = performance.now();
      await store!.hotAttach(id);
      const t1 = performance.now();
      const v = await store!.hotDetach(id);
      const t2 = performance.now();
      if (v.state !== 'detached') throw new Error(`bench: endpoint ${id} ended in ${v.state}`);
      if (record) {
        ours.push(t2 - t0);
        oursAttach.push(t1 - t0);
      }
    };
    let d = 0;
    const viaDirect = async (record: boolean): Promise<void> => {
      const t0 = performance.now();
      const t1 = await direct(netlink, hv!, netns.path, d++);
      const t2 = performance.now();
      if (record) {
        base.push(t2 - t0);
        baseAttach.push(t1 - t0);
      }
    };
    for (let i = 0; i < warmup; i++) {
      await viaTapstate(false);
      await viaDirect(false);
    }
    const syncsBefore = syncs;
    const syncMsBefore = syncMs;
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        await viaTapstate(true);
        await viaDirect(true);
      } else {
        await viaDirect(true);
        await viaTapstate(true);
      }
    }
    syncs -= syncsBefore;
    syncMs -= syncMsBefore;
  } finally {
    await tearDownRig({ store, hv, q, netlink, netns, dir });
  }
  yield result({
    suite: 'qemu',
    case: 'hot-attach-detach-vs-direct',
    ours: r3(median(ours)),
    baseline: r3(median(base)),
    baseline_name: 'direct adapter calls',
    unit: 'ms',
    target: '<= 1.15',
    extra: {
      rounds,
      queues: QUEUES,
      ours_attach: r3(median(oursAttach)),
      direct_attach: r3(median(baseAttach)),
      ours_detach: r3(median(ours.map((x, i) => x - oursAttach[i]!))),
      direct_detach: r3(median(base.map((x, i) => x - baseAttach[i]!))),
      ours_p90: r3(p90(ours)), direct_p90: r3(p90(base)), fdatasyncs_per_round: r3(syncs / rounds),
      fdatasync_ms_per_round: r3(syncMs / rounds),
    },
  });
  yield* manyNics({ quick });
  yield* adapterSuite({ quick });
};
