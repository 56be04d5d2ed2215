/**
 * The daemon's one seam to the store layer: create a sandbox's store, and open it for writing
 * (its flock held, adapters built from its sandbox config, every interrupted effect recovered
 * before it is returned), through the library's `openStore` — the same code path `tapstate` and
 * tapstate-cni use, never a second one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileLogStore, LOG_FILE, type LogRecord } from '../log/index.js';
import type { SandboxConfig, Tapstore } from '../runtime/tapstore.js';
import type { NetlinkAdapter } from '../adapters/netlink.js';
import { adapterKind, envAdapters } from '../store/env-adapters.js';
import { openStore } from '../store/open-store.js';
import { StoreLock } from '../store/store-lock.js';

export { StoreLockedError } from '../store/store-lock.js';
export { StoreNotFoundError } from '../store/errors.js';

/** An open, locked, recovered sandbox store. */
export interface SandboxStore {
  dir: string;
  store: Tapstore;
  sandbox: SandboxConfig;
  /** Subscribe to records as they are appended to the log (returns the unsubscribe). */
  onAppend(fn: (records: readonly LogRecord[]) => void): () => void;
  /** Records already in the log with `seq > after`: the retained history (sealed segments, then the active one), read from the files. */
  recordsAfter(after: number): LogRecord[];
  /** Wait for running operations, close the log and the adapters, drop the lock. */
  close(): Promise<void>;
}

/** Is `dir` a store (holds a log)? */
export function isStoreDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, LOG_FILE));
}

/** Prefix of a store being created (renamed to its name once complete; never a valid sandbox id). */
export const NEW_PREFIX = '.new-';

/** fsync a file or a directory on libuv's thread pool, never following a symlink. */
export async function fsyncPath(p: string, isDir: boolean): Promise<void> {
  const h = await fs.promises.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | (isDir ? fs.constants.O_DIRECTORY : 0));
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Create a store for `sandbox` at `dir`: built in a sibling `.new-*` directory (0700) and renamed
 * into place, so a crash never leaves a half-created store under the sandbox's name. Fails if
 * `dir` exists and is not empty.
 *
 * Its fsyncs run off the event loop (`sync`, default {@link fsyncPath}): the files are written
 * without them, then the log and the directory are made durable, then the directory gets its
 * name, then the parent is synced so that the rename itself survives a power cut (a crash before
 * the rename leaves only the `.new-*` directory, removed when the daemon starts). On this kind of
 * machine the synchronous version held the event loop 4–9 ms per sandbox created (up to 50).
 */
export async function createSandboxStore(dir: string, sandbox: SandboxConfig, sync: (p: string, isDir: boolean) => Promise<void> = fsyncPath): Promise<void> {
  const tmp = path.join(path.dirname(dir), `${NEW_PREFIX}${path.basename(dir)}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const lock = StoreLock.acquire(tmp);
    try {
      FileLogStore.create(tmp, { sandbox }, { fsync: () => undefined }).close(); // made durable just below
    } finally {
      lock.release();
    }
    await sync(path.join(tmp, LOG_FILE), false);
    await sync(tmp, true);
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  await sync(path.dirname(dir), true);
}

/**
 * Open `dir` for writing: lock, replay, recover. Throws StoreLockedError when another process
 * holds it. `sharedNetlink`: the daemon's one Linux adapter (its sockets and worker threads serve
 * every sandbox; a store's close leaves it open).
 */
export async function openSandboxStore(dir: string, env: NodeJS.ProcessEnv, sharedNetlink?: NetlinkAdapter): Promise<SandboxStore> {
  // the shared adapter stays the daemon's (openStore never closes adapters it is given); the
  // test hooks of the environment (TAPSTATE_ADAPTERS, TAPSTATE_TEST_EFFECT_DELAY_MS) need a factory
  const hooks = adapterKind(env) !== 'real' || Number(env.TAPSTATE_TEST_EFFECT_DELAY_MS ?? 0) > 0;
  const store = await openStore(dir, { adapters: sharedNetlink && !hooks ? { netlink: sharedNetlink } : (sb) => envAdapters(sb, env, sharedNetlink) });
  const s = { dir: path.resolve(dir), store, log: store.log, sandbox: store.sandbox };
  const subscribers = new Set<(records: readonly LogRecord[]) => void>();
  // the live feed of the journal: every append the store makes goes through this one object
  const log = s.log as FileLogStore & { append: FileLogStore['append'] };
  const append = log.append.bind(log);
  log.append = (records, durable) => {
    append(records, durable);
    // a subscriber (an events stream) must never fail the store's append
    for (const fn of subscribers) {
      try {
        fn(records);
      } catch {
        subscribers.delete(fn);
      }
    }
  };
  return {
    dir: s.dir,
    store: s.store,
    sandbox: s.sandbox,
    onAppend(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
    recordsAfter(after) {
      const r = FileLogStore.open(s.dir, { readOnly: true });
      try {
        // every retained segment, not only the active one (read() is the active segment: after a
        // rotation, since=0 started at its first record, silently skipping the sealed ones)
        const out: LogRecord[] = [];
        for (const p of r.history().records) if (p.record.seq > after) out.push(p.record);
        return out;
      } finally {
        r.close();
      }
    },
    close: () => store.close(),
  };
}

/**
 * The one Linux netlink adapter of a daemon (undefined with the in-memory adapters). By default
 * the library's own {@link LinuxNetlinkAdapter}, as in any process: its quick calls inline, within
 * a per-turn budget, the slow ones (DELLINK, TUNSETIFF past the budget, closes) on its worker
 * threads. `thread` (`tapstate serve --netlink-thread`): the whole adapter on a thread of its own
 * (src/daemon/netlink-thread.ts), so that not even a quick call waits for the RTNL lock on the
 * event loop — at the price of a thread hop per call; on 2 vCPUs that measured slower, with a
 * higher event-loop p99 (docs/serve.md). The caller closes it.
 */
export async function sharedNetlinkFor(env: NodeJS.ProcessEnv, thread = false): Promise<NetlinkAdapter | undefined> {
  if (adapterKind(env) !== 'real') return undefined;
  if (thread) {
    const { ThreadedNetlinkAdapter } = await import('./netlink-thread.js');
    return new ThreadedNetlinkAdapter();
  }
  const { LinuxNetlinkAdapter } = await import('../linux/adapter.js');
  return new LinuxNetlinkAdapter();
}
