/**
 * Link requests over rtnetlink (RTM_GETLINK / SETLINK / DELLINK), by interface name: each
 * writes one request into a reusable {@link NlWriter} (no allocation on the hot path); the
 * RTM_GETLINK dump, which goes through the general {@link Transport}; and name → index by
 * SIOCGIFINDEX.
 */
import type { LinkInfo } from '../adapters/netlink.js';
import type { Libc } from './libc.js';
import { EINTR } from './errno.js';
import {
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_MTU,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
  decodeLink,
  encodeIfinfomsg,
} from './rtnetlink-codec.js';
import { ReplyMode } from './netlink-socket.js';
import type { NlWriter } from './nl-writer.js';
import type { OpContext, Transport } from './transport.js';

/** RTM_GETLINK by name (the reply is one RTM_NEWLINK; ENODEV when missing). */
export const writeGetLink = (w: NlWriter, seq: number, name: string): void => {
  w.begin(RTM_GETLINK, NLM_F_REQUEST, seq).ifinfomsg().str(IFLA_IFNAME, name);
};

/** RTM_SETLINK IFLA_MTU (u32). */
export const writeSetMtu = (w: NlWriter, seq: number, name: string, mtu: number): void => {
  w.begin(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq).ifinfomsg().str(IFLA_IFNAME, name).u32(IFLA_MTU, mtu);
};

/** RTM_SETLINK IFLA_ADDRESS (6 bytes). */
export const writeSetMac = (w: NlWriter, seq: number, name: string, mac: Buffer): void => {
  w.begin(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq).ifinfomsg().str(IFLA_IFNAME, name).bytes(IFLA_ADDRESS, mac);
};

/** RTM_SETLINK ifi_change=IFF_UP, ifi_flags=IFF_UP or 0 (closing a device waits for RCU). */
export const writeSetUp = (w: NlWriter, seq: number, name: string, up: boolean): void => {
  w.begin(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq).ifinfomsg(0, up ? IFF_UP : 0, IFF_UP).str(IFLA_IFNAME, name);
};

/** RTM_DELLINK by name (the kernel waits ~16 ms for RCU grace periods). */
export const writeDelLink = (w: NlWriter, seq: number, name: string): void => {
  w.begin(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq).ifinfomsg().str(IFLA_IFNAME, name);
};

/** RTM_GETLINK dump of every link. */
export async function listLinks(t: Transport, ctx: OpContext): Promise<LinkInfo[]> {
  const msgs = await t.request(ctx, { type: RTM_GETLINK, flags: NLM_F_DUMP, body: encodeIfinfomsg() }, ReplyMode.Dump, false);
  return msgs.filter((m) => m.type === RTM_NEWLINK).map(decodeLink);
}

/** SIOCGIFINDEX: interface name → index, on any socket of the netns (no rtnl, no reply to decode). */
export const SIOCGIFINDEX = 0x8933;

/**
 * The index of link `name` via ioctl(SIOCGIFINDEX) on `fd` (a socket in the link's netns):
 * the index or a negative errno (-ENODEV when missing). `ifr` is a reusable 40-byte ifreq.
 * `name` must already be validated (≤ 15 bytes).
 */
export function ifindexSync(l: Libc, fd: number, name: string, ifr: Buffer): number {
  ifr.fill(0);
  ifr.write(name, 0, 15, 'utf8');
  let r: number;
  do r = l.ioctl(fd, SIOCGIFINDEX, 'void *', ifr);
  while (r < 0 && l.errno() === EINTR);
  return r < 0 ? -l.errno() : ifr.readInt32LE(16);
}
