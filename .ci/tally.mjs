#!/usr/bin/env node
// The tally of a vitest JSON report (HERALD_TEST_REPORT): each skipped test
// with the reason it was skipped for (test/helpers/skip.ts records it in the
// test's meta), then, as the very last line, "N passed, M failed" or
// "N passed, M failed, K skipped", which CI parses. Exits 1 when anything
// failed, so that .ci/run fails with it.
//
// A file that fails to load has no failed test in it: it counts as one
// failure, so that it cannot hide. Under CI=true a skip without a reason
// counts as a failure too: a skipped check must never look like a passed one.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const [reportPath] = process.argv.slice(2);
if (reportPath === undefined) {
  console.error('usage: node .ci/tally.mjs <vitest-report.json>');
  process.exit(2);
}
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
const ci = process.env.CI === 'true';
const root = process.cwd();

let passed = 0;
let failed = 0;
const skipped = [];
const brokenFiles = [];
for (const file of report.testResults ?? []) {
  const tests = file.assertionResults ?? [];
  if (file.status === 'failed' && !tests.some((t) => t.status === 'failed')) brokenFiles.push(relative(root, file.name));
  for (const test of tests) {
    if (test.status === 'passed') passed++;
    else if (test.status === 'failed') failed++;
    else skipped.push({ file: relative(root, file.name), name: test.fullName, reason: test.meta?.skipReason });
  }
}

const unexplained = skipped.filter((s) => s.reason === undefined);
if (skipped.length > 0) {
  console.log(`== skipped: ${skipped.length}`);
  for (const s of skipped) console.log(`skipped ${s.file} > ${s.name}: ${s.reason ?? 'NO REASON GIVEN (declare the skip with unless() or skipWhen() from test/helpers/skip.ts)'}`);
}
for (const file of brokenFiles) console.log(`failed to load: ${file}`);
failed += brokenFiles.length;
let skippedCount = skipped.length;
if (ci && unexplained.length > 0) {
  console.log(`${unexplained.length} skipped without a reason: counted as failed, not skipped, under CI=true`);
  failed += unexplained.length;
  skippedCount -= unexplained.length;
}
console.log(`${passed} passed, ${failed} failed${skippedCount > 0 ? `, ${skippedCount} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
