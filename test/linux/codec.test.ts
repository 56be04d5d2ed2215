/** Pure codec tests: round-trips, multipart dumps, NLMSG_ERROR with extack, garbage → typed errors. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  IFLA_ADDRESS, IFLA_CARRIER, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MTU, IFLA_TUN_MULTI_QUEUE,
  IFLA_TUN_NUM_QUEUES, IFLA_TUN_PERSIST, IFLA_TUN_TYPE, IFLA_TUN_VNET_HDR, IFF_UP, KernelError, NLMSG_DONE, NLMSG_ERROR,
  NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTI, NetlinkCodecError, RTM_NEWLINK, RTM_NEWTFILTER, attr, attrNested, attrStr,
  attrU32, collectReply, decodeLink, decodeRedirectTargets, decodeStatus, decodeTc, encodeIfinfomsg, encodeMessage,
  formatMac, parseAttrs, parseMac, parseMessages, u32RedirectFilter,
} from '../../src/linux/rtnetlink-codec.js';

const u8a = (t: number, v: number): Buffer => attr(t, Buffer.from([v]));
const linkMsg = (seq: number, index: number, name: string, extra: Buffer[] = [], flags = 0): Buffer =>
  encodeMessage(RTM_NEWLINK, NLM_F_MULTI, seq, encodeIfinfomsg(index, flags), [attrStr(IFLA_IFNAME, name), attrU32(IFLA_MTU, 1500), ...extra]);

/** An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK + NETLINK_EXT_ACK. */
function errorMsg(seq: number, errno: number, text?: string): Buffer {
  const p = Buffer.alloc(4 + 16);
  p.writeInt32LE(-errno, 0);
  p.writeUInt32LE(40, 4); // echoed request header (capped: only the header is echoed)
  p.writeUInt32LE(seq, 12);
  const tlv = text ? attrStr(1, text) : Buffer.alloc(0);
  return encodeMessage(NLMSG_ERROR, NLM_F_CAPPED | (text ? NLM_F_ACK_TLVS : 0), seq, Buffer.concat([p, tlv]));
}

