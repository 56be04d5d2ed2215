/**
 * The real world of the kill -9 torture tests: a unique netns (with veth "original links" for
 * cold attach), a real QEMU launched through src/qemu/launcher.ts, the built `tapstate` CLI run
 * as child processes, and observers that look at the world from outside (`ip -j -d link`,
 * `tc -j qdisc`, QMP `qom-list /machine/peripheral` and `info network` on the launcher's own
 * control socket, QEMU's /proc/PID/fd). Everything is removed by {@link TortureWorld.teardown}.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchQemu, type QemuInstance } from '../../src/qemu/launcher.js';
import { netdevIds } from '../../src/qemu/info-network.js';
import type { StatusJson } from '../../src/cli/output.js';

export const CLI = path.resolve('dist/src/cli/main.js');

/** Fail loudly (never skip) when the real parts are missing. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the torture test needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): run it as root');
  if (!fs.existsSync('/dev/net/tun')) throw new Error('/dev/net/tun is missing');
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does) first`);
}

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** A running CLI child. */
export interface CliChild {
  pid: number;
  done: Promise<RunResult>;
  kill(): void;
}

export function startCli(args: readonly string[], env: Record<string, string> = {}): CliChild {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid ?? 0 }));
  });
  return {
    pid: child.pid ?? 0,
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return startCli(args, env).done;
}

/** Parse the records of a log file (`<crc> <json>` lines), skipping a partial last line. */
export function readRecords(logFile: string, from = 0): Array<Record<string, any>> {
  const buf = fs.readFileSync(logFile);
  const text = buf.subarray(from).toString('utf8');
  const out: Array<Record<string, any>> = [];
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    try {
      const r = JSON.parse(line.slice(sp + 1));
      if (r.k !== 'header') out.push(r);
    } catch {
      /* torn */
    }
  }
  return out;
}

/** What is in the world for the tests to compare with the store. */
export interface WorldView {
  /** tun links in the netns: name → {up, queues}. */
  taps: Map<string, { up: boolean; numQueues: number }>;
  /** Links with an ingress qdisc. */
  ingress: Set<string>;
  /** QEMU peripheral (device) ids. */
  devices: Set<string>;
  /** QEMU netdev ids (`info network`). */
  netdevs: Set<string>;
  /** fds QEMU holds on /dev/net/tun. */
  qemuTunFds: number;
}

