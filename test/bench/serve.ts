/**
 * Bench suite `serve`: `tapstate serve` as a child process, driven over its unix socket with a
 * keep-alive HTTP client (as a runtime would), on the real kernel and real QEMUs.
 *
 * - `api-hot-attach-detach-vs-library`: hot-attach + hot-detach of a fresh endpoint through the
 *   API vs the same through the library in one process (Tapstore, durable FileLogStore, Linux
 *   adapter, QEMU adapter). Same netns, same QEMU (the library on a second QMP socket), rounds
 *   interleaved, the side that goes first alternating; medians of 100. Target <= 1.05.
 * - `api-status-vs-cli`: `GET …/endpoints` vs `tapstate status --json` as a process, on the same
 *   store. Target <= 0.05.
 * - `api-64-sandboxes-concurrent-vs-sequential`: 64 sandboxes (one QEMU each, one netns) each
 *   hot-attach a fresh endpoint: all at once vs one after another, through the API; the daemon's
 *   event-loop p99 delay during the concurrent runs (from its health). Target <= 0.35. Also, per
 *   mode (medians over the rounds): the CPU time of the daemon, of the 64 QEMUs (and of their QMP
 *   monitor I/O threads alone, which QEMU 7.2 runs once per byte received) and of this client,
 *   and how long the daemon's main thread ran and waited runnable for a CPU (schedstat: on a
 *   machine with idle cores the wait is ~0; a large wait means the host's CPUs, not the daemon,
 *   bound the run), and `cpu_bound_ratio_floor`: that CPU spread perfectly over the host's cores,
 *   against the sequential median — no scheduling can beat it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { FileLogStore } from '../../src/log/index.js';
import { QemuHypervisorAdapter } from '../../src/qemu/adapter.js';
import { launchQemu, type QemuInstance } from '../../src/qemu/launcher.js';
import { rootPortTopology } from '../../src/qemu/topology.js';
import { Tapstore, type SandboxConfig } from '../../src/runtime/tapstore.js';
import { makeNetns, type TestNetns } from '../linux/fixture.js';
import { startDaemon, CLI, type DaemonProcess } from '../daemon/daemon-process.js';
import { median, result, type BenchSuite } from './harness.js';

const r3 = (x: number): number => Number(x.toFixed(3));

/** CPU time (ms) of a process, all its threads (utime + stime). */
function cpuMs(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ = 100
  } catch {
    return 0;
  }
}

/** The main thread of `pid`: ms on a CPU, ms runnable waiting for one (/proc/…/schedstat). */
function mainThreadSched(pid: number): { run: number; wait: number } {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { run: run! / 1e6, wait: wait! / 1e6 };
  } catch {
    return { run: 0, wait: 0 };
  }
}

/**
 * CPU time (ms) of the QMP monitor I/O thread of a QEMU started with `-name debug-threads=on`
 * (QEMU 7.2 reads QMP one byte per trip around that thread's loop: docs/benchmarks.md).
 */
function monitorThreadMs(pid: number): number {
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      if (fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() !== 'IO mon_iothread') continue;
      return Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    }
  } catch {
    /* gone */
  }
  return 0;
}

/** What a run of `pids` (daemon, QEMUs) and this process cost: CPU by party, the daemon main thread's run/wait. */
function costMeter(daemonPid: number, qemuPids: readonly number[]) {
  const snap = () => ({
    d: cpuMs(daemonPid),
    q: qemuPids.reduce((a, p) => a + cpuMs(p), 0),
    qm: qemuPids.reduce((a, p) => a + monitorThreadMs(p), 0),
    c: process.cpuUsage(),
    s: mainThreadSched(daemonPid),
  });
  return () => {
    const a = snap();
    return () => {
      const b = snap();
      const client = (b.c.user + b.c.system - a.c.user - a.c.system) / 1000;
      return { daemonCpu: b.d - a.d, qemuCpu: b.q - a.q, qemuMonitorCpu: b.qm - a.qm, clientCpu: client, mainRun: b.s.run - a.s.run, mainWait: b.s.wait - a.s.wait };
    };
  };
}
type Cost = ReturnType<ReturnType<ReturnType<typeof costMeter>>>;

/** Root, /dev/net/tun and QEMU (TCG is fine: KVM is not needed). */
function requireReal(): void {
  if (process.getuid?.() !== 0) throw new Error('bench serve needs root');
  if (!fs.existsSync('/dev/net/tun')) throw new Error('bench serve needs /dev/net/tun');
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) throw new Error('bench serve needs qemu-system-x86_64 on PATH');
}

