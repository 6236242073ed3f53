/**
 * The systems under test, each a family (herald, uws, socketio, nchan) in a
 * shape (in-memory or through Redis, one node or three over one Redis).
 */
import { startHerald } from './herald.mjs';
import { startNchan, startSocketIo, startUwsBare } from './peers.mjs';

/**
 * @typedef {object} StartContext
 * @property {import('../lib/processes.mjs').ProcessSet} procs
 * @property {string} runName        names profiles and logs
 * @property {number} maxConnections largest number of connections the run opens (nginx limits)
 * @property {string} [profileDir]   set with --profile
 */
/**
 * @typedef {object} Instance  a started target
 * @property {string} dialect
 * @property {number[]} ports          WebSocket endpoints, one per node
 * @property {number[]} [metricsPorts] Herald's /metrics, one per node
 * @property {string} [secret]         HS256 secret for tokens (Herald)
 * @property {import('../lib/processes.mjs').Tracked[]} servers
 * @property {import('../lib/processes.mjs').Tracked} [redis]
 * @property {string} [redisUrl]       the private Redis, when there is one (Herald)
 * @property {import('../publisher/control.mjs').PublishSpec} publish
 * @property {() => Promise<void>} stop
 */
/**
 * @typedef {object} Target
 * @property {string} id
 * @property {string} label
 * @property {'herald' | 'uws' | 'socketio' | 'nchan'} family
 * @property {'memory' | 'redis'} broker
 * @property {number} nodes
 * @property {(ctx: StartContext) => Promise<Instance>} start
 */

/** The history topics of the history targets: `bench.hist.<n>`, the last 1,000 messages for 300 s each. */
export const HISTORY_PREFIX = 'bench.hist.';
export const HISTORY = `${HISTORY_PREFIX}>=1000:300`;

/** @type {Target[]} */
export const TARGETS = [
  { id: 'herald-memory', label: 'Herald (in-memory)', family: 'herald', broker: 'memory', nodes: 1, start: (ctx) => startHerald(ctx, { redis: false, nodes: 1 }) },
  { id: 'herald-redis', label: 'Herald (Redis)', family: 'herald', broker: 'redis', nodes: 1, start: (ctx) => startHerald(ctx, { redis: true, nodes: 1 }) },
  { id: 'herald-redis-3', label: 'Herald ×3 (Redis)', family: 'herald', broker: 'redis', nodes: 3, start: (ctx) => startHerald(ctx, { redis: true, nodes: 3 }) },
  // HERALD_HISTORY covers bench.hist.* only: the same node serves history topics and, outside the pattern, plain ones.
  { id: 'herald-redis-hist', label: 'Herald (Redis, HERALD_HISTORY)', family: 'herald', broker: 'redis', nodes: 1, start: (ctx) => startHerald(ctx, { redis: true, nodes: 1, history: HISTORY }) },
  { id: 'herald-redis-hist-3', label: 'Herald ×3 (Redis, HERALD_HISTORY)', family: 'herald', broker: 'redis', nodes: 3, start: (ctx) => startHerald(ctx, { redis: true, nodes: 3, history: HISTORY }) },
  { id: 'uws-bare', label: 'bare uWebSockets.js', family: 'uws', broker: 'memory', nodes: 1, start: (ctx) => startUwsBare(ctx) },
  { id: 'socketio-memory', label: 'Socket.IO 4 (in-memory)', family: 'socketio', broker: 'memory', nodes: 1, start: (ctx) => startSocketIo(ctx, { redis: false, nodes: 1 }) },
  { id: 'socketio-redis', label: 'Socket.IO 4 (redis-adapter)', family: 'socketio', broker: 'redis', nodes: 1, start: (ctx) => startSocketIo(ctx, { redis: true, nodes: 1 }) },
  { id: 'socketio-redis-3', label: 'Socket.IO 4 ×3 (redis-adapter)', family: 'socketio', broker: 'redis', nodes: 3, start: (ctx) => startSocketIo(ctx, { redis: true, nodes: 3 }) },
  { id: 'nchan-memory', label: 'Nchan (in-memory)', family: 'nchan', broker: 'memory', nodes: 1, start: (ctx) => startNchan(ctx, { redis: false, nodes: 1 }) },
  { id: 'nchan-redis', label: 'Nchan (Redis)', family: 'nchan', broker: 'redis', nodes: 1, start: (ctx) => startNchan(ctx, { redis: true, nodes: 1 }) },
  { id: 'nchan-redis-3', label: 'Nchan ×3 (Redis)', family: 'nchan', broker: 'redis', nodes: 3, start: (ctx) => startNchan(ctx, { redis: true, nodes: 3 }) },
];

/** @param {string} id */
export function target(id) {
  const t = TARGETS.find((x) => x.id === id);
  if (!t) throw new Error(`unknown target ${id}`);
  return t;
}
