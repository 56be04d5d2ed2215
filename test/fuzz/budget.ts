/**
 * The budget of a fuzz target: run for FUZZ_SECONDS (default 20) with FUZZ_SEED (default a fixed
 * seed), as many runs as fit. A failure reports the seed, the path and the shrunk counterexample;
 * turn it into a plain regression test under test/fuzz/regressions.test.ts.
 */
import fc from 'fast-check';

export const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261128);
if (!Number.isFinite(FUZZ_SECONDS) || FUZZ_SECONDS <= 0) throw new Error(`FUZZ_SECONDS must be a positive number, got ${process.env.FUZZ_SECONDS}`);
if (!Number.isInteger(FUZZ_SEED)) throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`);

/** Run `property` within the budget (a `share` of it); throws fast-check's report on failure. */
export async function fuzz<T>(name: string, property: fc.IProperty<T> | fc.IAsyncProperty<T>, share = 1): Promise<number> {
  const ms = Math.max(1, Math.round(FUZZ_SECONDS * 1000 * share));
  const out = await fc.check(property as fc.IAsyncProperty<T>, {
    seed: FUZZ_SEED,
    numRuns: Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: ms,
    markInterruptAsFailure: false,
  });
  if (out.failed) throw new Error(`fuzz target ${name} failed:\n${fc.defaultReportMessage(out)}`);
  console.log(`fuzz ${name}: ${out.numRuns} runs in ${ms} ms (seed ${FUZZ_SEED})`);
  if (out.numRuns < 1) throw new Error(`fuzz target ${name} ran no case`);
  return out.numRuns;
}

/** A byte-level mutation of a buffer. */
export type Mutation =
  | { k: 'flip'; at: number; xor: number }
  | { k: 'set'; at: number; byte: number }
  | { k: 'truncate'; at: number }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'delete'; at: number; len: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ k: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x0a, 0x20, 0x22, 0x7b, 0x7d, 0x30, 0x61, 0x00, 0xff) }),
  fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ k: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ k: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
);

/** Apply a mutation (positions wrap around the buffer). Returns the bytes and the first changed offset. */
export function mutate(buf: Buffer, m: Mutation): { bytes: Buffer; at: number } {
  const at = buf.length === 0 ? 0 : m.at % (m.k === 'insert' || m.k === 'truncate' ? buf.length + 1 : buf.length);
  switch (m.k) {
    case 'flip': {
      const b = Buffer.from(buf);
      if (b.length) b[at] = b[at]! ^ m.xor;
      return { bytes: b, at };
    }
    case 'set': {
      const b = Buffer.from(buf);
      if (b.length) b[at] = m.byte;
      return { bytes: b, at };
    }
    case 'truncate':
      return { bytes: buf.subarray(0, at), at };
    case 'insert':
      return { bytes: Buffer.concat([buf.subarray(0, at), Buffer.from(m.bytes), buf.subarray(at)]), at };
    case 'delete':
      return { bytes: Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.len)]), at };
  }
}

/** Rethrow anything that is not one of the documented error types. */
export function onlyTyped(e: unknown, allowed: ReadonlyArray<new (...a: never[]) => Error>, where: string): Error {
  if (allowed.some((c) => e instanceof c)) return e as Error;
  throw new Error(`${where}: an undocumented error escaped: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
}
