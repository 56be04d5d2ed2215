import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/fuzz/**', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests that touch the kernel or QEMU create their own uniquely named resources;
    // files run in parallel on the 2 cores.
    pool: 'forks',
  },
});
