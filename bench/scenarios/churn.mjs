/**
 * Churn soak: --churn-cycles (100,000 at full scale) connect → authenticate →
 * subscribe → ack → disconnect cycles against one Herald node, in memory and
 * through Redis, 64 cycles in flight (bench/client/churn.mjs: shared and
 * one-off topics, close handshake, FIN and RST in turn). The node's RSS and
 * open file descriptors are sampled idle before the first cycle, after a
 * short pause every tenth of the cycles, and idle after the last; Herald's own
 * gauges (connections, subscriptions, topics) are read from /metrics at the end,
 * and with Redis the topic channels the node is still subscribed to.
 *
 * Verdict: growth is bounded when the node holds no more file descriptors
 * than before (within FD_SLACK), its gauges are back to 0 (and its Redis
 * channels, with Redis), and RSS does not
 * keep growing over the second half of the soak: the least-squares slope of
 * the samples from the midpoint on, the idle one at the end included, stays
 * under RSS_SLOPE_LIMIT bytes per cycle (judged from RSS_MIN_CYCLES cycles on).
 * A leak of one small object per cycle (a socket record, a topic entry) is
 * above it; a heap that grew to a plateau early and stays there is not.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { scrape } from '../lib/metrics.mjs';
import { HOST, sleep } from '../lib/net.mjs';
import { openFds, rssBytes } from '../lib/procfs.mjs';
import { Rpc } from '../lib/rpc.mjs';
import { scaled } from '../options.mjs';
import { runRecord, selectTargets } from './common.mjs';
import { FD_SLACK, RSS_MIN_CYCLES, RSS_SLOPE_LIMIT, verdict } from '../lib/growth.mjs';
import { round } from './session.mjs';

export const TARGET_IDS = ['herald-memory', 'herald-redis'];
const CHURN = fileURLToPath(new URL('../client/churn.mjs', import.meta.url));
const CONCURRENCY = 64;
const SAMPLES = 10;
/** Before a sample during the soak: the last closes land, lingering topics are released (1 s). */
const PAUSE_MS = 1500;
/** Before the first and after the last sample: idle, so that V8 may shrink its heap. */
const IDLE_MS = 5000;

/**
 * Herald's gauges (herald_connections, herald_subscriptions, herald_topics)
 * and the connections it counted opened and closed, from /metrics.
 * @param {number} port
 * @returns {Promise<{ gauges: Record<string, number>, opened: number, closed: number } | null>}
 */
async function metrics(port) {
  const m = await scrape(port);
  if (m === null) return null;
  const gauges = {};
  for (const name of ['herald_connections', 'herald_subscriptions', 'herald_topics']) gauges[name] = m.sum(name);
  return { gauges, opened: m.sum('herald_connections_opened_total'), closed: m.sum('herald_disconnections_total') };
}

/**
 * Topic channels (`herald:<topic>`) the node is still subscribed to in Redis; null without Redis. Herald's own
 * pub/sub probe channels (`herald#probe:…`) are not topics and stay subscribed while the node lives.
 * @param {string | undefined} url @returns {Promise<number | null>}
 */
async function redisChannels(url) {
  if (!url) return null;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await redis.connect();
    return (await redis.pubsub('CHANNELS', 'herald:*')).length;
  } catch {
    return NaN;
  } finally {
    redis.disconnect();
  }
}

/** @param {number} pid @param {number} cycles */
function sampleOf(pid, cycles) {
  return { cycles, rssBytes: rssBytes(pid), openFds: openFds(pid) };
}

