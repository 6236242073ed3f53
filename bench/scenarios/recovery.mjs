/**
 * Recovery storm: 10,000 clients (× --scale) over 100 history topics come
 * back at once, each 50 messages behind, on one Herald node and on three
 * nodes over one Redis (clients spread over the nodes).
 *
 *   1. Every client connects and subscribes (plain), the warm-up gives every
 *      topic a message; each client keeps its ack's epoch and the offset of
 *      the last frame it received (what an SDK keeps).
 *   2. Every client goes away at once (RST); the harness waits until every
 *      node has released the topics (herald_connections and herald_topics at
 *      0 on /metrics, no topic channel subscribed in Redis), so that the
 *      storm meets nodes that hold nothing.
 *   3. 50 messages per topic are published (HTTP, round-robin over the nodes).
 *   4. Every client reconnects at once with since {offset, epoch}. One step:
 *      every client must be acknowledged recovered:true and receive exactly
 *      its topic's 50 messages, in order, once, the offsets following its
 *      `since` (identity.mjs); the time runs from the reconnect to the moment
 *      the last client has its 50th message.
 *   5. Then live messages (a burst of 5 per topic), identified the same way,
 *      the offsets still following on.
 *
 * History reads during the storm, three ways: Herald's own
 * herald_history_reads_total per node (recovery windows and gap fills), the
 * herald_1_read calls Redis executed per topic (MONITOR, which also separates
 * the nodes' probes), and INFO commandstats' cmdstat_fcall calls less the
 * other function calls MONITOR saw. Budget: at most READS_BUDGET per topic per
 * node, whatever the number of clients (reads are shared per topic).
 */
import { commandCalls, perNode, scrape, subscribedChannels, watchFunctionCalls } from '../lib/metrics.mjs';
import { sleep } from '../lib/net.mjs';
import { scaled } from '../options.mjs';
import { HISTORY_PREFIX } from '../targets/index.mjs';
import { describeStep, eachTarget } from './common.mjs';
import { round } from './session.mjs';

export const TARGET_IDS = ['herald-redis-hist', 'herald-redis-hist-3'];
export const CLIENTS = 10_000;
export const TOPICS = 100;
/** Messages each client misses while away (below HERALD_HISTORY_MAX_RECOVERY's default of 300 and the history size). */
export const MISSED = 50;
/** Live messages per topic after the storm. */
const LIVE = 5;
/** History reads per topic per node the storm may cost. */
export const READS_BUDGET = 3;
/** How long the nodes may take to release every topic after the clients left (linger 1 s). */
const RELEASE_TIMEOUT_MS = 15_000;

/**
 * Polls until no node holds a connection or a topic: every node's gauges at 0, and no history topic's
 * channel subscribed in Redis (a node keeps a topic about a second after its last subscriber left).
 * @returns {Promise<{ released: boolean, seconds: number }>}
 */
async function released(ports, redisUrl) {
  const t0 = Date.now();
  for (;;) {
    const [conns, topics, channels] = await Promise.all([perNode(ports, 'herald_connections'), perNode(ports, 'herald_topics'), subscribedChannels(redisUrl, `herald:${HISTORY_PREFIX}*`)]);
    if ([...conns, ...topics, channels].every((v) => v === 0)) return { released: true, seconds: round((Date.now() - t0) / 1000, 1) };
    if (Date.now() - t0 > RELEASE_TIMEOUT_MS) return { released: false, seconds: round((Date.now() - t0) / 1000, 1) };
    await sleep(200);
  }
}

const delta = (after, before) => after.map((v, i) => v - before[i]);

/**
 * The counters the storm is judged by, one scrape per node (prom-client's
 * event-loop delay statistics restart at every scrape: the one after the storm
 * gives its largest delay).
 * @param {number[]} ports
 */
async function counters(ports) {
  const scrapes = await Promise.all(ports.map((port) => scrape(port)));
  const of = (name, labels) => scrapes.map((m) => m?.sum(name, labels) ?? NaN);
  return {
    reads: of('herald_history_reads_total'),
    recovered: of('herald_history_recoveries_total', 'outcome="recovered"'),
    replayed: of('herald_history_replayed_messages_total', 'by="client"'),
    reconnects: of('herald_broker_reconnects_total'),
    lagMaxMs: of('nodejs_eventloop_lag_max_seconds').map((v) => round(v * 1000)),
  };
}

