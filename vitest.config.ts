import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'sdk/test/**/*.test.ts'],
    globalSetup: ['test/setup/redis.ts'],
    // Every wait inside a test has its own, shorter timeout; these are the outer bounds.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 10_000,
    pool: 'forks',
    reporters: process.env.HERALD_TEST_REPORT ? ['default', ['json', { outputFile: process.env.HERALD_TEST_REPORT }]] : ['default'],
  },
});
