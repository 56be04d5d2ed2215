import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The slow, broad tests (they cover nearly every mutant): run after the fast, targeted ones, so
 * that a mutant a unit test kills is killed before they start (Stryker runs vitest with bail 1).
 */
const SLOW = ['test/machines/graph.test.ts', 'test/properties/model.test.ts'];
/** Runs first: a mutant that breaks a module at load time fails it at once (see the file). */
const FIRST = 'test/mutation/modules-load.test.ts';

class FastFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => (f.moduleId.endsWith(FIRST) ? -2 : SLOW.findIndex((s) => f.moduleId.endsWith(s)));
    return [...files].sort((a, b) => rank(a) - rank(b) || (a.moduleId < b.moduleId ? -1 : a.moduleId > b.moduleId ? 1 : 0));
  }
}

/**
 * The fast, in-memory tests that `npm run mutate` (StrykerJS) runs against each mutant of
 * machines/ and src/runtime/ (src/persist/ with `npm run mutate -- --persist`): no root, no
 * kernel, no QEMU, no built CLI. The graph enumeration and the model-based property run with
 * smaller budgets (TAPSTATE_MUTATION, FC_NUM_RUNS) so that every mutant's run stays short;
 * `npm test` runs them in full. One module graph per test run (threads, not isolated: the tests
 * keep no module state) and the slow tests last (FastFirst).
 */
export default defineConfig({
  test: {
    include: [
      FIRST,
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
    pool: 'threads',
    isolate: false,
    sequence: { sequencer: FastFirst },
  },
});
