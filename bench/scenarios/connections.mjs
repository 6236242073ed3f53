/**
 * Connect storm and idle connections, in one session per target:
 *   storm: 19,500 connections opened as fast as the load generator can
 *          (256 handshakes in flight per worker), each authenticated (Herald)
 *          and subscribed before it counts, in four equal parts with the
 *          server's RSS sampled after each; server CPU µs per connection.
 *   idle:  then nothing happens for --idle-seconds: server RSS per connection
 *          = (RSS now − RSS before the first connection) / connections, both
 *          sampled after --idle-seconds without work; also the slope of RSS
 *          over the four parts, idle CPU, and (Herald) V8's heap at idle from
 *          the node's metrics, the young generation apart: V8 does not shrink
 *          it while a node sits idle, so its size shows in RSS per connection.
 * 19,500, not 20,000: a process may hold at most 20,000 open files here, and
 * the server needs a few for itself.
 * Finally one message per topic checks that every connection is subscribed.
 */
import { scrape } from '../lib/metrics.mjs';
import { sleep } from '../lib/net.mjs';
import { scaled } from '../options.mjs';
import { eachTarget } from './common.mjs';
import { byRole, cpuBetween, round, slope } from './session.mjs';

export const TARGET_IDS = ['herald-memory', 'herald-redis', 'uws-bare', 'socketio-memory', 'socketio-redis', 'nchan-memory', 'nchan-redis'];
export const CONNECTIONS = 19_500;
const SETTLE_MS = 2000;
/** The storm comes in this many equal parts, server RSS sampled after each: RSS per connection is the slope. */
const CONNECT_BATCHES = 4;

/** @param {any} env */
export async function run(env, ids = TARGET_IDS, connectionsBase = CONNECTIONS, topicsBase = 1000) {
  const o = env.options;
  const connections = scaled(o, connectionsBase, 10);
  const topics = Math.min(connections, scaled(o, topicsBase, 1));
  env.log(`connect storm + idle: ${connections} connections over ${topics} topics`);
  const runs = await eachTarget(env, 'connections', ids, () => ({ connections, topics, batches: CONNECT_BATCHES, preIdleMs: o.idleSeconds * 1000 }), async (session, record) => {
    await sleep(SETTLE_MS);
    const { procs } = env;
    const before = procs.sample();
    const t0 = Date.now();
    await sleep(o.idleSeconds * 1000);
    const after = procs.sample();
    const cpu = cpuBetween(before, after, (Date.now() - t0) / 1000);
    const rss = byRole(after).server?.rssBytes ?? 0;
    const baseline = byRole(session.baseline).server?.rssBytes ?? 0;
    const ready = session.ready;
    // Also the marginal memory per connection during the storm: the slope of RSS over the connect batches
    // (without fixed costs, but with the storm's garbage).
    const perConnection = slope((session.connect.rssPoints ?? []).map((p) => ({ x: p.connections, y: p.rssBytes })));
    record.idle = {
      connections: ready,
      seconds: cpu.wallSeconds,
      serverRssBytes: rss,
      baselineRssBytes: baseline,
      rssPerConnectionBytes: ready > 0 ? round((rss - baseline) / ready) : null,
      rssSlopePerConnectionBytes: perConnection === null ? null : round(perConnection),
      serverCpuSeconds: cpu.byRole.server ?? 0,
      serverCpuPercent: round(((cpu.byRole.server ?? 0) / cpu.wallSeconds) * 100, 2),
      loadgenRssBytes: byRole(after).loadgen?.rssBytes ?? 0,
      cpu,
    };
    if (session.target.family === 'herald') record.idle.heap = await heapOf(session.instance.metricsPorts?.[0]);
    const heap = record.idle.heap;
    const mib = (/** @type {number} */ b) => (b / 2 ** 20).toFixed(1);
    const heapNote = heap ? `; V8 heap ${mib(heap.usedBytes)} of ${mib(heap.totalBytes)} MiB committed, young generation ${mib(heap.newSpaceTotalBytes)} MiB` : '';
    env.log(`    idle: server RSS ${mib(rss)} MiB, ${record.idle.rssPerConnectionBytes} B/connection, server CPU ${record.idle.serverCpuPercent}% of a core${heapNote}`);
    if (o.profile && session.target.family === 'herald') {
      for (const s of session.instance.servers) s.child.kill('SIGUSR2');
      env.log(`    heap snapshot requested (SIGUSR2) into ${o.profileDir}`);
      await sleep(5000);
    }
    record.check = await session.warm(3);
  });
  return {
    title: 'Connect storm and idle connections',
    description: `${connections.toLocaleString('en')} connections over ${topics.toLocaleString('en')} topics, opened as fast as the load generator can (each authenticated and subscribed before it counts) after ${o.idleSeconds} s of idle server, then idle for ${o.idleSeconds} s.`,
    runs,
  };
}

/**
 * Where a Herald node's idle memory is, from its own metrics: V8's heap used
 * and committed, and the young generation's share of it (what a connect storm
 * grows and V8 keeps until it collects again). Null when the node does not answer.
 * @param {number | undefined} port
 */
async function heapOf(port) {
  const m = port === undefined ? null : await scrape(port);
  if (m === null) return null;
  return {
    usedBytes: m.sum('nodejs_heap_size_used_bytes'),
    totalBytes: m.sum('nodejs_heap_size_total_bytes'),
    newSpaceTotalBytes: m.sum('nodejs_heap_space_size_total_bytes', 'space="new"'),
    externalBytes: m.sum('nodejs_external_memory_bytes'),
  };
}
