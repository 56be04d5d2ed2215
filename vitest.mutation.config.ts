import { defineConfig } from 'vitest/config';

/**
 * The fast, in-memory tests that `npm run mutate` (StrykerJS) runs against each mutant of
 * machines/, src/runtime/ and src/persist/: no root, no kernel, no QEMU, no built CLI. The graph
 * enumeration and the model-based property run with smaller budgets (TAPSTATE_MUTATION,
 * FC_NUM_RUNS) so that every mutant's run stays short; `npm test` runs them in full.
 */
export default defineConfig({
  test: {
    include: [
      'test/machines/**/*.test.ts',
      'test/runtime/**/*.test.ts',
      'test/properties/**/*.test.ts',
      'test/persist/**/*.test.ts',
      'test/adapters/faults.test.ts',
      'test/adapters/memory/**/*.test.ts',
      'test/diagram/**/*.test.ts',
      'test/docs/state-chart.test.ts',
    ],
    env: { TAPSTATE_MUTATION: '1', FC_NUM_RUNS: '20' },
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
