/**
 * NETLINK_ROUTE sockets: creation (with extended acks), and one request/reply transaction —
 * send, then poll()+recv until the reply for that sequence number is complete, retrying
 * EINTR, with a receive timeout (ETIMEDOUT).
 *
 * {@link transactSync} is self-contained (it references only its parameters and globals) so
 * the worker pool embeds its source and runs the very same code off the main thread.
 */
import type { Libc } from './libc.js';
import { EINTR as EINTR_ } from './errno.js'; // transactSync and exchangeOne keep a local EINTR: the worker embeds their source

export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

/** How a transaction ends: first matching message / the ack / NLMSG_DONE of a dump. */
export const ReplyMode = { Get: 0, Ack: 1, Dump: 2 } as const;
/** One of {@link ReplyMode}'s values. */
export type ReplyMode = (typeof ReplyMode)[keyof typeof ReplyMode];

/** A failed syscall: positive errno and the call that failed. */
export interface SyscallFailure {
  ok: false;
  errno: number;
  stage: string;
}

/** The raw datagrams of one transaction (messages of other seqs may be included). */
export interface TransactOk {
  ok: true;
  datagrams: Buffer[];
}

/** Open a NETLINK_ROUTE socket in the calling thread's netns, with NETLINK_EXT_ACK and NETLINK_CAP_ACK. */
export function openRouteSocket(l: Libc): number | SyscallFailure {
  let fd: number;
  do fd = l.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  while (fd < 0 && l.errno() === EINTR_);
  if (fd < 0) return { ok: false, errno: l.errno(), stage: 'socket(AF_NETLINK)' };
  const one = Buffer.alloc(4);
  one.writeInt32LE(1, 0);
  for (const opt of [NETLINK_EXT_ACK, NETLINK_CAP_ACK]) {
    if (l.setsockopt(fd, SOL_NETLINK, opt, one, 4) < 0) {
      const errno = l.errno();
      l.close(fd);
      return { ok: false, errno, stage: `setsockopt(${opt === NETLINK_EXT_ACK ? 'NETLINK_EXT_ACK' : 'NETLINK_CAP_ACK'})` };
    }
  }
  return fd;
}

/**
 * Send `req` (whose header carries `seq`) on `fd` and receive until the reply is complete.
 * Never throws for syscall failures: returns `{ok:false, errno, stage}` (ETIMEDOUT = 110 when
 * nothing complete arrived within `timeoutMs`).
 */
export function transactSync(
  l: Libc,
  fd: number,
  req: Buffer,
  seq: number,
  mode: number,
  timeoutMs: number,
  rbuf: Buffer,
): TransactOk | SyscallFailure {
  const EINTR = 4;
  const EAGAIN = 11;
  let n: number;
  do n = l.sendto(fd, req, req.length, 0, null, 0);
  while (n < 0 && l.errno() === EINTR);
  if (n < 0) return { ok: false, errno: l.errno(), stage: 'sendto' };
  const datagrams: Buffer[] = [];
  const deadline = Date.now() + timeoutMs;
  const pfd = Buffer.alloc(8);
  for (;;) {
    pfd.writeInt32LE(fd, 0);
    pfd.writeInt16LE(1 /* POLLIN */, 4);
    pfd.writeInt16LE(0, 6);
    // rtnetlink answers during sendto(), so the reply is usually queued already: try a
    // non-blocking receive first and poll() (with the remaining timeout) only when empty.
    const got = l.recvfrom(fd, rbuf, rbuf.length, 0x40 /* MSG_DONTWAIT */ | 0x20 /* MSG_TRUNC */, null, null);
    if (got < 0) {
      const e = l.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) return { ok: false, errno: e, stage: 'recvfrom' };
      const left = deadline - Date.now();
      if (left < 0) return { ok: false, errno: 110, stage: 'poll (receive timeout)' };
      const pr = l.poll(pfd, 1, left);
      if (pr < 0 && l.errno() !== EINTR) return { ok: false, errno: l.errno(), stage: 'poll' };
      if (pr === 0) return { ok: false, errno: 110, stage: 'poll (receive timeout)' };
      continue;
    }
    if (got > rbuf.length) return { ok: false, errno: 90 /* EMSGSIZE */, stage: 'recvfrom (reply truncated)' };
    const d = Buffer.from(rbuf.subarray(0, got));
    datagrams.push(d);
    let off = 0;
    let done = false;
    while (off + 16 <= d.length) {
      const len = d.readUInt32LE(off);
      const type = d.readUInt16LE(off + 4);
      if (len < 16) {
        done = true; // garbled: let the decoder report it
        break;
      }
      if (d.readUInt32LE(off + 8) === seq) {
        if (type === 2 /* NLMSG_ERROR */) done = true;
        else if (mode === 0 && type !== 1 /* NOOP */) done = true;
        else if (mode === 2 && type === 3 /* NLMSG_DONE */) done = true;
      }
      off += (len + 3) & ~3;
    }
    if (done) return { ok: true, datagrams };
  }
}

