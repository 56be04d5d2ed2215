/**
 * Open a store directory for the CLI: its durable log ({@link FileLogStore}), the sandbox config
 * kept in the log header, the adapters that config calls for, and — for writers — the store's
 * write lock. This is the imperative shell around the runtime.
 *
 * Adapters: the real {@link LinuxNetlinkAdapter} always; {@link QemuHypervisorAdapter} when the
 * store has a QMP socket (its cold plug replaced by the `ifname=` form), otherwise
 * {@link NoVmmHypervisor}. Two environment variables exist for tests and benchmarks only
 * (docs/cli.md): `TAPSTATE_ADAPTERS=memory` uses the in-memory kernel and hypervisor (every
 * process starts with an empty world), and `TAPSTATE_TEST_EFFECT_DELAY_MS=N` stretches every
 * adapter call by N ms (half before, half after the real call) so that kill -9 tests can land
 * in every effect state.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HypervisorAdapter } from '../adapters/hypervisor.js';
import type { NetlinkAdapter } from '../adapters/netlink.js';
import { FileLogStore, LOG_FILE } from '../log/index.js';
import { Tapstore, type SandboxConfig } from '../runtime/tapstore.js';
import type { Adapters } from '../runtime/effects.js';
import type { CliIO } from './command.js';
import { ColdplugByName, NoVmmHypervisor } from './no-vmm-hypervisor.js';
import { capEcho } from './quote.js';
import { StoreLock } from './store-lock.js';

/** The directory holds no tapstate store. */
export class StoreNotFoundError extends Error {
  override readonly name = 'StoreNotFoundError';
  constructor(readonly store: string) {
    super(`no tapstate store at ${capEcho(store)} (create one with: tapstate init --store ${capEcho(store)} --netns PATH)`);
  }
}

/** The sandbox config of a log header's meta (defaults as the runtime applies them). */
export function sandboxOf(meta: Record<string, unknown>): SandboxConfig {
  const s = (meta as { sandbox?: SandboxConfig }).sandbox;
  return s ?? { netnsPath: '', netnsCreated: true, vcpus: 1, vhost: false };
}

/** Which adapters the environment asks for. */
export type AdapterKind = 'real' | 'memory';

export function adapterKind(env: NodeJS.ProcessEnv): AdapterKind {
  const v = env.TAPSTATE_ADAPTERS ?? 'real';
  if (v !== 'real' && v !== 'memory') throw new Error(`TAPSTATE_ADAPTERS must be "real" or "memory" (got ${JSON.stringify(v)})`);
  return v;
}

/** Stretch every call of an adapter by `ms` (test hook; see the module comment). */
function stretched<T extends object>(adapter: T, ms: number): T {
  const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
  return new Proxy(adapter, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop === 'close' || prop === 'closeFds') return fn;
      return async (...args: unknown[]) => {
        await sleep(ms / 2);
        const r = await fn(...args);
        await sleep(ms / 2);
        return r;
      };
    },
  });
}

/**
 * Build the adapters a store's sandbox needs. The caller closes them. `sharedNetlink` (the
 * daemon: one Linux adapter, its sockets and worker threads, for every store) is used instead of
 * a new Linux adapter; closing the returned adapters leaves it open.
 */
export async function makeAdapters(sandbox: SandboxConfig, env: NodeJS.ProcessEnv, sharedNetlink?: NetlinkAdapter): Promise<Adapters> {
  let netlink: NetlinkAdapter;
  let hypervisor: HypervisorAdapter;
  if (adapterKind(env) === 'memory') {
    const { MemoryKernel, MemoryHypervisor } = await import('../adapters/memory/index.js');
    const kernel = new MemoryKernel();
    if (sandbox.netnsPath !== '') kernel.addNetns(sandbox.netnsPath);
    netlink = kernel;
    hypervisor = new MemoryHypervisor({ kernel });
  } else {
    if (sharedNetlink) netlink = new Proxy(sharedNetlink, { get: (t, p) => (p === 'close' ? async () => {} : (Reflect.get(t, p) as unknown)) });
    else {
      const { LinuxNetlinkAdapter } = await import('../linux/adapter.js');
      netlink = new LinuxNetlinkAdapter();
    }
    if (sandbox.qmp) {
      const { QemuHypervisorAdapter } = await import('../qemu/adapter.js');
      hypervisor = new ColdplugByName(new QemuHypervisorAdapter({ qmpPath: sandbox.qmp, ...(sandbox.hotplugBuses ? { hotplugBuses: sandbox.hotplugBuses } : {}) }));
    } else hypervisor = new NoVmmHypervisor();
  }
  const delay = Number(env.TAPSTATE_TEST_EFFECT_DELAY_MS ?? 0);
  if (Number.isFinite(delay) && delay > 0) {
    netlink = stretched(netlink, delay);
    hypervisor = stretched(hypervisor, delay);
  }
  return { netlink, hypervisor };
}

