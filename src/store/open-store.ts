/**
 * The one way to open a store directory for a runtime (the CLI, a daemon, a CNI plugin):
 *
 * ```ts
 * const store = await openStore('/run/tapstate/sb1', { sandbox: { netnsPath: '/run/netns/sb1' } });
 * ```
 *
 * `openStore` takes the single-writer lock (`<dir>/lock`, flock), creates the store when it is
 * given a sandbox config and none exists, reads the typed sandbox config from the log header,
 * builds the adapters that config calls for (unless given), replays and recovers. Closing the
 * store closes what `openStore` built and drops the lock. With `lock: false` it opens read-only:
 * no lock, no recovery, in-doubt endpoints show as `in-doubt`, and no adapter is ever called.
 * {@link removeStore} closes a writer and deletes the store's own files, then its directory if
 * nothing else is in it, while still holding the lock (a waiter then finds the lock file gone
 * and does not take it: see store-lock.ts; what it deletes: store-files.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeDirs } from '../fs/make-dirs.js';
import { FileLogStore, LOG_FILE } from '../log/file-store.js';
import { checkRetention, type RetentionPolicy } from '../log/retention.js';
import { writeRetentionFile } from '../log/retention-file.js';
import type { Adapters } from '../runtime/effects.js';
import { resolveSandbox, sandboxFromMeta, sandboxMeta, type SandboxConfig, type SandboxInit } from '../runtime/sandbox-config.js';
import { inertAdapter } from '../adapters/inert-adapters.js';
import { checkAdapter, checkAdapters, checkStoreDir, checkStoreOptions, StoreOptionError, TAPSTORE_OPTIONS } from '../runtime/store-options.js';
import { Tapstore, type TapstoreOptions } from '../runtime/tapstore.js';
import { defaultHypervisor, defaultNetlink } from './default-adapters.js';
import { SandboxMismatchError, StoreExistsError, StoreNotFoundError, StoreNotRemovableError } from './errors.js';
import { checkLockOptions, LOCK_FILE, StoreLock, type StoreLockOptions } from './store-lock.js';
import { removeStoreFiles } from './store-files.js';

/** Builds the adapters for a store's sandbox; the store closes them when it closes. */
export type AdapterFactory = (sandbox: SandboxConfig) => Adapters | Promise<Adapters>;

export interface OpenStoreOptions extends Omit<TapstoreOptions, 'log' | 'adapters' | 'onClose'> {
  /**
   * The sandbox the store serves. When the directory holds no store, one is created for it;
   * when it does, the recorded config must be the same ({@link SandboxMismatchError}). Without
   * it the store must exist ({@link StoreNotFoundError}).
   */
  sandbox?: SandboxInit;
  /**
   * The adapters, or a factory given the store's sandbox config. Given adapters stay the
   * caller's (e.g. one netlink adapter shared by many stores: `{ netlink: shared }`); a side
   * left out is built for the sandbox ({@link defaultNetlink}, {@link defaultHypervisor}) and
   * closed with the store, as is everything a factory builds. A read-only open gets adapters that
   * refuse every call for the sides left out.
   */
  adapters?: Partial<Adapters> | AdapterFactory;
  /** The write lock: how long to wait for it (default: fail at once), or `false` to open read-only. */
  lock?: StoreLockOptions | false;
}

/** The options `openStore` has of its own (the compiler keeps the list exact); the rest are `Tapstore.open`'s it passes on. */
const ownOptions: Record<Exclude<keyof OpenStoreOptions, keyof TapstoreOptions> | 'adapters', true> = { sandbox: true, adapters: true, lock: true };
const notPassed: ReadonlySet<string> = new Set<keyof TapstoreOptions>(['log', 'adapters', 'onClose']);
/** Every option of `openStore`: any other is refused ({@link StoreOptionError}, rule `unknown`). */
const OPEN_STORE_OPTIONS: readonly string[] = [...Object.keys(ownOptions), ...TAPSTORE_OPTIONS.filter((o) => !notPassed.has(o))];
/** Every option of `createStore`. */
const CREATE_STORE_OPTIONS: readonly string[] = ['lock', 'retention'];

/** Whether `dir` holds a store (its log file exists). */
export function storeExists(dir: string): boolean {
  checkStoreDir(dir);
  return fs.existsSync(path.join(path.resolve(dir), LOG_FILE));
}

/**
 * Make the store directory (0700, parents too); returns the first directory made, if any. A path
 * that is, or lies under, something other than a directory is the caller's `dir` breaking a rule
 * ({@link StoreOptionError}), not a bare `EEXIST` / `ENOTDIR`.
 */
function makeStoreDir(d: string): string | undefined {
  let made: string[];
  try {
    made = makeDirs(d, 0o700); // the kernel's errno (EROFS), not Node's recursive mkdir's ENOENT
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new StoreOptionError('dir', 'directory', `${d}: a path component is not a directory`);
    throw e;
  }
  if (!fs.statSync(d).isDirectory()) throw new StoreOptionError('dir', 'directory', `${d}: exists and is not a directory`);
  return made[0];
}

