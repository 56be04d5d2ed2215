/**
 * Re-attach detached queues of a multiqueue tap before handing its fds to QEMU.
 *
 * Measured on QEMU 7.2: a guest-less virtio-net NIC enables only queue 0, so QEMU detaches the
 * other queues (TUNSETQUEUE IFF_DETACH_QUEUE). They stay detached after unplug. Hot-plugging the
 * same fds again then makes QEMU's detach fail ("could not disable queue") and QEMU ABORTS
 * (`virtio_net_set_queue_pairs: Assertion '!r' failed`). Re-attaching first avoids it; attaching
 * an attached queue answers EINVAL, which is ignored.
 */
import koffi from 'koffi';
import { SyscallError } from './scm-rights.js';

const libc = koffi.load('libc.so.6');
const ioctlFn = libc.func('int ioctl(int fd, unsigned long request, ...)');

const TUNSETQUEUE = 0x400454d9;
const IFF_ATTACH_QUEUE = 0x0200;
const EINVAL = 22;

/** TUNSETQUEUE IFF_ATTACH_QUEUE on each fd; already attached (EINVAL) is fine. */
export function attachTapQueues(fds: readonly number[]): void {
  for (const fd of fds) {
    const ifr = Buffer.alloc(40);
    ifr.writeUInt16LE(IFF_ATTACH_QUEUE, 16);
    if ((ioctlFn(fd, TUNSETQUEUE, 'void *', ifr) as number) < 0) {
      const errno = koffi.errno();
      if (errno !== EINVAL) throw new SyscallError('ioctl(TUNSETQUEUE)', errno);
    }
  }
}
