/**
 * The netlink suite's cases measured the way a user calls the adapter (issue #14, "CPU per
 * kernel call"): the public `LinuxNetlinkAdapter` (`tapstate/linux`) in a FRESH node process
 * ({@link childScript}), JIT warmed, no CPU pinning, CPU counted over all threads
 * (`process.cpuUsage()` against the C program's `getrusage(RUSAGE_SELF)`), side by side with C
 * making the same syscalls, in alternating batches (who goes first alternates) so both see the
 * same load. Wall: the median of the per-batch means (light batches are short, 25 pairs ≈ 1 ms,
 * so most run without being preempted on a loaded machine); CPU: the total over every batch
 * divided by the number of operations (everything a process spent, GC and JIT threads included).
 *
 * - `light-public-vs-c` / `light-cpu-vs-c`: getLink + setMtu on an existing tap, 5,000 warm-up
 *   pairs, 20,000 measured (wall and CPU of the same run);
 * - `tap-cycle-cpu-vs-c`: createTap (1 queue) + getLink + setMtu + up + down + closeFds +
 *   deleteLink, 50 warm-up cycles, 200 measured.
 *
 * Each run creates its own netns (unique name), removed in `finally`.
 */
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, result, type BenchResult } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

/** A line-oriented server process (the node child or the C program): one answer line per command. */
interface Server {
  ask(cmd: string): Promise<string>;
  stop(): Promise<void>;
}

function serve(p: ChildProcessByStdio<Writable, Readable, null>, what: string): Server {
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  return {
    async ask(cmd) {
      p.stdin.write(cmd + '\n');
      const r = await lines.next();
      if (r.done) throw new Error(`netlink bench: ${what} exited on "${cmd}"`);
      return r.value.trim();
    },
    async stop() {
      p.stdin.end();
      if (p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once('exit', r));
    },
  };
}

/** "WALL_US CPU_US" of a batch of n → per-op [wall, cpu] in µs. */
const perOp = (answer: string, n: number): [number, number] => {
  const [w, c] = answer.split(' ').map(Number);
  if (!Number.isFinite(w) || !Number.isFinite(c)) throw new Error(`netlink bench: bad answer "${answer}"`);
  return [w! / n, c! / n];
};

/**
 * Run `batches` batches of `n` ops of `cmd` on both sides, alternating who goes first; returns
 * per-op wall and CPU samples (µs) of each side, one per batch.
 */
async function alternate(node: Server, c: Server, cmd: string, batches: number, n: number) {
  const o = { wall: [] as number[], cpu: [] as number[] };
  const k = { wall: [] as number[], cpu: [] as number[] };
  const run = async (s: Server, into: typeof o, name: string): Promise<void> => {
    const [w, u] = perOp(await s.ask(`${cmd}${s === c ? 'b' : ''} ${n} ${name}`), n);
    into.wall.push(w);
    into.cpu.push(u);
  };
  for (let b = 0; b < batches; b++) {
    if (b % 2 === 0) {
      await run(node, o, 'bpub');
      await run(c, k, 'bpub');
    } else {
      await run(c, k, 'bpub');
      await run(node, o, 'bpub');
    }
  }
  return { o, k };
}

const r3 = (x: number): number => Number(x.toFixed(3));
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The public-API cases; `cBin` is the compiled test/bench/c/netlink_cycle.c. */
export async function* publicCases(quick: boolean, cBin: string): AsyncGenerator<BenchResult> {
  const nsName = `tst-${process.pid}-${randomBytes(4).toString('hex')}`;
  const nsPath = `/run/netns/${nsName}`;
  execFileSync('ip', ['netns', 'add', nsName]);
  const procs: Server[] = [];
  try {
    const child = spawn(process.execPath, [join(here, 'netlink-public-child.js'), nsPath], { stdio: ['pipe', 'pipe', 'inherit'] });
    const node = serve(child, 'node child');
    procs.push(node);
    const c = serve(spawn('ip', ['netns', 'exec', nsName, cBin, 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] }), 'C baseline');
    procs.push(c);

    // light: getLink + setMtu on an existing tap (made by the node child: the C side finds it by name)
    const lightN = quick ? 2000 : 20000;
    const lightBatch = 25;
    await node.ask('create bpub');
    try {
      await node.ask(`light ${quick ? 1000 : 5000} bpub`); // JIT warm-up
      await c.ask(`lightb ${quick ? 1000 : 5000} bpub`);
      const { o, k } = await alternate(node, c, 'light', lightN / lightBatch, lightBatch);
      const extra = { pairs: lightN, batch: lightBatch, fresh_process: 'yes', pinning: 'none' };
      yield result({
        suite: 'netlink', case: 'light-public-vs-c', ours: r3(median(o.wall)), baseline: r3(median(k.wall)), baseline_name: 'C same syscalls', unit: 'us', target: '<= 1.3',
        extra: { ...extra, ours_cpu_us: r3(mean(o.cpu)), c_cpu_us: r3(mean(k.cpu)), ours_mean_wall_us: r3(mean(o.wall)), c_mean_wall_us: r3(mean(k.wall)) },
      });
      yield result({
        suite: 'netlink', case: 'light-cpu-vs-c', ours: r3(mean(o.cpu)), baseline: r3(mean(k.cpu)), baseline_name: 'C same syscalls (getrusage)', unit: 'us cpu', target: '<= 1.5',
        extra: { ...extra, ours_wall_us: r3(median(o.wall)), c_wall_us: r3(median(k.wall)), ours_median_batch_cpu_us: r3(median(o.cpu)), c_median_batch_cpu_us: r3(median(k.cpu)) },
      });
    } finally {
      await node.ask('delete bpub');
    }

    // tap cycle, 1 queue
    const cycles = quick ? 40 : 200;
    const cycleBatch = 10;
    await node.ask(`cycle ${quick ? 10 : 50} bpub`); // JIT warm-up
    await c.ask(`cycleb ${quick ? 10 : 50} bpub`);
    const { o, k } = await alternate(node, c, 'cycle', cycles / cycleBatch, cycleBatch);
    yield result({
      suite: 'netlink', case: 'tap-cycle-cpu-vs-c', ours: r3(mean(o.cpu)), baseline: r3(mean(k.cpu)), baseline_name: 'C same syscalls (getrusage)', unit: 'us cpu', target: '<= 1.5',
      extra: {
        cycles, batch: cycleBatch, ours_wall_ms: r3(median(o.wall) / 1000), c_wall_ms: r3(median(k.wall) / 1000),
        ours_median_batch_cpu_us: r3(median(o.cpu)), c_median_batch_cpu_us: r3(median(k.cpu)), fresh_process: 'yes', pinning: 'none',
      },
    });
  } finally {
    try {
      for (const p of procs) await p.stop();
    } finally {
      execFileSync('ip', ['netns', 'del', nsName]);
    }
  }
}
