/**
 * Whether a directory under `stateDir` is tapstate-cni's to create in or remove. A config author
 * may point `stateDir` at a directory other software uses (`/var/lib/cni`, where host-local keeps
 * `networks/` and libcni its `results/`): a directory named like a container id that holds
 * anything but what tapstate itself leaves before a store's log exists is not ours, and is
 * neither turned into a store (ADD) nor deleted (DEL, GC).
 */
import * as fs from 'node:fs';
import { TapstateError } from '../../machines/tapstate-error.js';
import { NETWORKS_FILE } from './network-names.js';
import { LOCK_FILE } from '../store/store-lock.js';
import { STORE_ENTRIES } from '../store/store-files.js';

/**
 * What a store directory without a log can hold of tapstate's own: the lock and a log header
 * being written (an ADD killed before its first record), and whatever a removal killed half-way
 * through (`rm -rf` order is the directory's) left of a store's files.
 */
const OWN_LEFTOVERS: ReadonlySet<string> = new Set([...STORE_ENTRIES, `${LOCK_FILE}.tmp`, NETWORKS_FILE, `${NETWORKS_FILE}.tmp`]);

/** The entries of `dir` that are not tapstate's own leftovers ([] when `dir` is missing). */
export function foreignEntries(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => !OWN_LEFTOVERS.has(n)).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    if (code === 'ENOTDIR') return ['(a file, not a directory)'];
    throw e;
  }
}

/** `<stateDir>/<containerId>` exists, is not a tapstate store, and holds files of someone else. */
export class ForeignDirectoryError extends TapstateError {
  override readonly name = 'ForeignDirectoryError';
  readonly code = 'CNI_FOREIGN_DIRECTORY';
  constructor(
    readonly dir: string,
    readonly entries: string[],
  ) {
    super(
      `${dir} is not a tapstate store and holds files of someone else (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): ` +
        'tapstate-cni neither uses nor removes it; give tapstate-cni a stateDir of its own',
    );
  }
}
