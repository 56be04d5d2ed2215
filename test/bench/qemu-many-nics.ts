/**
 * Bench case `qemu` / `hot-attach-9th-nic-vs-1st`: does a hot-attach cost more when the VM
 * already has NICs? Nine endpoints hot-attached one after another to one QEMU with nine root
 * ports (the public Tapstore with a durable FileLogStore, the LinuxNetlinkAdapter, the
 * QemuHypervisorAdapter), then all hot-detached; per round the 9th attach (eight NICs in place)
 * against the 1st (none); medians. Target <= 1.2. Also the QMP commands each sent: the adapter
 * asks QEMU which slots are taken once per connection, not before every hot plug (it once sent
 * a `qom-list` and two `qom-get`s per NIC already plugged, and QEMU 7.2 spends ~5 µs per byte
 * reading a command).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { FileLogStore } from '../../src/log/index.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { launchQemu, type QemuInstance } from '../../src/qemu/launcher.js';
import { rootPortTopology } from '../../src/qemu/topology.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';
import { makeNetns, type TestNetns } from '../linux/fixture.js';
import { median, result, type BenchResult } from './harness.js';
import { tearDownRig } from './qemu-rig.js';

const NICS = 9;
const r3 = (x: number): number => Number(x.toFixed(3));

export async function* manyNics({ quick }: { quick: boolean }): AsyncIterable<BenchResult> {
  const rounds = quick ? 3 : 9;
  const netns: TestNetns = makeNetns();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-bench-nics-${process.pid}-`));
  const netlink = new LinuxNetlinkAdapter();
  let q: QemuInstance | undefined;
  let hv: QemuHypervisorAdapter | undefined;
  let store: Tapstore | undefined;
  const first: number[] = [];
  const last: number[] = [];
  let commands = 0;
  const cmds = { first: 0, last: 0 };
  try {
    q = await launchQemu({ dir: path.join(dir, 'q'), topology: rootPortTopology({ count: NICS }) });
    // the fault-plan hook sees every QMP command: it only counts (no fault)
    hv = new QemuHypervisorAdapter({ qmpPath: q.qmpPath, qmpFaults: () => (commands++, 'ok') });
    await hv.alive();
    const sandbox: SandboxConfig = { netnsPath: netns.path, netnsCreated: true, vcpus: 1, vhost: false };
    store = await Tapstore.open({ log: FileLogStore.create(path.join(dir, 'store'), { sandbox }), adapters: { netlink, hypervisor: hv } });
    let mac = 0;
    for (let r = -1; r < rounds; r++) {
      const ids: string[] = [];
      for (let i = 0; i < NICS; i++) {
        const { id } = store.createEndpoint({ idx: i, mac: `02:00:00:00:4${(mac >> 8) & 0xf}:${(mac++ & 0xff).toString(16).padStart(2, '0')}` });
        ids.push(id);
        commands = 0;
        const t0 = performance.now();
        await store.hotAttach(id);
        const t = performance.now() - t0;
        if (r < 0) continue; // warm-up round (the first hot plug of a connection asks QEMU what it has)
        if (i === 0) (first.push(t), (cmds.first = commands));
        if (i === NICS - 1) (last.push(t), (cmds.last = commands));
      }
      for (const id of ids) await store.hotDetach(id);
    }
  } finally {
    await tearDownRig({ store, hv, q, netlink, netns, dir });
  }
  yield result({
    suite: 'qemu',
    case: 'hot-attach-9th-nic-vs-1st',
    ours: r3(median(last)),
    baseline: r3(median(first)),
    baseline_name: 'hot-attach of the 1st NIC',
    unit: 'ms',
    target: '<= 1.2',
    extra: { rounds, nics: NICS, qmp_commands_1st: cmds.first, qmp_commands_9th: cmds.last },
  });
}