/** Does `p` exist as something other than a directory or a symlink (a file, a socket…)? */
function isNonDirectory(p: string): boolean {
  try {
    const st = fs.lstatSync(p);
    return !st.isDirectory() && !st.isSymbolicLink();
  } catch {
    return false;
  }
}

/** The store must exist and hold a tapstate log (checked read-only: nothing is created). */
export function checkStore(dir: string): string {
  const d = path.resolve(dir);
  if (!storeExists(d)) throw new StoreNotFoundError(d, isNonDirectory(d) ? 'not-a-directory' : 'missing');
  FileLogStore.open(d, { readOnly: true }).close(); // a foreign log fails here, before any lock file is made
  return d;
}

/**
 * Create a store for `init` (defaults applied, {@link SandboxConfigError} on a bad field),
 * under the write lock. Throws {@link StoreExistsError} if one exists. Returns the config written.
 */
export async function createStore(dir: string, init: SandboxInit, opts: { lock?: StoreLockOptions; retention?: RetentionPolicy } = {}): Promise<SandboxConfig> {
  checkStoreDir(dir);
  const d = path.resolve(dir);
  checkStoreOptions(opts, CREATE_STORE_OPTIONS);
  checkLockOptions(opts.lock); // before anything is created
  if (opts.retention !== undefined) checkRetention(opts.retention);
  const sandbox = resolveSandbox(init);
  if (storeExists(d)) throw new StoreExistsError(d);
  makeStoreDir(d);
  const lock = await StoreLock.acquireWithin(d, opts.lock);
  try {
    if (storeExists(d)) throw new StoreExistsError(d);
    // the policy before the log: the log marks the store as made, so a crash in between never
    // leaves a store without the policy it was created with
    if (opts.retention) writeRetentionFile(d, opts.retention);
    FileLogStore.create(d, sandboxMeta(sandbox)).close();
  } finally {
    lock.release();
  }
  return sandbox;
}

/** Adapters for a read-only store: it never runs an effect. */
const inert = inertAdapter;

function checkSame(dir: string, recorded: SandboxConfig, init: SandboxInit): void {
  const given = resolveSandbox(init);
  for (const k of ['netnsPath', 'netnsCreated', 'vcpus', 'vhost', 'qmp', 'multiQueue'] as const)
    if (recorded[k] !== given[k] && !(k === 'vhost' && (init.vhost === undefined || init.vhost === 'auto'))) throw new SandboxMismatchError(dir, k, recorded[k], given[k]);
}

/** Stores opened for writing by {@link openStore}: marks one to be deleted when it closes. */
const removable = new WeakMap<Tapstore, () => void>();

/**
 * Close a store opened for writing by {@link openStore} (its adapters too), delete its
 * directory, then drop the lock: no other process can open it in between, and one waiting for
 * the lock then finds no store. Throws {@link StoreNotRemovableError} for a read-only or closed store.
 */
export async function removeStore(store: Tapstore): Promise<void> {
  const mark = removable.get(store);
  if (!mark) throw new StoreNotRemovableError();
  removable.delete(store);
  mark();
  await store.close();
}

/** Open (or create) the store in `dir`; see the module comment. */
export async function openStore(dir: string, opts: OpenStoreOptions = {}): Promise<Tapstore> {
  checkStoreDir(dir);
  checkStoreOptions(opts, OPEN_STORE_OPTIONS); // before a store is created or anything locked
  checkGivenAdapters(opts.adapters);
  const { sandbox: init, adapters: given, lock: lockOpts, ...rest } = opts;
  if (init !== undefined) resolveSandbox(init); // a bad or unknown field: SandboxConfigError before anything is made
  const d = path.resolve(dir);
  if (lockOpts === false) return openReadOnly(d, init, given, rest);
  checkLockOptions(lockOpts);
  // a new store is created under the lock this open keeps, once its adapters are built and
  // checked: a bad sandbox field, factory or adapter leaves no store behind
  const creating = init !== undefined && !storeExists(d);
  let made: string | undefined;
  if (creating) made = makeStoreDir(d);
  else checkStore(d);
  const lock = await StoreLock.acquireWithin(d, lockOpts);
  let log: FileLogStore | undefined;
  let built: Built | undefined;
  try {
    let sandbox: SandboxConfig;
    if (storeExists(d)) {
      sandbox = recordedSandbox(d); // read-only: nothing written before the adapters are checked
      if (init !== undefined) checkSame(d, sandbox, init);
    } else if (init !== undefined) sandbox = resolveSandbox(init);
    else throw new StoreNotFoundError(d); // removed while we waited for the lock
    built = await buildAdapters(sandbox, given, { netlink: defaultNetlink, hypervisor: () => defaultHypervisor(sandbox) });
    if (!storeExists(d)) FileLogStore.create(d, sandboxMeta(sandbox)).close();
    log = FileLogStore.open(d);
    const b = built;
    let remove = false;
    const store = await Tapstore.open({
      ...rest,
      log,
      adapters: b.adapters,
      onClose: async () => {
        removable.delete(store);
        try {
          await b.close();
          if (remove) removeStoreFiles(d);
        } finally {
          lock.release();
        }
      },
    });
    removable.set(store, () => (remove = true));
    return store;
  } catch (e) {
    try {
      log?.close();
    } catch {
      /* already closed */
    }
    try {
      await built?.close(); // never throws (closeAll), but the lock must go whatever happens
      if (creating && !storeExists(d)) unmake(d, made);
    } finally {
      lock.release();
    }
    throw e;
  }
}