/** A keep-alive JSON client of the daemon. */
function client(socketPath: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const call = (method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({ socketPath, method, path: p, agent, headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : null });
        });
      });
      req.on('error', reject);
      req.end(text);
    });
  const ok = async (method: string, p: string, body?: unknown): Promise<any> => {
    const r = await call(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return { call, ok, close: () => agent.destroy() };
}

/** Medians of the costs of the rounds of one mode, as flat bench figures (ms). */
function costFigures(mode: string, costs: readonly Cost[]): Record<string, number> {
  const m = (k: keyof Cost) => Math.round(median(costs.map((c) => c[k])));
  return {
    [`${mode}_cpu_daemon_ms`]: m('daemonCpu'),
    [`${mode}_cpu_qemus_ms`]: m('qemuCpu'),
    [`${mode}_cpu_qemus_monitor_io_ms`]: m('qemuMonitorCpu'),
    [`${mode}_cpu_client_ms`]: m('clientCpu'),
    [`${mode}_daemon_main_run_ms`]: m('mainRun'),
    [`${mode}_daemon_main_runnable_wait_ms`]: m('mainWait'),
  };
}

export const suite: BenchSuite = async function* ({ quick }) {
  requireReal();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-bench-serve-${process.pid}-`));
  const netns: TestNetns = makeNetns();
  const qemus: QemuInstance[] = [];
  let daemon: DaemonProcess | undefined;
  let store: Tapstore | undefined;
  const netlink = new LinuxNetlinkAdapter();
  let hv: QemuHypervisorAdapter | undefined;
  const api = client(path.join(dir, 'api.sock'));
  try {
    // a runtime keeps its connections: no idle cut-off while 64 QEMUs start
    daemon = startDaemon(path.join(dir, 'api.sock'), path.join(dir, 'state'), {}, ['--idle-timeout-ms', '600000']);
    await daemon.ready();

    // ---- api-hot-attach-detach-vs-library
    const libQmp = path.join(dir, 'lib-qmp.sock');
    const q = await launchQemu({ dir: path.join(dir, 'qemu'), extraArgs: ['-qmp', `unix:${libQmp},server=on,wait=off`] });
    qemus.push(q);
    const sandbox: SandboxConfig = { netnsPath: netns.path, netnsCreated: true, vcpus: 2, vhost: false };
    await api.ok('PUT', '/v1/sandboxes/one', { ...sandbox, qmp: q.qmpPath });
    hv = new QemuHypervisorAdapter({ qmpPath: libQmp });
    await hv.alive();
    store = await Tapstore.open({ log: FileLogStore.create(path.join(dir, 'lib-store'), { sandbox }), adapters: { netlink, hypervisor: hv } });
    const rounds = quick ? 20 : 100; // the op is ~90 ms and swings ±10 % per round: medians of 100 hold the 5 % target's scale
    const ours: number[] = [];
    const base: number[] = [];
    let n = 0;
    const viaApi = async (): Promise<number> => {
      const ep = (await api.ok('POST', '/v1/sandboxes/one/endpoints', { idx: 0 })).id as string;
      const t0 = performance.now();
      await api.ok('POST', `/v1/sandboxes/one/endpoints/${ep}/actions`, { action: 'hot-attach' });
      await api.ok('POST', `/v1/sandboxes/one/endpoints/${ep}/actions`, { action: 'hot-detach' });
      return performance.now() - t0;
    };
    const viaLib = async (): Promise<number> => {
      const ep = store!.createEndpoint({ idx: 1, mac: `02:00:00:00:30:${(n++ % 256).toString(16).padStart(2, '0')}` }).id;
      const t0 = performance.now();
      await store!.hotAttach(ep);
      await store!.hotDetach(ep);
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) (await viaApi(), await viaLib()); // warm-up
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        ours.push(await viaApi());
        base.push(await viaLib());
      } else {
        base.push(await viaLib());
        ours.push(await viaApi());
      }
    }
    yield result({ suite: 'serve', case: 'api-hot-attach-detach-vs-library', ours: r3(median(ours)), baseline: r3(median(base)), baseline_name: 'library-in-process', unit: 'ms', target: '<= 1.05', extra: { rounds } });

    // ---- api-status-vs-cli (the daemon's store "one" has 2 × rounds+3 endpoints' history)
    const stRounds = quick ? 5 : 15;
    const st: number[] = [];
    const cli: number[] = [];
    const storeDir = path.join(dir, 'state', 'one');
    for (let i = 0; i < stRounds; i++) {
      let t0 = performance.now();
      await api.ok('GET', '/v1/sandboxes/one/endpoints');
      st.push(performance.now() - t0);
      t0 = performance.now();
      const r = spawnSync(process.execPath, [CLI, 'status', '--store', storeDir, '--json']);
      cli.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`tapstate status failed: ${r.stderr}`);
    }
    yield result({ suite: 'serve', case: 'api-status-vs-cli', ours: r3(median(st)), baseline: r3(median(cli)), baseline_name: 'tapstate status --json', unit: 'ms', target: '<= 0.05' });

    // ---- api-64-sandboxes-concurrent-vs-sequential
    const N = 64;
    for (let i = 0; i < N; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, N - i) }, (_, k) => launchQemu({ dir: path.join(dir, `q${i + k}`), topology: rootPortTopology({ count: 1 }), extraArgs: ['-name', 'debug-threads=on'] })),
      );
      qemus.push(...batch);
    }
    const many = qemus.slice(1);
    await Promise.all(many.map((qq, i) => api.ok('PUT', `/v1/sandboxes/s${i}`, { netnsPath: netns.path, netnsCreated: true, vcpus: 1, vhost: false, qmp: qq.qmpPath })));
    const attachOne = async (i: number): Promise<void> => {
      const ep = (await api.ok('POST', `/v1/sandboxes/s${i}/endpoints`, { idx: 10 + i })).id as string;
      await api.ok('POST', `/v1/sandboxes/s${i}/endpoints/${ep}/actions`, { action: 'hot-attach' });
    };
    const detachAll = async (): Promise<void> => {
      await Promise.all(
        many.map(async (_q, i) => {
          for (const e of (await api.ok('GET', `/v1/sandboxes/s${i}/endpoints`)).endpoints)
            if (e.state === 'hotAttached') await api.ok('POST', `/v1/sandboxes/s${i}/endpoints/${e.id}/actions`, { action: 'hot-detach' });
        }),
      );
    };
    const manyRounds = quick ? 2 : 4;
    const conc: number[] = [];
    const seq: number[] = [];
    const p99: number[] = [];
    const meter = costMeter(daemon.pid, many.map((qq) => qq.pid));
    const concCost: Cost[] = [];
    const seqCost: Cost[] = [];
    for (let i = 0; i < many.length; i++) await attachOne(i); // warm-up, one by one: every QMP connection open (a loaded host may not greet 64 at once within the adapter's timeout)
    await detachAll();
    for (let r = 0; r < manyRounds; r++) {
      const runConc = async () => {
        await api.ok('GET', '/v1/health?reset=1');
        const stop = meter();
        const t0 = performance.now();
        await Promise.all(many.map((_q, i) => attachOne(i)));
        conc.push(performance.now() - t0);
        concCost.push(stop());
        p99.push((await api.ok('GET', '/v1/health')).eventLoop.p99Ms);
        await detachAll();
      };
      const runSeq = async () => {
        const stop = meter();
        const t0 = performance.now();
        for (let i = 0; i < many.length; i++) await attachOne(i);
        seq.push(performance.now() - t0);
        seqCost.push(stop());
        await detachAll();
      };
      if (r % 2 === 0) (await runConc(), await runSeq());
      else (await runSeq(), await runConc());
    }
    yield result({
      suite: 'serve',
      case: 'api-64-sandboxes-concurrent-vs-sequential',
      ours: r3(median(conc)),
      baseline: r3(median(seq)),
      baseline_name: 'one-after-another',
      unit: 'ms',
      target: '<= 0.35',
      extra: {
        sandboxes: many.length,
        rounds: manyRounds,
        daemon_event_loop_p99_ms: r3(median(p99)),
        // the best this host's CPUs allow: a concurrent round's CPU (all parties) spread perfectly
        // over every core, against the sequential median (the target is unreachable when > 0.35)
        cpus: os.availableParallelism(),
        cpu_bound_ratio_floor: r3(median(concCost.map((c) => c.daemonCpu + c.qemuCpu + c.clientCpu)) / os.availableParallelism() / median(seq)),
        ...costFigures('conc', concCost),
        ...costFigures('seq', seqCost),
      },
    });
  } finally {
    api.close();
    await store?.close().catch(() => {});
    await hv?.close().catch(() => {});
    await daemon?.stop().catch(() => {});
    await Promise.allSettled(qemus.map((q) => q.stop(2000)));
    await netlink.close().catch(() => {});
    netns.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

