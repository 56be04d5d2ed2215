/**
 * An in-memory model of the parts of the Linux kernel a TAP endpoint touches: network
 * namespaces, links (tun/tap, dummy, loopback) with flags/MTU/MAC, ingress qdiscs with
 * mirred-redirect filters, and a table of open TAP queue fds. It implements
 * {@link NetlinkAdapter} and reports failures with the errno the real kernel returns: the
 * contract suite `test/adapters/netlink.contract.ts` runs the same cases against the model and
 * the real kernel.
 *
 * Deterministic: no clock, no randomness — ifindexes, fd numbers and default MACs come from
 * counters. Every operation checks everything before it changes anything, so a failed call
 * leaves the model unchanged.
 */
import { constants } from 'node:os';
import { ifNameProblem } from '../../../machines/index.js';
import {
  NetlinkError,
  type CreateTapRequest,
  type CreatedTap,
  type ErrnoName,
  type LinkInfo,
  type NetlinkAdapter,
  type RedirectRequest,
} from '../netlink.js';

/** Who holds an fd: our own process, or the (modelled) hypervisor process. */
export type FdHolder = 'self' | 'hypervisor';

/** One open fd of the model's fd table. */
export interface FdSnapshot {
  fd: number;
  holder: FdHolder;
  /** The netns of the tap the queue belongs to, `null` once it is dead. */
  netns: string | null;
  /** The tap the queue is attached to, `null` once the tap or its netns was deleted (a dead fd). */
  link: string | null;
}

/** A link as the model sees it: the adapter's view plus traffic-control state. */
export interface MemoryLinkSnapshot extends LinkInfo {
  /** Whether an ingress qdisc is attached. */
  ingress: boolean;
  /** Names of the links this link's ingress redirects to (dangling targets omitted). */
  redirects: string[];
}

/** Plain-data copy of the whole model, for assertions. */
export interface KernelSnapshot {
  netns: { path: string; links: MemoryLinkSnapshot[] }[];
  fds: FdSnapshot[];
}

/** Options of {@link MemoryKernel}. */
export interface MemoryKernelOptions {
  /** First fd number handed out (default 100). Fd numbers are never reused. */
  firstFd?: number;
  /** Whether `/dev/vhost-net` exists (default false, like the reference machine). */
  vhostNet?: boolean;
}

/** Options of {@link MemoryKernel.addLink}. */
export interface AddLinkOptions {
  /** IFLA_INFO_KIND, default `dummy`. Use {@link MemoryKernel.createTap} for taps. */
  kind?: string;
  mtu?: number;
  mac?: string;
  up?: boolean;
  /**
   * Make it a tun/tap device someone else created (kind `tun`, persistent, no queue attached) in
   * this mode; `undetermined` models a kernel that does not report IFLA_TUN_TYPE.
   */
  tunMode?: 'tun' | 'tap' | 'undetermined';
}

/** Loopback MTU, as the kernel sets it. */
const LO_MTU = 65536;
/** Tap MTU bounds (`mtu less/greater than device minimum/maximum`). */
const TAP_MIN_MTU = 68;
const TAP_MAX_MTU = 65521;
/** MAX_TAP_QUEUES. */
const MAX_QUEUES = 256;

interface TunState {
  /** IFLA_TUN_TYPE as reported (taps created by createTap: `tap`). */
  mode?: 'tun' | 'tap' | 'undetermined';
  multiQueue: boolean;
  persist: boolean;
  vnetHdr: boolean;
  /** Open queue files attached to this tap. */
  queues: Set<QueueFile>;
}

interface Redirect {
  /** Target link by ifindex: a deleted target leaves the filter dangling, as mirred does. */
  toIndex: number;
}

interface Link {
  index: number;
  name: string;
  mtu: number;
  mac: string;
  up: boolean;
  kind: string;
  tun?: TunState;
  ingress: boolean;
  redirects: Redirect[];
}

interface Netns {
  path: string;
  nextIndex: number;
  links: Map<string, Link>;
}

/** An open file description on /dev/net/tun (one queue) or /dev/vhost-net; shared by dup'd fds. */
interface QueueFile {
  /** An fd of /dev/vhost-net (never attached to a link). */
  vhost?: true;
  netns: Netns;
  /** `null` once detached (tap or netns deleted). */
  link: Link | null;
  fds: Set<number>;
}

interface FdEntry {
  holder: FdHolder;
  file: QueueFile;
}

const ERRNO = constants.errno as Record<string, number>;

/** A valid MAC string, lower-cased, or `null`. */
function parseMac(mac: string): string | null {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac) ? mac.toLowerCase() : null;
}

