/**
 * Encodes one rtnetlink request in place into a reusable buffer (no per-call allocation):
 * nlmsghdr, ifinfomsg, rtattrs (the rtattr layout is the codec's {@link putAttrHeader}). The hot path of get/set calls writes ~50 bytes here and hands
 * the same buffer to sendto().
 */
import { NLMSG_HDRLEN, putAttrHeader, putNlHeader } from './rtnetlink-codec.js';

const put32 = (b: Buffer, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
};

/**
 * A reusable request buffer. Call {@link begin}, add the body and attributes, then
 * {@link finish}. Fields are stored byte by byte (little-endian hosts, as the rest of the
 * codec assumes): cheaper than Buffer's checked write methods on this hot path.
 */
export class NlWriter {
  /** The buffer the request is written into (valid up to the length {@link finish} returns). */
  readonly buf: Buffer;
  private len = 0;
  private type = 0;
  private flags = 0;
  private seq = 0;

  constructor(size = 1024) {
    this.buf = Buffer.alloc(size);
  }

  /** Start a message: nlmsghdr with `type`, `flags`, `seq` (written by {@link finish}). */
  begin(type: number, flags: number, seq: number): this {
    this.type = type;
    this.flags = flags;
    this.seq = seq;
    this.len = NLMSG_HDRLEN;
    return this;
  }

  /** ifinfomsg: family 0, type 0, index, flags, change. */
  ifinfomsg(index = 0, flags = 0, change = 0): this {
    this.room(16);
    const b = this.buf;
    const o = this.len;
    put32(b, o, 0);
    put32(b, o + 4, index);
    put32(b, o + 8, flags);
    put32(b, o + 12, change);
    this.len += 16;
    return this;
  }

  /** A NUL-terminated string attribute. */
  str(type: number, s: string): this {
    let ascii = s.length <= 64;
    for (let i = 0; i < s.length && ascii; i++) ascii = s.charCodeAt(i) < 0x80;
    const n = ascii ? s.length : Buffer.byteLength(s);
    const o = this.attrHeader(type, n + 1);
    if (ascii) for (let i = 0; i < n; i++) this.buf[o + i] = s.charCodeAt(i);
    else this.buf.write(s, o, n, 'utf8');
    this.buf[o + n] = 0;
    return this.pad(4 + n + 1);
  }

  /** A u32 attribute (host order). */
  u32(type: number, v: number): this {
    const o = this.attrHeader(type, 4);
    put32(this.buf, o, v);
    return this.pad(8);
  }

  /** An attribute with raw bytes. */
  bytes(type: number, data: Buffer): this {
    const o = this.attrHeader(type, data.length);
    data.copy(this.buf, o);
    return this.pad(4 + data.length);
  }

  /** Write the header (the codec's {@link putNlHeader}); returns the message length. */
  finish(): number {
    putNlHeader(this.buf, 0, this.len, this.type, this.flags, this.seq);
    return this.len;
  }

  /** A copy of the finished message (for handing to another thread). */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.finish()));
  }

  private attrHeader(type: number, dataLen: number): number {
    this.room(4 + dataLen + 3);
    return putAttrHeader(this.buf, this.len, type, dataLen);
  }

  /** Advance past an attribute of `attrLen` bytes (its padding was zeroed by the header). */
  private pad(attrLen: number): this {
    this.len = (this.len + attrLen + 3) & ~3;
    return this;
  }

  private room(n: number): void {
    if (this.len + n > this.buf.length) throw new RangeError(`netlink request over ${this.buf.length} bytes`);
  }
}
