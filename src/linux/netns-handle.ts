/**
 * Per-namespace handles (after vishvananda/netlink's `Handle`): a {@link NetnsHandle} owns the
 * open netns fd and the idle NETLINK_ROUTE sockets of one namespace path; {@link NetnsHandles}
 * caches them by path and revalidates a handle before each use:
 *
 * - pinned paths (`/run/netns/NAME`, see {@link isMountPinned}) are still what they were while
 *   the mount table is unchanged (one zero-timeout epoll_wait() via {@link MountEvents});
 * - other paths are stat()ed and must keep their (dev, ino).
 *
 * A handle whose path now names something else is closed and a new one opened.
 */
import { statSync } from 'node:fs';
import type { Libc } from './libc.js';
import { ENOENT, errnoNumber } from './errno.js';
import { MountEvents, isMountPinned } from './mount-events.js';
import { inNetns, openNetns } from './netns.js';
import { openRouteSocket, type SyscallFailure } from './netlink-socket.js';

/**
 * Builds the caller's error for a failed syscall (`detail`: the call or the failed check); `ctx`
 * is handed through so that the hot path allocates no closure.
 */
export type FailWith<C> = (ctx: C, errno: number, detail: string) => Error;

export function isFailure<T>(x: T | SyscallFailure): x is SyscallFailure {
  return typeof x === 'object' && x !== null && (x as { ok?: unknown }).ok === false;
}

/** The sockets and netns fd of one namespace path, valid while the path keeps its (dev, ino). */
export class NetnsHandle {
  private readonly idle: number[] = [];
  private live = true;

  constructor(
    private readonly l: Libc,
    /** The caller's own netns fd, to switch back to. */
    private readonly home: () => number,
    readonly path: string,
    readonly dev: number,
    readonly ino: number,
    /** Revalidated by mount-table generation instead of stat(). */
    readonly pinned: boolean,
    /** Mount-table generation at the last validation (-1: not pinned). */
    public gen: number,
    /** Open netns fd (-1 for the caller's own netns). */
    private readonly nsFd: number,
  ) {}

  /** Run bare syscalls inside this netns (directly for the caller's own). */
  within<T>(fn: () => T): T | SyscallFailure {
    return this.nsFd < 0 ? fn() : inNetns(this.l, this.home(), this.nsFd, fn);
  }

  /** A NETLINK_ROUTE socket of this netns: an idle one, or a new one. */
  socket<C>(ctx: C, fail: FailWith<C>): number {
    const idle = this.idle.pop();
    if (idle !== undefined) return idle;
    const fd = this.within(() => openRouteSocket(this.l));
    if (isFailure(fd)) throw fail(ctx, fd.errno, fd.stage);
    return fd;
  }

  /** Give a socket back: kept for reuse when it is healthy and the handle still valid. */
  release(fd: number, healthy: boolean): void {
    if (healthy && this.live) this.idle.push(fd);
    else this.l.close(fd);
  }

  /** Close the idle sockets and the netns fd; sockets in use are closed on release. */
  close(): void {
    this.live = false;
    for (const fd of this.idle.splice(0)) this.l.close(fd);
    if (this.nsFd >= 0) this.l.close(this.nsFd);
  }
}

/** The handle cache of one adapter. */
export class NetnsHandles {
  private readonly byPath = new Map<string, NetnsHandle>();
  private readonly mounts: MountEvents;
  private homeFd = -1;

  constructor(private readonly l: Libc) {
    this.mounts = new MountEvents(l);
  }

  private home = (): number => {
    if (this.homeFd < 0) {
      const fd = this.l.open('/proc/thread-self/ns/net', 0o2000000 /* O_CLOEXEC */);
      if (fd < 0) throw new Error(`open /proc/thread-self/ns/net: errno ${this.l.errno()}`);
      this.homeFd = fd;
    }
    return this.homeFd;
  };

  /** The valid handle of `path` (`""`: the caller's own netns), opened or revalidated. */
  get<C>(path: string, ctx: C, fail: FailWith<C>): NetnsHandle {
    const cached = this.byPath.get(path);
    if (path === '') {
      if (cached) return cached;
      const h = new NetnsHandle(this.l, this.home, '', 0, 0, false, -1, -1);
      this.byPath.set('', h);
      return h;
    }
    // Read the generation before validating: a change racing with the stat() below bumps it.
    const gen = cached && !cached.pinned ? -1 : this.mounts.generation();
    if (cached && cached.pinned && gen >= 0 && cached.gen === gen) return cached;
    let st: { dev: number; ino: number };
    try {
      st = statSync(path);
    } catch (err) {
      this.evict(path);
      throw fail(ctx, errnoNumber((err as NodeJS.ErrnoException).code ?? 'ENOENT', ENOENT), `stat ${path}`);
    }
    if (cached && cached.dev === st.dev && cached.ino === st.ino) {
      cached.gen = gen;
      return cached;
    }
    this.evict(path);
    const fd = openNetns(this.l, path);
    if (typeof fd !== 'number') throw fail(ctx, fd.errno, fd.check ?? fd.stage);
    const pinned = isMountPinned(this.l, path);
    const h = new NetnsHandle(this.l, this.home, path, st.dev, st.ino, pinned, pinned ? gen : -1, fd);
    this.byPath.set(path, h);
    return h;
  }

  private evict(path: string): void {
    const h = this.byPath.get(path);
    if (!h) return;
    this.byPath.delete(path);
    h.close();
  }

  /** Close every handle, the home netns fd and the mount-table watch. */
  close(): void {
    for (const path of [...this.byPath.keys()]) this.evict(path);
    if (this.homeFd >= 0) this.l.close(this.homeFd);
    this.homeFd = -1;
    this.mounts.close();
  }
}
