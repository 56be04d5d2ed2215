/**
 * tapstate-cni bench (root): `cni-add-del-vs-direct` — ADD + DEL through the plugin process
 * (spawned as a runtime does: environment + stdin config; the journaled machine, the store's
 * lock and durable log, the real kernel) vs the same kernel calls made directly in one process
 * with the Linux adapter (create tap, get link, MTU, up, two ingress qdiscs, two redirects;
 * remove the qdisc, down, delete). What it shows is what a plugin invocation costs: mostly
 * starting Node twice. The two sides alternate round by round; figures are medians.
 * Creates and removes its own netns (a veth `eth0` plays the CNI interface) and temp dir.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LinuxNetlinkAdapter } from '../../src/linux/index.js';
import { runPlugin as runInProcess } from '../../src/cni/index.js';
import { median, result, type BenchSuite } from './harness.js';

const PLUGIN = resolve('dist/src/cni/main.js');

function runPlugin(command: string, env: Record<string, string>, conf: unknown): Promise<{ ms: number; code: number | null; out: string }> {
  const t0 = performance.now();
  const c = spawn(process.execPath, [PLUGIN], { env: { PATH: process.env.PATH ?? '', CNI_COMMAND: command, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  c.stdin.end(JSON.stringify(conf));
  return new Promise((res, rej) => {
    c.on('error', rej);
    c.on('close', (code) => res({ ms: performance.now() - t0, code, out }));
  });
}

export const suite: BenchSuite = async function* ({ quick }) {
  if (process.getuid?.() !== 0) throw new Error('cni bench needs root');
  const nsName = `tst-${process.pid}-${randomBytes(4).toString('hex')}`;
  const ns = `/run/netns/${nsName}`;
  const dir = mkdtempSync(join(tmpdir(), `tst-${process.pid}-cnibench-`));
  const a = new LinuxNetlinkAdapter();
  execFileSync('ip', ['netns', 'add', nsName]);
  try {
    // a veth pair (as ptp or bridge would make; its peer stays in the same netns here)
    execFileSync('ip', ['-n', nsName, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
    execFileSync('ip', ['-n', nsName, 'link', 'set', 'eth0', 'up']);
    const mac = (await a.getLink(ns, 'eth0')).mac;
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', mac, sandbox: ns }], ips: [{ interface: 0, address: '10.231.250.2/24' }] };
    const conf = { cniVersion: '1.0.0', name: 'bench', type: 'tapstate-cni', stateDir: join(dir, 'state'), prevResult };
    const env = (i: number) => ({ CNI_CONTAINERID: `bench-${i}`, CNI_NETNS: ns, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' });

    const plugin = async (i: number): Promise<{ add: number; del: number }> => {
      const add = await runPlugin('ADD', env(i), conf);
      if (add.code !== 0) throw new Error(`cni bench: ADD failed: ${add.out}`);
      const del = await runPlugin('DEL', env(i), conf);
      if (del.code !== 0) throw new Error(`cni bench: DEL failed: ${del.out}`);
      return { add: add.ms, del: del.ms };
    };
    const direct = async (): Promise<number> => {
      const t0 = performance.now();
      // the plugin's default: a single-queue tap (queues 0: no IFF_MULTI_QUEUE)
      const { fds } = await a.createTap({ netns: ns, name: 'tap0_kata', queues: 0 });
      const orig = await a.getLink(ns, 'eth0');
      await a.setMtu(ns, 'tap0_kata', orig.mtu);
      await a.setUp(ns, 'tap0_kata', true);
      await a.addIngressQdisc(ns, 'tap0_kata');
      await a.addIngressQdisc(ns, 'eth0');
      await a.addRedirect({ netns: ns, from: 'eth0', to: 'tap0_kata' });
      await a.addRedirect({ netns: ns, from: 'tap0_kata', to: 'eth0' });
      await a.closeFds(fds);
      await a.deleteIngressQdisc(ns, 'eth0');
      await a.setUp(ns, 'tap0_kata', false);
      await a.deleteLink(ns, 'tap0_kata');
      return performance.now() - t0;
    };
    /** The same plugin code called in this process: what the invocations cost without starting Node. */
    const inProcess = async (i: number): Promise<number> => {
      const t0 = performance.now();
      for (const command of ['ADD', 'DEL']) {
        const o = await runInProcess({ ...env(i), CNI_COMMAND: command }, JSON.stringify(conf));
        if (o.exitCode !== 0) throw new Error(`cni bench: in-process ${command} failed: ${o.stdout}`);
      }
      return performance.now() - t0;
    };
    const nodeStart = async (): Promise<number> => {
      const t0 = performance.now();
      execFileSync(process.execPath, ['-e', '']);
      return performance.now() - t0;
    };

    for (let i = 0; i < 2; i++) {
      await plugin(-1 - i);
      await inProcess(-10 - i);
      await direct();
    }
    const rounds = quick ? 5 : 25;
    const ours: number[] = [];
    const adds: number[] = [];
    const dels: number[] = [];
    const base: number[] = [];
    const starts: number[] = [];
    const inproc: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const go = async (): Promise<void> => {
        const r = await plugin(i);
        adds.push(r.add);
        dels.push(r.del);
        ours.push(r.add + r.del);
      };
      if (i % 2 === 0) {
        await go();
        base.push(await direct());
      } else {
        base.push(await direct());
        await go();
      }
      if (i % 5 === 0) starts.push(await nodeStart());
      inproc.push(await inProcess(1000 + i));
    }
    yield result({
      suite: 'cni',
      case: 'cni-add-del-vs-direct',
      ours: Number(median(ours).toFixed(3)),
      baseline: Number(median(base).toFixed(3)),
      baseline_name: 'same kernel calls, one process',
      unit: 'ms',
      target: 'report',
      extra: {
        rounds,
        add_ms: Number(median(adds).toFixed(3)),
        del_ms: Number(median(dels).toFixed(3)),
        node_start_ms: Number(median(starts).toFixed(3)),
        in_process_add_del_ms: Number(median(inproc).toFixed(3)),
      },
    });
  } finally {
    await a.close();
    execFileSync('ip', ['netns', 'del', nsName]);
    rmSync(dir, { recursive: true, force: true });
  }
};
