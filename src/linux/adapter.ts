/**
 * The real Linux {@link NetlinkAdapter}: rtnetlink over koffi → libc, /dev/net/tun ioctls, and
 * setns() windows that hold only the socket()/open() calls that bind an fd to a netns.
 *
 * Threading, by how long the kernel may keep the calling thread:
 * - quick (GETLINK, SETLINK MTU/MAC, dumps; ~5–20 µs): synchronously on the main thread, through
 *   a hot path with reusable buffers ({@link NlWriter}, {@link exchangeOne}) and an in-place
 *   decoder;
 * - short (TUNSETIFF/TUNSETPERSIST, up/down, closing queue fds; ~40–250 µs for a 1-queue tap,
 *   up to ~1 ms for a multi-queue one, whose 256 tx queues each get a qdisc; they wait for an
 *   expedited RCU grace period at most): on the main thread while no worker job is in flight and
 *   less than {@link INLINE_BUDGET_MS} of such calls ran in this event-loop turn; when only the
 *   budget is spent, the call yields one turn and then runs inline if it may (a lone caller
 *   never pays a worker hand-off); otherwise on a worker — so a burst (64 teardowns at once)
 *   never holds the event loop for long;
 * - slow (DELLINK ~16 ms, qdisc/filter changes, destroying a tap on rollback): always on a
 *   {@link WorkerPool}, each on its own socket, so concurrent teardowns overlap in the kernel.
 *
 * Namespace paths are revalidated per call: pinned paths (`/run/netns/NAME`) by one epoll_wait() on
 * the mount table ({@link MountEvents}), other paths by stat().
 */
import { ifNameProblem } from '../../machines/index.js';
import { NetlinkError, type CreateTapRequest, type CreatedTap, type LinkInfo, type NetlinkAdapter, type RedirectRequest } from '../adapters/netlink.js';
import { libc, type Libc } from './libc.js';
import { EBUSY, EEXIST, EINTR, EINVAL, EIO, ENOENT, ENOTDIR, errnoName } from './errno.js';
import { openNetns } from './netns.js';
import { NetnsHandles, isFailure, type NetnsHandle } from './netns-handle.js';
import { exchangeOne, transactSync, ReplyMode, type SyscallFailure } from './netlink-socket.js';
import {
  KernelError,
  NetlinkCodecError,
  NLMSG_ERROR,
  NLM_F_REQUEST,
  RTM_NEWLINK,
  collectReply,
  decodeLinkAt,
  decodeStatus,
  encodeMessage,
  parseMac,
  type NlMsg,
} from './rtnetlink-codec.js';
import { O_CLOEXEC, O_RDWR, queueFdCount, tapFlags, tunAttachSync, tunUnpersistSync } from './tun-ioctl.js';
import { NlWriter } from './nl-writer.js';
import { WorkerPool } from './worker.js';
import type { OpContext, Transport } from './transport.js';
import * as links from './link-ops.js';
import * as tc from './tc-ops.js';

/** Options of {@link LinuxNetlinkAdapter}. */
export interface LinuxNetlinkAdapterOptions {
  /** Receive timeout of one netlink transaction (ETIMEDOUT after it). Default 5000 ms. */
  receiveTimeoutMs?: number;
  /** Worker threads for blocking kernel calls (lazily spawned). Default 8. */
  maxThreads?: number;
}


/**
 * Main-thread time (ms) that short-but-blocking calls (TUNSETIFF, up/down, close of queue fds)
 * may take per event-loop turn before further ones go to worker threads.
 */
export const INLINE_BUDGET_MS = 1;

/** Where an ack-only change runs: see the threading notes of {@link LinuxNetlinkAdapter}. */
type Where = 'short' | 'slow';

/** `dev_valid_name` (shared with the input rules and the in-memory kernel). */
const nameProblem = (name: string): string | null => {
  const p = ifNameProblem(name);
  return p && `name: ${p}`;
};

/**
 * {@link NetlinkAdapter} for Linux. Requires CAP_NET_ADMIN (and CAP_SYS_ADMIN for setns) for
 * changes; read-only calls work unprivileged in the caller's own netns.
 *
 * Existing links are never adopted by {@link createTap}: the first queue is attached with
 * IFF_TUN_EXCL, so the kernel answers EBUSY when any link of that name exists (a persistent tap
 * left over by a crash, a live tap, or a non-tun link) and that EBUSY is reported as `EEXIST`.
 * This is atomic (no check-then-create race). Later queues attach without IFF_TUN_EXCL to the
 * device the first one created.
 */
