/**
 * The seam between tapstate-cni and the store machinery: one tapstate store per container id,
 * `<stateDir>/<containerId>/`, opened under the store's write lock with the usual replay and
 * crash recovery (the same log, lock and adapters as the `tapstate` CLI). Everything CNI-specific
 * stays out of here; when a library-level `openStore` exists this is the one file to switch.
 *
 * A store can be removed (DEL, GC) while another plugin waits to open it. The remover holds the
 * lock while it deletes the directory, so a waiter that then gets the lock holds it on an
 * unlinked file: after locking, the lock file at the path must be the one we hold (it carries our
 * pid), otherwise we start again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileLogStore, LOG_FILE } from '../log/index.js';
import { Tapstore, type SandboxConfig } from '../runtime/tapstore.js';
import type { Adapters } from '../runtime/effects.js';
import { makeAdapters, sandboxOf } from '../cli/open-store.js';
import { LOCK_FILE, StoreLock, StoreLockedError } from '../cli/store-lock.js';

/** Another process holds a container's store (the plugin answers code 11). */
export { StoreLockedError };

export interface ContainerStore {
  dir: string;
  store: Tapstore;
  adapters: Adapters;
  sandbox: SandboxConfig;
  /** Close the store (and its adapters), then drop the lock. */
  close(): Promise<void>;
  /** Close, delete the store directory, then drop the lock. */
  remove(): Promise<void>;
}

export interface OpenContainerOptions {
  /** Create the store when missing, for this sandbox (ADD). Without it a missing store gives null. */
  create?: SandboxConfig;
  /** Recover interrupted effects while opening (default true; CHECK looks without changing anything). */
  recover?: boolean;
  env: NodeJS.ProcessEnv;
  /** Told, in one line, what recovery found and did while opening (the plugin writes it on stderr). */
  onRecovered?: (line: string) => void;
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** Take the store's lock, making sure it is the lock file still at the path (see the module comment). */
function lockLive(dir: string, create: boolean): StoreLock | null {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    let lock: StoreLock;
    try {
      lock = StoreLock.acquire(dir);
    } catch (e) {
      if (errno(e) === 'ENOENT') {
        if (!create) return null; // removed meanwhile
        continue;
      }
      throw e;
    }
    let holder = '';
    try {
      holder = fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8');
    } catch (e) {
      if (errno(e) !== 'ENOENT') {
        lock.release();
        throw e;
      }
    }
    if (holder === `${process.pid}\n`) return lock;
    lock.release(); // we locked a file that a remover unlinked: start again
    if (!create && !fs.existsSync(dir)) return null;
  }
  throw new Error(`${dir}: could not lock the store (it keeps being removed and recreated)`);
}

/** The directory of a container's store. */
export const containerDir = (stateDir: string, containerId: string): string => path.join(stateDir, containerId);

/**
 * Open (or create) a container's store. Returns null when it does not exist and `create` is not
 * given; a directory left without a log (an ADD killed before its first record) counts as
 * missing and is removed. Throws `StoreLockedError` when another process holds the lock.
 */
export async function openContainerStore(stateDir: string, containerId: string, opts: OpenContainerOptions): Promise<ContainerStore | null> {
  const dir = containerDir(stateDir, containerId);
  if (opts.create) fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  else if (!fs.existsSync(dir)) return null;
  const lock = lockLive(dir, opts.create !== undefined);
  if (!lock) return null;
  let log: FileLogStore | undefined;
  let adapters: Adapters | undefined;
  try {
    if (!fs.existsSync(path.join(dir, LOG_FILE))) {
      if (!opts.create) {
        fs.rmSync(dir, { recursive: true, force: true });
        lock.release();
        return null;
      }
      FileLogStore.create(dir, { sandbox: opts.create, by: 'tapstate-cni' }).close();
    }
    log = FileLogStore.open(dir);
    const sandbox = sandboxOf(log.header.meta);
    adapters = await makeAdapters(sandbox, opts.env);
    const store = await Tapstore.open({ log, adapters, recover: opts.recover ?? true });
    const rec = store.recovery.endpoints;
    if (rec.length && opts.onRecovered)
      opts.onRecovered(`recovered ${rec.length} interrupted effect(s) in ${dir}: ` + rec.map((r) => `${r.id} ${r.effect} ${r.action} → ${r.finalState}${r.error ? ` (${r.error})` : ''}`).join('; '));
    const a = adapters;
    let done = false;
    const finish = async (removeDir: boolean): Promise<void> => {
      if (done) return;
      done = true;
      try {
        await store.close();
        await Promise.allSettled([a.netlink.close(), a.hypervisor.close()]);
        if (removeDir) fs.rmSync(dir, { recursive: true, force: true });
      } finally {
        lock.release();
      }
    };
    return { dir, store, adapters, sandbox, close: () => finish(false), remove: () => finish(true) };
  } catch (e) {
    try {
      log?.close();
    } catch {
      /* closed */
    }
    if (adapters) await Promise.allSettled([adapters.netlink.close(), adapters.hypervisor.close()]);
    lock.release();
    throw e;
  }
}

/** The container ids that have a store under `stateDir` (GC). */
export function listContainerStores(stateDir: string): string[] {
  try {
    return fs.readdirSync(stateDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    if (errno(e) === 'ENOENT') return [];
    throw e;
  }
}
