/**
 * End-to-end test world: a unique netns, a temp dir holding a durable FileLogStore, the real
 * Linux netlink adapter, QEMUs started through the launcher, and observers that look at the
 * kernel and QEMU independently of the adapters (`ip -d -j link`, `tc -j`, QMP on the launcher's
 * own control socket). {@link E2eWorld.teardown} removes everything it created, even after a
 * failure, and ends only the QEMU processes it started (by PID, through the launcher).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileLogStore } from '../../src/log/index.js';
import { LinuxNetlinkAdapter } from '../../src/linux/adapter.js';
import { launchQemu, type LaunchOptions, type QemuInstance } from '../../src/qemu/launcher.js';
import { netdevIds } from '../../src/qemu/info-network.js';
import type { QmpClient } from '../../src/qemu/qmp-client.js';
import { Tapstore, type TapstoreOptions } from '../../src/runtime/tapstore.js';
import type { SandboxConfig } from '../../src/runtime/sandbox-config.js';
import { makeNetns, requireRoot, type TestNetns } from '../linux/fixture.js';
import { requireRealEnvironment } from '../qemu/tap-helper.js';

/** What `ip -d -j link show` reports of a link (the fields the tests read). */
export interface IpLink {
  ifname: string;
  mtu: number;
  flags: string[];
  operstate: string;
  address: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

/** Fail loudly (never skip) when root, /dev/net/tun or QEMU are missing (KVM is never needed). */
export function requireE2e(opts: { qemu: boolean }): void {
  requireRoot();
  if (opts.qemu) requireRealEnvironment();
  else if (!fs.existsSync('/dev/net/tun')) throw new Error('test/e2e needs /dev/net/tun');
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A closeable thing, closed at most once. */
interface Closer {
  close(): Promise<void> | void;
}

export class E2eWorld {
  readonly netns: TestNetns;
  /** Temp dir (unique: pid + random suffix) for the log store and QEMU sockets. */
  readonly dir: string;
  readonly logDir: string;
  readonly netlink = new LinuxNetlinkAdapter();
  readonly sandbox: SandboxConfig;
  private readonly qemus: QemuInstance[] = [];
  private readonly closers: Closer[] = [];
  private created = false;

  constructor(opts: { qemu: boolean; vcpus: number }) {
    requireE2e(opts);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-e2e-${process.pid}-`));
    try {
      this.netns = makeNetns();
    } catch (e) {
      fs.rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
    this.logDir = path.join(this.dir, 'store');
    this.sandbox = { netnsPath: this.netns.path, netnsCreated: true, vcpus: opts.vcpus, vhost: false };
  }

  /** Open (first call: create) the store on the durable log in {@link logDir}. */
  async open(opts: Omit<TapstoreOptions, 'log'>): Promise<Tapstore> {
    const log = this.created ? FileLogStore.open(this.logDir) : FileLogStore.create(this.logDir, { sandbox: this.sandbox });
    this.created = true;
    // the log is closed by the store, except after a (simulated) crash: then by us
    this.closers.push({ close: () => { try { log.close(); } catch { /* closed by the store */ } } });
    const store = await Tapstore.open({ log, ...opts });
    this.closers.push({ close: () => store.close() });
    return store;
  }

  /** Every record of the log (read-only, whole history). */
  records(): Array<Record<string, unknown>> {
    const log = FileLogStore.open(this.logDir, { readOnly: true });
    try {
      return log.read().records.map((r) => r.record as unknown as Record<string, unknown>);
    } finally {
      log.close();
    }
  }

  /** Register something to close at teardown (adapters, …). */
  track<T extends Closer>(c: T): T {
    this.closers.push(c);
    return c;
  }

  /** Start a QEMU (killed by PID at teardown if still running). */
  async qemu(opts: LaunchOptions = {}): Promise<QemuInstance> {
    const q = await launchQemu(opts);
    this.qemus.push(q);
    return q;
  }

  // ------------------------------------------------------------ kernel observers

  /** `ip -n NS -d -j link show NAME`, parsed; null when the link does not exist. */
  link(name: string): IpLink | null {
    let out: string;
    try {
      out = run('ip', ['-n', this.netns.name, '-d', '-j', 'link', 'show', 'dev', name]);
    } catch (e) {
      if (/does not exist|Cannot find device/.test(String((e as { stderr?: string }).stderr ?? e))) return null;
      throw e;
    }
    const arr = JSON.parse(out) as IpLink[];
    return arr[0] ?? null;
  }

  /** Names of every link in the netns. */
  linkNames(): string[] {
    return (JSON.parse(run('ip', ['-n', this.netns.name, '-j', 'link', 'show'])) as IpLink[]).map((l) => l.ifname);
  }

  /** `tc -j qdisc show dev NAME`: the qdisc kinds on the link. */
  qdiscKinds(name: string): string[] {
    const q = JSON.parse(run('tc', ['-n', this.netns.name, '-j', 'qdisc', 'show', 'dev', name])) as Array<{ kind: string }>;
    return q.map((x) => x.kind);
  }

  /** `tc -j filter show dev NAME ingress`: the devices mirred-redirected to, with the action. */
  redirects(name: string): Array<{ to: string; action: string; direction: string }> {
    const out = run('tc', ['-n', this.netns.name, '-j', 'filter', 'show', 'dev', name, 'ingress']).trim();
    if (out === '') return [];
    const fs_ = JSON.parse(out) as Array<{ options?: { actions?: Array<{ kind: string; to_dev?: string; mirred_action?: string; direction?: string }> } }>;
    return fs_.flatMap((f) =>
      (f.options?.actions ?? []).filter((a) => a.kind === 'mirred').map((a) => ({ to: a.to_dev ?? '', action: a.mirred_action ?? '', direction: a.direction ?? '' })),
    );
  }

  /** `ip link add NAME type ifb` (this kernel has no dummy driver) with an MTU and MAC. */
  addIfb(name: string, mtu: number, mac: string): void {
    run('ip', ['-n', this.netns.name, 'link', 'add', name, 'mtu', String(mtu), 'address', mac, 'type', 'ifb']);
  }

  // ------------------------------------------------------------ teardown

  /** Close stores and adapters, stop QEMUs (SIGKILL by PID if quit fails), delete netns and dir. */
  async teardown(): Promise<void> {
    const errors: unknown[] = [];
    for (const c of this.closers.splice(0).reverse()) {
      try {
        await c.close();
      } catch (e) {
        errors.push(e);
      }
    }
    await Promise.all(this.qemus.splice(0).map((q) => q.stop(1000).catch(() => q.kill())));
    await this.netlink.close().catch((e: unknown) => errors.push(e));
    try {
      this.netns.remove();
    } catch (e) {
      errors.push(e);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (errors.length) throw new AggregateError(errors, 'e2e teardown had errors');
  }
}

/** The ids `qom-list /machine/peripheral` reports (user-created devices). */
export async function peripheralIds(control: QmpClient): Promise<string[]> {
  const list = (await control.execute('qom-list', { path: '/machine/peripheral' })) as Array<{ name: string; type: string }>;
  return list.filter((p) => p.type.startsWith('child<')).map((p) => p.name);
}

/** Netdev ids listed by HMP `info network`. */
export async function listedNetdevs(control: QmpClient): Promise<Set<string>> {
  const text = await control.execute('human-monitor-command', { 'command-line': 'info network' });
  return netdevIds(typeof text === 'string' ? text : '');
}

/** The /dev/net/tun fds this process holds now. */
export function tunFds(): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === '/dev/net/tun') out.push(Number(fd));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}
