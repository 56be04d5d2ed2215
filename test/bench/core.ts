/**
 * Bench suite `core`:
 * - `recover-1000-vs-read`: opening (replaying) a store of 1,000 endpoints with realistic
 *   histories — a checkpoint from the last clean close plus a tail of later commands — vs merely
 *   reading and checksumming the same log files. Extra: the full-history `verify` replay.
 * - `transition-overhead`: time per command through machine + durable log with the in-memory
 *   adapters vs the same adapter calls made directly (the price of the journal).
 * - `append-fsync-vs-fdatasync`: durable appends per second vs a bare write+fdatasync loop.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryHypervisor, MemoryKernel } from '../../src/adapters/memory/index.js';
import { FileLogStore, MemoryLogMedium, MemoryLogStore, LOG_FILE } from '../../src/log/index.js';
import type { LogStore } from '../../src/log/store.js';
import { Tapstore } from '../../src/runtime/tapstore.js';
import { appendVsFdatasync } from './core-append.js';
import { median, readAndChecksumStore, result, type BenchSuite } from './harness.js';

const NETNS = '/run/netns/bench';

function world() {
  const kernel = new MemoryKernel();
  kernel.addNetns(NETNS);
  kernel.addDummyLink(NETNS, 'eth0', { mtu: 1500, mac: '02:aa:00:00:00:01' });
  const hypervisor = new MemoryHypervisor({ kernel, slots: 29 });
  return { kernel, hypervisor };
}
const SANDBOX = { sandbox: { netnsPath: NETNS, netnsCreated: true, vcpus: 2, vhost: false } };
const mac = (i: number) => `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/**
 * A store of n endpoints with realistic histories: each created; every 7th cold-attached and
 * detached, the others hot-attached and (all but the last 25) hot-detached; closed (checkpoint);
 * then a later session's tail of hot-detaches that is replayed on open.
 */
export async function buildStore(dir: string, n: number): Promise<void> {
  const w = world();
  const s = await Tapstore.open({ log: FileLogStore.create(dir, SANDBOX), adapters: { netlink: w.kernel, hypervisor: w.hypervisor } });
  // cold-attached endpoints mirror the sandbox's eth0 (one at a time)
  for (let i = 0; i < n; i++) s.createEndpoint({ idx: i, mac: mac(i + 1), ...(i % 7 === 0 ? { ifName: 'eth0' } : {}) });
  const hot: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 7 === 0) {
      await s.attach(`ep${i}`);
      await s.detach(`ep${i}`);
      continue;
    }
    await s.hotAttach(`ep${i}`);
    hot.push(`ep${i}`);
    if (hot.length > 25) await s.hotDetach(hot.shift()!);
  }
  await s.close();
  // a later session: more commands, no clean close (no new checkpoint)
  const s2 = await Tapstore.open({ log: FileLogStore.open(dir), adapters: { netlink: w.kernel, hypervisor: w.hypervisor } });
  for (const id of hot.slice(0, 20)) await s2.hotDetach(id);
  // leave it without close: the tail after the checkpoint is replayed on open
}

async function openOnce(dir: string, verify: boolean): Promise<number> {
  const w = world();
  const t = performance.now();
  const s = await Tapstore.open({ log: FileLogStore.open(dir, { readOnly: true }), adapters: { netlink: w.kernel, hypervisor: w.hypervisor }, verify });
  const ms = performance.now() - t;
  if (s.list().length === 0) throw new Error('empty store');
  return ms;
}

async function* recover1000(quick: boolean) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstate-bench-core-'));
  try {
    const n = 1000;
    await buildStore(path.join(dir, 'store'), n);
    const store = path.join(dir, 'store');
    const rounds = quick ? 5 : 15;
    const ours: number[] = [];
    const base: number[] = [];
    const full: number[] = [];
    await openOnce(store, false); // warm up
    readAndChecksumStore(store);
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      readAndChecksumStore(store);
      base.push(performance.now() - t);
      ours.push(await openOnce(store, false));
      if (r < 3) full.push(await openOnce(store, true));
    }
    const bytes = fs.statSync(path.join(store, LOG_FILE)).size;
    yield result({
      suite: 'core',
      case: 'recover-1000-vs-read',
      ours: median(ours),
      baseline: median(base),
      baseline_name: 'read+crc32 of log and checkpoint',
      unit: 'ms',
      target: '<= 2',
      extra: { endpoints: n, log_bytes: bytes, full_verify_replay_ms: Number(median(full).toFixed(1)) },
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function* transitionOverhead(quick: boolean) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapstate-bench-core-'));
  try {
    const n = quick ? 25 : 29;
    const reps = quick ? 4 : 15;
    const ours: number[] = [];
    const base: number[] = [];
    const memLog: number[] = [];
    const run = async (log: LogStore, into: number[]) => {
      const w = world();
      const s = await Tapstore.open({ log, adapters: { netlink: w.kernel, hypervisor: w.hypervisor } });
      for (let i = 0; i < n; i++) s.createEndpoint({ idx: i, mac: mac(i + 1) });
      for (let i = 0; i < n; i++) {
        let t = performance.now();
        await s.hotAttach(`ep${i}`);
        into.push(performance.now() - t);
        t = performance.now();
        await s.hotDetach(`ep${i}`);
        into.push(performance.now() - t);
      }
      await s.close();
    };
    const direct = async () => {
      const w = world();
      for (let i = 0; i < n; i++) {
        const tap = `tap${i}_kata`;
        const nic = { netdevId: `net-ep${i}`, deviceId: `virtio-net-ep${i}`, mac: mac(i + 1), queues: 2, tapName: tap, vhost: false };
        let t = performance.now();
        const { fds } = await w.kernel.createTap({ netns: NETNS, name: tap, queues: 2 });
        await w.kernel.setMtu(NETNS, tap, 1500);
        await w.kernel.setUp(NETNS, tap, true);
        await w.hypervisor.hotplug(nic, fds);
        await w.kernel.closeFds(fds);
        base.push(performance.now() - t);
        t = performance.now();
        await w.hypervisor.hotunplug(nic);
        await w.kernel.setUp(NETNS, tap, false);
        await w.kernel.deleteLink(NETNS, tap);
        base.push(performance.now() - t);
      }
    };
    for (let r = 0; r < reps; r++) {
      await direct();
      await run(FileLogStore.create(path.join(dir, `s${r}`), SANDBOX), ours);
      await run(MemoryLogStore.create(new MemoryLogMedium(), SANDBOX), memLog);
    }
    yield result({
      suite: 'core',
      case: 'transition-overhead',
      ours: median(ours) * 1000,
      baseline: median(base) * 1000,
      baseline_name: 'same adapter calls, direct',
      unit: 'us',
      extra: { per_command_memory_log_us: Number((median(memLog) * 1000).toFixed(1)), note: 'ours: file log, 1 fdatasync per command' },
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = async function* ({ quick }) {
  yield* recover1000(quick);
  yield* transitionOverhead(quick);
  yield* appendVsFdatasync(quick);
};
