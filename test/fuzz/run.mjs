#!/usr/bin/env node
/**
 * `npm run fuzz`: the fuzz suite at full length (HERALD_FUZZ=full), then one summary of every target —
 * cases, seed, outcomes by code, RSS and descriptors of the live nodes. Extra arguments go to vitest
 * (e.g. `npm run fuzz -- test/fuzz/live-redis.test.ts`). Exits with vitest's status.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'herald-fuzz-'));
const args = process.argv.slice(2);
const started = Date.now();
const run = spawnSync('npx', ['vitest', 'run', ...(args.length > 0 ? args : ['test/fuzz'])], {
  stdio: 'inherit',
  env: { ...process.env, HERALD_FUZZ: process.env.HERALD_FUZZ ?? 'full', HERALD_FUZZ_REPORT_DIR: dir },
});

const reports = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
  .sort((a, b) => a.target.localeCompare(b.target));
rmSync(dir, { recursive: true, force: true });

let total = 0;
const lines = ['', `== fuzz summary (${process.env.HERALD_FUZZ ?? 'full'}, ${Math.round((Date.now() - started) / 1000)} s) ==`];
for (const r of reports) {
  total += r.cases;
  const extra = Object.entries(r.extra).map(([k, v]) => `${k}=${v}`).join(' ');
  lines.push(`${r.target.padEnd(18)} ${String(r.cases).padStart(8)} cases  seed ${r.seed}${extra === '' ? '' : `  ${extra}`}`);
  const outcomes = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]);
  for (const [outcome, n] of outcomes.slice(0, 14)) lines.push(`    ${String(n).padStart(8)}  ${outcome}`);
  if (outcomes.length > 14) lines.push(`    ${String(outcomes.slice(14).reduce((s, [, n]) => s + n, 0)).padStart(8)}  (${outcomes.length - 14} other outcomes)`);
}
lines.push(`${'total'.padEnd(18)} ${String(total).padStart(8)} cases in ${reports.length} targets; vitest exit status ${run.status}`);
lines.push('Replay a target with HERALD_FUZZ_SEED=<seed> (and HERALD_FUZZ=full for the full-length case list); one live case with HERALD_FUZZ_ONLY=<target>#<index>.');
console.log(lines.join('\n'));
process.exit(run.status ?? 1);
