/**
 * The main-thread hot path's pure parts: the in-place request writer must produce exactly the
 * bytes of the reference encoder, and the in-place link decoder must agree with a decode built
 * on the generic attribute parser (including name/kind/MAC string reuse).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  IFLA_ADDRESS, IFLA_CARRIER, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MTU, IFLA_TUN_MULTI_QUEUE,
  IFLA_TUN_NUM_QUEUES, IFLA_TUN_PERSIST, IFLA_TUN_TYPE, IFLA_TUN_VNET_HDR, NLM_F_ACK, NLM_F_REQUEST, NetlinkCodecError,
  RTM_NEWLINK, RTM_SETLINK, attr, attrNested, attrStr, attrU32, decodeLink, decodeLinkAt, encodeIfinfomsg, encodeMessage,
  formatMac, parseAttrs, parseMessages,
} from '../../src/linux/rtnetlink-codec.js';
import { NlWriter } from '../../src/linux/nl-writer.js';
import { writeDelLink, writeGetLink, writeSetMac, writeSetMtu, writeSetUp } from '../../src/linux/link-ops.js';
import type { LinkInfo } from '../../src/adapters/netlink.js';

const u8a = (t: number, v: number): Buffer => attr(t, Buffer.from([v]));
const cstr = (b: Buffer): string => b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)).toString();

/** Reference decode through parseAttrs (maps and sub-buffers): what decodeLinkAt must match. */
function referenceDecode(payload: Buffer): LinkInfo {
  const a = parseAttrs(payload.subarray(16));
  const name = a.get(IFLA_IFNAME);
  const mtu = a.get(IFLA_MTU);
  if (!name || !mtu || mtu.length < 4) throw new NetlinkCodecError('no name/mtu');
  const flags = payload.readUInt32LE(8);
  const info: LinkInfo = {
    index: payload.readInt32LE(4), name: cstr(name), mtu: mtu.readUInt32LE(0), mac: formatMac(a.get(IFLA_ADDRESS)),
    flags: { up: (flags & 1) !== 0, lowerUp: (flags & 0x10000) !== 0, ...((flags & 0x8) !== 0 ? { loopback: true as const } : {}) }, kind: '',
  };
  const li = a.get(IFLA_LINKINFO);
  if (li) {
    const lia = parseAttrs(li);
    const kind = lia.get(IFLA_INFO_KIND);
    info.kind = kind ? cstr(kind) : '';
    const data = lia.get(IFLA_INFO_DATA);
    if (info.kind === 'tun' && data) {
      const d = parseAttrs(data);
      const b = (t: number): number | undefined => d.get(t)?.[0];
      const mq = b(IFLA_TUN_MULTI_QUEUE) === 1;
      const nq = d.get(IFLA_TUN_NUM_QUEUES);
      const carrier = a.get(IFLA_CARRIER)?.[0] === 1;
      info.tun = {
        mode: b(IFLA_TUN_TYPE) === 1 ? 'tun' : b(IFLA_TUN_TYPE) === 2 ? 'tap' : 'undetermined', multiQueue: mq, persist: b(IFLA_TUN_PERSIST) === 1,
        vnetHdr: b(IFLA_TUN_VNET_HDR) === 1, numQueues: nq && nq.length >= 4 ? nq.readUInt32LE(0) : mq ? 0 : carrier ? 1 : 0,
      };
    }
  }
  return info;
}

const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9_.-]{1,15}$/),
  fc.constantFrom('tap0_kata', 'é', 'ünï', 'lo'),
);
const linkArb = fc.record({
  index: fc.integer({ min: 1, max: 0x7fffffff }),
  name: nameArb,
  mtu: fc.integer({ min: 0, max: 0xffffffff }),
  mac: fc.option(fc.uint8Array({ minLength: 0, maxLength: 8 }), { nil: undefined }),
  up: fc.boolean(),
  carrier: fc.option(fc.integer({ min: 0, max: 1 }), { nil: undefined }),
  kind: fc.constantFrom(undefined, 'tun', 'veth', 'tu'),
  tun: fc.record({ type: fc.constantFrom(1, 2), mq: fc.boolean(), persist: fc.boolean(), vnet: fc.boolean(), nq: fc.option(fc.nat(16), { nil: undefined }) }),
  noise: fc.array(fc.tuple(fc.integer({ min: 40, max: 60 }), fc.uint8Array({ maxLength: 24 })), { maxLength: 12 }),
});

type LinkSpec = typeof linkArb extends fc.Arbitrary<infer T> ? T : never;

function linkPayload(l: LinkSpec): Buffer {
  const attrs: Buffer[] = [attrStr(IFLA_IFNAME, l.name), attrU32(IFLA_MTU, l.mtu)];
  for (const [t, d] of l.noise) attrs.push(attr(t, Buffer.from(d)));
  if (l.mac) attrs.push(attr(IFLA_ADDRESS, Buffer.from(l.mac)));
  if (l.carrier !== undefined) attrs.push(u8a(IFLA_CARRIER, l.carrier));
  if (l.kind !== undefined) {
    const data = [u8a(IFLA_TUN_TYPE, l.tun.type), u8a(IFLA_TUN_MULTI_QUEUE, l.tun.mq ? 1 : 0), u8a(IFLA_TUN_PERSIST, l.tun.persist ? 1 : 0), u8a(IFLA_TUN_VNET_HDR, l.tun.vnet ? 1 : 0)];
    if (l.tun.nq !== undefined) data.push(attrU32(IFLA_TUN_NUM_QUEUES, l.tun.nq));
    attrs.push(attrNested(IFLA_LINKINFO, [attrStr(IFLA_INFO_KIND, l.kind), attrNested(IFLA_INFO_DATA, data)]));
  }
  return Buffer.concat([encodeIfinfomsg(l.index, l.up ? 1 : 0), ...attrs]);
}

