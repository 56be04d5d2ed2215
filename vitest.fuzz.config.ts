import { defineConfig } from 'vitest/config';

/**
 * `npm run fuzz`: the fast-check fuzz targets of test/fuzz/, each for FUZZ_SECONDS (default 20)
 * with FUZZ_SEED (default fixed). Files run in parallel on the available cores.
 */
const seconds = Number(process.env.FUZZ_SECONDS ?? 20);

export default defineConfig({
  test: {
    include: ['test/fuzz/**/*.fuzz.test.ts'],
    testTimeout: (seconds + 120) * 1000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
