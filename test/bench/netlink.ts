/**
 * Netlink adapter benchmarks on the real kernel (root): the adapter vs the same syscalls in C
 * (compiled here with `cc` into a temp dir), vs spawning `ip`, and 64 concurrent teardowns vs
 * sequential ones. Interleaved rounds, medians. Creates and deletes its own netns.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LinuxNetlinkAdapter } from '../../src/linux/index.js';
import { median, result, type BenchSuite } from './harness.js';

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
    const runC = (mode: string, n: number, name: string): number[] =>
      sh('ip', ['netns', 'exec', nsName, bin, mode, String(n), name]).trim().split('\n').map(Number);
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

    // warm-up (workers, sockets, JIT)
    for (let i = 0; i < 5; i++) await cycle('bwarm');

    const rounds = quick ? 3 : 10;
    const per = quick ? 10 : 30;
    const ours: number[] = [];
    const c: number[] = [];
    const ip: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < per; i++) ours.push(await cycle('bcyc'));
      c.push(...runC('cycle', per, 'bcyc'));
      for (let i = 0; i < Math.ceil(per / 3); i++) ip.push(ipCycle('bcyc'));
    }
    yield result({ suite: 'netlink', case: 'tap-cycle-vs-c', ours: median(ours), baseline: median(c), baseline_name: 'C same syscalls', unit: 'ms', target: '<= 1.05' });
    yield result({ suite: 'netlink', case: 'tap-cycle-vs-ip', ours: median(ours), baseline: median(ip), baseline_name: 'ip spawned', unit: 'ms', target: '<= 0.67' });

    // light: get + set MTU on an existing tap
    const { fds } = await a.createTap({ netns: ns, name: 'blight', queues: 1 });
    const lo: number[] = [];
    const lc: number[] = [];
    const n = quick ? 500 : 3000;
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await a.getLink(ns, 'blight');
        await a.setMtu(ns, 'blight', 1400 + (i & 1));
        lo.push((performance.now() - t0) * 1000);
      }
      lc.push(...runC('light', n, 'blight'));
    }
    await a.closeFds(fds);
    await a.deleteLink(ns, 'blight');
    yield result({ suite: 'netlink', case: 'light-vs-c', ours: median(lo), baseline: median(lc), baseline_name: 'C same syscalls', unit: 'us', target: '<= 1.3' });

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
