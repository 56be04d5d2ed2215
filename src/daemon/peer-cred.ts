/**
 * SO_PEERCRED of a connected unix socket, through koffi `getsockopt` (Node's `net` cannot ask),
 * and the daemon's policy: root, the daemon's own uid, or a member of the configured group.
 */
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import koffi from 'koffi';
import { SyscallError } from '../qemu/scm-rights.js';

const libc = koffi.load('libc.so.6');
const getsockoptFn = libc.func('int getsockopt(int fd, int level, int optname, _Out_ void *optval, _Inout_ uint32_t *optlen)');

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/** The peer of a unix socket, as the kernel recorded it at connect(). */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** The fd of a Node socket (unix stream), or -1. */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** getsockopt(SO_PEERCRED) on `fd`. */
export function peerCred(fd: number): PeerCred {
  const buf = Buffer.alloc(12);
  const len = [12];
  if ((getsockoptFn(fd, SOL_SOCKET, SO_PEERCRED, buf, len) as number) < 0) throw new SyscallError('getsockopt(SO_PEERCRED)', koffi.errno());
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

/** Supplementary groups of a live process (from /proc/PID/status), empty if unreadable. */
function groupsOf(pid: number): number[] {
  try {
    const m = /^Groups:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? m[1]!.trim().split(/\s+/).filter(Boolean).map(Number) : [];
  } catch {
    return [];
  }
}

/** Who may talk to the daemon. */
export interface PeerPolicy {
  /** The daemon's own euid (always allowed, like root). */
  uid: number;
  /** A group whose members are allowed (primary or supplementary), if any. */
  gid?: number;
}

export function peerAllowed(p: PeerCred, policy: PeerPolicy): boolean {
  if (p.uid === 0 || p.uid === policy.uid) return true;
  if (policy.gid === undefined) return false;
  return p.gid === policy.gid || groupsOf(p.pid).includes(policy.gid);
}
