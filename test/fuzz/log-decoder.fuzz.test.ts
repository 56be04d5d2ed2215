/**
 * Fuzz target 1: the log decoder. Arbitrary bytes, and mutations (flips, truncations,
 * insertions, deletions) of a real log: decoding returns records or throws LogCorruptError /
 * LogFormatError, nothing else; every whole record before the damage is returned intact, or the
 * error points at the damaged record (never at an earlier, intact one).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { LogCorruptError, LogFormatError, MemoryLogMedium, MemoryLogStore } from '../../src/log/index.js';
import { decodeLog, type DecodedLog } from '../../src/log/codec.js';
import { memoryWorld } from '../support/memory-world.js';
import { FUZZ_SECONDS, fuzz, mutate, mutationArb, onlyTyped } from './budget.js';

const TYPED = [LogCorruptError, LogFormatError] as const;
let real: Buffer;
let orig: DecodedLog;

beforeAll(async () => {
  const w = memoryWorld();
  const store = await w.open();
  store.createEndpoint({ idx: 0, mac: '02:00:00:00:00:01' });
  store.createEndpoint({ idx: 1, mac: '02:00:00:00:00:02' });
  await store.hotAttach('ep0');
  await store.attach('ep1').catch(() => undefined); // no eth1: a failed cold attach, rolled back
  await store.hotDetach('ep0');
  await store.close();
  real = Buffer.from(w.medium.log);
  orig = decodeLog(real, { file: 'real' });
});

function decode(bytes: Buffer): DecodedLog | Error {
  try {
    return decodeLog(bytes, { file: 'fuzz' });
  } catch (e) {
    return onlyTyped(e, TYPED, 'decodeLog');
  }
}

function readViaStore(bytes: Buffer): Error | number {
  const medium = new MemoryLogMedium();
  medium.log = bytes;
  try {
    const s = MemoryLogStore.open(medium, { readOnly: true });
    return s.read().records.length;
  } catch (e) {
    return onlyTyped(e, TYPED, 'MemoryLogStore.open/read');
  }
}

describe(`fuzz: log decoder (${FUZZ_SECONDS} s)`, () => {
  it('arbitrary bytes: only typed errors escape', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      // a valid header followed by garbage
      fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.concat([real.subarray(0, orig.headerEnd), Buffer.from(a)])),
    );
    await fuzz(
      'log-decoder/bytes',
      fc.property(bytes, (b) => {
        decode(b);
        readViaStore(b);
      }),
      0.3,
    );
  });

  it('mutated real logs: committed records before the damage survive, or a typed error names the damaged record', async () => {
    await fuzz(
      'log-decoder/mutations',
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (ms) => {
        let bytes = real;
        let damage = Infinity;
        for (const m of ms) {
          const r = mutate(bytes, m);
          bytes = r.bytes;
          damage = Math.min(damage, r.at);
        }
        const intact = orig.records.filter((r) => r.offset + r.length <= damage);
        const got = decode(bytes);
        readViaStore(bytes);
        if (got instanceof Error) {
          if (damage >= orig.headerEnd) {
            expect(got, `header intact, yet: ${got.message}`).toBeInstanceOf(LogCorruptError);
            const last = intact[intact.length - 1];
            const lastIntactEnd = last ? last.offset + last.length : orig.headerEnd;
            expect((got as LogCorruptError).offset, `blamed an intact record: ${got.message}`).toBeGreaterThanOrEqual(lastIntactEnd);
          }
          return;
        }
        expect(got.records.length).toBeGreaterThanOrEqual(intact.length);
        for (let i = 0; i < intact.length; i++) expect(got.records[i]!.record).toEqual(intact[i]!.record);
      }),
      0.5,
    );
  });

  it('truncation anywhere after the header is a torn tail, never an error', async () => {
    await fuzz(
      'log-decoder/truncation',
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (n) => {
        const cut = orig.headerEnd + (n % (real.length - orig.headerEnd + 1));
        const got = decodeLog(real.subarray(0, cut), { file: 'cut' });
        const whole = orig.records.filter((r) => r.offset + r.length <= cut);
        expect(got.records.map((r) => r.record)).toEqual(whole.map((r) => r.record));
        expect(got.torn === null).toBe(whole.length === 0 ? cut === orig.headerEnd : whole[whole.length - 1]!.offset + whole[whole.length - 1]!.length === cut);
      }),
      0.2,
    );
  });
});
