/**
 * Pure rtnetlink encoding/decoding over Buffers: nlmsghdr, ifinfomsg, tcmsg, rtattr (nested),
 * multipart dumps, NLMSG_ERROR with extended-ack text. No I/O. Malformed input raises a
 * {@link NetlinkCodecError}; nothing here ever reads out of bounds.
 */
import type { LinkInfo, TunInfo } from '../adapters/netlink.js';
import { TapstateError } from '../../machines/tapstate-error.js';

// ---- constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/pkt_sched.h) ----
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR: extended-ack TLVs follow the echoed header. */
export const NLM_F_ACK_TLVS = 0x200;
/** In an NLMSG_ERROR: the echoed request was capped to its header (NETLINK_CAP_ACK). */
export const NLM_F_CAPPED = 0x100;
export const NLMSGERR_ATTR_MSG = 1;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTFILTER = 44;
export const RTM_GETTFILTER = 46;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINKINFO = 18;
export const IFLA_CARRIER = 33;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_TUN_TYPE = 3;
export const IFLA_TUN_VNET_HDR = 5;
export const IFLA_TUN_PERSIST = 6;
export const IFLA_TUN_MULTI_QUEUE = 7;
export const IFLA_TUN_NUM_QUEUES = 8;

export const IFF_UP = 0x1;
export const IFF_LOWER_UP = 0x10000;
export const IFF_LOOPBACK = 0x8;

export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TC_H_INGRESS = 0xfffffff1;
export const INGRESS_HANDLE = 0xffff0000;
export const ETH_P_ALL = 0x0003;
export const TCA_U32_SEL = 5;
export const TCA_U32_ACT = 7;
export const TC_U32_TERMINAL = 1;
export const TCA_MATCHALL_ACT = 2;
export const TCA_ACT_KIND = 1;
export const TCA_ACT_OPTIONS = 2;
export const TCA_MIRRED_PARMS = 2;
export const TCA_EGRESS_REDIR = 1;
export const TC_ACT_STOLEN = 4;
/** Filter priority used for redirects (as upstream: 1). */
export const REDIRECT_PRIO = 1;

/** A reply that does not parse. The adapter reports it as `EIO`. */
export class NetlinkCodecError extends TapstateError {
  override readonly name = 'NetlinkCodecError';
  readonly code = 'NETLINK_CODEC';
}

/** One netlink message: header fields and its payload (a view into the input). */
export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

const align4 = (n: number): number => (n + 3) & ~3;

// ---- attributes ----

/**
 * Write an rtattr header at `off` for `dataLen` bytes of data (len excludes padding) and zero
 * the padding after the data. Returns the data offset; the attribute ends at
 * `align4(off + 4 + dataLen)`. The one rtattr encoder: {@link attr} and the in-place
 * {@link NlWriter} both use it. Byte stores, no checked writes (little-endian hosts).
 */
export function putAttrHeader(b: Buffer, off: number, type: number, dataLen: number): number {
  const len = 4 + dataLen;
  b[off] = len & 0xff;
  b[off + 1] = (len >>> 8) & 0xff;
  b[off + 2] = type & 0xff;
  b[off + 3] = (type >>> 8) & 0xff;
  for (let i = off + len, e = align4(off + len); i < e; i++) b[i] = 0;
  return off + 4;
}

/** Write an nlmsghdr at `off` (pid 0). The one nlmsghdr encoder. */
export function putNlHeader(b: Buffer, off: number, len: number, type: number, flags: number, seq: number): void {
  b.writeUInt32LE(len >>> 0, off);
  b[off + 4] = type & 0xff;
  b[off + 5] = (type >>> 8) & 0xff;
  b[off + 6] = flags & 0xff;
  b[off + 7] = (flags >>> 8) & 0xff;
  b.writeUInt32LE(seq >>> 0, off + 8);
  b.writeUInt32LE(0, off + 12);
}

/** An rtattr: 4-byte header (len excludes padding), data, zero padding to 4 bytes. */
export function attr(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(align4(4 + data.length));
  data.copy(b, putAttrHeader(b, 0, type, data.length));
  return b;
}
/** A u32 attribute (host order). */
export const attrU32 = (type: number, v: number): Buffer => {
  const d = Buffer.alloc(4);
  d.writeUInt32LE(v >>> 0, 0);
  return attr(type, d);
};
/** A NUL-terminated string attribute. */
export const attrStr = (type: number, s: string): Buffer => attr(type, Buffer.concat([Buffer.from(s), Buffer.alloc(1)]));
/** A nested attribute holding `children`. */
export const attrNested = (type: number, children: readonly Buffer[]): Buffer => attr(type, Buffer.concat(children));

