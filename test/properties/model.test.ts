import { describe, it } from 'vitest';
import fc from 'fast-check';
import { modelProperty } from './model.js';

/** CI: a fixed seed. Random seeds on request: `npm run model -- --runs N [--seed S]` (test/properties/soak.ts). */
const numRuns = Number(process.env.FC_NUM_RUNS ?? 300);
const seed = Number(process.env.FC_SEED ?? 20261128);
if (!Number.isSafeInteger(numRuns) || numRuns < 1) throw new Error(`FC_NUM_RUNS must be a positive integer, got ${process.env.FC_NUM_RUNS}`);
if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${process.env.FC_SEED}`);

describe('model-based: commands × faults × crashes, then teardown', () => {
  it(`leaves no tap, device, netdev or fd, and live == replay (seed ${seed}, ${numRuns} runs)`, async () => {
    // fast-check prints the seed and the shrunk counterexample on failure
    await fc.assert(modelProperty(), { numRuns, seed, verbose: 1 });
  }, Math.max(300_000, numRuns * 1_000));
});
