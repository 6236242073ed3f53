/**
 * The unit tests alone: pure modules, no Redis, no sockets. Stryker runs its
 * mutants against this (stryker.config.json); `npx vitest run --config
 * vitest.unit.config.ts` is also the quickest whole-unit run.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 10_000,
  },
});