/**
 * The one rtattr iterator: walks the attributes of `buf[start, end)` in place (no allocation
 * per attribute). After each successful {@link next}, `type` (nested flag bits masked off),
 * `data` and `dataEnd` describe the current attribute. An attribute overrunning the region is
 * a {@link NetlinkCodecError} naming `where`, the type and the offset within the region.
 */
export class AttrIter {
  type = 0;
  data = 0;
  dataEnd = 0;
  private off: number;

  constructor(
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly end: number,
    /** Prefix of error messages (`IFLA_LINKINFO: `), `""` for a top-level region. */
    private readonly where = '',
  ) {
    this.off = start;
  }

  next(): boolean {
    const b = this.buf;
    const off = this.off;
    if (off + 4 > this.end) return false;
    // Plain indexing: Buffer#readUInt16LE costs ~10x more per call and a link reply has ~40 attributes.
    const len = (b[off] as number) | ((b[off + 1] as number) << 8);
    const type = ((b[off + 2] as number) | ((b[off + 3] as number) << 8)) & 0x3fff;
    if (len < 4 || off + len > this.end) throw new NetlinkCodecError(`${this.where}rtattr ${type} at ${off - this.start}: bad length ${len}`);
    this.type = type;
    this.data = off + 4;
    this.dataEnd = off + len;
    this.off = off + align4(len);
    return true;
  }
}

/**
 * Parse the attributes in `buf` into a map type → data (nested flag bits masked off; the last
 * occurrence wins). Throws on an attribute that overruns the buffer.
 */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const it = new AttrIter(buf, 0, buf.length); it.next(); ) out.set(it.type, buf.subarray(it.data, it.dataEnd));
  return out;
}

/** Parse attributes in order (for lists such as action tables). */
export function attrList(buf: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (const it = new AttrIter(buf, 0, buf.length); it.next(); ) out.push([it.type, buf.subarray(it.data, it.dataEnd)]);
  return out;
}

const cstr = (b: Buffer): string => {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString();
};

// ---- messages ----

/** Encode one request message: header + fixed body + attributes. */
export function encodeMessage(type: number, flags: number, seq: number, body: Buffer, attrs: readonly Buffer[] = []): Buffer {
  const payload = Buffer.concat([body, ...attrs]);
  const b = Buffer.alloc(NLMSG_HDRLEN + payload.length);
  putNlHeader(b, 0, b.length, type, flags, seq);
  payload.copy(b, NLMSG_HDRLEN);
  return b;
}

/** Split one received datagram into messages. Throws on truncation. */
export function parseMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + NLMSG_HDRLEN > buf.length) throw new NetlinkCodecError(`truncated nlmsghdr at ${off}`);
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw new NetlinkCodecError(`nlmsghdr at ${off}: bad length ${len}`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** A decoded NLMSG_ERROR (or the status of an NLMSG_DONE): errno is positive, 0 for an ack. */
export interface NlStatus {
  errno: number;
  extack: string;
}

/** Decode an NLMSG_ERROR / NLMSG_DONE payload, including the extended-ack message text. */
export function decodeStatus(msg: NlMsg): NlStatus {
  const p = msg.payload;
  if (msg.type === NLMSG_DONE && p.length < 4) return { errno: 0, extack: '' };
  if (p.length < 4) throw new NetlinkCodecError(`NLMSG_ERROR payload too short (${p.length})`);
  const raw = p.readInt32LE(0);
  const errno = raw === 0 ? 0 : -raw;
  let extack = '';
  if (msg.flags & NLM_F_ACK_TLVS) {
    let tlvOff = 4;
    if (msg.type === NLMSG_ERROR) {
      if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkCodecError('NLMSG_ERROR without the echoed header');
      const echoedLen = p.readUInt32LE(4);
      tlvOff += msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(echoedLen);
    }
    if (tlvOff > p.length) throw new NetlinkCodecError('extack TLVs out of bounds');
    const m = parseAttrs(p.subarray(tlvOff)).get(NLMSGERR_ATTR_MSG);
    if (m) extack = cstr(m);
  }
  return { errno, extack };
}

/** Thrown by {@link collectReply} for a kernel error reply. */
export class KernelError extends TapstateError {
  override readonly name = 'KernelError';
  readonly code = 'KERNEL_ERROR';
  constructor(
    readonly errno: number,
    readonly extack: string,
  ) {
    super(`kernel error ${errno}${extack ? `: ${extack}` : ''}`);
  }
}

/**
 * Turn the datagrams of one transaction into its data messages: drops messages of another
 * seq, throws {@link KernelError} for a non-zero NLMSG_ERROR/NLMSG_DONE status.
 */
export function collectReply(datagrams: readonly Buffer[], seq: number): NlMsg[] {
  const data: NlMsg[] = [];
  for (const d of datagrams) {
    for (const m of parseMessages(d)) {
      if (m.seq !== seq || m.type === NLMSG_NOOP) continue;
      if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
        const st = decodeStatus(m);
        if (st.errno !== 0) throw new KernelError(st.errno, st.extack);
        continue;
      }
      data.push(m);
    }
  }
  return data;
}

