/**
 * Fuzz target 5: the machine with every adapter fault and crash point — the model-based property
 * of test/properties/model.ts (commands × adapter faults × crashes at any adapter call and any
 * log record, then teardown: nothing leaks, live == replay), at the fuzz budget.
 */
import { describe, it } from 'vitest';
import { modelProperty } from '../properties/model.js';
import { FUZZ_SECONDS, fuzz } from './budget.js';

describe(`fuzz: endpoint machine × faults × crashes (${FUZZ_SECONDS} s)`, () => {
  it('leaves nothing behind and live state equals the replay of the log', async () => {
    await fuzz('model', modelProperty());
  });
});
