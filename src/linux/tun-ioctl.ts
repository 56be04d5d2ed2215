/**
 * /dev/net/tun queue setup: TUNSETIFF per queue fd, TUNSETPERSIST on the first.
 * {@link tunAttachSync} is self-contained so the worker pool can embed it.
 */
import type { Libc } from './libc.js';

export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const IFF_TAP = 0x0002;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
export const IFF_TUN_EXCL = 0x8000;
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
/** IFNAMSIZ - 1: the longest interface name. */
export const MAX_IFNAME_BYTES = 15;

/**
 * The TUNSETIFF flags for a tap with `queues` queues (without IFF_TUN_EXCL). Upstream createLink:
 * IFF_VNET_HDR, plus TUNTAP_MULTI_QUEUE_DEFAULTS (IFF_MULTI_QUEUE|IFF_NO_PI) whenever queues > 0 —
 * so also for one queue. queues = 0 (a hypervisor without multi-queue support): one fd, no
 * IFF_MULTI_QUEUE. IFF_NO_PI is always set (the tap carries no packet-information header).
 */
export const tapFlags = (queues: number): number => IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 0 ? IFF_MULTI_QUEUE : 0);

/** How many queue fds a tap with `queues` queues has: queues = 0 still opens one. */
export const queueFdCount = (queues: number): number => Math.max(1, queues);

/** Result of attaching queues: ok, or the failing step (queue index, -1 for TUNSETPERSIST). */
export type TunAttachResult = { ok: true } | { ok: false; errno: number; queue: number; stage: string };

/**
 * TUNSETIFF `name` on each fd in order (IFF_TUN_EXCL on the first, so an existing device of
 * that name fails with EBUSY instead of being attached to), then TUNSETPERSIST 1 on fds[0].
 * `name` must already be validated (≤ 15 bytes). Does not close anything on failure.
 */
export function tunAttachSync(l: Libc, fds: readonly number[], name: string, flags: number): TunAttachResult {
  for (let i = 0; i < fds.length; i++) {
    const ifr = Buffer.alloc(40);
    ifr.write(name, 0, 15, 'utf8');
    ifr.writeUInt16LE(i === 0 ? flags | 0x8000 /* IFF_TUN_EXCL */ : flags, 16);
    let r: number;
    do r = l.ioctl(fds[i] as number, 0x400454ca, 'void *', ifr);
    while (r < 0 && l.errno() === 4 /* EINTR: embedded in the worker, no imports */);
    if (r < 0) return { ok: false, errno: l.errno(), queue: i, stage: 'ioctl(TUNSETIFF)' };
  }
  let r: number;
  do r = l.ioctl(fds[0] as number, 0x400454cb, 'unsigned long', 1);
  while (r < 0 && l.errno() === 4 /* EINTR: embedded in the worker, no imports */);
  if (r < 0) return { ok: false, errno: l.errno(), queue: -1, stage: 'ioctl(TUNSETPERSIST)' };
  return { ok: true };
}

/** Clear IFF_PERSIST (rollback: closing the fds then destroys the device). Returns errno or 0. */
export function tunUnpersistSync(l: Libc, fd: number): number {
  return l.ioctl(fd, TUNSETPERSIST, 'unsigned long', 0) < 0 ? l.errno() : 0;
}
