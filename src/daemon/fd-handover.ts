/**
 * Hand a cold-attached tap's queue fds to the API client with SCM_RIGHTS, for runtimes that
 * launch their own VMM (`-netdev tap,fds=3:4`, Firecracker/Cloud Hypervisor tap fds).
 *
 * The daemon keeps no queue fd between operations. On request it opens fresh queues of the
 * persistent tap by name (open `/dev/net/tun` inside the sandbox netns, TUNSETIFF without
 * IFF_TUN_EXCL: attach to the existing tap) and, with vhost, as many /dev/vhost-net fds; it writes
 * the whole HTTP response itself with the fds attached to its first byte, closes its copies and
 * closes the connection. The client reads the
 * response with recvmsg (Go: `UnixConn.ReadMsgUnix` + `syscall.ParseUnixRights`).
 */
import type { Socket } from 'node:net';
import { libc } from '../linux/libc.js';
import { inNetns, openNetns } from '../linux/netns.js';
import { O_CLOEXEC, O_RDWR, tapFlags } from '../linux/tun-ioctl.js';
import { closeFd, sendWithFds } from '../qemu/scm-rights.js';
import { coldplugArgs, fdNumbers } from '../qemu/coldplug.js';
import type { NicSpec } from '../adapters/hypervisor.js';
import { FdHandoverError, VhostUnavailableError } from './errors.js';
import { errnoName } from '../linux/errno.js';
import { socketFd } from './peer-cred.js';

const TUNSETIFF = 0x400454ca;
const EINTR = 4;

/** Open `queues` fresh queue fds of the existing tap `tapName` in the netns at `netnsPath`. The caller owns them. */
export function openTapQueues(endpoint: string, netnsPath: string, tapName: string, queues: number): number[] {
  const l = libc();
  const home = openNetns(l, '/proc/thread-self/ns/net');
  if (typeof home !== 'number') throw new FdHandoverError(endpoint, `cannot open the daemon's own netns (errno ${home.errno})`);
  const fds: number[] = [];
  const fail = (why: string): never => {
    for (const fd of fds) l.close(fd);
    throw new FdHandoverError(endpoint, why);
  };
  try {
    const target = netnsPath === '' ? home : openNetns(l, netnsPath);
    if (typeof target !== 'number') return fail(`cannot open netns ${netnsPath} (errno ${target.errno}${target.check ? `: ${target.check}` : ''})`);
    try {
      const r = inNetns(l, home, target, () => {
        for (let i = 0; i < queues; i++) {
          let fd: number;
          do fd = l.open('/dev/net/tun', O_RDWR | O_CLOEXEC);
          while (fd < 0 && l.errno() === EINTR);
          if (fd < 0) return l.errno();
          fds.push(fd);
        }
        return 0;
      });
      if (typeof r !== 'number') return fail(`setns failed (errno ${r.errno})`);
      if (r !== 0) return fail(`open /dev/net/tun failed (errno ${r})`);
    } finally {
      if (target !== home) l.close(target);
    }
    for (const fd of fds) {
      const ifr = Buffer.alloc(40);
      ifr.write(tapName, 0, 15, 'utf8');
      ifr.writeUInt16LE(tapFlags(queues), 16);
      let rc: number;
      do rc = l.ioctl(fd, TUNSETIFF, 'void *', ifr);
      while (rc < 0 && l.errno() === EINTR);
      if (rc < 0) return fail(`TUNSETIFF ${tapName} failed (errno ${l.errno()})`);
    }
    return fds;
  } finally {
    l.close(home);
  }
}

/** Open `count` /dev/vhost-net fds (the device is not namespaced). The caller owns them. A failure closes those opened and is a {@link VhostUnavailableError}. */
export function openVhostFds(endpoint: string, count: number): number[] {
  const l = libc();
  const fds: number[] = [];
  for (let i = 0; i < count; i++) {
    let fd: number;
    do fd = l.open('/dev/vhost-net', O_RDWR | O_CLOEXEC);
    while (fd < 0 && l.errno() === EINTR);
    if (fd < 0) {
      const errno = l.errno();
      for (const f of fds) l.close(f);
      throw new VhostUnavailableError(endpoint, errnoName(errno));
    }
    fds.push(fd);
  }
  return fds;
}

/**
 * The VMM arguments for fds the client makes its VMM inherit in order from 3: the `queues` tap
 * queue fds, then (vhost) as many /dev/vhost-net fds — `-netdev tap,fds=3:4,vhost=on,vhostfds=5:6`.
 */
export function handoverArgs(nic: NicSpec, queues: number, vhostFds: number): string[] {
  return coldplugArgs(nic, fdNumbers(3, queues), undefined, fdNumbers(3 + queues, vhostFds));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Write a complete HTTP/1.1 200 response with `body` on `socket`, the `fds` attached (SCM_RIGHTS)
 * to its first byte, then close the connection. Our copies of the fds are closed whatever happens.
 */
export async function sendResponseWithFds(socket: Socket, body: unknown, fds: readonly number[]): Promise<void> {
  try {
    // earlier replies on this keep-alive connection go first
    for (let i = 0; socket.writableLength > 0 && i < 1000; i++) await sleep(1);
    const text = JSON.stringify(body);
    const head =
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
      `x-tapstate-fds: ${fds.length}\r\nconnection: close\r\n\r\n`;
    const bytes = Buffer.from(head + text);
    const fd = socketFd(socket);
    if (fd < 0) throw new Error('the connection has no fd');
    let sent = 0;
    for (let tries = 0; ; tries++) {
      try {
        sent = sendWithFds(fd, bytes, fds);
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== 'EAGAIN' || tries > 1000) throw e;
        await sleep(1);
      }
    }
    if (sent < bytes.length) socket.write(bytes.subarray(sent));
    socket.end();
  } finally {
    for (const f of fds) {
      try {
        closeFd(f);
      } catch {
        /* closed */
      }
    }
  }
}
