/**
 * Fuzz target 3: the QMP stream parser. Valid message streams split at arbitrary points and
 * merged give the same messages as parsed whole; garbled, oversized and unexpected input only
 * ever yields a QmpStreamError result — the parser never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QmpStreamError, createQmpStream, feedQmpStream, type QmpMessage } from '../../src/qemu/qmp-stream.js';
import { FUZZ_SECONDS, fuzz, mutate, mutationArb } from './budget.js';

const message = fc.oneof(
  fc.constant({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: ['oob'] } }),
  fc.record({ return: fc.jsonValue(), id: fc.string({ maxLength: 6 }) }),
  fc.record({ return: fc.constant({}) }),
  fc.record({ error: fc.record({ class: fc.constantFrom('GenericError', 'DeviceNotFound'), desc: fc.string() }), id: fc.string({ maxLength: 6 }) }),
  fc.record({
    event: fc.constantFrom('DEVICE_DELETED', 'NIC_RX_FILTER_CHANGED', 'SHUTDOWN', 'STOP', 'RESUME', 'UNEXPECTED_THING'),
    data: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })),
    timestamp: fc.record({ seconds: fc.nat(), microseconds: fc.nat({ max: 999_999 }) }),
  }),
);

/** Feed `chunks` until the first error; returns messages and the error. */
function feedAll(chunks: Uint8Array[], maxFrame?: number): { messages: QmpMessage[]; error?: QmpStreamError } {
  let state = createQmpStream(maxFrame);
  const messages: QmpMessage[] = [];
  for (const c of chunks) {
    const r = feedQmpStream(state, c);
    messages.push(...r.messages);
    if (r.error) {
      expect(r.error).toBeInstanceOf(QmpStreamError);
      return { messages, error: r.error };
    }
    state = r.state;
  }
  return { messages };
}

/** Split `buf` at the given cut points. */
function split(buf: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let p = 0;
  for (const c of at) {
    out.push(buf.subarray(p, c));
    p = c;
  }
  out.push(buf.subarray(p));
  return out;
}

describe(`fuzz: QMP stream parser (${FUZZ_SECONDS} s)`, () => {
  it('valid streams: any split or merge gives the same messages', async () => {
    await fuzz(
      'qmp/split-merge',
      fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (msgs, cuts, crlf) => {
        const text = msgs.map((m) => JSON.stringify(m) + (crlf ? '\r\n' : '\n')).join('');
        const buf = Buffer.from(text);
        const whole = feedAll([buf]);
        expect(whole.error).toBeUndefined();
        expect(whole.messages).toHaveLength(msgs.length);
        expect(feedAll(split(buf, cuts))).toEqual(whole);
      }),
      0.35,
    );
  });

  it('garbled and mutated streams: an error result, never a throw', async () => {
    await fuzz(
      'qmp/garbled',
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (msgs, ms, cuts) => {
        let buf: Buffer = Buffer.from(msgs.map((m) => JSON.stringify(m) + "\n").join(""));
        for (const m of ms) buf = mutate(buf, m).bytes;
        feedAll(split(buf, cuts));
      }),
      0.35,
    );
  });

  it('arbitrary bytes and oversized frames: an error result, never a throw', async () => {
    await fuzz(
      'qmp/bytes',
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }), fc.integer({ min: 2, max: 64 }), (chunks, maxFrame) => {
        const r = feedAll(chunks, maxFrame);
        if (r.error?.reason === 'oversized') expect(chunks.some((c) => c.length > 0)).toBe(true);
      }),
      0.3,
    );
  });
});
