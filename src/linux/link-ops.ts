/** Link operations over rtnetlink (RTM_GETLINK / SETLINK / DELLINK), by interface name. */
import type { LinkInfo } from '../adapters/netlink.js';
import {
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_MTU,
  NLM_F_ACK,
  NLM_F_DUMP,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
  NetlinkCodecError,
  attr,
  attrStr,
  attrU32,
  decodeLink,
  encodeIfinfomsg,
} from './rtnetlink-codec.js';
import { ReplyMode } from './netlink-socket.js';
import type { OpContext, Transport } from './transport.js';

/** RTM_GETLINK by name (ENODEV when missing). */
export async function getLink(t: Transport, ctx: OpContext, name: string): Promise<LinkInfo> {
  const msgs = await t.request(
    ctx,
    { type: RTM_GETLINK, flags: 0, body: encodeIfinfomsg(), attrs: [attrStr(IFLA_IFNAME, name)] },
    ReplyMode.Get,
    false,
  );
  const m = msgs.find((x) => x.type === RTM_NEWLINK);
  if (!m) throw new NetlinkCodecError('RTM_GETLINK: no RTM_NEWLINK in the reply');
  return decodeLink(m);
}

/** RTM_GETLINK dump of every link. */
export async function listLinks(t: Transport, ctx: OpContext): Promise<LinkInfo[]> {
  const msgs = await t.request(ctx, { type: RTM_GETLINK, flags: NLM_F_DUMP, body: encodeIfinfomsg() }, ReplyMode.Dump, false);
  return msgs.filter((m) => m.type === RTM_NEWLINK).map(decodeLink);
}

const setlink = (t: Transport, ctx: OpContext, name: string, body: Buffer, attrs: Buffer[], offThread: boolean): Promise<unknown> =>
  t.request(
    ctx,
    { type: RTM_SETLINK, flags: NLM_F_ACK, body, attrs: [attrStr(IFLA_IFNAME, name), ...attrs] },
    ReplyMode.Ack,
    offThread,
  );

/** RTM_SETLINK IFLA_MTU (u32). */
export async function setMtu(t: Transport, ctx: OpContext, name: string, mtu: number): Promise<void> {
  await setlink(t, ctx, name, encodeIfinfomsg(), [attrU32(IFLA_MTU, mtu)], false);
}

/** RTM_SETLINK IFLA_ADDRESS (6 bytes). */
export async function setMac(t: Transport, ctx: OpContext, name: string, mac: Buffer): Promise<void> {
  await setlink(t, ctx, name, encodeIfinfomsg(), [attr(IFLA_ADDRESS, mac)], false);
}

/** RTM_SETLINK ifi_change=IFF_UP, ifi_flags=IFF_UP or 0. Off-thread: closing a device waits for RCU. */
export async function setUp(t: Transport, ctx: OpContext, name: string, up: boolean): Promise<void> {
  await setlink(t, ctx, name, encodeIfinfomsg(0, up ? IFF_UP : 0, IFF_UP), [], true);
}

/** RTM_DELLINK by name. Off-thread: the kernel waits ~16 ms for RCU grace periods. */
export async function deleteLink(t: Transport, ctx: OpContext, name: string): Promise<void> {
  await t.request(
    ctx,
    { type: RTM_DELLINK, flags: NLM_F_ACK, body: encodeIfinfomsg(), attrs: [attrStr(IFLA_IFNAME, name)] },
    ReplyMode.Ack,
    true,
  );
}
