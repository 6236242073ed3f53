/**
 * The load generator: worker processes that share the connections (each
 * under the 20,000 open-file limit per process), and the sum of their counts.
 */
import { fileURLToPath } from 'node:url';
import { Histogram } from '../lib/histogram.mjs';
import { sumAccounts } from '../lib/identity.mjs';
import { HOST } from '../lib/net.mjs';
import { Rpc } from '../lib/rpc.mjs';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));
/** Sockets per worker stay below this: 20,000 open files per process, minus headroom. */
export const MAX_SOCKETS_PER_WORKER = 19_000;

/**
 * @typedef {object} LoadSpec
 * @property {string} dialect
 * @property {number[]} ports  connection i goes to ports[⌊i / topics⌋ % ports.length]: each topic's connections take the nodes in turn
 * @property {number} connections
 * @property {number} topics   connection i subscribes to `${prefix}${i % topics}`
 * @property {string} prefix
 * @property {string} [secret] HS256 secret for Herald tokens
 * @property {string[]} [localAddresses]
 */

/**
 * The workers' recoveries (reconnect) summed: acks by `recovered`, connections
 * caught up, when the first worker started and the last connection caught up,
 * and each connection's time from opening to its ack and to caught up; null outside a recovery.
 */
function recoveryOf(parts) {
  const rs = parts.map((p) => p.recovery).filter((r) => r !== null);
  if (rs.length === 0) return null;
  const hist = new Histogram();
  const ackHist = new Histogram();
  const acks = { recovered: 0, notRecovered: 0, none: 0 };
  for (const r of rs) {
    hist.add(r.hist);
    ackHist.add(r.ackHist);
    for (const k of Object.keys(acks)) acks[k] += r.acks[k];
  }
  return {
    step: rs[0].step,
    acks,
    caughtUp: rs.reduce((n, r) => n + r.caughtUp, 0),
    startedUs: Math.min(...rs.map((r) => r.startedUs)),
    lastCaughtUpUs: Math.max(...rs.map((r) => r.lastCaughtUpUs)),
    hist,
    ackHist,
  };
}

/**
 * @param {import('../lib/processes.mjs').ProcessSet} procs
 * @param {LoadSpec} spec
 * @param {number} workers
 */
export async function startLoadgen(procs, spec, workers) {
  const count = Math.max(workers, Math.ceil(spec.connections / MAX_SOCKETS_PER_WORKER));
  const rpcs = [];
  for (let w = 0; w < count; w++) rpcs.push(new Rpc(procs.fork('loadgen', `loadgen-${w}`, WORKER, [], { execArgv: ['--max-old-space-size=2048'] })));
  const per = Math.ceil(spec.connections / count);
  const shares = rpcs.map((_, w) => Math.max(0, Math.min(per, spec.connections - w * per)));
  await Promise.all(rpcs.map((rpc, w) => rpc.call('prepare', { spec: { ...spec, host: HOST, first: w * per, count: shares[w] } }, 120_000)));

  const all = (op, args, timeoutMs) => Promise.all(rpcs.map((rpc) => rpc.call(op, args, timeoutMs)));

  return {
    workers: count,
    /**
     * Connects everything (or `fraction` of each worker's share more); resolves with how many are ready so far, per topic too.
     * @returns {Promise<{ ready: number, failed: number, failures: Record<string, number>, ms: number, readyByTopic: number[] }>}
     */
    async connect(concurrency = 256, timeoutMs = 180_000, fraction = 1) {
      // A fraction of each worker's share at a time (connections opened in batches); 1 = all the rest.
      const parts = await Promise.all(rpcs.map((rpc, w) => rpc.call('connect', { concurrency, count: fraction >= 1 ? undefined : Math.ceil(shares[w] * fraction) }, timeoutMs)));
      const readyByTopic = new Array(spec.topics).fill(0);
      const failures = {};
      for (const p of parts) {
        p.readyByTopic.forEach((n, t) => (readyByTopic[t] += n));
        for (const [k, v] of Object.entries(p.failures)) failures[k] = (failures[k] ?? 0) + v;
      }
      return {
        ready: parts.reduce((s, p) => s + p.ready, 0),
        failed: parts.reduce((s, p) => s + p.failed, 0),
        failures,
        ms: Math.max(...parts.map((p) => p.ms)),
        readyByTopic,
      };
    },
    /** Every connection goes away at once (RST); resolves with how many were closed. */
    async disconnect() {
      const parts = await all('disconnect', {}, 60_000);
      return { closed: parts.reduce((n, p) => n + p.closed, 0), ready: parts.reduce((n, p) => n + p.ready, 0) };
    },
    /**
     * Every connection again at once, each resuming with `since` from what it had; the step `step`
     * (what was published meanwhile, `expectation`) is accounted on them from before they open.
     * @param {number} step
     * @param {import('../lib/identity.mjs').Expectation} expectation
     * @param {number} [concurrency] connects in progress per worker (default: all of them)
     */
    async reconnect(step, expectation, concurrency, timeoutMs = 180_000) {
      const parts = await all('reconnect', { step, expectation, concurrency }, timeoutMs);
      const failures = {};
      for (const p of parts) for (const [k, v] of Object.entries(p.failures)) failures[k] = (failures[k] ?? 0) + v;
      return { ready: parts.reduce((n, p) => n + p.ready, 0), failed: parts.reduce((n, p) => n + p.newlyFailed, 0), failures, ms: Math.max(...parts.map((p) => p.ms)) };
    },
    /** A new step: the workers count only frames tagged with it. */
    begin: (step) => all('begin', { step }),
    /** @param {import('../lib/identity.mjs').Expectation} expectation */
    expect: (expectation) => all('expect', { expectation }),
    /** The step's accounting (identity.mjs) and counts, summed over the workers. */
    async stats() {
      const parts = await all('stats');
      const hist = new Histogram();
      const sum = { ...sumAccounts(parts), reads: 0, ready: 0, open: 0, firstUs: 0, lastUs: 0, closes: {}, others: {}, recovery: recoveryOf(parts) };
      for (const p of parts) {
        hist.add(p.hist);
        sum.reads += p.reads;
        sum.ready += p.ready;
        sum.open += p.open;
        if (p.firstUs > 0 && (sum.firstUs === 0 || p.firstUs < sum.firstUs)) sum.firstUs = p.firstUs;
        if (p.lastUs > sum.lastUs) sum.lastUs = p.lastUs;
        for (const [k, v] of Object.entries(p.closes)) sum.closes[k] = (sum.closes[k] ?? 0) + v;
        for (const [k, v] of Object.entries(p.others)) sum.others[k] = (sum.others[k] ?? 0) + v;
      }
      return { ...sum, hist };
    },
    close: () => all('close'),
  };
}
