/**
 * `npm run bench -- growth`: constant cost over a long life. One endpoint slot reused N times
 * (`createEndpoint` → `hotAttach` → `hotDetach`, the in-memory adapters, a file store with the
 * default retention), measured at 1,000 cycles and at 20,000 cycles:
 *
 * - `open-20k-vs-1k`: opening the store (FileLogStore.open + Tapstore.open + close), averaged over
 *   12 copies taken 4 cycles apart before each mark, i.e. over one whole checkpoint period (a
 *   cycle appends 21 records, a checkpoint comes every 1,000: 48 cycles). The open replays the
 *   tail since the last checkpoint, so its cost is a sawtooth over that period: copies taken a
 *   period apart (as before: 40 cycles) all sat at about the same phase, a different one at each
 *   mark, and compared tails of different lengths rather than the stores. Each copy: median of 5
 *   opens after one warm-up;
 * - `cycle-at-20k-vs-at-1k`: time per cycle over the 400 cycles before each mark (wall; the CPU
 *   time per cycle is in `extra`);
 * - `bytes-20k-vs-1k`: bytes of the store directory (log segments, checkpoint, retention file);
 * - `view-rss-20k`: peak RSS of `tapstate view` (a fresh node process) on a copy of the store at
 *   each mark.
 *
 * `--quick` uses 2,000 and 200 cycles (names unchanged; `extra.cycles` says so).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, result, type BenchSuite } from './harness.js';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore } from '../../src/log/index.js';
import { Tapstore } from '../../src/runtime/tapstore.js';

const NETNS = '/run/netns/growth';
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const WINDOW = 400;
/** Copies for the open figure: `OPEN_COPIES` taken `OPEN_STEP` cycles apart, spanning one checkpoint period. */
const OPEN_COPIES = 12;
const OPEN_STEP = 4;

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

async function openMs(dir: string, runs: number): Promise<number> {
  const kernel = new MemoryKernel();
  kernel.addNetns(NETNS);
  const adapters = { netlink: kernel, hypervisor: new MemoryHypervisor({ kernel }) };
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const log = FileLogStore.open(dir, { readOnly: true });
    const s = await Tapstore.open({ log, adapters, recover: false });
    if (s.list().length !== 0) throw new Error('growth bench: the slot should be retired at a mark');
    log.close();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** Peak RSS (kB) of `tapstate view` on `dir`, in a fresh process. */
function viewRssKb(dir: string, out: string): number {
  const pre = path.join(path.dirname(out), 'maxrss.mjs');
  fs.writeFileSync(pre, "process.on('exit', () => process.stderr.write(`\\nMAXRSS ${process.resourceUsage().maxRSS}\\n`));\n");
  const r = spawnSync(process.execPath, ['--import', pre, CLI, 'view', '--store', dir, '--out', out], { encoding: 'utf8', env: { ...process.env, TAPSTATE_ADAPTERS: 'memory' } });
  if (r.status !== 0) throw new Error(`tapstate view failed: ${r.stderr}`);
  const m = /MAXRSS (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`no MAXRSS in ${r.stderr}`);
  return Number(m[1]);
}

export const suite: BenchSuite = async function* ({ quick }) {
  const small = quick ? 200 : 1000;
  const large = quick ? 2000 : 20000;
  const win = Math.min(WINDOW, small / 2);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-bench-growth-${process.pid}-`));
  try {
    const dir = path.join(tmp, 'store');
    const kernel = new MemoryKernel();
    kernel.addNetns(NETNS);
    const hypervisor = new MemoryHypervisor({ kernel, slots: 8 });
    const log = FileLogStore.create(dir, { sandbox: { netnsPath: NETNS, netnsCreated: true, vcpus: 1, vhost: false } });
    const store = await Tapstore.open({ log, adapters: { netlink: kernel, hypervisor } });
    const marks = new Map<number, { perCycleMs: number; cpuMs: number; bytes: number; copy: string; openMs: number; opens: number[] }>();
    let t0 = 0;
    let cpu0 = process.cpuUsage();
    let paused = 0;
    let pausedCpu = 0;
    let opens: number[] = [];
    for (let c = 1; c <= large; c++) {
      if (c === small - win + 1 || c === large - win + 1) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
        paused = 0;
        pausedCpu = 0;
        opens = [];
      }
      const v = store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
      await store.hotAttach(v.id);
      await store.hotDetach(v.id);
      const mark = c <= small ? small : large;
      if (c > mark - OPEN_COPIES * OPEN_STEP && (mark - c) % OPEN_STEP === 0) {
        const p0 = performance.now();
        const pc0 = process.cpuUsage();
        const copy = path.join(tmp, `at-${c}`);
        fs.cpSync(dir, copy, { recursive: true });
        await openMs(copy, 1); // warm-up
        opens.push(await openMs(copy, 5));
        if (c !== mark) fs.rmSync(copy, { recursive: true, force: true });
        paused += performance.now() - p0;
        const pc = process.cpuUsage(pc0);
        pausedCpu += (pc.user + pc.system) / 1000;
      }
      if (c === small || c === large) {
        const perCycleMs = (performance.now() - t0 - paused) / win;
        const u = process.cpuUsage(cpu0);
        const cpuMs = ((u.user + u.system) / 1000 - pausedCpu) / win;
        const copy = path.join(tmp, `at-${c}`);
        marks.set(c, { perCycleMs, cpuMs, bytes: dirBytes(dir), copy, openMs: opens.reduce((a, b) => a + b, 0) / opens.length, opens });
      }
    }
    await store.close();
    const a = marks.get(small)!;
    const b = marks.get(large)!;
    const common = { cycles: `${large} vs ${small}`, machine_note: 'shared 2-core host: noisy' };
    yield result({ suite: 'growth', case: 'open-20k-vs-1k', ours: Number(b.openMs.toFixed(3)), baseline: Number(a.openMs.toFixed(3)), baseline_name: `open after ${small} cycles`, unit: 'ms', target: '<= 1.3', extra: { ...common, copies: `${OPEN_COPIES}, ${OPEN_STEP} cycles apart`, opens_ms: b.opens.map((x) => x.toFixed(2)).join(' '), baseline_opens_ms: a.opens.map((x) => x.toFixed(2)).join(' '), checkpoint_bytes: fs.statSync(path.join(b.copy, 'checkpoint.json')).size } });
    yield result({ suite: 'growth', case: 'cycle-at-20k-vs-at-1k', ours: Number(b.perCycleMs.toFixed(4)), baseline: Number(a.perCycleMs.toFixed(4)), baseline_name: `per cycle around cycle ${small}`, unit: 'ms', target: '<= 1.2', extra: { ...common, window: win, cpu_ms_per_cycle: Number(b.cpuMs.toFixed(4)), baseline_cpu_ms_per_cycle: Number(a.cpuMs.toFixed(4)), cpu_ratio: Number((b.cpuMs / a.cpuMs).toFixed(3)) } });
    yield result({ suite: 'growth', case: 'bytes-20k-vs-1k', ours: b.bytes, baseline: a.bytes, baseline_name: `store bytes after ${small} cycles`, unit: 'bytes', target: '<= 2', extra: { ...common, retention: 'default' } });
    const rssA = viewRssKb(a.copy, path.join(tmp, 'a.html'));
    const rssB = viewRssKb(b.copy, path.join(tmp, 'b.html'));
    yield result({ suite: 'growth', case: 'view-rss-20k', ours: rssB / 1024, baseline: rssA / 1024, baseline_name: `tapstate view RSS on the ${small}-cycle store`, unit: 'MB', target: '<= 1.5', extra: common });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
};
