/**
 * Fuzz target 2: the rtnetlink decoder. Arbitrary datagrams and mutations of real kernel replies
 * (RTM_NEWLINK of a multi-queue tap, an ingress qdisc, NLMSG_ERROR with extack, NLMSG_DONE):
 * only NetlinkCodecError (and KernelError, for a reply carrying an errno) escape.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  IFLA_ADDRESS, IFLA_CARRIER, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MTU,
  IFLA_TUN_MULTI_QUEUE, IFLA_TUN_NUM_QUEUES, IFLA_TUN_PERSIST, IFLA_TUN_TYPE, KernelError, NLMSG_DONE, NLMSG_ERROR,
  NLM_F_ACK_TLVS, NLM_F_MULTI, NLMSGERR_ATTR_MSG, NetlinkCodecError, RTM_NEWLINK, RTM_NEWQDISC,
  attr, attrNested, attrStr, attrU32, collectReply, decodeLink, decodeStatus, decodeTc, encodeIfinfomsg,
  encodeMessage, ingressQdisc, parseMessages,
} from '../../src/linux/rtnetlink-codec.js';
import { FUZZ_SECONDS, fuzz, mutate, mutationArb, onlyTyped } from './budget.js';

const TYPED = [NetlinkCodecError, KernelError] as const;
const SEQ = 7;

const link = encodeMessage(RTM_NEWLINK, NLM_F_MULTI, SEQ, encodeIfinfomsg(12, 0x1), [
  attrStr(IFLA_IFNAME, 'tap0_kata'),
  attrU32(IFLA_MTU, 1500),
  attr(IFLA_ADDRESS, Buffer.from([2, 0, 0, 0, 0, 1])),
  attr(IFLA_CARRIER, Buffer.from([1])),
  attrNested(IFLA_LINKINFO, [
    attrStr(IFLA_INFO_KIND, 'tun'),
    attrNested(IFLA_INFO_DATA, [attr(IFLA_TUN_TYPE, Buffer.from([2])), attr(IFLA_TUN_MULTI_QUEUE, Buffer.from([1])), attr(IFLA_TUN_PERSIST, Buffer.from([1])), attrU32(IFLA_TUN_NUM_QUEUES, 2)]),
  ]),
]);
const q = ingressQdisc(12);
const qdisc = encodeMessage(RTM_NEWQDISC, NLM_F_MULTI, SEQ, q.body, q.attrs);
const errBody = Buffer.concat([Buffer.from(Int32Array.of(-17).buffer), encodeMessage(RTM_NEWLINK, 0, SEQ, encodeIfinfomsg()).subarray(0, 16)]);
const error = encodeMessage(NLMSG_ERROR, NLM_F_ACK_TLVS, SEQ, errBody, [attrStr(NLMSGERR_ATTR_MSG, 'File exists')]);
const done = encodeMessage(NLMSG_DONE, NLM_F_MULTI, SEQ, Buffer.alloc(4));
const REPLIES = [Buffer.concat([link, qdisc, done]), error, Buffer.concat([link, done]), done];

/** Everything a caller does with a reply. */
function decodeAll(datagrams: Buffer[]): void {
  for (const d of datagrams) {
    let msgs;
    try {
      msgs = parseMessages(d);
    } catch (e) {
      onlyTyped(e, TYPED, 'parseMessages');
      continue;
    }
    for (const m of msgs) {
      for (const f of [decodeStatus, decodeLink, decodeTc] as Array<(x: typeof m) => unknown>) {
        try {
          f(m);
        } catch (e) {
          onlyTyped(e, TYPED, f.name);
        }
      }
    }
  }
  try {
    collectReply(datagrams, SEQ);
  } catch (e) {
    onlyTyped(e, TYPED, 'collectReply');
  }
}

describe(`fuzz: rtnetlink decoder (${FUZZ_SECONDS} s)`, () => {
  it('the real replies decode', () => {
    decodeLink(parseMessages(link)[0]!);
    decodeTc(parseMessages(qdisc)[0]!);
  });

  it('arbitrary datagrams: only typed errors escape', async () => {
    await fuzz('rtnetlink/bytes', fc.property(fc.array(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { maxLength: 3 }), decodeAll), 0.4);
  });

  it('mutated kernel replies: only typed errors escape', async () => {
    await fuzz(
      'rtnetlink/mutations',
      fc.property(fc.constantFrom(...REPLIES.keys()), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (i, ms) => {
        let b = REPLIES[i]!;
        for (const m of ms) b = mutate(b, m).bytes;
        decodeAll([b]);
        decodeAll([b, done]);
      }),
      0.6,
    );
  });
});