/** The store must exist and hold a tapstate log (checked read-only: nothing is created). */
export function checkStore(dir: string): string {
  const d = path.resolve(dir);
  if (!fs.existsSync(path.join(d, LOG_FILE))) throw new StoreNotFoundError(d);
  FileLogStore.open(d, { readOnly: true }).close(); // a foreign log fails here, before any lock file is made
  return d;
}

/** An open store (reader or writer). */
export interface StoreSession {
  dir: string;
  store: Tapstore;
  log: FileLogStore;
  sandbox: SandboxConfig;
  /** The adapters (writers only). */
  adapters?: Adapters;
  /** Close everything (writers: checkpoint if anything was written, adapters, lock). */
  close(): Promise<void>;
}

/** Adapters for a reader: it never runs an effect. */
export const inert = new Proxy({} as Adapters['netlink'] & Adapters['hypervisor'], {
  get(_t, prop) {
    return () => Promise.reject(new Error(`read-only store session: ${String(prop)} not available`));
  },
});

/**
 * Open a store read-only, without the lock and without recovery: in-doubt endpoints show as
 * `in-doubt`. Used by `status`, `log`, `save`.
 */
export async function openReader(dir: string): Promise<StoreSession> {
  const d = checkStore(dir);
  const log = FileLogStore.open(d, { readOnly: true });
  try {
    const store = await Tapstore.open({ log, adapters: { netlink: inert, hypervisor: inert }, recover: false });
    return { dir: d, store, log, sandbox: store.sandbox, close: async () => log.close() };
  } catch (e) {
    log.close();
    throw e;
  }
}

/** The stderr line of a writer that cut a torn tail. */
export function tornNotice(t: { offset: number; bytes: number }): string {
  return `tapstate: cut a torn last record (${t.bytes} bytes at byte ${t.offset}) left by an interrupted writer; the records before it are intact\n`;
}

/** Options of {@link openWriter}. */
export interface WriterOptions {
  io: CliIO;
  /** Called as recovery goes through in-doubt endpoints. */
  onRecoveryProgress?: (done: number, total: number) => void;
  /** Print the "recovered first" line on stderr when opening recovered something (default true). */
  announceRecovery?: boolean;
  /** Wait this long for the write lock (ms, default 0: fail at once). */
  lockTimeoutMs?: number;
  /** One Linux netlink adapter shared by every store of the process (see {@link makeAdapters}). */
  sharedNetlink?: NetlinkAdapter;
}

/**
 * Open a store for writing: take the lock, open the log, build the adapters, replay and recover
 * every in-doubt effect first (the documented policy), saying so on stderr.
 */
export async function openWriter(dir: string, opts: WriterOptions): Promise<StoreSession> {
  const d = checkStore(dir);
  const lock = StoreLock.acquire(d, opts.lockTimeoutMs ?? 0);
  let log: FileLogStore | undefined;
  let adapters: Adapters | undefined;
  try {
    log = FileLogStore.open(d);
    // opening for writing cut a partial last record away: say so (docs/recovery.md)
    if (log.tornAtOpen) opts.io.err(tornNotice(log.tornAtOpen));
    const sandbox = sandboxOf(log.header.meta);
    adapters = await makeAdapters(sandbox, opts.io.env, opts.sharedNetlink);
    const openedEnd = log.end;
    const store = await Tapstore.open({ log, adapters, onRecoveryProgress: opts.onRecoveryProgress });
    const rec = store.recovery.endpoints;
    if (rec.length > 0 && (opts.announceRecovery ?? true)) {
      const failed = rec.filter((r) => r.action === 'failed').length;
      opts.io.err(
        `tapstate: found ${rec.length} interrupted effect(s) and recovered first: ` +
          rec.map((r) => `${r.id} ${r.effect} ${r.action} → ${r.finalState}`).join('; ') +
          (failed ? ` (${failed} failed: run tapstate recover)` : '') +
          '\n',
      );
    }
    const l = log;
    const a = adapters;
    let closed = false;
    return {
      dir: d,
      store,
      log,
      sandbox,
      adapters: a,
      async close() {
        if (closed) return;
        closed = true;
        try {
          // nothing written since opening: leave the files exactly as they were
          let unchanged = false;
          try {
            unchanged = l.end === openedEnd && store.heldFds === 0;
          } catch {
            /* the log failed (StoreFailedError already reported): nothing more to write */
          }
          if (unchanged) l.close();
          else await store.close();
        } finally {
          await closeAdapters(a);
          lock.release();
        }
      },
    };
  } catch (e) {
    try {
      log?.close();
    } catch {
      /* already closed */
    }
    if (adapters) await closeAdapters(adapters);
    lock.release();
    throw e;
  }
}

async function closeAdapters(a: Adapters): Promise<void> {
  await Promise.allSettled([a.netlink.close(), a.hypervisor.close()]);
}