/** `dev_valid_name` (shared with the input rules and the Linux adapter). */
const nameProblem = (name: unknown): string | null => {
  const p = ifNameProblem(name);
  return p && `name ${p}`;
};

/**
 * The in-memory kernel. Construct it, add namespaces with {@link addNetns}, and use it as a
 * {@link NetlinkAdapter}. The caller's own namespace (`""`) always exists.
 */
export class MemoryKernel implements NetlinkAdapter {
  // State is TS-`private` rather than `#private` so that the model keeps working behind
  // withFaults' Proxy (which may call methods with the Proxy as `this`).
  private readonly _namespaces = new Map<string, Netns>();
  /** Paths that exist but are not network namespaces (opening one as a netns gives EINVAL). */
  private readonly _plainFiles = new Set<string>();
  private readonly _fds = new Map<number, FdEntry>();
  /** Every fd ever issued, with its holder: closing an fd we already closed is a no-op. */
  private readonly _issued = new Map<number, FdHolder>();
  private _nextFd: number;
  private _macCounter = 0;
  private _closed = 0;

  /** Whether `/dev/vhost-net` exists. */
  readonly vhostNet: boolean;

  constructor(opts: MemoryKernelOptions = {}) {
    this._nextFd = opts.firstFd ?? 100;
    this.vhostNet = opts.vhostNet ?? false;
    this._namespaces.set('', this._newNetns(''));
  }

  // ---------------------------------------------------------------- model controls

  /** Create a network namespace at `path` (like `ip netns add`), holding only `lo`. */
  addNetns(path: string): void {
    if (path === '' || this._namespaces.has(path) || this._plainFiles.has(path)) {
      throw this._err('addNetns', path, '', 'EEXIST', `addNetns: ${JSON.stringify(path)} already exists`);
    }
    this._namespaces.set(path, this._newNetns(path));
  }

  /**
   * Delete a network namespace (like `ip netns del` with nothing else holding it): its links,
   * qdiscs and filters vanish and the queue fds of its taps become dead (still open, attached
   * to nothing).
   */
  deleteNetns(path: string): void {
    const ns = this._namespaces.get(path);
    if (path === '' || !ns) {
      throw this._err('deleteNetns', path, '', 'ENOENT', `deleteNetns: no namespace ${JSON.stringify(path)}`);
    }
    for (const link of ns.links.values()) this._detachQueues(link);
    ns.links.clear();
    this._namespaces.delete(path);
  }

  /** Register a path that exists but is not a network namespace (a plain file). */
  addPlainFile(path: string): void {
    if (this._namespaces.has(path)) throw this._err('addPlainFile', path, '', 'EEXIST');
    this._plainFiles.add(path);
  }