/** The sandbox config recorded in the store's log header (read-only). */
function recordedSandbox(d: string): SandboxConfig {
  const log = FileLogStore.open(d, { readOnly: true });
  try {
    return sandboxFromMeta(log.header.meta);
  } finally {
    log.close();
  }
}

/**
 * A create that failed before the log was written: remove the lock file (still held) and the
 * directories this open made, if nothing else is in them. Best effort: the open's error is the one
 * to report.
 */
function unmake(d: string, made: string | undefined): void {
  try {
    fs.rmSync(path.join(d, LOCK_FILE), { force: true });
    if (made === undefined) return;
    for (let p = d; ; p = path.dirname(p)) {
      fs.rmdirSync(p);
      if (p === made) break;
    }
  } catch {
    /* not empty, or gone: leave it */
  }
}

/**
 * The `adapters` option as given (before anything is opened): a factory, or an object whose sides,
 * when given, are complete adapters.
 */
function checkGivenAdapters(given: unknown): void {
  if (given === undefined || typeof given === 'function') return;
  if (typeof given !== 'object' || given === null)
    throw new StoreOptionError('adapters', 'object', `must be an object ({ netlink?, hypervisor? }) or a factory function (got ${given === null ? 'null' : typeof given})`);
  const g = given as Record<string, unknown>;
  for (const side of ['netlink', 'hypervisor'] as const) if (g[side] != null) checkAdapter(g[side], side);
}

/** Adapters, and how to close the ones this open built. */
interface Built {
  adapters: Adapters;
  close(): Promise<void>;
}

async function buildAdapters(
  sandbox: SandboxConfig,
  given: OpenStoreOptions['adapters'],
  defaults: { netlink: () => Promise<Adapters['netlink']> | Adapters['netlink']; hypervisor: () => Promise<Adapters['hypervisor']> | Adapters['hypervisor'] },
): Promise<Built> {
  if (typeof given === 'function') {
    const adapters = await given(sandbox);
    // a factory may return anything: closing what it returned must not throw (the open's error is the one to report)
    const close = () => closeAll([adapters?.netlink, adapters?.hypervisor]);
    try {
      checkAdapters(adapters, 'returned by the adapters factory');
    } catch (e) {
      await close();
      throw e;
    }
    return { adapters, close };
  }
  const owned: Array<{ close(): Promise<void> }> = [];
  const netlink = given?.netlink ?? (await defaults.netlink());
  if (!given?.netlink) owned.push(netlink);
  let hypervisor: Adapters['hypervisor'];
  try {
    hypervisor = given?.hypervisor ?? (await defaults.hypervisor());
  } catch (e) {
    await closeAll(owned);
    throw e;
  }
  if (!given?.hypervisor) owned.push(hypervisor);
  return { adapters: { netlink, hypervisor }, close: () => closeAll(owned) };
}

/** Close every adapter that has a close(); a throw (sync or async) or a missing adapter never escapes. */
async function closeAll(adapters: ReadonlyArray<{ close(): Promise<void> } | null | undefined>): Promise<void> {
  await Promise.allSettled(
    adapters.map(async (a) => {
      if (a && typeof a.close === 'function') await a.close();
    }),
  );
}

async function openReadOnly(d: string, init: SandboxInit | undefined, given: OpenStoreOptions['adapters'], rest: Omit<OpenStoreOptions, 'sandbox' | 'adapters' | 'lock'>): Promise<Tapstore> {
  checkStore(d);
  const log = FileLogStore.open(d, { readOnly: true });
  let built: Built | undefined;
  try {
    const sandbox = sandboxFromMeta(log.header.meta);
    if (init !== undefined) checkSame(d, sandbox, init);
    built = await buildAdapters(sandbox, given, { netlink: () => inert, hypervisor: () => inert });
    const b = built;
    return await Tapstore.open({ ...rest, log, adapters: b.adapters, recover: false, onClose: () => b.close() });
  } catch (e) {
    log.close();
    await built?.close();
    throw e;
  }
}