describe('rtnetlink codec', () => {
  it('encodes a header and parses it back', () => {
    const m = encodeMessage(18, 0x5, 42, encodeIfinfomsg(7), [attrStr(IFLA_IFNAME, 'tap0')]);
    const [p] = parseMessages(m);
    expect(p).toMatchObject({ type: 18, flags: 5, seq: 42, pid: 0 });
    expect(m.readUInt32LE(0)).toBe(m.length);
    expect(p!.payload.readInt32LE(4)).toBe(7);
    expect(parseAttrs(p!.payload.subarray(16)).get(IFLA_IFNAME)?.toString()).toBe('tap0\0');
  });

  it('pads attributes to 4 bytes but records the unpadded length', () => {
    const a = attrStr(IFLA_IFNAME, 'ab'); // 4 + 3 = 7 → 8
    expect(a.length).toBe(8);
    expect(a.readUInt16LE(0)).toBe(7);
  });

  it('round-trips nested attributes and masks NLA_F_NESTED', () => {
    const n = attrNested(IFLA_LINKINFO, [attrStr(IFLA_INFO_KIND, 'tun'), attrU32(9, 5)]);
    n.writeUInt16LE(IFLA_LINKINFO | 0x8000, 2);
    const outer = parseAttrs(n).get(IFLA_LINKINFO)!;
    const inner = parseAttrs(outer);
    expect(inner.get(IFLA_INFO_KIND)?.toString()).toBe('tun\0');
    expect(inner.get(9)?.readUInt32LE(0)).toBe(5);
  });

  it('property: any attribute list round-trips', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0x3fff }), fc.uint8Array({ maxLength: 40 }))), (list) => {
        const buf = Buffer.concat(list.map(([t, d]) => attr(t, Buffer.from(d))));
        const got = (function parse() {
          const out: Array<[number, number[]]> = [];
          let off = 0;
          while (off < buf.length) {
            const len = buf.readUInt16LE(off);
            out.push([buf.readUInt16LE(off + 2), [...buf.subarray(off + 4, off + len)]]);
            off += (len + 3) & ~3;
          }
          return out;
        })();
        expect(got).toEqual(list.map(([t, d]) => [t, [...d]]));
      }),
    );
  });

  it('decodes a tun link with IFLA_TUN_* info', () => {
    const info = attrNested(IFLA_LINKINFO, [
      attrStr(IFLA_INFO_KIND, 'tun'),
      attrNested(IFLA_INFO_DATA, [u8a(IFLA_TUN_TYPE, 2), u8a(IFLA_TUN_VNET_HDR, 1), u8a(IFLA_TUN_PERSIST, 1), u8a(IFLA_TUN_MULTI_QUEUE, 1), attrU32(IFLA_TUN_NUM_QUEUES, 4)]),
    ]);
    const mac = attr(IFLA_ADDRESS, Buffer.from([0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee]));
    const [m] = parseMessages(linkMsg(1, 9, 'tap0_kata', [mac, info], IFF_UP | 0x10000));
    expect(decodeLink(m!)).toEqual({
      index: 9, name: 'tap0_kata', mtu: 1500, mac: '5a:94:ef:e4:0c:ee', flags: { up: true, lowerUp: true }, kind: 'tun',
      tun: { mode: 'tap', multiQueue: true, persist: true, vnetHdr: true, numQueues: 4 },
    });
  });

  it('single-queue tap: numQueues follows carrier (the kernel omits IFLA_TUN_NUM_QUEUES)', () => {
    const info = attrNested(IFLA_LINKINFO, [attrStr(IFLA_INFO_KIND, 'tun'), attrNested(IFLA_INFO_DATA, [u8a(IFLA_TUN_TYPE, 2)])]);
    for (const carrier of [0, 1]) {
      const [m] = parseMessages(linkMsg(1, 3, 't', [info, u8a(IFLA_CARRIER, carrier)]));
      expect(decodeLink(m!).tun?.numQueues).toBe(carrier);
    }
  });

  it('a link without linkinfo has kind "" and no MAC', () => {
    const [m] = parseMessages(linkMsg(1, 1, 'lo'));
    const l = decodeLink(m!);
    expect(l).toMatchObject({ kind: '', mac: '' });
    expect(l.tun).toBeUndefined();
  });

  it('collects a multipart dump across datagrams, ignoring other seqs, until NLMSG_DONE', () => {
    const done = encodeMessage(NLMSG_DONE, NLM_F_MULTI, 5, Buffer.alloc(4));
    const d1 = Buffer.concat([linkMsg(5, 1, 'lo'), linkMsg(4, 99, 'stale'), linkMsg(5, 2, 'a')]);
    const d2 = Buffer.concat([linkMsg(5, 3, 'b'), done]);
    expect(collectReply([d1, d2], 5).map(decodeLink).map((l) => l.name)).toEqual(['lo', 'a', 'b']);
  });

  it('decodes NLMSG_ERROR: ack, errno, and extended-ack text', () => {
    expect(decodeStatus(parseMessages(errorMsg(3, 0))[0]!)).toEqual({ errno: 0, extack: '' });
    expect(decodeStatus(parseMessages(errorMsg(3, 22, 'mtu greater than device maximum'))[0]!)).toEqual({
      errno: 22,
      extack: 'mtu greater than device maximum',
    });
    expect(() => collectReply([errorMsg(3, 19, 'no such device')], 3)).toThrow(KernelError);
    try {
      collectReply([errorMsg(3, 19, 'no such device')], 3);
    } catch (e) {
      expect(e).toMatchObject({ errno: 19, extack: 'no such device' });
    }
    expect(collectReply([errorMsg(3, 0)], 3)).toEqual([]);
  });

  it('encodes the upstream u32 mirred redirect and decodes its target', () => {
    const f = u32RedirectFilter(3, 7);
    const msg = encodeMessage(RTM_NEWTFILTER, 0, 1, f.body, f.attrs);
    const tcEntry = decodeTc(parseMessages(msg)[0]!);
    expect(tcEntry).toMatchObject({ ifindex: 3, parent: 0xffff0000, kind: 'u32', info: (1 << 16) | 0x0300 });
    expect(decodeRedirectTargets(tcEntry)).toEqual([7]);
  });

  it('MAC parse/format', () => {
    expect(parseMac('5A:94:ef:e4:0c:ee')).toEqual(Buffer.from([0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee]));
    for (const bad of ['', '5a:94:ef:e4:0c', '5a-94-ef-e4-0c-ee', '5a:94:ef:e4:0c:eg']) expect(parseMac(bad)).toBeNull();
    expect(formatMac(Buffer.from([0, 1, 0xab]))).toBe('00:01:ab');
  });

  describe('truncated or garbled replies → NetlinkCodecError, never a crash', () => {
    const good = linkMsg(1, 2, 'tap0', [attr(IFLA_ADDRESS, Buffer.alloc(6))]);
    it.each([
      ['short header', good.subarray(0, 10)],
      ['length past the end', good.subarray(0, good.length - 4)],
      ['zero length', Buffer.alloc(16)],
    ])('%s', (_w, b) => {
      expect(() => parseMessages(b)).toThrow(NetlinkCodecError);
    });
    it('attribute overrunning its message', () => {
      const bad = Buffer.from(good);
      bad.writeUInt16LE(200, 16 + 16); // first rtattr claims 200 bytes
      expect(() => decodeLink(parseMessages(bad)[0]!)).toThrow(NetlinkCodecError);
    });
    it('short NLMSG_ERROR', () => {
      expect(() => collectReply([encodeMessage(NLMSG_ERROR, 0, 1, Buffer.alloc(2))], 1)).toThrow(NetlinkCodecError);
    });
    it('ifinfomsg too short / link without a name', () => {
      expect(() => decodeLink(parseMessages(encodeMessage(RTM_NEWLINK, 0, 1, Buffer.alloc(8)))[0]!)).toThrow(NetlinkCodecError);
      expect(() => decodeLink(parseMessages(encodeMessage(RTM_NEWLINK, 0, 1, encodeIfinfomsg(1)))[0]!)).toThrow(NetlinkCodecError);
    });
    it('property: random bytes only ever raise NetlinkCodecError/KernelError', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          try {
            for (const m of collectReply([Buffer.from(bytes)], 1)) if (m.type === RTM_NEWLINK) decodeLink(m);
          } catch (e) {
            expect(e instanceof NetlinkCodecError || e instanceof KernelError).toBe(true);
          }
        }),
      );
    });
  });
});
