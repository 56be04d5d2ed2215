/**
 * What a store directory holds that tapstate made — the only entries {@link removeStore} deletes.
 * A store may be made in a directory that already holds other files (`openStore(dir, {sandbox})`
 * on an existing directory): removing the store removes its own files and the directory only when
 * nothing else is left in it. Layers above keep their own files there (the CNI plugin's
 * `cni-networks.json`) and remove them themselves before.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CHECKPOINT_FILE, LOG_FILE } from '../log/file-store.js';
import { RETENTION_FILE } from '../log/retention-file.js';
import { ARCHIVE_DIR, SEGMENTS_DIR } from '../log/segments.js';
import { LOCK_FILE } from './store-lock.js';

/** Every entry of tapstate's own a store directory may hold; the lock last (removal order: a waiter sees it unlinked only once the rest is gone). */
export const STORE_ENTRIES: readonly string[] = [...[LOG_FILE, CHECKPOINT_FILE, RETENTION_FILE].flatMap((f) => [f, `${f}.tmp`]), SEGMENTS_DIR, ARCHIVE_DIR, LOCK_FILE];

/** Delete the store's own entries in `dir` (never following a symlink), then `dir` if it is empty. */
export function removeStoreFiles(dir: string): void {
  for (const name of STORE_ENTRIES) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw e;
  }
}
