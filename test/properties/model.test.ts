import { describe, it } from 'vitest';
import fc from 'fast-check';
import { modelProperty } from './model.js';

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300);
const seed = Number(process.env.FC_SEED ?? 20261128);

describe('model-based: commands × faults × crashes, then teardown', () => {
  it(`leaves no tap, device, netdev or fd, and live == replay (seed ${seed}, ${numRuns} runs)`, async () => {
    // fast-check prints the seed and the shrunk counterexample on failure
    await fc.assert(modelProperty(), { numRuns, seed, verbose: 1 });
  }, 300_000);
});
