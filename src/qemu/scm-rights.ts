/**
 * Sending file descriptors over a connected unix socket (SCM_RIGHTS ancillary data), which Node's
 * `net` module cannot do: a minimal koffi binding of libc `sendmsg`, plus `dup`/`close` for
 * fd ownership.
 */
import koffi from 'koffi';
import { TapstateError } from '../../machines/tapstate-error.js';

const libc = koffi.load('libc.so.6');

koffi.alias('qemu_ssize_t', 'intptr_t');
const iovec = koffi.struct('qemu_iovec', { iov_base: 'void *', iov_len: 'size_t' });
const msghdr = koffi.struct('qemu_msghdr', {
  msg_name: 'void *',
  msg_namelen: 'uint32_t',
  msg_iov: koffi.pointer(iovec),
  msg_iovlen: 'size_t',
  msg_control: 'void *',
  msg_controllen: 'size_t',
  msg_flags: 'int',
});

const sendmsgFn = libc.func('sendmsg', 'qemu_ssize_t', ['int', koffi.pointer(msghdr), 'int']);
const fcntlFn = libc.func('int fcntl(int fd, int cmd, ...)');
const closeFn = libc.func('int close(int fd)');

const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;
const F_DUPFD_CLOEXEC = 1030;
const F_GETFD = 1;

/** A failed system call, with the errno name (`EAGAIN`, `EBADF`, …). */
export class SyscallError extends TapstateError {
  override readonly name = 'SyscallError';
  readonly code = 'SYSCALL_FAILED';
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall} failed: ${errnoName(errno)} (${errno})`);
  }
  /** The errno's symbolic name. */
  get errnoName(): string {
    return errnoName(this.errno);
  }
}

function errnoName(errno: number): string {
  const names = (koffi as unknown as { os?: { errno?: Record<string, number> } }).os?.errno ?? {};
  for (const [k, v] of Object.entries(names)) if (v === errno) return k;
  return `errno ${errno}`;
}

/** Build the control buffer of one SCM_RIGHTS message carrying `fds`. */
export function scmRightsControl(fds: readonly number[]): Buffer {
  const dataLen = 4 * fds.length;
  const len = 16 + dataLen; // CMSG_LEN on 64-bit Linux: 16-byte cmsghdr
  const space = 16 + ((dataLen + 7) & ~7); // CMSG_SPACE
  const buf = Buffer.alloc(space);
  buf.writeBigUInt64LE(BigInt(len), 0);
  buf.writeInt32LE(SOL_SOCKET, 8);
  buf.writeInt32LE(SCM_RIGHTS, 12);
  fds.forEach((fd, i) => buf.writeInt32LE(fd, 16 + 4 * i));
  return buf;
}

/**
 * Send `data` with `fds` attached on the connected stream socket `socketFd`, without blocking.
 * Returns the number of bytes sent (possibly fewer than `data.length`: the fds went with the first
 * byte; the caller writes the rest normally). Throws {@link SyscallError} (e.g. `EAGAIN`).
 */
export function sendWithFds(socketFd: number, data: Buffer, fds: readonly number[]): number {
  if (fds.length === 0) throw new RangeError('fds: must hold at least one fd');
  if (data.length === 0) throw new RangeError('data: must not be empty (the fds travel with a byte)');
  const control = scmRightsControl(fds);
  const msg = {
    msg_name: null,
    msg_namelen: 0,
    msg_iov: [{ iov_base: data, iov_len: data.length }],
    msg_iovlen: 1,
    msg_control: control,
    msg_controllen: control.length,
    msg_flags: 0,
  };
  const n = Number(sendmsgFn(socketFd, msg, MSG_NOSIGNAL | MSG_DONTWAIT));
  if (n < 0) throw new SyscallError('sendmsg', koffi.errno());
  return n;
}

/** Duplicate `fd` (close-on-exec set, lowest free number ≥ 3). The caller owns the copy. */
export function dupFd(fd: number): number {
  const n = fcntlFn(fd, F_DUPFD_CLOEXEC, 'int', 3) as number;
  if (n < 0) throw new SyscallError('fcntl(F_DUPFD_CLOEXEC)', koffi.errno());
  return n;
}

/** Close `fd`; throws {@link SyscallError} on failure (EBADF: not open). */
export function closeFd(fd: number): void {
  if ((closeFn(fd) as number) < 0) throw new SyscallError('close', koffi.errno());
}

/** Is `fd` an open descriptor of this process? */
export function isOpenFd(fd: number): boolean {
  return Number.isInteger(fd) && fd >= 0 && (fcntlFn(fd, F_GETFD) as number) >= 0;
}
