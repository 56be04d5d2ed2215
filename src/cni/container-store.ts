/**
 * The seam between tapstate-cni and the store machinery: one tapstate store per container id,
 * `<stateDir>/<containerId>/`, opened through the library's `openStore` (the same lock, log,
 * replay, crash recovery and adapters as the `tapstate` CLI and the daemon; no second code path).
 *
 * A store can be removed (DEL, GC: `removeStore`, which deletes the directory while holding the
 * lock) while another plugin waits to open it. The lock checks, after flock, that the lock file
 * at the path is the one it locked, so a waiter never holds the lock of a removed store: it
 * finds the directory gone (ENOENT) and sees a missing store, or (ADD) creates it again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tapstore, SandboxConfig } from '../runtime/tapstore.js';
import type { Adapters } from '../runtime/effects.js';
import { envAdapters } from '../store/env-adapters.js';
import { StoreExistsError, StoreNotFoundError } from '../store/errors.js';
import { createStore, openStore, removeStore, storeExists } from '../store/open-store.js';
import { StoreLock, StoreLockedError } from '../store/store-lock.js';
import { ForeignDirectoryError, foreignEntries } from './store-dir.js';
import { NETWORKS_FILE } from './network-names.js';

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

/** The directory of a container's store. */
export const containerDir = (stateDir: string, containerId: string): string => path.join(stateDir, containerId);

/**
 * Remove `dir` if it (still) holds no log and nothing but tapstate's own leftovers — an ADD
 * killed before its first record, a removal killed half-way — under its lock. A directory of
 * someone else is left alone.
 */
function removeEmpty(dir: string): void {
  if (foreignEntries(dir).length) return; // not ours (checked before the lock file is made in it)
  let lock: StoreLock;
  try {
    lock = StoreLock.acquire(dir);
  } catch (e) {
    if (errno(e) === 'ENOENT') return; // removed meanwhile
    throw e;
  }
  try {
    if (!storeExists(dir) && foreignEntries(dir).length === 0) fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    lock.release();
  }
}

/**
 * Open (or create) a container's store. Returns null when it does not exist and `create` is not
 * given; a directory left without a log (an ADD killed before its first record) counts as
 * missing and is removed; a directory holding anything else is not ours: missing for DEL and GC
 * (left alone), {@link ForeignDirectoryError} for ADD. Throws `StoreLockedError` when another
 * process holds the lock.
 */
export async function openContainerStore(stateDir: string, containerId: string, opts: OpenContainerOptions): Promise<ContainerStore | null> {
  const dir = containerDir(stateDir, containerId);
  if (opts.create) fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 100; attempt++) {
    if (opts.create && !storeExists(dir)) {
      const foreign = foreignEntries(dir);
      if (foreign.length) throw new ForeignDirectoryError(dir, foreign);
      // leftovers of an ADD killed early or of a removal killed half-way: start from nothing
      if (fs.existsSync(dir)) removeEmpty(dir);
      try {
        await createStore(dir, opts.create);
      } catch (e) {
        // created meanwhile by another plugin, or removed (DEL) while we waited: open or retry
        if (!(e instanceof StoreExistsError) && errno(e) !== 'ENOENT') throw e;
      }
    }
    let adapters: Adapters | undefined;
    let store: Tapstore;
    try {
      store = await openStore(dir, { adapters: async (sb) => (adapters = await envAdapters(sb, opts.env)), recover: opts.recover ?? true });
    } catch (e) {
      if (!(e instanceof StoreNotFoundError) && errno(e) !== 'ENOENT') throw e;
      if (opts.create) continue; // removed meanwhile: create it again
      if (fs.existsSync(dir)) removeEmpty(dir);
      return null;
    }
    const rec = store.recovery.endpoints;
    if (rec.length && opts.onRecovered)
      opts.onRecovered(`recovered ${rec.length} interrupted effect(s) in ${dir}: ` + rec.map((r) => `${r.id} ${r.effect} ${r.action} → ${r.finalState}${r.error ? ` (${r.error})` : ''}`).join('; '));
    const s = store;
    return { dir, store: s, adapters: adapters!, sandbox: s.sandbox, close: () => s.close(), remove: async () => {
        // removeStore deletes only the store's own files (and the directory once empty): ours first
        for (const f of [NETWORKS_FILE, `${NETWORKS_FILE}.tmp`]) fs.rmSync(path.join(dir, f), { force: true });
        await removeStore(s);
      } };
  }
  throw new Error(`${dir}: could not open the store (it keeps being removed and recreated)`);
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