export class LinuxNetlinkAdapter implements NetlinkAdapter, Transport {
  private readonly l: Libc = libc();
  private readonly timeoutMs: number;
  private readonly pool: WorkerPool;
  private readonly handles: NetnsHandles;
  private readonly ownedFds = new Set<number>();
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly rbuf = Buffer.allocUnsafe(131072);
  private readonly w = new NlWriter();
  private readonly pfd = Buffer.alloc(8);
  private readonly ifr = Buffer.alloc(40);
  /** Main-thread ms spent in short calls during this event-loop turn. */
  private inlineSpent = 0;
  private inlineResetScheduled = false;

  constructor(opts: LinuxNetlinkAdapterOptions = {}) {
    this.timeoutMs = opts.receiveTimeoutMs ?? 5000;
    this.pool = new WorkerPool(opts.maxThreads ?? 8);
    this.handles = new NetnsHandles(this.l);
  }

  // ---- errors ----

  private fail(ctx: OpContext, errno: number, detail: string, extack = ''): NetlinkError {
    const name = errnoName(errno);
    return new NetlinkError({
      ...ctx,
      errno: name,
      errnoNumber: errno,
      extack,
      message: `${ctx.op}${ctx.link ? ` ${ctx.link}` : ''}${ctx.netns ? ` in ${ctx.netns}` : ''}: ${name} (${detail})${extack ? `: ${extack}` : ''}`,
    });
  }

  private invalid(ctx: OpContext, rule: string): NetlinkError {
    return new NetlinkError({ ...ctx, errno: 'EINVAL', errnoNumber: 0, message: `${ctx.op}: invalid ${rule}` });
  }

  private checkName(ctx: OpContext, name: string): void {
    const p = nameProblem(name);
    if (p) throw this.invalid(ctx, p);
  }

  // ---- netns and sockets ----

  /** The revalidated handle of `ctx.netns`. */
  private entry(ctx: OpContext): NetnsHandle {
    return this.handles.get(ctx.netns, ctx, this.failCtx);
  }

  private readonly failCtx = (ctx: OpContext, errno: number, detail: string): NetlinkError => this.fail(ctx, errno, detail);

  /** {@inheritDoc Transport.request} */
  async request(
    ctx: OpContext,
    msg: { type: number; flags: number; body: Buffer; attrs?: readonly Buffer[] },
    mode: ReplyMode,
    offThread: boolean,
  ): Promise<NlMsg[]> {
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    const req = encodeMessage(msg.type, msg.flags | NLM_F_REQUEST, seq, msg.body, msg.attrs ?? []);
    return this.transact(ctx, this.entry(ctx), req, seq, mode, offThread);
  }

