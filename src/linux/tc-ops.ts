/** Traffic-control operations: the ingress qdisc and mirred-redirect filters under it. */
import {
  INGRESS_HANDLE,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  RTM_DELQDISC,
  RTM_GETQDISC,
  RTM_GETTFILTER,
  RTM_NEWQDISC,
  RTM_NEWTFILTER,
  TC_H_INGRESS,
  decodeRedirectTargets,
  decodeTc,
  encodeTcmsg,
  ingressQdisc,
  u32RedirectFilter,
} from './rtnetlink-codec.js';
import { ReplyMode } from './netlink-socket.js';
import type { OpContext, Transport } from './transport.js';

/** RTM_NEWQDISC ingress (CREATE|EXCL: EEXIST when present). */
export async function addIngressQdisc(t: Transport, ctx: OpContext, ifindex: number): Promise<void> {
  const q = ingressQdisc(ifindex);
  await t.request(
    ctx,
    { type: RTM_NEWQDISC, flags: NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body: q.body, attrs: q.attrs },
    ReplyMode.Ack,
    true,
  );
}

/** RTM_DELQDISC of the ingress qdisc (and with it every filter under it). */
export async function deleteIngressQdisc(t: Transport, ctx: OpContext, ifindex: number): Promise<void> {
  await t.request(
    ctx,
    { type: RTM_DELQDISC, flags: NLM_F_ACK, body: encodeTcmsg(ifindex, INGRESS_HANDLE, TC_H_INGRESS) },
    ReplyMode.Ack,
    true,
  );
}

/** Whether `ifindex` has an ingress qdisc (RTM_GETQDISC dump, filtered). */
export async function hasIngressQdisc(t: Transport, ctx: OpContext, ifindex: number): Promise<boolean> {
  const msgs = await t.request(ctx, { type: RTM_GETQDISC, flags: NLM_F_DUMP, body: encodeTcmsg(ifindex, 0, 0) }, ReplyMode.Dump, false);
  return msgs
    .filter((m) => m.type === RTM_NEWQDISC)
    .map(decodeTc)
    .some((q) => q.ifindex === ifindex && q.parent === TC_H_INGRESS && q.kind === 'ingress');
}

/** RTM_NEWTFILTER: u32 match-all on `from`'s ingress, mirred egress redirect to `to`. */
export async function addRedirect(t: Transport, ctx: OpContext, fromIndex: number, toIndex: number): Promise<void> {
  const f = u32RedirectFilter(fromIndex, toIndex);
  await t.request(
    ctx,
    { type: RTM_NEWTFILTER, flags: NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body: f.body, attrs: f.attrs },
    ReplyMode.Ack,
    true,
  );
}

/** The ifindexes `ifindex`'s ingress filters redirect to (RTM_GETTFILTER dump on parent ffff:). */
export async function listRedirectTargets(t: Transport, ctx: OpContext, ifindex: number): Promise<number[]> {
  const msgs = await t.request(
    ctx,
    { type: RTM_GETTFILTER, flags: NLM_F_DUMP, body: encodeTcmsg(ifindex, 0, INGRESS_HANDLE) },
    ReplyMode.Dump,
    false,
  );
  return msgs
    .filter((m) => m.type === RTM_NEWTFILTER)
    .map(decodeTc)
    .filter((f) => f.ifindex === ifindex)
    .flatMap(decodeRedirectTargets);
}
