/**
 * Command line of `node bench/run.mjs` (`npm run bench` = full scale).
 *
 *   --scale F            multiply connection and topic counts (default 1: full size)
 *   --only LIST          scenarios: fanout, topics, connections (alias idle, connect), cluster, history (fan-out on a
 *                        history topic), recovery (the recovery storm; alias storm), churn, smoke
 *   --peers LIST         families: herald, uws, socketio, nchan (default all)
 *   --brokers LIST       memory, redis (default both)
 *   --targets LIST       exact target ids (see bench/targets/index.mjs), instead of --peers/--brokers
 *   --workers N          load-generator processes (default 2; more when a worker would pass 19,000 sockets)
 *   --step-seconds S     length of each fixed-rate step (default 3)
 *   --bursts N           max-rate bursts per fan-out target, the same for every target; the median counts (default 3)
 *   --churn-cycles N     connect/subscribe/disconnect cycles per Herald target in the churn soak (default 100,000; × --scale)
 *   --idle-seconds S     idle window of the connections scenario, before and after connecting (default 10)
 *   --payload BYTES      published payload size (default 100)
 *   --latency-limit-ms M a step whose p99 exceeds this counts as saturated (default 1000)
 *   --source-addresses N spread client sockets over 127.0.0.1..127.0.0.N (default 1)
 *   --profile            run Herald under node --cpu-prof (bench/results/profiles); SIGUSR2 heap snapshots
 *   --profile-dir DIR    where profiles go (default bench/results/profiles)
 *   --install-peers      apt-get install nginx + libnginx-mod-nchan when missing (also when CI=true)
 *   --results-dir DIR    where <date>.json goes (default bench/results)
 *   --doc PATH           markdown report (default docs/benchmarks.md; "" for none)
 *   --charts-dir DIR     SVG charts (default docs/benchmarks)
 *   --report FILE        only regenerate the markdown and charts from a results file
 *   --max-minutes M      hard stop for the whole run (default 60)
 */
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * @typedef {object} Options
 * @property {number} scale
 * @property {string[]} only
 * @property {string[]} peers
 * @property {string[]} brokers
 * @property {string[] | undefined} targets
 * @property {number} workers
 * @property {number} stepSeconds
 * @property {number} bursts
 * @property {number} churnCycles
 * @property {number} idleSeconds
 * @property {number} payloadBytes
 * @property {number} latencyLimitMs
 * @property {string[] | undefined} sourceAddresses
 * @property {boolean} profile
 * @property {string} profileDir
 * @property {boolean} installPeers
 * @property {string} resultsDir
 * @property {string} doc
 * @property {string} chartsDir
 * @property {string | undefined} report
 * @property {number} maxMinutes
 */

export const SCENARIOS = ['fanout', 'topics', 'connections', 'cluster', 'history', 'recovery', 'churn'];
const ALIASES = { idle: 'connections', connect: 'connections', 'connect-storm': 'connections', 'many-topics': 'topics', 'three-nodes': 'cluster', 'history-fanout': 'history', storm: 'recovery', 'recovery-storm': 'recovery', soak: 'churn' };

/** @returns {Options} */
export function defaults() {
  return {
    scale: 1,
    only: SCENARIOS,
    peers: ['herald', 'uws', 'socketio', 'nchan'],
    brokers: ['memory', 'redis'],
    targets: undefined,
    workers: 2,
    stepSeconds: 3,
    bursts: 3,
    churnCycles: 100_000,
    idleSeconds: 10,
    payloadBytes: 100,
    latencyLimitMs: 1000,
    sourceAddresses: undefined,
    profile: false,
    profileDir: `${ROOT}bench/results/profiles`,
    installPeers: process.env.CI === 'true',
    resultsDir: `${ROOT}bench/results`,
    doc: `${ROOT}docs/benchmarks.md`,
    chartsDir: `${ROOT}docs/benchmarks`,
    report: undefined,
    maxMinutes: 60,
  };
}

/** @param {string[]} argv @returns {Options} */
export function parseArgs(argv) {
  const o = defaults();
  const list = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const number = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number`);
      return v;
    };
    switch (flag) {
      case '--scale': o.scale = number(); break;
      case '--only': o.only = [...new Set(list(value()).map((s) => ALIASES[s] ?? s))]; break;
      case '--peers': o.peers = list(value()); break;
      case '--brokers': o.brokers = list(value()); break;
      case '--targets': o.targets = list(value()); break;
      case '--workers': o.workers = Math.round(number()); break;
      case '--step-seconds': o.stepSeconds = number(); break;
      case '--bursts': o.bursts = Math.round(number()); break;
      case '--churn-cycles': o.churnCycles = Math.round(number()); break;
      case '--idle-seconds': o.idleSeconds = number(); break;
      case '--payload': o.payloadBytes = Math.round(number()); break;
      case '--latency-limit-ms': o.latencyLimitMs = number(); break;
      case '--source-addresses': {
        const n = Math.min(250, Math.round(number()));
        o.sourceAddresses = n <= 1 ? undefined : Array.from({ length: n }, (_, k) => `127.0.0.${k + 1}`);
        break;
      }
      case '--profile': o.profile = true; break;
      case '--profile-dir': o.profileDir = value(); break;
      case '--install-peers': o.installPeers = true; break;
      case '--results-dir': o.resultsDir = value(); break;
      case '--doc': o.doc = value(); break;
      case '--charts-dir': o.chartsDir = value(); break;
      case '--report': o.report = value(); break;
      case '--max-minutes': o.maxMinutes = number(); break;
      case '--help': case '-h': o.help = true; break;
      default: throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  for (const s of o.only) if (![...SCENARIOS, 'smoke'].includes(s)) throw new Error(`unknown scenario ${s}; one of ${SCENARIOS.join(', ')}, smoke`);
  return o;
}

/** Scaled count, never below `min`. */
export function scaled(o, n, min = 1) {
  return Math.max(min, Math.round(n * o.scale));
}