  /** Add a non-tun link (default kind `dummy`), as a third party would (`ip link add`). */
  addLink(netns: string, name: string, opts: AddLinkOptions = {}): LinkInfo {
    const op = 'addLink';
    const problem = nameProblem(name);
    if (problem) throw this._err(op, netns, name, 'EINVAL', `${op}: ${problem}`, 0);
    const ns = this._ns(op, netns, name);
    if (ns.links.has(name)) throw this._err(op, netns, name, 'EEXIST');
    let mac = this._nextMac();
    if (opts.mac !== undefined) {
      const parsed = parseMac(opts.mac);
      if (!parsed) throw this._err(op, netns, name, 'EINVAL', `${op}: mac must be six colon-separated hex octets`, 0);
      if (!this._unicast(parsed)) throw this._err(op, netns, name, 'EADDRNOTAVAIL');
      mac = parsed;
    }
    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0x7fffffff) throw this._err(op, netns, name, 'EINVAL');
    const link: Link = {
      index: ns.nextIndex++,
      name,
      mtu,
      mac,
      up: opts.up ?? false,
      kind: opts.tunMode ? 'tun' : (opts.kind ?? 'dummy'),
      ingress: false,
      redirects: [],
    };
    if (opts.tunMode) link.tun = { mode: opts.tunMode, multiQueue: false, persist: true, vnetHdr: false, queues: new Set() };
    ns.links.set(name, link);
    return this._info(link);
  }

  /** Shorthand for {@link addLink} with kind `dummy`. */
  addDummyLink(netns: string, name: string, opts: { mtu?: number; mac?: string; up?: boolean } = {}): LinkInfo {
    return this.addLink(netns, name, { ...opts, kind: 'dummy' });
  }

  /**
   * Model QEMU receiving copies of queue fds (getfd/SCM_RIGHTS or inheritance): new fd numbers
   * held by the hypervisor, sharing the queues of `fds`. All-or-nothing; `EBADF` if one of
   * `fds` is not open.
   */
  dupFds(fds: readonly number[]): number[] {
    const entries = fds.map((fd) => {
      const e = this._fds.get(fd);
      if (!e) throw this._err('dupFds', '', '', 'EBADF', `dupFds: fd ${fd} is not open`);
      return e;
    });
    return entries.map((e) => this._open('hypervisor', e.file));
  }

  /** Close hypervisor-held copies (the VMM released them or died). Idempotent; `EBADF` for fds never held by it. */
  releaseFds(fds: readonly number[]): void {
    this._closeAs('releaseFds', 'hypervisor', fds);
  }

  /** Our process died: every fd it held is closed. The hypervisor's copies stay open. */
  simulateProcessDeath(): void {
    const ours = [...this._fds].filter(([, e]) => e.holder === 'self').map(([fd]) => fd);
    this._closeAs('simulateProcessDeath', 'self', ours);
  }

  /** Number of open fds; by default of both holders. */
  openFdCount(holder?: FdHolder): number {
    let n = 0;
    for (const e of this._fds.values()) if (holder === undefined || e.holder === holder) n++;
    return n;
  }

  /** The open fds, in fd order. */
  openFds(holder?: FdHolder): FdSnapshot[] {
    return [...this._fds]
      .filter(([, e]) => holder === undefined || e.holder === holder)
      .sort(([a], [b]) => a - b)
      .map(([fd, e]) => ({
        fd,
        holder: e.holder,
        netns: e.file.link ? e.file.netns.path : null,
        link: e.file.link?.name ?? null,
      }));
  }

  /** Whether `fd` is open and still attached to a live tap. */
  fdAlive(fd: number): boolean {
    return this._fds.get(fd)?.file.link != null;
  }

  /** Existing namespace paths (`""` first). */
  namespaces(): string[] {
    return [...this._namespaces.keys()].sort();
  }

  /** Links of one namespace with their tc state, by ifindex; `[]` if it does not exist. */
  links(netns: string): MemoryLinkSnapshot[] {
    const ns = this._namespaces.get(netns);
    if (!ns) return [];
    return [...ns.links.values()].sort((a, b) => a.index - b.index).map((l) => this._linkSnapshot(ns, l));
  }

  /** A plain-data copy of the whole model. */
  snapshot(): KernelSnapshot {
    return {
      netns: this.namespaces().map((path) => ({ path, links: this.links(path) })),
      fds: this.openFds(),
    };
  }

  /** How many times {@link close} was called. */
  closeCount(): number {
    return this._closed;
  }

  // ---------------------------------------------------------------- NetlinkAdapter

  async createTap(req: CreateTapRequest): Promise<CreatedTap> {
    const op = 'createTap';
    const { netns, name, queues } = req;
    const problem = nameProblem(name);
    if (problem) throw this._err(op, netns, typeof name === 'string' ? name : '', 'EINVAL', `${op}: ${problem}`, 0);
    if (!Number.isInteger(queues) || queues < 0 || queues > MAX_QUEUES) {
      throw this._err(op, netns, name, 'EINVAL', `${op}: queues must be an integer in 0..${MAX_QUEUES}, got ${queues}`, 0);
    }
    const ns = this._ns(op, netns, name);
    if (ns.links.has(name)) throw this._err(op, netns, name, 'EEXIST');
    const link: Link = {
      index: ns.nextIndex++,
      name,
      mtu: 1500,
      mac: this._nextMac(),
      up: false,
      kind: 'tun',
      tun: { multiQueue: queues > 0, persist: true, vnetHdr: true, queues: new Set() },
      ingress: false,
      redirects: [],
    };
    ns.links.set(name, link);
    const fds: number[] = [];
    for (let q = 0; q < Math.max(1, queues); q++) {
      const file: QueueFile = { netns: ns, link, fds: new Set() };
      link.tun!.queues.add(file);
      fds.push(this._open('self', file));
    }
    return { index: link.index, fds };
  }

  async getLink(netns: string, name: string): Promise<LinkInfo> {
    return this._info(this._link('getLink', netns, name));
  }

  async listLinks(netns: string): Promise<LinkInfo[]> {
    const ns = this._ns('listLinks', netns, '');
    return [...ns.links.values()].sort((a, b) => a.index - b.index).map((l) => this._info(l));
  }

  async setMtu(netns: string, name: string, mtu: number): Promise<void> {
    const op = 'setMtu';
    const link = this._link(op, netns, name);
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0xffffffff) {
      throw this._err(op, netns, name, 'EINVAL', `${op}: mtu must be a non-negative integer, got ${mtu}`, 0);
    }
    if (link.kind === 'tun') {
      if (mtu < TAP_MIN_MTU) throw this._err(op, netns, name, 'EINVAL', undefined, undefined, 'mtu less than device minimum');
      if (mtu > TAP_MAX_MTU) throw this._err(op, netns, name, 'EINVAL', undefined, undefined, 'mtu greater than device maximum');
    } else if (mtu > 0x7fffffff) {
      throw this._err(op, netns, name, 'EINVAL');
    }
    link.mtu = mtu;
  }

  async setMac(netns: string, name: string, mac: string): Promise<void> {
    const op = 'setMac';
    const link = this._link(op, netns, name);
    const parsed = typeof mac === 'string' ? parseMac(mac) : null;
    if (!parsed) throw this._err(op, netns, name, 'EINVAL', `${op}: mac must be six colon-separated hex octets, got ${JSON.stringify(mac)}`, 0);
    if (link.kind === '' ) throw this._err(op, netns, name, 'EOPNOTSUPP');
    if (!this._unicast(parsed)) throw this._err(op, netns, name, 'EADDRNOTAVAIL');
    link.mac = parsed;
  }

  async setUp(netns: string, name: string, up: boolean): Promise<void> {
    this._link('setUp', netns, name).up = up;
  }

  async deleteLink(netns: string, name: string): Promise<void> {
    const op = 'deleteLink';
    const link = this._link(op, netns, name);
    if (link.kind === '') throw this._err(op, netns, name, 'EOPNOTSUPP');
    this._detachQueues(link);
    this._ns(op, netns, name).links.delete(name);
  }

  async addIngressQdisc(netns: string, name: string): Promise<void> {
    const op = 'addIngressQdisc';
    const link = this._link(op, netns, name);
    if (link.ingress) throw this._err(op, netns, name, 'EEXIST');
    link.ingress = true;
  }

  async deleteIngressQdisc(netns: string, name: string): Promise<void> {
    const op = 'deleteIngressQdisc';
    const link = this._link(op, netns, name);
    if (!link.ingress) throw this._err(op, netns, name, 'ENOENT', undefined, undefined, 'Cannot find specified qdisc on specified device');
    link.ingress = false;
    link.redirects = [];
  }

  async hasIngressQdisc(netns: string, name: string): Promise<boolean> {
    return this._link('hasIngressQdisc', netns, name).ingress;
  }

  async addRedirect(req: RedirectRequest): Promise<void> {
    const op = 'addRedirect';
    const from = this._link(op, req.netns, req.from);
    const to = this._link(op, req.netns, req.to);
    if (!from.ingress) throw this._err(op, req.netns, req.from, 'EINVAL', undefined, undefined, "Parent Qdisc doesn't exists");
    from.redirects.push({ toIndex: to.index });
  }

  async listRedirects(netns: string, from: string): Promise<string[]> {
    const op = 'listRedirects';
    const ns = this._ns(op, netns, from);
    return this._redirectNames(ns, this._link(op, netns, from));
  }

  async probeLink(netns: string, name: string): Promise<LinkInfo | null> {
    const link = this._ns('probeLink', netns, name).links.get(name);
    return link ? this._info(link) : null;
  }

  async netnsExists(netns: string): Promise<boolean> {
    return this._namespaces.has(netns);
  }

  async openVhostFds(count: number): Promise<number[]> {
    const op = 'openVhostFds';
    if (!Number.isInteger(count) || count < 1 || count > MAX_QUEUES) throw this._err(op, '', '', 'EINVAL', `${op}: count must be an integer in 1..${MAX_QUEUES}, got ${count}`, 0);
    if (!this.vhostNet) throw this._err(op, '', '/dev/vhost-net', 'ENOENT', `${op}: open /dev/vhost-net: ENOENT`);
    const host = this._namespaces.get('')!;
    return Array.from({ length: count }, () => this._open('self', { vhost: true, netns: host, link: null, fds: new Set() }));
  }

  /** Whether `fd` is an open /dev/vhost-net fd. */
  isVhostFd(fd: number): boolean {
    return this._fds.get(fd)?.file.vhost === true;
  }

  async closeFds(fds: readonly number[]): Promise<void> {
    this._closeAs('closeFds', 'self', fds);
  }

  async close(): Promise<void> {
    this._closed++;
  }

  // ---------------------------------------------------------------- internals

  private _newNetns(path: string): Netns {
    const ns: Netns = { path, nextIndex: 1, links: new Map() };
    ns.links.set('lo', {
      index: ns.nextIndex++,
      name: 'lo',
      mtu: LO_MTU,
      mac: '00:00:00:00:00:00',
      up: true,
      kind: '',
      ingress: false,
      redirects: [],
    });
    return ns;
  }

  private _nextMac(): string {
    // eth_hw_addr_random: locally administered unicast; deterministic here.
    const n = ++this._macCounter;
    const b = [0x02, 0x4d, 0x4b, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
  }

  private _unicast(mac: string): boolean {
    const first = parseInt(mac.slice(0, 2), 16);
    return (first & 1) === 0 && mac !== '00:00:00:00:00:00';
  }

  private _ns(op: string, netns: string, link: string): Netns {
    const ns = this._namespaces.get(netns);
    if (ns) return ns;
    if (this._plainFiles.has(netns)) throw this._err(op, netns, link, 'EINVAL', undefined, undefined, 'not a network namespace');
    throw this._err(op, netns, link, 'ENOENT');
  }

  private _link(op: string, netns: string, name: string): Link {
    const link = this._ns(op, netns, name).links.get(name);
    if (!link) throw this._err(op, netns, name, 'ENODEV');
    return link;
  }

  private _open(holder: FdHolder, file: QueueFile): number {
    const fd = this._nextFd++;
    file.fds.add(fd);
    this._fds.set(fd, { holder, file });
    this._issued.set(fd, holder);
    return fd;
  }

  /** Close `fds` held by `holder`; all-or-nothing, `EBADF` for an fd never issued to `holder`. */
  private _closeAs(op: string, holder: FdHolder, fds: readonly number[]): void {
    for (const fd of fds) {
      if (this._issued.get(fd) !== holder) throw this._err(op, '', '', 'EBADF', `${op}: fd ${fd} was never held by ${holder}`);
    }
    for (const fd of fds) {
      const e = this._fds.get(fd);
      if (!e) continue; // already closed: idempotent
      this._fds.delete(fd);
      e.file.fds.delete(fd);
      if (e.file.fds.size === 0 && e.file.link) {
        const link = e.file.link;
        link.tun?.queues.delete(e.file);
        e.file.link = null;
        // A non-persistent tap vanishes with its last queue (ours are always persistent).
        if (link.tun && !link.tun.persist && link.tun.queues.size === 0) {
          this._detachQueues(link);
          e.file.netns.links.delete(link.name);
        }
      }
    }
  }

  private _detachQueues(link: Link): void {
    if (!link.tun) return;
    for (const file of link.tun.queues) file.link = null;
    link.tun.queues.clear();
  }

  private _redirectNames(ns: Netns, link: Link): string[] {
    const byIndex = new Map([...ns.links.values()].map((l) => [l.index, l.name]));
    return link.redirects.flatMap((r) => {
      const n = byIndex.get(r.toIndex);
      return n === undefined ? [] : [n];
    });
  }

  private _info(link: Link): LinkInfo {
    const queues = link.tun?.queues.size ?? 0;
    // A tap has carrier while a queue is attached; dummy and lo always have carrier.
    const carrier = link.tun ? queues > 0 : true;
    const info: LinkInfo = {
      index: link.index,
      name: link.name,
      mtu: link.mtu,
      mac: link.mac,
      flags: { up: link.up, lowerUp: link.up && carrier, ...(link.name === 'lo' && link.kind === '' ? { loopback: true as const } : {}) },
      kind: link.kind,
    };
    if (link.tun) {
      info.tun = {
        mode: link.tun.mode ?? 'tap',
        multiQueue: link.tun.multiQueue,
        persist: link.tun.persist,
        vnetHdr: link.tun.vnetHdr,
        numQueues: queues,
      };
    }
    return info;
  }

  private _linkSnapshot(ns: Netns, link: Link): MemoryLinkSnapshot {
    return { ...this._info(link), ingress: link.ingress, redirects: this._redirectNames(ns, link) };
  }

  private _err(
    op: string,
    netns: string,
    link: string,
    errno: ErrnoName,
    message?: string,
    errnoNumber?: number,
    extack?: string,
  ): NetlinkError {
    return new NetlinkError({
      op,
      netns,
      link,
      errno,
      errnoNumber: errnoNumber ?? ERRNO[errno] ?? 0,
      ...(extack !== undefined ? { extack } : {}),
      ...(message !== undefined ? { message } : {}),
    });
  }
}
