/**
 * Network-namespace handling: validate a path as a network namespace, and run a few bare
 * syscalls (socket(), open()) inside it on the calling thread, always switching back.
 */
import type { Libc } from './libc.js';
import type { SyscallFailure } from './netlink-socket.js';
import { EINTR, EINVAL } from './errno.js';

export const CLONE_NEWNET = 0x40000000;
export const NSFS_MAGIC = 0x6e736673;
/** ioctl NS_GET_NSTYPE = _IO(0xb7, 0x3). */
export const NS_GET_NSTYPE = 0xb703;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
/** A FIFO (or a device) at the path must not block the open: the checks below then reject it. */
const O_NONBLOCK = 0o4000;

/** Failure to open/validate a netns path (EINVAL for "not a network namespace"). */
export type NetnsFailure = SyscallFailure & { check?: string };

/**
 * Open `path` (non-blocking: a FIFO there would otherwise hang the caller) and check that it is
 * a network-namespace file: fstatfs f_type == NSFS_MAGIC and ioctl(NS_GET_NSTYPE) == CLONE_NEWNET. Returns the open fd (O_CLOEXEC) or a failure
 * (ENOENT for a missing path, EINVAL naming the failed check otherwise).
 */
export function openNetns(l: Libc, path: string): number | NetnsFailure {
  let fd: number;
  do fd = l.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  while (fd < 0 && l.errno() === EINTR);
  if (fd < 0) return { ok: false, errno: l.errno(), stage: `open(${path})` };
  const st = Buffer.alloc(120);
  if (l.fstatfs(fd, st) < 0) {
    const errno = l.errno();
    l.close(fd);
    return { ok: false, errno, stage: 'fstatfs' };
  }
  if (Number(st.readBigInt64LE(0)) !== NSFS_MAGIC) {
    l.close(fd);
    return { ok: false, errno: EINVAL, stage: 'fstatfs', check: `${path} is not a namespace file (f_type != NSFS_MAGIC 0x6e736673)` };
  }
  const t = l.ioctl(fd, NS_GET_NSTYPE);
  if (t !== CLONE_NEWNET) {
    l.close(fd);
    return { ok: false, errno: EINVAL, stage: 'ioctl(NS_GET_NSTYPE)', check: `${path} is not a network namespace` };
  }
  return fd;
}

/**
 * Run `fn` with the calling thread in the netns `targetFd`, then switch back to `homeFd` in
 * `finally`. If switching back fails the process aborts: continuing in a foreign netns would
 * silently act on the wrong namespace. Keep `fn` to bare syscalls (no thread creation, no
 * awaits — it is synchronous).
 */
export function inNetns<T>(l: Libc, homeFd: number, targetFd: number, fn: () => T): T | SyscallFailure {
  if (l.setns(targetFd, CLONE_NEWNET) < 0) return { ok: false, errno: l.errno(), stage: 'setns(target)' };
  try {
    return fn();
  } finally {
    if (l.setns(homeFd, CLONE_NEWNET) < 0) {
      process.stderr.write(`tapstate: setns back to the home netns failed (errno ${l.errno()}); aborting\n`);
      process.abort();
    }
  }
}
