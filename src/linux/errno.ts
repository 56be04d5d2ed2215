/**
 * errno numbers by name (Linux values, from `os.constants.errno`), and the reverse lookup. The
 * functions the worker embeds as source text (`transactSync`, `tunAttachSync`) cannot import
 * these and keep literal numbers with the name beside them.
 */
import { constants } from 'node:os';
import type { ErrnoName } from '../adapters/netlink.js';

const ERRNO = constants.errno as Record<string, number>;

export const EINTR: number = ERRNO.EINTR!;
export const EIO: number = ERRNO.EIO!;
export const ENOENT: number = ERRNO.ENOENT!;
export const EBUSY: number = ERRNO.EBUSY!;
export const EEXIST: number = ERRNO.EEXIST!;
export const ENOTDIR: number = ERRNO.ENOTDIR!;
export const EINVAL: number = ERRNO.EINVAL!;

const NAMES = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** `ENODEV` for 19; `E<n>` for a number without a name. */
export function errnoName(n: number): ErrnoName {
  return (NAMES.get(n) ?? `E${n}`) as ErrnoName;
}

/** The number of an errno name (`ENOENT` → 2), or `fallback` for an unknown name. */
export function errnoNumber(name: string, fallback: number): number {
  return ERRNO[name] ?? fallback;
}