/** @param {any} env */
export async function run(env, ids = TARGET_IDS) {
  const o = env.options;
  const cycles = scaled(o, o.churnCycles, 100);
  env.log(`churn soak: ${cycles} connect/subscribe/disconnect cycles per node, ${CONCURRENCY} in flight`);
  const runs = [];
  for (const { target, skip } of selectTargets(env, ids)) {
    const record = runRecord(target, { connections: CONCURRENCY, topics: null });
    runs.push(record);
    if (skip) {
      record.skipped = skip;
      continue;
    }
    env.log(`  ${target.label}`);
    let instance;
    let client;
    const started = Date.now();
    try {
      instance = await target.start({ procs: env.procs, runName: `churn-${target.id}`, maxConnections: CONCURRENCY });
      const metricsPort = instance.metricsPorts[0];
      const server = instance.servers[0];
      client = env.procs.fork('loadgen', 'churn-client', CHURN);
      const rpc = new Rpc(client);
      await sleep(IDLE_MS);
      const before = sampleOf(server.child.pid, 0);
      const samples = [];
      const t0 = Date.now();
      let done = { completed: 0, failed: 0, failures: {} };
      for (let k = 1; k <= SAMPLES; k++) {
        const upTo = Math.round((cycles * k) / SAMPLES);
        const count = upTo - (done.completed + done.failed);
        done = await rpc.call('run', { host: HOST, port: instance.ports[0], secret: instance.secret, prefix: 'churn.', count, concurrency: CONCURRENCY, localAddresses: o.sourceAddresses }, 600_000);
        const busy = Date.now() - t0;
        await sleep(PAUSE_MS);
        const s = { ...sampleOf(server.child.pid, done.completed + done.failed), seconds: round(busy / 1000, 1) };
        samples.push(s);
        env.log(`    ${s.cycles} cycles (${done.failed} failed): RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, ${s.openFds} fds`);
      }
      const seconds = (Date.now() - t0 - SAMPLES * PAUSE_MS) / 1000;
      await sleep(IDLE_MS);
      const after = sampleOf(server.child.pid, done.completed + done.failed);
      const m = await metrics(metricsPort);
      const channels = await redisChannels(instance.redisUrl);
      record.churn = {
        cycles,
        completed: done.completed,
        failed: done.failed,
        failures: done.failures,
        concurrency: CONCURRENCY,
        seconds: round(seconds, 1),
        cyclesPerSec: round((done.completed + done.failed) / seconds),
        before,
        samples,
        after,
        gauges: m?.gauges ?? null,
        connectionsOpened: m?.opened ?? null,
        connectionsClosed: m?.closed ?? null,
        redisChannels: channels,
        verdict: verdict({ before, after, samples, metrics: m, redisChannels: channels, cycles, completed: done.completed, failed: done.failed }),
      };
      const v = record.churn.verdict;
      env.log(`    ${done.completed} of ${cycles} cycles in ${record.churn.seconds} s; RSS ${(before.rssBytes / 2 ** 20).toFixed(1)} → ${(after.rssBytes / 2 ** 20).toFixed(1)} MiB, fds ${before.openFds} → ${after.openFds}: ${v.bounded ? 'bounded' : `NOT bounded: ${v.reasons.join('; ')}`}${v.rssJudged ? '' : ` (RSS not judged below ${RSS_MIN_CYCLES} cycles)`}`);
    } catch (error) {
      record.error = String(/** @type {Error} */ (error)?.message ?? error).slice(0, 2000);
      env.log(`    FAILED: ${record.error.split('\n')[0]}`);
    } finally {
      if (client) await env.procs.stop(client);
      await instance?.stop().catch((e) => env.log(`    cleanup: ${e.message}`));
      record.seconds = Math.round((Date.now() - started) / 100) / 10;
    }
  }
  return {
    title: 'Churn soak',
    description: `${cycles.toLocaleString('en')} connect → authenticate → subscribe → ack → disconnect cycles against one Herald node, ${CONCURRENCY} in flight; half on 100 shared topics, half on a topic of their own; closed in turn by a close handshake, a TCP FIN and a TCP RST. The node's RSS and open file descriptors idle before and after (${IDLE_MS / 1000} s), and after a ${PAUSE_MS / 1000} s pause every tenth of the cycles. Bounded: no more descriptors than before (± ${FD_SLACK}), Herald's connection, subscription and topic gauges back to 0 (and, through Redis, no topic channel left subscribed), Herald counting one connection opened and closed per cycle, and RSS growing less than ${RSS_SLOPE_LIMIT} B per cycle over the second half (judged from ${RSS_MIN_CYCLES.toLocaleString('en')} cycles on).`,
    runs,
  };
}