/** The reply message of {@link exchangeOne}: it lies in `rbuf[off, off + len)` (header included). */
export interface ExchangeOk {
  ok: true;
  off: number;
  len: number;
  type: number;
  flags: number;
}

/**
 * The main thread's hot path for a request answered by exactly one message (a GET of one
 * object, or the ack/error of a change): one sendto() of `req[0, reqLen)`, then a non-blocking
 * recvfrom() into the reusable `rbuf` — rtnetlink answers inside sendto(), so the reply is
 * already queued — and poll() (with `pfd`, 8 reusable bytes) only on EAGAIN. Datagrams of other
 * seqs (stale replies of an earlier timed-out request) are skipped. Nothing is copied: the
 * reply stays in `rbuf` until the next call. Never throws for syscall failures; a garbled
 * datagram returns EBADMSG (74).
 */
export function exchangeOne(
  l: Libc,
  fd: number,
  req: Buffer,
  reqLen: number,
  seq: number,
  timeoutMs: number,
  rbuf: Buffer,
  pfd: Buffer,
): ExchangeOk | SyscallFailure {
  const EINTR = 4;
  const EAGAIN = 11;
  let n: number;
  do n = l.sendto(fd, req, reqLen, 0, null, 0);
  while (n < 0 && l.errno() === EINTR);
  if (n < 0) return { ok: false, errno: l.errno(), stage: 'sendto' };
  let deadline = 0;
  for (;;) {
    const got = l.recvfrom(fd, rbuf, rbuf.length, 0x40 /* MSG_DONTWAIT */ | 0x20 /* MSG_TRUNC */, null, null);
    if (got < 0) {
      const e = l.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) return { ok: false, errno: e, stage: 'recvfrom' };
      const now = Date.now();
      if (deadline === 0) deadline = now + timeoutMs;
      const left = deadline - now;
      if (left < 0) return { ok: false, errno: 110, stage: 'poll (receive timeout)' };
      pfd.writeInt32LE(fd, 0);
      pfd.writeInt16LE(1 /* POLLIN */, 4);
      pfd.writeInt16LE(0, 6);
      const pr = l.poll(pfd, 1, left);
      if (pr < 0 && l.errno() !== EINTR) return { ok: false, errno: l.errno(), stage: 'poll' };
      if (pr === 0) return { ok: false, errno: 110, stage: 'poll (receive timeout)' };
      continue;
    }
    if (got > rbuf.length) return { ok: false, errno: 90 /* EMSGSIZE */, stage: 'recvfrom (reply truncated)' };
    let off = 0;
    while (off < got) {
      if (off + 16 > got) return { ok: false, errno: 74, stage: `malformed reply: truncated nlmsghdr at ${off}` };
      const len = ((rbuf[off] as number) | ((rbuf[off + 1] as number) << 8) | ((rbuf[off + 2] as number) << 16) | ((rbuf[off + 3] as number) << 24)) >>> 0;
      if (len < 16 || off + len > got) return { ok: false, errno: 74, stage: `malformed reply: nlmsghdr at ${off}: bad length ${len}` };
      const type = (rbuf[off + 4] as number) | ((rbuf[off + 5] as number) << 8);
      const mseq = ((rbuf[off + 8] as number) | ((rbuf[off + 9] as number) << 8) | ((rbuf[off + 10] as number) << 16) | ((rbuf[off + 11] as number) << 24)) >>> 0;
      if (mseq === seq && type !== 1 /* NLMSG_NOOP */) {
        return { ok: true, off, len, type, flags: (rbuf[off + 6] as number) | ((rbuf[off + 7] as number) << 8) };
      }
      off += (len + 3) & ~3;
    }
  }
}
