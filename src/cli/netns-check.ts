/**
 * Validate a sandbox network-namespace path the way the Linux adapter will use it, at `init`
 * (and at `load --netns-from-document`) rather than at the first attach: the path must open,
 * be an nsfs file (`fstatfs` f_type NSFS_MAGIC) and a *network* namespace
 * (`ioctl(NS_GET_NSTYPE) == CLONE_NEWNET`), the same {@link openNetns} check the adapter makes.
 * The caller's own namespace (the host's, for a runtime on the host) is refused unless asked
 * for explicitly: `/proc/self/ns/net` and friends would otherwise turn a sandbox store into one
 * that creates and deletes links in the host namespace.
 */
import { TapstateError } from '../../machines/tapstate-error.js';
import * as fs from 'node:fs';

/** The sandbox's network namespace path does not exist. */
export class NetnsMissingError extends TapstateError {
  override readonly name = 'NetnsMissingError';
  readonly code = 'NETNS_MISSING';
  constructor(readonly netns: string, readonly field = '--netns') {
    super(`${field} ${netns}: no such network namespace (create it first, e.g. ip netns add NAME → /run/netns/NAME)`);
  }
}

/** The path exists but is not a network namespace, or is the caller's own without `--host-netns`. */
export class NetnsInvalidError extends TapstateError {
  override readonly name = 'NetnsInvalidError';
  readonly code = 'NETNS_INVALID';
  constructor(
    readonly netns: string,
    readonly field: string,
    /** `nsfs`, `net-namespace`, `not-own` */
    readonly rule: string,
    detail: string,
  ) {
    super(`${field} ${netns}: ${detail}`);
  }
}

/** Same namespace file (device and inode)? */
function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Is `p` the calling process's own network namespace? */
export function isOwnNetns(p: string): boolean {
  try {
    return sameFile(fs.statSync(p), fs.statSync('/proc/self/ns/net'));
  } catch {
    return false;
  }
}

/**
 * Check `p` as a sandbox netns. `kernel: false` (in-memory adapters) skips the nsfs check, which
 * needs the real path, but never the own-namespace rule.
 */
export async function checkSandboxNetns(p: string, opts: { field: string; kernel: boolean }): Promise<void> {
  if (isOwnNetns(p))
    throw new NetnsInvalidError(p, opts.field, 'not-own', "is this process's own network namespace (the host's): use --host-netns to act there deliberately");
  if (!opts.kernel) return;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NetnsMissingError(p, opts.field);
    throw new NetnsInvalidError(p, opts.field, 'nsfs', `cannot stat (${code ?? String(e)})`);
  }
  if (!st.isFile()) throw new NetnsInvalidError(p, opts.field, 'nsfs', 'is not a namespace file (a directory or a device)');
  const { libc } = await import('../linux/libc.js');
  const { openNetns } = await import('../linux/netns.js');
  const l = libc();
  const fd = openNetns(l, p);
  if (typeof fd === 'number') {
    l.close(fd);
    return;
  }
  if (fd.errno === 2) throw new NetnsMissingError(p, opts.field);
  throw new NetnsInvalidError(p, opts.field, fd.check?.includes('network') ? 'net-namespace' : 'nsfs', fd.check ?? `cannot open as a namespace (errno ${fd.errno} at ${fd.stage})`);
}
