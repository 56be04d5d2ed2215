/**
 * Netlink adapter benchmarks on the real kernel (root): the adapter vs the same syscalls in C
 * (compiled here with `cc` into a temp dir), vs spawning `ip`, and 64 concurrent teardowns vs
 * sequential ones. Creates and deletes its own netns.
 *
 * Fairness: the C baseline runs as a long-lived server (`netlink_cycle serve`, started with
 * `ip netns exec` in the bench's netns, where the adapter works too) and the two sides alternate
 * — every other cycle, every small batch of get+set — so both see the same machine load (the
 * cycle is dominated by RCU grace periods, which vary with load); figures are medians. In the
 * light case both sides are also pinned to the same CPU for each stretch of rounds, switching
 * CPU every few rounds: on a VM one vCPU can be slower than the other for seconds (host
 * neighbours), which would otherwise bias whichever side the scheduler left there.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LinuxNetlinkAdapter } from '../../src/linux/index.js';
import { median, result, type BenchSuite } from './harness.js';
import { publicCases } from './netlink-public.js';

const here = dirname(fileURLToPath(import.meta.url));
/** test/bench/c/netlink_cycle.c, from the sources or from dist/test/bench. */
const cSource = (): string => {
  for (const p of [join(here, 'c/netlink_cycle.c'), resolve(here, '../../../test/bench/c/netlink_cycle.c')]) {
    try {
      execFileSync('test', ['-f', p]);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error('netlink bench: test/bench/c/netlink_cycle.c not found');
};

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args).toString();

/** The q-quantile (nearest rank) of samples. */
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

export const suite: BenchSuite = async function* ({ quick }) {
  if (process.getuid?.() !== 0) throw new Error('netlink bench needs root');
  const nsName = `tst-${process.pid}-${randomBytes(4).toString('hex')}`;
  const ns = `/run/netns/${nsName}`;
  const dir = mkdtempSync(join(tmpdir(), `tst-${process.pid}-bench-`));
  const a = new LinuxNetlinkAdapter();
  sh('ip', ['netns', 'add', nsName]);
  try {
    const bin = join(dir, 'netlink_cycle');
    sh('cc', ['-O2', '-o', bin, cSource()]);
    // the public-API cases first: their own netns, a fresh node process (netlink-public.ts)
    yield* publicCases(quick, bin);
    if (process.env.NETLINK_BENCH_PUBLIC_ONLY) return;
    const server = spawn('ip', ['netns', 'exec', nsName, bin, 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
    const askC = async (cmd: string): Promise<number[]> => {
      server.stdin.write(cmd + '\n');
      const r = await lines.next();
      if (r.done) throw new Error(`netlink bench: C baseline exited on "${cmd}"`);
      return r.value.trim().split(' ').map(Number);
    };
    try {
      const cycle = async (name: string): Promise<number> => {
        const t0 = performance.now();
        const { fds } = await a.createTap({ netns: ns, name, queues: 1 });
        await a.getLink(ns, name);
        await a.setMtu(ns, name, 1400);
        await a.setUp(ns, name, true);
        await a.setUp(ns, name, false);
        await a.closeFds(fds);
        await a.deleteLink(ns, name);
        return performance.now() - t0;
      };
      const ipCycle = (name: string): number => {
        const t0 = performance.now();
        sh('ip', ['-n', nsName, 'tuntap', 'add', 'mode', 'tap', 'name', name, 'vnet_hdr']);
        sh('ip', ['-n', nsName, 'link', 'show', name]);
        sh('ip', ['-n', nsName, 'link', 'set', name, 'mtu', '1400', 'up']);
        sh('ip', ['-n', nsName, 'link', 'set', name, 'down']);
        sh('ip', ['-n', nsName, 'link', 'del', name]);
        return performance.now() - t0;
      };

      // warm-up (sockets, JIT; the C side too)
      for (let i = 0; i < 10; i++) {
        await cycle('bwarm');
        await askC('cycle bwarm');
      }

      // ours and C alternate cycle by cycle (who goes first alternates too)
      const cycles = quick ? 40 : 300;
      const ours: number[] = [];
      const c: number[] = [];
      const ip: number[] = [];
      for (let i = 0; i < cycles; i++) {
        if (i % 2 === 0) {
          ours.push(await cycle('bcyc'));
          c.push(...(await askC('cycle bcyc')));
        } else {
          c.push(...(await askC('cycle bcyc')));
          ours.push(await cycle('bcyc'));
        }
        if (i % 10 === 0) ip.push(ipCycle('bcyc'));
      }
      yield result({
        suite: 'netlink', case: 'tap-cycle-vs-c', ours: median(ours), baseline: median(c), baseline_name: 'C same syscalls', unit: 'ms', target: '<= 1.05',
        extra: { cycles, ours_p90_ms: Number(quantile(ours, 0.9).toFixed(3)), c_p90_ms: Number(quantile(c, 0.9).toFixed(3)) },
      });
      yield result({ suite: 'netlink', case: 'tap-cycle-vs-ip', ours: median(ours), baseline: median(ip), baseline_name: 'ip spawned', unit: 'ms', target: '<= 0.67' });

      // light: get + set MTU on an existing tap, in alternating batches, both sides on one CPU
      const cpus = availableParallelism();
      /** Pin our main thread (taskset on the process id sets the main thread only) and the C server. */
      const pin = async (cpu: number): Promise<void> => {
        sh('taskset', ['-p', '-c', cpu < 0 ? `0-${cpus - 1}` : String(cpu), String(process.pid)]);
        await askC(`cpu ${cpu}`);
      };
      const { fds } = await a.createTap({ netns: ns, name: 'blight', queues: 1 });
      try {
        const batch = 250;
        const rounds = quick ? 8 : 120;
        const pair = async (i: number): Promise<number> => {
          const t0 = performance.now();
          await a.getLink(ns, 'blight');
          await a.setMtu(ns, 'blight', 1400 + (i & 1));
          return (performance.now() - t0) * 1000;
        };
        for (let i = 0; i < 5000; i++) await pair(i); // JIT warm-up
        await askC(`light ${batch} blight`);
        const lo: number[] = [];
        const lc: number[] = [];
        const byCpu = Array.from({ length: cpus }, () => ({ o: [] as number[], c: [] as number[] }));
        const perCpu = quick ? 2 : 10;
        for (let r = 0; r < rounds; r++) {
          const cpu = Math.floor(r / perCpu) % cpus;
          if (r % perCpu === 0) await pin(cpu);
          const o: number[] = [];
          let cs: number[] = [];
          if (r % 2 === 1) cs = await askC(`light ${batch} blight`);
          for (let i = 0; i < batch; i++) o.push(await pair(i));
          if (r % 2 === 0) cs = await askC(`light ${batch} blight`);
          lo.push(...o);
          lc.push(...cs);
          byCpu[cpu]?.o.push(...o);
          byCpu[cpu]?.c.push(...cs);
        }
        const perCpuFigures: Record<string, number> = {};
        byCpu.forEach((b, i) => {
          if (b.o.length) {
            perCpuFigures[`cpu${i}_ours_us`] = Number(median(b.o).toFixed(3));
            perCpuFigures[`cpu${i}_c_us`] = Number(median(b.c).toFixed(3));
          }
        });
        yield result({
          suite: 'netlink', case: 'light-vs-c', ours: median(lo), baseline: median(lc), baseline_name: 'C same syscalls', unit: 'us', target: '<= 1.3',
          extra: { pairs: lo.length, ...perCpuFigures },
        });
      } finally {
        await pin(-1);
        await a.closeFds(fds);
        await a.deleteLink(ns, 'blight');
      }
    } finally {
      server.stdin.end();
      await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    }

    // 64 taps: concurrent vs sequential down+delete
    const N = 64;
    const names = Array.from({ length: N }, (_, i) => `bt${i}`);
    const setup = async (): Promise<void> => {
      for (const nm of names) await a.closeFds((await a.createTap({ netns: ns, name: nm, queues: 1 })).fds);
      await Promise.all(names.map((nm) => a.setUp(ns, nm, true)));
    };
    const down = async (nm: string): Promise<void> => {
      await a.setUp(ns, nm, false);
      await a.deleteLink(ns, nm);
    };
    const conc: number[] = [];
    const seqs: number[] = [];
    const p99s: number[] = [];
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      await setup();
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      let t0 = performance.now();
      await Promise.all(names.map(down));
      conc.push(performance.now() - t0);
      h.disable();
      p99s.push(h.percentile(99) / 1e6);
      await setup();
      t0 = performance.now();
      for (const nm of names) await down(nm);
      seqs.push(performance.now() - t0);
    }
    yield result({
      suite: 'netlink',
      case: 'teardown-64-concurrent-vs-sequential',
      ours: median(conc),
      baseline: median(seqs),
      baseline_name: 'sequential',
      unit: 'ms',
      target: '<= 0.35',
      extra: { p99_event_loop_delay_ms: Number(median(p99s).toFixed(3)), p99_target: '<= 5' },
    });
  } finally {
    await a.close();
    try {
      sh('ip', ['netns', 'del', nsName]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
};
