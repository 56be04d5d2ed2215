/**
 * Which CNI network each attachment of a container's store belongs to: `cni-networks.json` in
 * the store directory, `{ "<endpoint id>": "<network name>" }`, written by ADD (under the store's
 * lock, before the attach) and read by GC. A runtime runs GC per network, listing only that
 * network's attachments in `cni.dev/valid-attachments`: an attachment of another network that
 * shares the `stateDir` is not GC's to remove. Stores made before this file existed have none:
 * their attachments count as belonging to any network (the earlier behaviour).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const NETWORKS_FILE = 'cni-networks.json';

/** The recorded networks of `dir`'s endpoints ({} when none or unreadable). */
export function readNetworks(dir: string): Record<string, string> {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dir, NETWORKS_FILE), 'utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** Record that endpoint `id` of the store in `dir` belongs to `network` (atomic: tmp, fsync, rename). */
export function recordNetwork(dir: string, id: string, network: string): void {
  const all = { ...readNetworks(dir), [id]: network };
  const file = path.join(dir, NETWORKS_FILE);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(all) + '\n');
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
