/**
 * `npm run mutate`: StrykerJS mutates the pure modules below and runs the unit
 * tests (vitest.unit.config.ts) against each mutant. Slow, so not part of
 * .ci/run; the report lands in reports/mutation/. A module is added with one
 * line in MODULES.
 */
const MODULES = [
  'src/protocol/topics.ts',
  'src/protocol/frames.ts',
  'src/protocol/json.ts',
  'src/auth/grants.ts',
  'src/auth/jws.ts',
  'src/broker/envelope.ts',
  'src/lifecycle/rate-limit.ts',
  'src/lifecycle/expiry.ts',
  'src/config.ts',
  'src/history/recovery.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // Every unit test, not only those vitest's import graph calls related: the catalogue and README checks cover config.ts too.
  vitest: { configFile: 'vitest.unit.config.ts', related: false },
  mutate: MODULES,
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 10_000,
  // The sandbox copy needs only what the unit tests read.
  ignorePatterns: ['bench', 'helm', 'deploy', 'dist', 'sdk/dist', 'reports', '*.cpuprofile'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