/** @param {any} env */
export async function run(env, ids = TARGET_IDS, base = { clients: CLIENTS, topics: TOPICS }) {
  const o = env.options;
  const clients = scaled(o, base.clients, 10);
  const topics = Math.min(clients, scaled(o, base.topics, 1));
  env.log(`recovery storm: ${clients} clients over ${topics} history topics, ${MISSED} messages behind`);
  const runs = await eachTarget(env, 'recovery', ids, () => ({ connections: clients, topics, prefix: HISTORY_PREFIX }), async (session, record) => {
    const { instance } = session;
    const ports = instance.metricsPorts ?? [];
    if (ports.length !== instance.ports.length || !instance.redisUrl) throw new Error('the recovery storm needs Herald through Redis with a metrics port per node');
    record.warmup = await session.warm();

    const away = await session.disconnect();
    const release = await released(ports, instance.redisUrl);
    env.log(`    ${away.closed} clients gone; topics ${release.released ? '' : 'NOT '}released by every node after ${release.seconds} s`);

    /** @type {any} */
    const before = {};
    let monitor;
    const storm = await session.recover((step) => session.publisher.burst(step, MISSED * topics, 30_000, 64), {
      between: async () => {
        before.counters = await counters(ports);
        before.fcall = (await commandCalls(instance.redisUrl)).fcall ?? 0;
        // Started after the commandstats snapshot and stopped before the next: what it sees lies between them.
        monitor = await watchFunctionCalls(instance.redisUrl);
      },
    });
    monitor?.stop();
    const fcall = ((await commandCalls(instance.redisUrl)).fcall ?? 0) - before.fcall;
    const after = await counters(ports);
    const [reads, recovered, replayed, reconnects] = ['reads', 'recovered', 'replayed', 'reconnects'].map((k) => delta(after[k], before.counters[k]));
    const seen = monitor?.totals() ?? {};
    const readsByTopic = [...(monitor?.calls('herald_1_read', HISTORY_PREFIX) ?? new Map()).values()];
    const readsSeen = seen.herald_1_read ?? 0;
    const otherCalls = Object.entries(seen).reduce((n, [fn, c]) => (fn === 'herald_1_read' ? n : n + c), 0);
    const nodes = instance.ports.length;
    const r = storm.recovery;
    const everyone = r !== null && r.caughtUp === clients;
    record.recovery = {
      clients,
      topics,
      nodes,
      missedPerClient: MISSED,
      gone: away.closed,
      released: release,
      published: storm.step.publish.accepted,
      reconnect: { ready: storm.reconnected.ready, failed: storm.reconnected.failed, failures: storm.reconnected.failures, seconds: round(storm.reconnected.ms / 1000, 3) },
      acks: r?.acks ?? null,
      caughtUp: r?.caughtUp ?? 0,
      lastCaughtUpMs: everyone ? round((r.lastCaughtUpUs - storm.fromUs) / 1000, 1) : null,
      ackMs: r?.ackHist.summary() ?? null,
      catchUpMs: r?.hist.summary() ?? null,
      // A node that lost Redis meanwhile (by its probes) catches every history topic up with a read of its own.
      herald: { readsPerNode: reads, recoveredPerNode: recovered, replayedPerNode: replayed, brokerReconnectsPerNode: reconnects, eventLoopLagMaxMs: after.lagMaxMs },
      redis: {
        fcallCalls: fcall,
        otherFunctionCalls: otherCalls,
        readsByCommandstats: fcall - otherCalls,
        readsSeen,
        readsPerTopic: { max: readsByTopic.length ? Math.max(...readsByTopic) : 0, min: readsByTopic.length ? Math.min(...readsByTopic) : 0, topicsRead: readsByTopic.length },
      },
      readsPerTopicPerNode: {
        herald: round(Math.max(...reads) / topics, 2),
        redisMonitor: round((readsByTopic.length ? Math.max(...readsByTopic) : 0) / nodes, 2),
        redisCommandstats: round((fcall - otherCalls) / (topics * nodes), 2),
      },
    };
    const x = record.recovery;
    env.log(`    storm: ${describeStep(storm.step)}`);
    env.log(`    ${x.acks ? `${x.acks.recovered} recovered, ${x.acks.notRecovered} not, ${x.acks.none} without` : 'no acks'}; ${x.caughtUp} of ${clients} caught up, the last after ${x.lastCaughtUpMs ?? '–'} ms (per client: acked p50 ${x.ackMs?.p50 ?? '–'} p99 ${x.ackMs?.p99 ?? '–'} ms, caught up p50 ${x.catchUpMs?.p50 ?? '–'} p99 ${x.catchUpMs?.p99 ?? '–'} ms); reconnect failures ${x.reconnect.failed}`);
    env.log(`    history reads: Herald ${reads.join(' + ')} (${x.readsPerTopicPerNode.herald} per topic per node); Redis herald_1_read ${readsSeen} (max ${x.redis.readsPerTopic.max} on one topic), cmdstat_fcall +${fcall} of which ${otherCalls} other functions; broker reconnects during the storm ${reconnects.join(' + ')}; event loop delay at most ${after.lagMaxMs.join(' / ')} ms`);
    for (const [i, server] of instance.servers.entries()) {
      const warned = server.output().split('\n').filter((line) => /broker|Redis|history/.test(line)).slice(-3);
      if (warned.length) env.log(`    node ${i} logged: ${warned.map((l) => l.slice(0, 300)).join(' | ')}`);
    }
    const live = await session.burst(LIVE * topics, 10_000, 64);
    env.log(`    live: ${describeStep(live)}`);
    record.steps = [storm.step, live];
  });
  return {
    title: 'Recovery storm',
    description: `${clients.toLocaleString('en')} clients over ${topics.toLocaleString('en')} history topics (\`HERALD_HISTORY=bench.hist.>=1000:300\`), on one node and on three over one Redis (clients spread over the nodes). Every client subscribes and receives a warm-up message; all go away at once (RST); once every node has released the topics, ${MISSED} messages per topic are published; then every client reconnects at once and subscribes with \`since\` = {offset of the last message it received, epoch of its ack}. Each must be acknowledged \`recovered:true\` and receive exactly its topic's ${MISSED} messages in order, once, the offsets following its \`since\`; then ${LIVE} live messages per topic. *Caught up*: the time from the reconnect to the last client's ${MISSED}th message (per client: from its connect). History reads during the storm from Herald's \`herald_history_reads_total\` (recovery windows and gap fills; the position read of a topic's first subscribe is not in it), from Redis's MONITOR (\`herald_1_read\` calls per topic: position and window reads) and from \`INFO commandstats\` (\`cmdstat_fcall\` less the other function calls MONITOR saw, the nodes' probes).`,
    readsBudget: READS_BUDGET,
    runs,
  };
}
