/**
 * koffi bindings to the handful of libc calls the Linux adapter needs. Every call is
 * synchronous on the calling thread; read `errno` immediately after a failing call.
 *
 * {@link bindLibc} is self-contained (it references only its parameter) so that the worker
 * pool can embed its source text and bind the same functions in a worker thread.
 */
import { createRequire } from 'node:module';

/** The libc functions used by the adapter, as bound by koffi. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, dest: null, addrlen: number): number;
  recvfrom(fd: number, buf: Buffer, len: number, flags: number, src: null, addrlen: null): number;
  poll(fds: Buffer, nfds: number, timeoutMs: number): number;
  epoll_create1(flags: number): number;
  /** `event`: a 12-byte struct epoll_event (packed on x86-64: u32 events, u64 data). */
  epoll_ctl(epfd: number, op: number, fd: number, event: Buffer): number;
  epoll_wait(epfd: number, events: Buffer, maxEvents: number, timeoutMs: number): number;
  close(fd: number): number;
  open(path: string, flags: number): number;
  /** Variadic: pass `('void *', buffer)` or `('unsigned long', n)` or nothing. */
  ioctl(fd: number, request: number, ...rest: unknown[]): number;
  setns(fd: number, nstype: number): number;
  fstatfs(fd: number, buf: Buffer): number;
  /** statx(2) into a 256-byte buffer. */
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Buffer): number;
  /** The calling thread's errno. */
  errno(): number;
}

/** Bind {@link Libc} with a koffi module. Self-contained: embedded verbatim in the worker. */
export function bindLibc(koffi: any): Libc {
  const lib = koffi.load('libc.so.6');
  return {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)'),
    sendto: lib.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *dest, uint32_t addrlen)'),
    recvfrom: lib.func('intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *src, void *addrlen)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    epoll_create1: lib.func('int epoll_create1(int flags)'),
    epoll_ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
    epoll_wait: lib.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
    close: lib.func('int close(int fd)'),
    open: lib.func('int open(const char *path, int flags)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, ...)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    fstatfs: lib.func('int fstatfs(int fd, void *buf)'),
    statx: lib.func('int statx(int dirfd, const char *path, int flags, unsigned int mask, void *buf)'),
    errno: () => koffi.errno() as number,
  };
}

/** Absolute path of the koffi entry point (handed to worker threads). */
export const koffiPath: string = createRequire(import.meta.url).resolve('koffi');

let cached: Libc | undefined;

/** The main thread's bindings, loaded on first use. */
export function libc(): Libc {
  if (!cached) {
    const koffi = createRequire(import.meta.url)('koffi') as unknown;
    cached = bindLibc(koffi);
  }
  return cached;
}
