#!/usr/bin/env node
/**
 * `npm run bench` = `npm run build && node bench/run.mjs`: the whole suite at
 * full scale (about 30 minutes on 2 cores with the history scenarios), results in
 * bench/results/<date>.json, report in docs/benchmarks.md with charts in
 * docs/benchmarks/. Options: see bench/options.mjs (`--help`). Every process
 * it starts is killed when it ends, fails, or is interrupted.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runSuite } from './harness.mjs';
import { ProcessSet } from './lib/processes.mjs';
import { parseArgs } from './options.mjs';
import { computeBudgets } from './report/budgets.mjs';
import { writeReport } from './report/markdown.mjs';

const HELP = readFileSync(new URL('./options.mjs', import.meta.url), 'utf8').split('*/')[0].replace(/^\/\*\*?|^ \* ?/gm, '');

const procs = new ProcessSet();
let stopping = false;

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(HELP);
    return;
  }
  if (options.report) {
    const results = JSON.parse(readFileSync(options.report, 'utf8'));
    // The budgets are computed again from the measurements: a corrected budget applies to old runs too.
    results.budgets = computeBudgets(results);
    const written = await writeReport(results, options.doc, options.chartsDir, relative(process.cwd(), options.report));
    process.stdout.write(`report: ${written.join(', ')}\n`);
    return;
  }

  const abort = async (why, code) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nbench: ${why}; stopping every process it started\n`);
    await procs.stopAll().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void abort('interrupted', 130));
  process.on('SIGTERM', () => void abort('terminated', 143));
  process.on('exit', () => procs.killAllSync());
  const watchdog = setTimeout(() => void abort(`still running after --max-minutes ${options.maxMinutes}`, 1), options.maxMinutes * 60_000);
  watchdog.unref();

  mkdirSync(options.resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = join(options.resultsDir, `${stamp}.json`);
  const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const save = (results) => writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

  const results = await runSuite(options, { procs, command, onProgress: save });
  // Interrupted: abort() is stopping everything and exits; the partial results of finished scenarios are saved.
  if (stopping) return;
  save(results);
  process.stdout.write(`\nresults: ${relative(process.cwd(), file)}\n`);
  if (options.doc) {
    const written = await writeReport(results, options.doc, options.chartsDir, relative(process.cwd(), file));
    process.stdout.write(`report: ${written.map((f) => relative(process.cwd(), f)).join(', ')}\n`);
  }
  for (const b of results.budgets) process.stdout.write(`budget ${b.met === true ? 'MET ' : b.met === false ? 'MISS' : 'n/a '} ${b.name}: ${b.measuredText}\n`);
  clearTimeout(watchdog);
  await procs.stopAll();
}

main().catch(async (error) => {
  process.stderr.write(`bench: ${error.stack ?? error}\n`);
  await procs.stopAll().catch(() => undefined);
  process.exit(1);
});