export class TortureWorld {
  readonly tag = `${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  readonly netnsName = `tst-${this.tag}`;
  readonly netnsPath = `/run/netns/${this.netnsName}`;
  readonly tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-torture-${process.pid}-`));
  /** The store the CLI runs on (a run per seed sets its own). */
  store = path.join(this.tmp, 'store');
  qemu: QemuInstance | undefined;
  private netnsMade = false;

  /** Create the netns with `links` veth pairs eth<i>/peer<i> (the "original links"). */
  makeNetns(links: number): void {
    execFileSync('ip', ['netns', 'add', this.netnsName]);
    this.netnsMade = true;
    for (let i = 0; i < links; i++) {
      execFileSync('ip', ['-n', this.netnsName, 'link', 'add', `eth${i}`, 'type', 'veth', 'peer', 'name', `peer${i}`]);
      execFileSync('ip', ['-n', this.netnsName, 'link', 'set', `eth${i}`, 'up']);
    }
  }

  deleteNetns(): void {
    if (!this.netnsMade) return;
    this.netnsMade = false;
    try {
      execFileSync('ip', ['netns', 'del', this.netnsName], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }

  async startQemu(): Promise<QemuInstance> {
    this.qemu = await launchQemu({ dir: path.join(this.tmp, 'qemu') });
    return this.qemu;
  }

  async view(): Promise<WorldView> {
    const taps = new Map<string, { up: boolean; numQueues: number }>();
    const ingress = new Set<string>();
    if (this.netnsMade) {
      const links = JSON.parse(execFileSync('ip', ['-n', this.netnsName, '-j', '-d', 'link', 'show']).toString() || '[]') as any[];
      for (const l of links) {
        if (l.linkinfo?.info_kind === 'tun')
          taps.set(l.ifname, { up: (l.flags as string[]).includes('UP'), numQueues: l.linkinfo?.info_data?.numqueues ?? -1 });
      }
      const qd = JSON.parse(execFileSync('tc', ['-n', this.netnsName, '-j', 'qdisc', 'show']).toString() || '[]') as any[];
      for (const q of qd) if (q.kind === 'ingress') ingress.add(q.dev);
    }
    const devices = new Set<string>();
    const netdevs = new Set<string>();
    let qemuTunFds = 0;
    const q = this.qemu;
    if (q && fs.existsSync(`/proc/${q.pid}`)) {
      const list = (await q.control.execute('qom-list', { path: '/machine/peripheral' })) as Array<{ name: string; type: string }>;
      for (const p of list) if (p.type.startsWith('child<')) devices.add(p.name);
      const info = (await q.control.execute('human-monitor-command', { 'command-line': 'info network' })) as string;
      for (const id of netdevIds(info)) netdevs.add(id);
      for (const fd of fs.readdirSync(`/proc/${q.pid}/fd`)) {
        try {
          if (fs.readlinkSync(`/proc/${q.pid}/fd/${fd}`) === '/dev/net/tun') qemuTunFds++;
        } catch {
          /* closed meanwhile */
        }
      }
    }
    return { taps, ingress, devices, netdevs, qemuTunFds };
  }

  async status(): Promise<StatusJson> {
    const r = await runCli(['status', '--store', this.store, '--json']);
    if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as StatusJson;
  }

  async teardown(): Promise<void> {
    if (this.qemu) {
      await this.qemu.stop(1000).catch(() => this.qemu?.kill());
      this.qemu = undefined;
    }
    this.deleteNetns();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/**
 * Problems (empty when none) between `tapstate status --json` and the world: every endpoint
 * settled; a tap exactly for the endpoints whose progress says so (and nothing else: no leak);
 * QEMU devices/netdevs exactly for the hot-plugged ones; QEMU holds queue fds only for those;
 * ingress qdiscs only on cold-attached endpoints' links.
 */
export function disagreements(st: StatusJson, w: WorldView, qemuAlive = true): string[] {
  const out: string[] = [];
  const live = st.endpoints.filter((e) => e.state !== 'detached');
  for (const e of st.endpoints) if (e.status !== 'settled') out.push(`${e.id}: status ${e.status} (${e.state})`);
  const wantTaps = new Set(live.filter((e) => e.progress.tap).map((e) => e.tapName));
  for (const t of w.taps.keys()) if (!wantTaps.has(t)) out.push(`leaked tap ${t}`);
  for (const t of wantTaps) if (!w.taps.has(t)) out.push(`store says tap ${t} exists, the netns has none`);
  for (const e of live) {
    const t = w.taps.get(e.tapName);
    if (t && e.progress.up !== t.up) out.push(`${e.id}: store says up=${e.progress.up}, link says ${t.up}`);
  }
  if (qemuAlive) {
    const wantDev = new Set(live.filter((e) => e.progress.plugged).map((e) => `virtio-net-${e.id}`));
    const wantNet = new Set(live.filter((e) => e.progress.plugged).map((e) => `net-${e.id}`));
    for (const d of w.devices) if (d.startsWith('virtio-net-') && !wantDev.has(d)) out.push(`leaked QEMU device ${d}`);
    for (const d of wantDev) if (!w.devices.has(d)) out.push(`store says device ${d} is plugged, QEMU has none`);
    for (const n of w.netdevs) if (!wantNet.has(n)) out.push(`leaked QEMU netdev ${n}`);
    for (const n of wantNet) if (!w.netdevs.has(n)) out.push(`store says netdev ${n} exists, QEMU has none`);
    const fds = live.filter((e) => e.progress.plugged).reduce((n, e) => n + e.queues, 0);
    if (w.qemuTunFds !== fds) out.push(`QEMU holds ${w.qemuTunFds} tun fds, the plugged endpoints need ${fds}`);
  }
  const wantIngress = new Set<string>();
  for (const e of live) {
    if (e.progress.tcOrig) wantIngress.add(e.name);
    if (e.progress.tcTap) wantIngress.add(e.tapName);
  }
  for (const d of w.ingress) if (!wantIngress.has(d)) out.push(`leaked ingress qdisc on ${d}`);
  for (const d of wantIngress) if (!w.ingress.has(d)) out.push(`store says ${d} has an ingress qdisc, it has none`);
  return out;
}