  /** Send `req` on a socket of the netns (inline or on a worker) and collect its reply. */
  private async transact(ctx: OpContext, e: NetnsHandle, req: Buffer, seq: number, mode: ReplyMode, offThread: boolean): Promise<NlMsg[]> {
    const fd = e.socket(ctx, this.failCtx);
    let healthy = false;
    try {
      const r = offThread
        ? await this.pool.run({ kind: 'nl', fd, req, seq, mode, timeoutMs: this.timeoutMs })
        : transactSync(this.l, fd, req, seq, mode, this.timeoutMs, this.rbuf);
      if (!r.ok) throw this.fail(ctx, r.errno, r.stage);
      healthy = true;
      return collectReply(
        r.datagrams.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)),
        seq,
      );
    } catch (err) {
      throw this.wrap(ctx, err);
    } finally {
      e.release(fd, healthy);
    }
  }


  private wrap(ctx: OpContext, err: unknown): Error {
    if (err instanceof NetlinkError) return err;
    if (err instanceof KernelError) return this.fail(ctx, err.errno, 'kernel', err.extack);
    if (err instanceof NetlinkCodecError) return this.fail(ctx, EIO, `malformed reply: ${err.message}`);
    return this.fail(ctx, EIO, err instanceof Error ? err.message : String(err));
  }

  // ---- the hot path: one request, one reply message ----

  /**
   * Run the request `fill` writes, in `e`'s netns, synchronously on this thread; returns the
   * link of a GET reply, `undefined` for an ack. Kernel errors become {@link NetlinkError}s.
   */
  private exchange(ctx: OpContext, e: NetnsHandle, fill: (w: NlWriter, seq: number) => void, mode: ReplyMode): LinkInfo | undefined {
    const fd = e.socket(ctx, this.failCtx);
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    let healthy = false;
    try {
      fill(this.w, seq);
      const r = exchangeOne(this.l, fd, this.w.buf, this.w.finish(), seq, this.timeoutMs, this.rbuf, this.pfd);
      if (!r.ok) throw this.fail(ctx, r.errno, r.stage);
      healthy = true;
      const rb = this.rbuf;
      if (r.type === NLMSG_ERROR) {
        if (r.len < 20) throw new NetlinkCodecError(`NLMSG_ERROR payload too short (${r.len - 16})`);
        if (rb.readInt32LE(r.off + 16) !== 0) {
          const st = decodeStatus({ type: r.type, flags: r.flags, seq, pid: 0, payload: rb.subarray(r.off + 16, r.off + r.len) });
          throw new KernelError(st.errno, st.extack);
        }
        if (mode === ReplyMode.Get) throw new NetlinkCodecError('GET answered by an ack without data');
        return undefined;
      }
      if (mode !== ReplyMode.Get) throw new NetlinkCodecError(`expected an ack, got message type ${r.type}`);
      if (r.type !== RTM_NEWLINK) throw new NetlinkCodecError(`expected RTM_NEWLINK, got type ${r.type}`);
      return decodeLinkAt(rb, r.off + 16, r.off + r.len, ctx.link);
    } catch (err) {
      throw this.wrap(ctx, err);
    } finally {
      e.release(fd, healthy);
    }
  }

  /** Whether a short call may run on the main thread now (no worker busy, budget left). */
  private mayInline(): boolean {
    return this.inlineSpent < INLINE_BUDGET_MS && !this.pool.busy();
  }

  /**
   * Whether a short call runs on the main thread: at once when {@link mayInline}; when only
   * this turn's budget is spent (no worker busy), after yielding one event-loop turn, if it may
   * then — a lone caller chaining calls (create, up, down, close…) stays on the main thread
   * instead of paying a worker hand-off (~100–150 µs of CPU over both threads, as much as the
   * call itself), while a burst still spills over to the workers once the next turn's budget
   * is spent too. With a worker busy (it may hold rtnl), always a worker.
   */
  private async placeInline(): Promise<boolean> {
    if (this.mayInline()) return true;
    if (this.pool.busy()) return false;
    await new Promise<void>((r) => setImmediate(r));
    return this.mayInline();
  }

  /** Account main-thread time of a short call to this event-loop turn. */
  private charge(t0: number): void {
    this.inlineSpent += performance.now() - t0;
    if (!this.inlineResetScheduled) {
      this.inlineResetScheduled = true;
      setImmediate(() => {
        this.inlineSpent = 0;
        this.inlineResetScheduled = false;
      });
    }
  }

  /** An ack-only request: a short one inline when {@link mayInline}, otherwise on a worker. */
  private async change(ctx: OpContext, fill: (w: NlWriter, seq: number) => void, where: Where): Promise<void> {
    let e = this.entry(ctx);
    if (where === 'short') {
      const now = this.mayInline();
      const inline = now || (await this.placeInline());
      if (!now) e = this.entry(ctx); // a turn may have gone by: revalidate the netns path
      if (inline) {
        const t0 = performance.now();
        try {
          this.exchange(ctx, e, fill, ReplyMode.Ack);
        } finally {
          this.charge(t0);
        }
        return;
      }
    }
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    fill(this.w, seq);
    await this.transact(ctx, e, this.w.copy(), seq, ReplyMode.Ack, true);
  }

  private getLinkSync(ctx: OpContext, name: string): LinkInfo {
    return this.exchange(ctx, this.entry(ctx), (w, seq) => links.writeGetLink(w, seq, name), ReplyMode.Get) as LinkInfo;
  }

  /** Index of link `name` (SIOCGIFINDEX on a socket of the netns; `ENODEV` when missing). */
  private index(ctx: OpContext, name: string): number {
    const e = this.entry(ctx);
    const fd = e.socket(ctx, this.failCtx);
    try {
      const r = links.ifindexSync(this.l, fd, name, this.ifr);
      if (r < 0) throw this.fail(ctx, -r, 'ioctl(SIOCGIFINDEX)');
      return r;
    } finally {
      e.release(fd, true);
    }
  }

  // ---- NetlinkAdapter ----

  /**
   * Per queue: open /dev/net/tun O_RDWR|O_CLOEXEC inside the netns, then TUNSETIFF
   * IFF_TAP|IFF_NO_PI|IFF_VNET_HDR (+IFF_MULTI_QUEUE when queues > 0, as upstream; +IFF_TUN_EXCL on the first
   * queue: an existing link of that name → `EEXIST`, never adopted), TUNSETPERSIST 1 on the
   * first fd (a short call: inline or on a worker), then SIOCGIFINDEX for the index. On any
   * failure every fd opened is closed (on a worker: destroying the device waits for RCU) and a
   * tap we created is destroyed (persist cleared, last fd closed).
   */
  async createTap(req: CreateTapRequest): Promise<CreatedTap> {
    const ctx: OpContext = { op: 'createTap', link: typeof req.name === 'string' ? req.name : '', netns: req.netns };
    this.checkName(ctx, req.name);
    if (!Number.isInteger(req.queues) || req.queues < 0 || req.queues > 256)
      throw this.invalid(ctx, `queues: ${req.queues} must be an integer in 0..256`);
    const e = this.entry(ctx);
    const fds: number[] = [];
    const opened = e.within(() => {
      for (let i = 0; i < queueFdCount(req.queues); i++) {
        let fd: number;
        do fd = this.l.open('/dev/net/tun', O_RDWR | O_CLOEXEC);
        while (fd < 0 && this.l.errno() === EINTR);
        if (fd < 0) return { ok: false, errno: this.l.errno(), stage: 'open(/dev/net/tun)' } as SyscallFailure;
        fds.push(fd);
      }
      return null;
    });
    const closeAll = async (): Promise<void> => {
      if (fds.length) await this.pool.run({ kind: 'close', fds: [...fds] });
    };
    if (isFailure(opened)) {
      await closeAll();
      throw this.fail(ctx, opened.errno, opened.stage);
    }
    let r;
    try {
      if (this.mayInline() || (await this.placeInline())) {
        const t0 = performance.now();
        try {
          r = tunAttachSync(this.l, fds, req.name, tapFlags(req.queues));
        } finally {
          this.charge(t0);
        }
      } else r = await this.pool.run({ kind: 'tun', fds, name: req.name, flags: tapFlags(req.queues) });
    } catch (err) {
      await closeAll();
      throw this.wrap(ctx, err);
    }
    if (!r.ok) {
      // queue 0 failed: nothing was created. Later: the tap is ours and not persistent yet
      // (TUNSETPERSIST is last, and a failed TUNSETPERSIST leaves it unset), so closing destroys it.
      await closeAll();
      const exists = r.queue === 0 && r.errno === EBUSY; /* under IFF_TUN_EXCL */
      throw exists
        ? this.fail(ctx, EEXIST, `a link named ${req.name} already exists (TUNSETIFF with IFF_TUN_EXCL: EBUSY)`)
        : this.fail(ctx, r.errno, `${r.stage}${r.queue >= 0 ? ` on queue ${r.queue}` : ''}`);
    }
    try {
      const index = this.index(ctx, req.name);
      for (const fd of fds) this.ownedFds.add(fd);
      return { index, fds };
    } catch (err) {
      tunUnpersistSync(this.l, fds[0] as number);
      await closeAll();
      throw this.wrap(ctx, err);
    }
  }

  async getLink(netns: string, name: string): Promise<LinkInfo> {
    const ctx = { op: 'getLink', link: name, netns };
    this.checkName(ctx, name);
    return this.getLinkSync(ctx, name);
  }

  async listLinks(netns: string): Promise<LinkInfo[]> {
    return links.listLinks(this, { op: 'listLinks', link: '', netns });
  }

  async setMtu(netns: string, name: string, mtu: number): Promise<void> {
    const ctx = { op: 'setMtu', link: name, netns };
    this.checkName(ctx, name);
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0xffffffff) throw this.invalid(ctx, `mtu: ${mtu} must be an unsigned 32-bit integer`);
    this.exchange(ctx, this.entry(ctx), (w, seq) => links.writeSetMtu(w, seq, name, mtu), ReplyMode.Ack);
  }

  async setMac(netns: string, name: string, mac: string): Promise<void> {
    const ctx = { op: 'setMac', link: name, netns };
    this.checkName(ctx, name);
    const b = typeof mac === 'string' ? parseMac(mac) : null;
    if (!b) throw this.invalid(ctx, `mac: ${JSON.stringify(mac)} must be six hex bytes separated by ":"`);
    this.exchange(ctx, this.entry(ctx), (w, seq) => links.writeSetMac(w, seq, name, b), ReplyMode.Ack);
  }

  /** Up/down is a short call: inline when allowed, otherwise on a worker (closing waits for RCU). */
  async setUp(netns: string, name: string, up: boolean): Promise<void> {
    const ctx = { op: 'setUp', link: name, netns };
    this.checkName(ctx, name);
    await this.change(ctx, (w, seq) => links.writeSetUp(w, seq, name, up), 'short');
  }

  /** Always on a worker: RTM_DELLINK waits ~16 ms in the kernel for RCU grace periods. */
  async deleteLink(netns: string, name: string): Promise<void> {
    const ctx = { op: 'deleteLink', link: name, netns };
    this.checkName(ctx, name);
    await this.change(ctx, (w, seq) => links.writeDelLink(w, seq, name), 'slow');
  }

  async addIngressQdisc(netns: string, name: string): Promise<void> {
    const ctx = { op: 'addIngressQdisc', link: name, netns };
    this.checkName(ctx, name);
    await tc.addIngressQdisc(this, ctx, this.index(ctx, name));
  }

  async deleteIngressQdisc(netns: string, name: string): Promise<void> {
    const ctx = { op: 'deleteIngressQdisc', link: name, netns };
    this.checkName(ctx, name);
    await tc.deleteIngressQdisc(this, ctx, this.index(ctx, name));
  }

  async hasIngressQdisc(netns: string, name: string): Promise<boolean> {
    const ctx = { op: 'hasIngressQdisc', link: name, netns };
    this.checkName(ctx, name);
    return tc.hasIngressQdisc(this, ctx, this.index(ctx, name));
  }

  async addRedirect(req: RedirectRequest): Promise<void> {
    const ctx = { op: 'addRedirect', link: req.from, netns: req.netns };
    this.checkName(ctx, req.from);
    this.checkName({ ...ctx, link: req.to }, req.to);
    const from = this.index(ctx, req.from);
    const to = this.index({ ...ctx, link: req.to }, req.to);
    await tc.addRedirect(this, ctx, from, to);
  }

  async listRedirects(netns: string, from: string): Promise<string[]> {
    const ctx = { op: 'listRedirects', link: from, netns };
    this.checkName(ctx, from);
    const targets = await tc.listRedirectTargets(this, ctx, this.index(ctx, from));
    if (targets.length === 0) return [];
    const byIndex = new Map((await links.listLinks(this, ctx)).map((l) => [l.index, l.name]));
    return targets.map((i) => byIndex.get(i) ?? `#${i}`);
  }

  async probeLink(netns: string, name: string): Promise<LinkInfo | null> {
    const ctx = { op: 'probeLink', link: name, netns };
    if (nameProblem(name)) {
      this.entry(ctx); // a missing / non-netns path is still an error
      return null; // no link can have an invalid name
    }
    try {
      return this.getLinkSync(ctx, name);
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === 'ENODEV') return null;
      throw err;
    }
  }

  async netnsExists(netns: string): Promise<boolean> {
    if (netns === '') return true;
    const fd = openNetns(this.l, netns);
    if (typeof fd === 'number') {
      this.l.close(fd);
      return true;
    }
    if (fd.errno === ENOENT || fd.errno === EINVAL || fd.errno === ENOTDIR) return false;
    throw this.fail({ op: 'netnsExists', link: '', netns }, fd.errno, fd.stage);
  }

  /**
   * Close queue fds returned by {@link createTap}. A short call (detaching a queue waits for an
   * expedited RCU grace period): inline when allowed, otherwise on a worker.
   */
  /**
   * open("/dev/vhost-net", O_RDWR|O_CLOEXEC) `count` times (the device is not namespaced). On a
   * failure the fds already opened are closed: `ENOENT` when the device is absent.
   */
  async openVhostFds(count: number): Promise<number[]> {
    const ctx: OpContext = { op: 'openVhostFds', link: '', netns: '' };
    if (!Number.isInteger(count) || count < 1 || count > 256) throw this.invalid(ctx, `count: ${count} must be an integer in 1..256`);
    const fds: number[] = [];
    for (let i = 0; i < count; i++) {
      let fd: number;
      do fd = this.l.open('/dev/vhost-net', O_RDWR | O_CLOEXEC);
      while (fd < 0 && this.l.errno() === EINTR);
      if (fd < 0) {
        const errno = this.l.errno();
        for (const f of fds) this.l.close(f);
        throw this.fail(ctx, errno, 'open(/dev/vhost-net)');
      }
      fds.push(fd);
    }
    for (const fd of fds) this.ownedFds.add(fd);
    return fds;
  }

  async closeFds(fds: readonly number[]): Promise<void> {
    const mine = fds.filter((fd) => this.ownedFds.delete(fd));
    if (!mine.length) return;
    if (this.mayInline() || (await this.placeInline())) {
      const t0 = performance.now();
      try {
        for (const fd of mine) this.l.close(fd);
      } finally {
        this.charge(t0);
      }
    } else await this.pool.run({ kind: 'close', fds: mine });
  }

  /** Close cached sockets and netns fds, and stop the worker threads. Queue fds stay the caller's. */
  async close(): Promise<void> {
    this.handles.close();
    await this.pool.close();
  }
}