// ---- ifinfomsg / links ----

/** ifinfomsg: family, pad, type, index, flags, change (16 bytes). */
export function encodeIfinfomsg(index = 0, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags >>> 0, 8);
  b.writeUInt32LE(change >>> 0, 12);
  return b;
}

/** Lower-case colon-separated MAC of a byte string (`""` for none). */
export const formatMac = (b: Buffer | undefined): string =>
  b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';

/** Parse `aa:bb:cc:dd:ee:ff` (case-insensitive); `null` if malformed. */
export function parseMac(s: string): Buffer | null {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) return null;
  return Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
}

/** Decode an RTM_NEWLINK message into a {@link LinkInfo}. */
export function decodeLink(msg: NlMsg): LinkInfo {
  if (msg.type !== RTM_NEWLINK) throw new NetlinkCodecError(`expected RTM_NEWLINK, got type ${msg.type}`);
  const p = msg.payload;
  return decodeLinkAt(p, 0, p.length);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A NUL-terminated string attribute's text (data in `buf[start, end)`). When the bytes spell
 * the ASCII string `known` (the name the request asked for, the kind "tun"), `known` itself is
 * returned instead of decoding a new string.
 */
function cstrAt(buf: Buffer, start: number, end: number, known?: string): string {
  let z = start;
  while (z < end && buf[z] !== 0) z++;
  if (known !== undefined && known.length === z - start) {
    let same = true;
    for (let i = 0; i < known.length && same; i++) same = buf[start + i] === known.charCodeAt(i);
    if (same) return known;
  }
  return buf.toString('utf8', start, z);
}

/** The last MAC decoded (as a 48-bit number) and its text: a link asked for again reuses it. */
let lastMacKey = -1;
let lastMac = '';

function macAt(buf: Buffer, d: number): string {
  const hi = (buf[d] as number) * 0x10000 + (buf[d + 1] as number) * 0x100 + (buf[d + 2] as number);
  const lo = (buf[d + 3] as number) * 0x10000 + (buf[d + 4] as number) * 0x100 + (buf[d + 5] as number);
  const key = hi * 0x1000000 + lo;
  if (key === lastMacKey) return lastMac;
  lastMacKey = key;
  lastMac = `${HEX[buf[d] as number]}:${HEX[buf[d + 1] as number]}:${HEX[buf[d + 2] as number]}:${HEX[buf[d + 3] as number]}:${HEX[buf[d + 4] as number]}:${HEX[buf[d + 5] as number]}`;
  return lastMac;
}

/**
 * Decode the ifinfomsg payload in `buf[start, end)` (an RTM_NEWLINK message without its
 * nlmsghdr) into a {@link LinkInfo}, reading the few attributes it needs in place: no
 * attribute map, no sub-buffers (a tap's reply carries ~40 attributes, mostly statistics).
 * `expectName` (the name asked for) is reused as the name when the bytes match it.
 * Same rules as {@link parseAttrs}: an attribute overrunning the payload is a
 * {@link NetlinkCodecError}; for repeated attributes the last one wins.
 */
export function decodeLinkAt(buf: Buffer, start: number, end: number, expectName?: string): LinkInfo {
  if (start < 0 || end > buf.length || start > end) throw new NetlinkCodecError(`payload [${start}, ${end}) outside the buffer`);
  if (end - start < 16) throw new NetlinkCodecError(`ifinfomsg too short (${end - start})`);
  const index = buf.readInt32LE(start + 4);
  const flags = buf.readUInt32LE(start + 8);
  let name: string | undefined;
  let mtu: number | undefined;
  let mac = '';
  let carrier = false;
  let liStart = -1;
  let liEnd = -1;
  for (const it = new AttrIter(buf, start + 16, end); it.next(); ) {
    const d = it.data;
    const de = it.dataEnd;
    switch (it.type) {
      case IFLA_IFNAME:
        name = cstrAt(buf, d, de, expectName);
        break;
      case IFLA_MTU:
        mtu = de - d >= 4 ? buf.readUInt32LE(d) : undefined;
        break;
      case IFLA_ADDRESS:
        mac = de - d === 6 ? macAt(buf, d) : formatMac(buf.subarray(d, de));
        break;
      case IFLA_CARRIER:
        carrier = de > d && buf[d] === 1;
        break;
      case IFLA_LINKINFO:
        liStart = d;
        liEnd = de;
        break;
    }
  }
  if (name === undefined || mtu === undefined) throw new NetlinkCodecError(`link ${index} without IFLA_IFNAME/IFLA_MTU`);
  let kind = '';
  let tun: TunInfo | undefined;
  if (liStart >= 0) {
    let dataStart = -1;
    let dataEnd = -1;
    for (const it = new AttrIter(buf, liStart, liEnd, 'IFLA_LINKINFO: '); it.next(); ) {
      if (it.type === IFLA_INFO_KIND) kind = cstrAt(buf, it.data, it.dataEnd, 'tun');
      else if (it.type === IFLA_INFO_DATA) (dataStart = it.data), (dataEnd = it.dataEnd);
    }
    if (kind === 'tun' && dataStart >= 0) tun = decodeTunInfo(buf, dataStart, dataEnd, carrier);
  }
  const info: LinkInfo = {
    index,
    name,
    mtu,
    mac,
    flags: { up: (flags & IFF_UP) !== 0, lowerUp: (flags & IFF_LOWER_UP) !== 0, ...((flags & IFF_LOOPBACK) !== 0 ? { loopback: true as const } : {}) },
    kind,
  };
  if (tun) info.tun = tun;
  return info;
}

/**
 * IFLA_TUN_* → {@link TunInfo}. The kernel reports IFLA_TUN_NUM_QUEUES only for multi-queue
 * devices; a single-queue tap has its queue attached exactly when it has carrier (tun turns
 * carrier on at attach and off when the last queue detaches), so numQueues = carrier ? 1 : 0.
 */
function decodeTunInfo(buf: Buffer, start: number, end: number, carrier: boolean): TunInfo {
  let type = 0;
  let multiQueue = false;
  let persist = false;
  let vnetHdr = false;
  let numQueues: number | undefined;
  for (const it = new AttrIter(buf, start, end, 'IFLA_INFO_DATA: '); it.next(); ) {
    const t = it.type;
    const b = it.dataEnd > it.data ? buf[it.data] : undefined;
    if (t === IFLA_TUN_TYPE) type = b ?? 0;
    else if (t === IFLA_TUN_MULTI_QUEUE) multiQueue = b === 1;
    else if (t === IFLA_TUN_PERSIST) persist = b === 1;
    else if (t === IFLA_TUN_VNET_HDR) vnetHdr = b === 1;
    else if (t === IFLA_TUN_NUM_QUEUES) numQueues = it.dataEnd - it.data >= 4 ? buf.readUInt32LE(it.data) : undefined;
  }
  return {
    mode: type === 1 ? 'tun' : type === 2 ? 'tap' : 'undetermined',
    multiQueue,
    persist,
    vnetHdr,
    numQueues: numQueues ?? (multiQueue ? 0 : carrier ? 1 : 0),
  };
}

// ---- tcmsg / qdiscs / filters ----

/** tcmsg: family, pad[3], ifindex, handle, parent, info (20 bytes). */
export function encodeTcmsg(ifindex: number, handle: number, parent: number, info = 0): Buffer {
  const b = Buffer.alloc(20);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt32LE(handle >>> 0, 8);
  b.writeUInt32LE(parent >>> 0, 12);
  b.writeUInt32LE(info >>> 0, 16);
  return b;
}

/** A decoded qdisc or filter message. */
export interface TcEntry {
  ifindex: number;
  handle: number;
  parent: number;
  info: number;
  kind: string;
  attrs: Map<number, Buffer>;
}

/** Decode a tcmsg-based message (RTM_NEWQDISC, RTM_NEWTFILTER). */
export function decodeTc(msg: NlMsg): TcEntry {
  const p = msg.payload;
  if (p.length < 20) throw new NetlinkCodecError(`tcmsg too short (${p.length})`);
  const attrs = parseAttrs(p.subarray(20));
  const kind = attrs.get(TCA_KIND);
  return {
    ifindex: p.readInt32LE(4),
    handle: p.readUInt32LE(8),
    parent: p.readUInt32LE(12),
    info: p.readUInt32LE(16),
    kind: kind ? cstr(kind) : '',
    attrs,
  };
}

/** Body and attributes of the ingress qdisc (parent ffff:fff1, handle ffff:, kind "ingress"). */
export function ingressQdisc(ifindex: number): { body: Buffer; attrs: Buffer[] } {
  return {
    body: encodeTcmsg(ifindex, INGRESS_HANDLE, TC_H_INGRESS),
    attrs: [attrStr(TCA_KIND, 'ingress'), attrNested(TCA_OPTIONS, [])],
  };
}

/** The tc_mirred action parameters: egress redirect to `toIndex`, TC_ACT_STOLEN. */
export function mirredParms(toIndex: number): Buffer {
  const b = Buffer.alloc(28); // tc_gen (index, capab, action, refcnt, bindcnt) + eaction + ifindex
  b.writeInt32LE(TC_ACT_STOLEN, 8);
  b.writeInt32LE(TCA_EGRESS_REDIR, 20);
  b.writeUInt32LE(toIndex >>> 0, 24);
  return b;
}

/**
 * The filter upstream installs: u32, match-all key (mask 0 / value 0), TC_U32_TERMINAL,
 * protocol ETH_P_ALL, priority 1, parent ffff:, action mirred egress redirect → `toIndex`.
 */
export function u32RedirectFilter(fromIndex: number, toIndex: number): { body: Buffer; attrs: Buffer[] } {
  const sel = Buffer.alloc(16 + 16); // tc_u32_sel + one zero tc_u32_key
  sel.writeUInt8(TC_U32_TERMINAL, 0);
  sel.writeUInt8(1, 2); // nkeys
  const action = attrNested(1, [
    attrStr(TCA_ACT_KIND, 'mirred'),
    attrNested(TCA_ACT_OPTIONS, [attr(TCA_MIRRED_PARMS, mirredParms(toIndex))]),
  ]);
  const protoBE = ((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8);
  return {
    body: encodeTcmsg(fromIndex, 0, INGRESS_HANDLE, ((REDIRECT_PRIO << 16) | protoBE) >>> 0),
    attrs: [attrStr(TCA_KIND, 'u32'), attrNested(TCA_OPTIONS, [attr(TCA_U32_SEL, sel), attrNested(TCA_U32_ACT, [action])])],
  };
}

/**
 * The mirred egress-redirect targets (ifindexes) of one filter (u32 or matchall); `[]` for a
 * filter without actions (e.g. the u32 hash-table node the kernel also dumps).
 */
export function decodeRedirectTargets(f: TcEntry): number[] {
  const opts = f.attrs.get(TCA_OPTIONS);
  if (!opts) return [];
  const actType = f.kind === 'u32' ? TCA_U32_ACT : f.kind === 'matchall' ? TCA_MATCHALL_ACT : -1;
  const table = parseAttrs(opts).get(actType);
  if (!table) return [];
  const out: number[] = [];
  for (const [, act] of attrList(table)) {
    const a = parseAttrs(act);
    const kind = a.get(TCA_ACT_KIND);
    const o = a.get(TCA_ACT_OPTIONS);
    if (!kind || cstr(kind) !== 'mirred' || !o) continue;
    const parms = parseAttrs(o).get(TCA_MIRRED_PARMS);
    if (!parms || parms.length < 28) throw new NetlinkCodecError('mirred action without tc_mirred parameters');
    if (parms.readInt32LE(20) === TCA_EGRESS_REDIR) out.push(parms.readUInt32LE(24));
  }
  return out;
}
