/**
 * The netlink adapter contract: the kernel-side effects of a TAP endpoint, scoped to a
 * network namespace. Implemented by the real Linux adapter (`src/linux/`) and by the
 * in-memory kernel model (`src/adapters/memory/`); one contract suite
 * (`test/adapters/netlink.contract.ts`) runs against both.
 *
 * Every method takes the network namespace as a path (`/run/netns/NAME`, `/proc/PID/ns/net`);
 * the empty string means the caller's own namespace. Failures are {@link NetlinkError}s.
 */
import { TapstateError } from '../../machines/tapstate-error.js';

/** Link flags we care about (subset of IFF_*). */
export interface LinkFlags {
  up: boolean;
  /** IFF_LOWER_UP / carrier. */
  lowerUp: boolean;
  /** IFF_LOOPBACK: set (true) only on a loopback device. */
  loopback?: true;
}

/** TUN/TAP details reported by IFLA_LINKINFO / IFLA_INFO_DATA (IFLA_TUN_*). */
export interface TunInfo {
  /**
   * IFLA_TUN_TYPE: `tun` (IFF_TUN), `tap` (IFF_TAP), `undetermined` when the kernel did not say
   * (upstream's mode 0: `Network device mode not determined correctly. Mount sysfs in caller`).
   */
  mode: 'tap' | 'tun' | 'undetermined';
  multiQueue: boolean;
  persist: boolean;
  vnetHdr: boolean;
  /** IFLA_TUN_NUM_QUEUES: queues currently attached (enabled or disabled). */
  numQueues: number;
}

export interface LinkInfo {
  index: number;
  name: string;
  mtu: number;
  /** Lower-case colon-separated MAC, `""` when the link has none. */
  mac: string;
  flags: LinkFlags;
  /** IFLA_INFO_KIND: `tun` for tun/tap, `dummy`, `veth`, … ; `""` when none. */
  kind: string;
  /** Present when kind is `tun`. */
  tun?: TunInfo;
}

export interface CreateTapRequest {
  netns: string;
  /** At most 15 bytes (IFNAMSIZ-1); longer names are rejected, never truncated. */
  name: string;
  /**
   * One queue per vCPU; IFF_MULTI_QUEUE is set whenever queues > 0 (upstream createLink). 0: the
   * hypervisor has no multi-queue support — one fd, no IFF_MULTI_QUEUE.
   */
  queues: number;
}

export interface CreatedTap {
  index: number;
  /**
   * One open queue fd per queue (O_CLOEXEC). The caller owns them and must hand them to the
   * hypervisor or close them with {@link NetlinkAdapter.closeFds}.
   */
  fds: number[];
}

/** An ingress redirect: packets arriving on `from` are mirred-egress-redirected to `to`. */
export interface RedirectRequest {
  netns: string;
  from: string;
  to: string;
}

export interface NetlinkAdapter {
  /**
   * Create a persistent TAP (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, +IFF_MULTI_QUEUE when queues > 0),
   * one open fd per queue (one when queues = 0). A link of that name that already exists is an error
   * (`EEXIST`): a leftover from a crash is never silently adopted.
   */
  createTap(req: CreateTapRequest): Promise<CreatedTap>;
  /** Get a link by name; `ENODEV` when missing. */
  getLink(netns: string, name: string): Promise<LinkInfo>;
  /** List the links of a namespace. */
  listLinks(netns: string): Promise<LinkInfo[]>;
  /** RTM_SETLINK IFLA_MTU; valid range 68..65521 for a tap (`EINVAL` otherwise). */
  setMtu(netns: string, name: string, mtu: number): Promise<void>;
  /** RTM_SETLINK IFLA_ADDRESS; multicast → `EADDRNOTAVAIL`. */
  setMac(netns: string, name: string, mac: string): Promise<void>;
  /** Set IFF_UP on or off. */
  setUp(netns: string, name: string, up: boolean): Promise<void>;
  /** RTM_DELLINK; `ENODEV` when missing. */
  deleteLink(netns: string, name: string): Promise<void>;
  /** Add an ingress qdisc (parent ffff:fff1, handle ffff:) to a link; `EEXIST` if present. */
  addIngressQdisc(netns: string, name: string): Promise<void>;
  /** Delete the ingress qdisc (and so every filter under it); `ENOENT`/`EINVAL` if absent. */
  deleteIngressQdisc(netns: string, name: string): Promise<void>;
  /** Whether the link has an ingress qdisc. */
  hasIngressQdisc(netns: string, name: string): Promise<boolean>;
  /** Add a filter on `from`'s ingress redirecting every packet (ETH_P_ALL) to `to`'s egress. */
  addRedirect(req: RedirectRequest): Promise<void>;
  /** The names of links that `from`'s ingress redirects to. */
  listRedirects(netns: string, from: string): Promise<string[]>;
  /** Probe: the link if it exists, `null` if not (never throws ENODEV). */
  probeLink(netns: string, name: string): Promise<LinkInfo | null>;
  /** Probe: does this network namespace still exist (the path opens and is a netns)? */
  netnsExists(netns: string): Promise<boolean>;
  /**
   * Open `/dev/vhost-net` O_RDWR|O_CLOEXEC `count` times (upstream createVhostFds: one per queue).
   * All-or-nothing: on a failure the fds already opened are closed and the error (`ENOENT` when
   * the device is absent) is thrown. The caller owns the fds like queue fds (closeFds).
   */
  openVhostFds(count: number): Promise<number[]>;
  /** Close queue (and vhost) fds we own (idempotent for fds already closed by us). */
  closeFds(fds: readonly number[]): Promise<void>;
  /** Release cached sockets/threads. */
  close(): Promise<void>;
}

/** errno names the adapters report (subset of `koffi.os.errno` / `os.constants.errno`). */
export type ErrnoName =
  | 'ENODEV'
  | 'EEXIST'
  | 'EINVAL'
  | 'EBUSY'
  | 'ENOENT'
  | 'EPERM'
  | 'EACCES'
  | 'ERANGE'
  | 'EADDRNOTAVAIL'
  | 'EOPNOTSUPP'
  | 'ETIMEDOUT'
  | 'EINTR'
  | 'EIO'
  /** Any other errno name (`E<n>` for a number without one). */
  | `E${string}`;

/** One typed error for every netlink adapter failure. */
export class NetlinkError extends TapstateError {
  override readonly name = 'NetlinkError';
  readonly code = 'NETLINK_ERROR';
  /** The adapter operation, e.g. `createTap`, `setMtu`. */
  readonly op: string;
  /** The link concerned, `""` if none. */
  readonly link: string;
  readonly netns: string;
  readonly errno: ErrnoName;
  /** Positive errno number (0 when not an errno failure, e.g. validation). */
  readonly errnoNumber: number;
  /** The kernel's extended-ack text, when it sent one. */
  readonly extack: string;

  constructor(init: {
    op: string;
    link?: string;
    netns: string;
    errno: ErrnoName;
    errnoNumber: number;
    extack?: string;
    message?: string;
  }) {
    const link = init.link ?? '';
    const extack = init.extack ?? '';
    super(
      init.message ??
        `${init.op}${link ? ` ${link}` : ''}${init.netns ? ` in ${init.netns}` : ''}: ${init.errno}${
          extack ? ` (${extack})` : ''
        }`,
    );
    this.op = init.op;
    this.link = link;
    this.netns = init.netns;
    this.errno = init.errno;
    this.errnoNumber = init.errnoNumber;
    this.extack = extack;
  }
}
