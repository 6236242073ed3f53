/**
 * The benchmark suite as a library: runs the selected scenarios against the
 * selected targets and returns the results object written to
 * bench/results/<date>.json (fields documented in docs/benchmarks.md and
 * bench/results.schema.json). Used by bench/run.mjs and by the smoke test.
 */
import { existsSync } from 'node:fs';
import { ProcessSet } from './lib/processes.mjs';
import { machine } from './lib/machine.mjs';
import { MAX_SOCKETS_PER_WORKER } from './client/loadgen.mjs';
import { MAIN } from './targets/herald.mjs';
import { ensureNchan } from './targets/peers.mjs';
import { computeBudgets } from './report/budgets.mjs';
import * as churn from './scenarios/churn.mjs';
import * as cluster from './scenarios/cluster.mjs';
import * as connections from './scenarios/connections.mjs';
import * as fanout from './scenarios/fanout.mjs';
import * as history from './scenarios/history.mjs';
import * as recovery from './scenarios/recovery.mjs';
import * as smoke from './scenarios/smoke.mjs';
import * as topics from './scenarios/topics.mjs';

/** 2: deliveries identified (delivered = distinct accepted messages; duplicates, order, topic, strays counted apart). */
export const RESULTS_VERSION = 2;
const SCENARIOS = { fanout, topics, connections, cluster, history, recovery, churn, smoke };

/**
 * @param {import('./options.mjs').Options} options
 * @param {{ log?: (line: string) => void, procs?: ProcessSet, command?: string, onProgress?: (results: any) => void }} [hooks]
 */
export async function runSuite(options, hooks = {}) {
  const log = hooks.log ?? ((line) => process.stdout.write(`${line}\n`));
  const procs = hooks.procs ?? new ProcessSet();
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run bench runs npm run build)`);

  /** @type {Record<string, string>} */
  const unavailable = {};
  const wantsNchan = !options.only.every((s) => s === 'smoke') && (options.targets ? options.targets.some((t) => t.startsWith('nchan')) : options.peers.includes('nchan'));
  if (wantsNchan) {
    const reason = ensureNchan(options.installPeers, log);
    if (reason) {
      unavailable.nchan = reason;
      log(`Nchan peer skipped: ${reason}`);
    }
  }

  const results = {
    version: RESULTS_VERSION,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    command: hooks.command ?? null,
    options: { ...options },
    machine: machine(),
    limits: {
      openFilesPerProcess: 20_000,
      socketsPerLoadgenWorker: MAX_SOCKETS_PER_WORKER,
      note: 'At most 20,000 open files per process (hard limit): single-node servers hold at most 19,500 connections; load-generator connections are split over worker processes of fewer than 19,000 sockets each.',
    },
    unavailable,
    scenarios: {},
    budgets: [],
  };
  const env = { procs, options, log, unavailable };
  try {
    for (const id of options.only) {
      const scenario = SCENARIOS[id];
      const started = Date.now();
      results.scenarios[id] = await scenario.run(env);
      results.scenarios[id].seconds = Math.round((Date.now() - started) / 1000);
      hooks.onProgress?.(results);
    }
  } finally {
    if (!hooks.procs) await procs.stopAll();
  }
  results.finishedAt = new Date().toISOString();
  results.budgets = computeBudgets(results);
  return results;
}