describe('in-place link decoder (decodeLinkAt)', () => {
  it('property: agrees with the reference decode, with or without the expected name, at any offset', () => {
    fc.assert(
      fc.property(linkArb, fc.nat(64), fc.boolean(), (l, pad, hint) => {
        const p = linkPayload(l);
        const big = Buffer.concat([Buffer.alloc(pad, 0xee), p, Buffer.alloc(7, 0xee)]);
        const got = decodeLinkAt(big, pad, pad + p.length, hint ? l.name : 'other0');
        expect(got).toEqual(referenceDecode(p));
        expect(decodeLink({ type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: p })).toEqual(got);
      }),
      { numRuns: 400 },
    );
  });

  it('reused MAC strings follow the bytes: alternating links decode their own MAC', () => {
    const mk = (mac: number[]): Buffer => Buffer.concat([encodeIfinfomsg(3), attrStr(IFLA_IFNAME, 't'), attrU32(IFLA_MTU, 1500), attr(IFLA_ADDRESS, Buffer.from(mac))]);
    const a = mk([2, 0, 0, 0, 0, 1]);
    const b = mk([2, 0, 0, 0, 0, 2]);
    for (let i = 0; i < 3; i++) {
      expect(decodeLinkAt(a, 0, a.length).mac).toBe('02:00:00:00:00:01');
      expect(decodeLinkAt(a, 0, a.length).mac).toBe('02:00:00:00:00:01');
      expect(decodeLinkAt(b, 0, b.length).mac).toBe('02:00:00:00:00:02');
    }
  });

  it('a name that only shares a prefix with the expected one is decoded, not reused', () => {
    const p = Buffer.concat([encodeIfinfomsg(3), attrStr(IFLA_IFNAME, 'tap01'), attrU32(IFLA_MTU, 1500)]);
    expect(decodeLinkAt(p, 0, p.length, 'tap0').name).toBe('tap01');
    expect(decodeLinkAt(p, 0, p.length, 'tap012').name).toBe('tap01');
  });

  it('overruns and out-of-buffer ranges are NetlinkCodecErrors', () => {
    const p = Buffer.concat([encodeIfinfomsg(3), attrStr(IFLA_IFNAME, 'tap0'), attrU32(IFLA_MTU, 1500)]);
    expect(() => decodeLinkAt(p, 0, p.length + 4)).toThrow(NetlinkCodecError);
    const bad = Buffer.from(p);
    bad.writeUInt16LE(200, 16);
    expect(() => decodeLinkAt(bad, 0, bad.length)).toThrow(NetlinkCodecError);
    const li = Buffer.concat([p, attrNested(IFLA_LINKINFO, [attrStr(IFLA_INFO_KIND, 'tun')])]);
    li.writeUInt16LE(99, p.length + 4); // the nested IFLA_INFO_KIND claims 99 bytes
    expect(() => decodeLinkAt(li, 0, li.length)).toThrow(NetlinkCodecError);
  });

  it('property: random bytes only ever raise NetlinkCodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), (bytes) => {
        const b = Buffer.from(bytes);
        try {
          decodeLinkAt(b, 0, b.length, 'x');
        } catch (e) {
          expect(e).toBeInstanceOf(NetlinkCodecError);
        }
      }),
    );
  });
});

describe('in-place request writer (NlWriter)', () => {
  const w = new NlWriter();
  const write = (f: (w: NlWriter, seq: number) => void, seq: number): Buffer => {
    f(w, seq);
    return Buffer.from(w.buf.subarray(0, w.finish()));
  };

  it('property: link requests are byte-identical to encodeMessage', () => {
    fc.assert(
      fc.property(nameArb, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (name, seq, mtu, up) => {
        const ifi = encodeIfinfomsg();
        const nm = attrStr(IFLA_IFNAME, name);
        // a longer request first, so stale bytes would show
        write((x, s) => writeSetMac(x, s, 'zzzzzzzzzzzzzzz', Buffer.from([1, 2, 3, 4, 5, 6])), 1);
        expect(write((x, s) => writeGetLink(x, s, name), seq)).toEqual(encodeMessage(18, NLM_F_REQUEST, seq, ifi, [nm]));
        expect(write((x, s) => writeSetMtu(x, s, name, mtu), seq)).toEqual(
          encodeMessage(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifi, [nm, attrU32(IFLA_MTU, mtu)]),
        );
        expect(write((x, s) => writeSetUp(x, s, name, up), seq)).toEqual(
          encodeMessage(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, encodeIfinfomsg(0, up ? 1 : 0, 1), [nm]),
        );
        expect(write((x, s) => writeDelLink(x, s, name), seq)).toEqual(encodeMessage(17, NLM_F_REQUEST | NLM_F_ACK, seq, ifi, [nm]));
        const mac = Buffer.from([0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee]);
        const m = write((x, s) => writeSetMac(x, s, name, mac), seq);
        expect(m).toEqual(encodeMessage(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifi, [nm, attr(IFLA_ADDRESS, mac)]));
        expect(parseMessages(m)[0]?.seq).toBe(seq >>> 0);
      }),
      { numRuns: 300 },
    );
  });

  it('a request that does not fit is a RangeError, not a silent truncation', () => {
    const small = new NlWriter(40);
    expect(() => small.begin(18, 1, 1).ifinfomsg().str(IFLA_IFNAME, 'a-long-name-here')).toThrow(RangeError);
  });
});
