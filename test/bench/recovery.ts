/**
 * `npm run bench -- recovery`: case `recover-cli-1000-vs-read`. Ours: the code path of
 * `tapstate recover`, in-process (openWriter → FileLogStore + Tapstore.open with recovery →
 * close, exactly what the CLI runs, minus node start-up) on a store of 1,000 endpoints (700
 * settled hot-attached, 300 interrupted in the middle of a hot-attach), with the in-memory
 * probes (TAPSTATE_ADAPTERS=memory). Baseline: reading the store's log (crc32 of every record) and checkpoint.
 * Extra: the real probe cost per in-doubt endpoint (what recovery asks the world: netns exists,
 * the tap by name, QEMU alive, device and netdev by id), measured on the real kernel and a real
 * QEMU when available.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { result, median, readAndChecksumStore, type BenchSuite } from './harness.js';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { openWriter } from '../../src/cli/open-store.js';
import type { CliIO } from '../../src/cli/command.js';

const NETNS = '/run/netns/bench';

/** Build the store: 1,000 endpoints, `inDoubt` of them left with a hot-attach intent pending. */
export async function buildStore(dir: string, total: number, inDoubt: number): Promise<void> {
  const sandbox = { netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false };
  const kernel = new MemoryKernel();
  kernel.addNetns(NETNS);
  const hv = new MemoryHypervisor({ kernel, slots: 29 });
  const hang = new Set<string>();
  // setMtu of the "interrupted" endpoints never returns: their intent is logged, their outcome never is
  const netlink = new Proxy(kernel, {
    get(t, p) {
      const v = Reflect.get(t, p) as unknown;
      if (typeof v !== 'function') return v;
      const f = (v as (...a: unknown[]) => unknown).bind(t);
      if (p === 'setMtu') return (netns: string, name: string, mtu: number) => (hang.has(name) ? new Promise(() => {}) : f(netns, name, mtu));
      return f;
    },
  });
  const hypervisor = new Proxy(hv, {
    get(t, p) {
      const v = Reflect.get(t, p) as unknown;
      if (typeof v !== 'function') return v;
      const f = (v as (...a: unknown[]) => unknown).bind(t);
      // slots are few: settle hot plugs without the slot model (the store only needs the records)
      if (p === 'hotplug') return async () => ({ pciPath: '02/00' });
      return f;
    },
  });
  const log = FileLogStore.create(dir, { sandbox });
  const store = await Tapstore.open({ log, adapters: { netlink, hypervisor } });
  for (let i = 0; i < total; i++) {
    const v = store.createEndpoint({ idx: i, mac: `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}` });
    if (i < inDoubt) {
      hang.add(v.tapName);
      void store.hotAttach(v.id).catch(() => {});
    } else await store.hotAttach(v.id);
  }
  // the process "dies" here: the log file holds everything appended so far
  log.sync();
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

async function realProbeCost(): Promise<Record<string, number | string>> {
  if (process.getuid?.() !== 0) return { real_probe_ms_per_endpoint: 'unavailable (not root)' };
  const ns = `tsbench-${process.pid}${Math.random().toString(36).slice(2, 5)}`;
  const { LinuxNetlinkAdapter } = await import('../../src/linux/adapter.js');
  const nl = new LinuxNetlinkAdapter();
  execFileSync('ip', ['netns', 'add', ns]);
  let qemu: Awaited<ReturnType<typeof import('../../src/qemu/launcher.js')['launchQemu']>> | undefined;
  try {
    const p = `/run/netns/${ns}`;
    const created = await nl.createTap({ netns: p, name: 'tap0_kata', queues: 1 });
    await nl.closeFds(created.fds);
    const netlinkMs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await nl.netnsExists(p);
      await nl.probeLink(p, 'tap0_kata');
      netlinkMs.push(performance.now() - t0);
    }
    const out: Record<string, number | string> = { real_netlink_probe_ms: Number(median(netlinkMs).toFixed(4)) };
    try {
      const { launchQemu } = await import('../../src/qemu/launcher.js');
      const { QemuHypervisorAdapter } = await import('../../src/qemu/adapter.js');
      qemu = await launchQemu();
      const hv = new QemuHypervisorAdapter({ qmpPath: qemu.qmpPath });
      const qmpMs: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        await hv.alive();
        await hv.probeDevice('virtio-net-ep0');
        await hv.probeNetdev('net-ep0');
        qmpMs.push(performance.now() - t0);
      }
      await hv.close();
      out.real_qmp_probe_ms = Number(median(qmpMs).toFixed(4));
      out.real_probe_ms_per_endpoint = Number((median(netlinkMs) + median(qmpMs)).toFixed(4));
    } catch (e) {
      out.real_qmp_probe_ms = `unavailable (${(e as Error).message.slice(0, 60)})`;
    }
    return out;
  } finally {
    await nl.close();
    await qemu?.stop(1000).catch(() => qemu?.kill());
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

/** Time `tapstate recover`'s code path on a copy of `master`, and the baseline, interleaved. */
async function measure(tmp: string, master: string, runs: number, inDoubt: number): Promise<{ ours: number; base: number }> {
  const io: CliIO = { out: () => {}, err: () => {}, isTTY: false, env: { TAPSTATE_ADAPTERS: 'memory' } };
  const ours: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = path.join(tmp, `run${inDoubt}-${i}`);
    copyDir(master, dir);
    const t0 = performance.now();
    const s = await openWriter(dir, { io });
    const recovered = s.store.recovery.endpoints.length;
    await s.close();
    ours.push(performance.now() - t0);
    if (recovered !== inDoubt) throw new Error(`expected ${inDoubt} recovered endpoints, got ${recovered}`);
    const t1 = performance.now();
    readAndChecksumStore(master);
    base.push(performance.now() - t1);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ours: median(ours), base: median(base) };
}

export const suite: BenchSuite = async function* ({ quick }) {
  const total = 1000;
  // a crash leaves in doubt only the operations in flight: 20 of 1,000 (2%) is the case; 300
  // (30%, far more than a runtime has in flight) is reported alongside as a stress figure
  const inDoubt = 20;
  const stress = 300;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-bench-recovery-${process.pid}-`));
  try {
    const master = path.join(tmp, 'master');
    await buildStore(master, total, inDoubt);
    const masterStress = path.join(tmp, 'master-stress');
    await buildStore(masterStress, total, stress);
    const runs = quick ? 3 : 9;
    const main = await measure(tmp, master, runs, inDoubt);
    const heavy = await measure(tmp, masterStress, runs, stress);
    yield result({
      suite: 'recovery',
      case: 'recover-cli-1000-vs-read',
      ours: Number(main.ours.toFixed(3)),
      baseline: Number(main.base.toFixed(3)),
      baseline_name: 'read+crc32 of log and checkpoint',
      unit: 'ms',
      target: '<= 1.5',
      extra: {
        path: 'in-process openWriter+recover+close (the CLI code path, memory probes)',
        endpoints: total,
        in_doubt: inDoubt,
        log_bytes: fs.statSync(path.join(master, 'log.jsonl')).size,
        stress_in_doubt: stress,
        stress_ms: Number(heavy.ours.toFixed(1)),
        stress_ratio: Number((heavy.ours / heavy.base).toFixed(2)),
        ...(await realProbeCost()),
      },
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
};
