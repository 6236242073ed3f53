/**
 * One target under load: the target's processes, the load generator's
 * workers with their connections, and the publisher; and the measurement of
 * one step (publish, wait for every delivery or for the stream to stop, then
 * for quiet; read the identified deliveries, latency, CPU and memory of every
 * process). Every step, warm-up rounds included, has its own number, carried
 * by every payload it publishes: frames of one step never count in another.
 */
import { startLoadgen } from '../client/loadgen.mjs';
import { nowUs } from '../lib/histogram.mjs';
import { sleep } from '../lib/net.mjs';
import { startPublisher } from '../publisher/control.mjs';

/** After the publisher is done, a step waits this long without a new delivery before it counts the rest as lost. */
const DRAIN_IDLE_MS = 2000;
/** ... and never longer than this in all, even while deliveries still trickle in. */
const DRAIN_MAX_MS = 60_000;
/** Between connect batches, before RSS is sampled. */
const SETTLE_MS = 1000;
/**
 * A step ends only after this long without any frame, so that duplicates
 * trailing its last delivery count in it, and nothing of it arrives in the
 * next step (where it would be counted as stray, never as a delivery) ...
 */
const QUIET_MS = 300;
/** ... for at most this long. */
const QUIET_MAX_MS = 5000;

/**
 * @typedef {object} Env  what every scenario gets from the harness
 * @property {import('../lib/processes.mjs').ProcessSet} procs
 * @property {import('../options.mjs').Options} options
 * @property {(line: string) => void} log
 */

/**
 * @typedef {object} Load
 * @property {number} connections
 * @property {number} topics
 * @property {string} [prefix]
 * @property {number} [payloadBytes]
 * @property {number} [concurrency]  connects in progress per worker
 * @property {number} [batches]      connect in this many equal parts, sampling server RSS after each
 * @property {number} [preIdleMs]    idle time before the baseline sample (default 500 ms)
 */

/** Sums a sample's per-process figures by role. */
export function byRole(sample) {
  /** @type {Record<string, { cpuSeconds: number, rssBytes: number }>} */
  const out = {};
  for (const p of Object.values(sample)) {
    const r = (out[p.role] ??= { cpuSeconds: 0, rssBytes: 0 });
    r.cpuSeconds += p.cpuSeconds;
    r.rssBytes += p.rssBytes;
  }
  return out;
}

/** CPU seconds spent between two samples, per process and per role. */
export function cpuBetween(before, after, wallSeconds) {
  /** @type {Record<string, number>} */
  const byProcess = {};
  /** @type {Record<string, number>} */
  const roles = {};
  for (const [name, a] of Object.entries(after)) {
    const b = before[name];
    const s = round(a.cpuSeconds - (b?.cpuSeconds ?? 0), 3);
    byProcess[name] = s;
    roles[a.role] = round((roles[a.role] ?? 0) + s, 3);
  }
  /** @type {Record<string, number>} share of one core, per role */
  const cores = {};
  for (const [role, s] of Object.entries(roles)) cores[role] = round(s / wallSeconds, 2);
  // Everything the machine did meanwhile, and the part of it that was not ours (other programs on a shared machine).
  const machine = (after.machineBusySeconds ?? NaN) - (before.machineBusySeconds ?? NaN);
  const ours = Object.values(roles).reduce((a, b) => a + b, 0);
  return {
    wallSeconds: round(wallSeconds, 3),
    byRole: roles,
    coresByRole: cores,
    byProcess,
    machineBusyCores: round(machine / wallSeconds, 2),
    otherCores: round(Math.max(0, machine - ours) / wallSeconds, 2),
  };
}

/** Two cpuBetween() results added up (connect batches). */
function addCpu(a, b) {
  const sum = (x, y) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = round((out[k] ?? 0) + v, 3);
    return out;
  };
  const wallSeconds = round(a.wallSeconds + b.wallSeconds, 3);
  const byRole = sum(a.byRole, b.byRole);
  const coresByRole = {};
  for (const [role, v] of Object.entries(byRole)) coresByRole[role] = round(v / wallSeconds, 2);
  const weighted = (k) => round((a[k] * a.wallSeconds + b[k] * b.wallSeconds) / wallSeconds, 2);
  return { wallSeconds, byRole, coresByRole, byProcess: sum(a.byProcess, b.byProcess), machineBusyCores: weighted('machineBusyCores'), otherCores: weighted('otherCores') };
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points) {
  if (points.length < 2) return null;
  const mx = points.reduce((s, p) => s + p.x, 0) / points.length;
  const my = points.reduce((s, p) => s + p.y, 0) / points.length;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (sxx === 0) return null;
  return points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

export const round = (v, digits = 0) => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : null);

/**
 * Starts a target, connects the load, starts the publisher.
 * @param {Env} env
 * @param {import('../targets/index.mjs').Target} target
 * @param {Load} load
 * @param {string} runName
 */
export async function openSession(env, target, load, runName) {
  const { procs, options } = env;
  const prefix = load.prefix ?? 'bench.t';
  const instance = await target.start({ procs, runName, maxConnections: load.connections, profileDir: options.profile ? options.profileDir : undefined });
  let loadgen;
  let publisher;
  try {
    loadgen = await startLoadgen(
      procs,
      { dialect: instance.dialect, ports: instance.ports, connections: load.connections, topics: load.topics, prefix, secret: instance.secret, localAddresses: options.sourceAddresses },
      Math.max(options.workers, 1),
    );
    publisher = await startPublisher(procs, instance.publish, { topics: load.topics, prefix, payloadBytes: load.payloadBytes ?? options.payloadBytes });
    // Before the baseline: a moment for the processes to settle, or a whole idle period when memory is measured
    // (V8 shrinks its heap only after a few seconds without work; the idle sample after the connections gets the same chance).
    await sleep(load.preIdleMs ?? 500);
    const baseline = procs.sample();

    // The connect phase: a storm, as fast as the load generator opens them; in
    // `batches` equal parts when the server's memory per connection is wanted
    // (RSS sampled after each part: the slope leaves out fixed costs).
    const batches = Math.max(1, load.batches ?? 1);
    const rssPoints = [];
    let cpu;
    let connected;
    for (let b = 0; b < batches; b++) {
      const before = procs.sample();
      const t0 = Date.now();
      connected = await loadgen.connect(load.concurrency ?? 256, 180_000, b === batches - 1 ? 1 : 1 / batches);
      const part = cpuBetween(before, procs.sample(), (Date.now() - t0) / 1000);
      cpu = cpu === undefined ? part : addCpu(cpu, part);
      if (batches > 1) {
        await sleep(SETTLE_MS);
        rssPoints.push({ connections: connected.ready, rssBytes: byRole(procs.sample()).server?.rssBytes ?? 0 });
      }
    }
    const wall = cpu.wallSeconds;
    const connect = {
      requested: load.connections,
      ready: connected.ready,
      failed: connected.failed,
      failures: connected.failures,
      seconds: round(wall, 3),
      connectsPerSec: round(connected.ready / wall),
      serverCpuUsPerConnect: connected.ready > 0 ? round(((cpu.byRole.server ?? 0) * 1e6) / connected.ready, 1) : null,
      cpu,
      ...(batches > 1 ? { batches, rssPoints } : {}),
    };
    if (connected.failed > 0) env.log(`    ${connected.failed} of ${load.connections} connections failed: ${JSON.stringify(connected.failures)}`);
    return new Session(env, target, instance, loadgen, publisher, connected.readyByTopic, baseline, connect);
  } catch (error) {
    await loadgen?.close().catch(() => undefined);
    await instance.stop();
    for (const p of procs.live()) if (p.role === 'loadgen' || p.role === 'publisher') await procs.stop(p);
    throw error;
  }
}

export class Session {
  constructor(env, target, instance, loadgen, publisher, readyByTopic, baseline, connect) {
    this.env = env;
    this.target = target;
    this.instance = instance;
    this.loadgen = loadgen;
    this.publisher = publisher;
    this.readyByTopic = readyByTopic;
    this.baseline = baseline;
    this.connect = connect;
    this.warmup = undefined;
    /** steps so far, warm-up rounds included: the number every payload of a step carries */
    this.steps = 0;
  }

  get ready() {
    return this.connect.ready;
  }

  /** Server RSS (all nodes) now and before any connection. */
  serverRss() {
    const now = byRole(this.env.procs.sample()).server?.rssBytes ?? 0;
    const before = byRole(this.baseline).server?.rssBytes ?? 0;
    return { now, before };
  }

  /**
   * Publishes one message per topic until every ready connection received one
   * (subscriptions through Redis or an adapter settle asynchronously), then
   * waits for quiet. Each round is a step of its own. Bounded: at most `tries` rounds.
   */
  async warm(tries = 10) {
    const topics = this.readyByTopic.length;
    let covered = 0;
    let rounds = 0;
    while (rounds < tries) {
      rounds++;
      const step = ++this.steps;
      await this.loadgen.begin(step);
      // Exactly one message per topic (message i goes to topic i % topics): a connection that got none is not
      // subscribed, or its message was lost. A paced round could end before reaching every topic, and then
      // counted subscribed connections as missing.
      await this.publisher.burst(step, topics, 10_000);
      covered = (await this.quiet()).covered;
      if (covered >= this.ready) break;
    }
    this.warmup = { covered, ready: this.ready, rounds };
    if (covered < this.ready) this.env.log(`    warm-up: only ${covered} of ${this.ready} subscribers received a message`);
    return this.warmup;
  }

  /** Waits until no frame arrived for QUIET_MS (at most QUIET_MAX_MS); resolves with the counts then. */
  async quiet() {
    const frames = (st) => st.received + st.stray.earlierStep + st.stray.untagged;
    const started = Date.now();
    let stats = await this.loadgen.stats();
    let last = frames(stats);
    let since = Date.now();
    while (Date.now() - since < QUIET_MS && Date.now() - started < QUIET_MAX_MS) {
      await sleep(50);
      stats = await this.loadgen.stats();
      if (frames(stats) !== last) {
        last = frames(stats);
        since = Date.now();
      }
    }
    return stats;
  }

  /** A fixed-rate step: `rate` messages/s for `durationMs`. */
  paced(rate, durationMs, window) {
    return this.step((step) => this.publisher.paced(step, rate, durationMs, window), { rate, mode: 'paced' });
  }

  /** A burst: `count` messages as fast as accepted, `window` in flight, for at most `maxMs`. */
  burst(count, maxMs, window) {
    return this.step((step) => this.publisher.burst(step, count, maxMs, window), { rate: 0, mode: 'burst' });
  }

  /**
   * One measured step: `publish(step)` runs the publisher, tagging every
   * payload with the step's number; then wait until every expected delivery
   * arrived, or none arrived for DRAIN_IDLE_MS; then for quiet.
   * @param {(step: number) => Promise<import('../publisher/control.mjs').PublishResult>} publish
   * @param {{ rate: number, mode: 'paced' | 'burst' }} meta
   */
  async step(publish, meta) {
    const { procs } = this.env;
    const id = ++this.steps;
    await this.loadgen.begin(id);
    const before = procs.sample();
    const t0 = Date.now();
    const pub = await publish(id);
    await this.loadgen.expect(expectationOf(pub));
    return (await this.settle(id, pub, meta, before, t0, pub.firstSendUs)).result;
  }

  /** Every connection goes away at once (RST). */
  disconnect() {
    return this.loadgen.disconnect();
  }

  /**
   * The recovery storm, one step: `publish(step)` runs while every connection
   * is away (disconnect() first); then every connection comes back at once,
   * `concurrency` connects in progress per worker, each subscribing with
   * `since` from the position it had, and the step waits until each received
   * what was published meanwhile (or nothing arrives for DRAIN_IDLE_MS). Its
   * CPU, time and deliveries/s run from the reconnect on; its latency is
   * publish → receipt, the time away included, so no latency limit applies.
   * `between()` runs after the publish, before the reconnect (counters read
   * before the storm).
   * @param {(step: number) => Promise<import('../publisher/control.mjs').PublishResult>} publish
   * @param {{ concurrency?: number, between?: () => Promise<void> }} [how]
   */
  async recover(publish, { concurrency, between } = {}) {
    const { procs } = this.env;
    const id = ++this.steps;
    // Nobody is connected: nobody is in the step until the reconnect starts it for every connection.
    await this.loadgen.begin(id);
    const pub = await publish(id);
    await between?.();
    const before = procs.sample();
    const t0 = Date.now();
    const fromUs = nowUs();
    const reconnected = await this.loadgen.reconnect(id, expectationOf(pub), concurrency);
    const { result, stats } = await this.settle(id, pub, { rate: 0, mode: 'recovery' }, before, t0, fromUs);
    return { step: result, reconnected, recovery: stats.recovery, fromUs };
  }

  /**
   * The rest of a step once its messages are out: wait until every expected
   * delivery arrived, or none arrived for DRAIN_IDLE_MS; then for quiet; then
   * account. Deliveries/s count from `fromUs` (the first send, or the reconnect).
   */
  async settle(id, pub, meta, before, t0, fromUs) {
    const { procs } = this.env;
    const drainStart = Date.now();
    let stats = await this.loadgen.stats();
    let last = stats.received;
    let lastChange = Date.now();
    while (stats.delivered < stats.expected && Date.now() - lastChange < DRAIN_IDLE_MS && Date.now() - drainStart < DRAIN_MAX_MS) {
      await sleep(100);
      stats = await this.loadgen.stats();
      if (stats.received !== last) {
        last = stats.received;
        lastChange = Date.now();
      }
    }
    const drainTimedOut = stats.delivered < stats.expected && Date.now() - lastChange < DRAIN_IDLE_MS;
    const wall = (Date.now() - t0) / 1000;
    const after = procs.sample();
    // The counts are read after quiet: what trails the last delivery (duplicates) belongs to this step.
    stats = await this.quiet();
    const cpu = cpuBetween(before, after, wall);
    const spanS = stats.lastUs > 0 && fromUs > 0 ? (stats.lastUs - fromUs) / 1e6 : NaN;
    const serverCpu = cpu.byRole.server ?? 0;
    const roles = byRole(after);
    const publishSpanS = (Math.max(pub.lastAnswerUs, pub.lastSendUs) - pub.firstSendUs) / 1e6;
    const { expected, delivered } = stats;
    const result = {
      mode: meta.mode,
      rate: meta.rate,
      step: id,
      publish: {
        offered: pub.offered,
        sent: pub.sent,
        accepted: pub.accepted,
        rejected: pub.rejected,
        failed: pub.failed,
        unanswered: pub.unanswered,
        statuses: pub.statuses,
        maxBehind: pub.maxBehind,
        acceptedPerSec: round(pub.accepted / publishSpanS),
      },
      subscribers: stats.subscribers,
      expected,
      delivered,
      lost: stats.lost,
      duplicates: stats.duplicates,
      outOfOrder: stats.outOfOrder,
      wrongTopic: stats.wrongTopic,
      shed: stats.shed,
      received: stats.received,
      stray: stats.stray,
      offsets: stats.offsets,
      deliveryRatio: expected > 0 ? round(delivered / expected, 6) : null,
      deliveriesPerSec: round(delivered / spanS),
      latencyMs: stats.hist.summary(),
      // Delivery frames per socket read at the receivers: how much the server batched its writes.
      deliveriesPerRead: stats.reads > 0 ? round(stats.received / stats.reads, 2) : null,
      closes: stats.closes,
      others: stats.others,
      connectionsOpen: stats.ready,
      cpu,
      serverCpuUsPerMessage: pub.accepted > 0 ? round((serverCpu * 1e6) / pub.accepted, 1) : null,
      serverCpuNsPerDelivery: delivered > 0 ? round((serverCpu * 1e9) / delivered) : null,
      serverRssBytes: roles.server?.rssBytes ?? 0,
      drainTimedOut,
      pushback: pushback(pub, meta.mode),
      saturated: null,
    };
    // A recovery's latency includes the time its connections were away: no limit applies to it.
    result.saturated = saturation(result, meta.mode === 'recovery' ? Infinity : this.env.options.latencyLimitMs);
    return { result, stats };
  }

  async close() {
    await this.publisher.close().catch(() => undefined);
    await this.loadgen.close().catch(() => undefined);
    await this.instance.stop();
    // The workers and the publisher exit when their channel closes; make sure.
    for (const p of this.env.procs.live()) if (p.role === 'loadgen' || p.role === 'publisher') await this.env.procs.stop(p);
  }
}

/** What the publisher sent in a step and how it was answered, as the ledger expects it (identity.mjs). */
function expectationOf(pub) {
  return { sentByTopic: pub.sentByTopic, refused: pub.refused, unconfirmed: pub.unconfirmed };
}

/** How the server pushed back on the publisher, if it did: 503s, or accepting more slowly than asked. */
function pushback(pub, mode) {
  const parts = [];
  if (pub.rejected > 0) parts.push(`${pub.rejected} × HTTP 503`);
  if (mode === 'paced' && pub.sent < pub.offered * 0.98) parts.push(`slower acceptance: ${pub.sent} of ${pub.offered} sent in time`);
  return parts.length ? parts.join('; ') : null;
}

/** Why a step shows the server past what it sustains, or null. */
function saturation(r, latencyLimitMs) {
  if (r.drainTimedOut) return `still delivering ${DRAIN_MAX_MS / 1000} s after the publisher stopped (${r.lost} of ${r.expected} not yet delivered)`;
  if (r.lost !== 0) return `loss: ${r.lost} of ${r.expected} deliveries missing${r.shed.connections ? ` (${r.shed.lost} of them on ${r.shed.connections} connection(s) shed with 4008)` : ''}`;
  if (r.publish.failed > 0 || r.publish.unanswered > 0) return `publish failures: ${r.publish.failed} failed, ${r.publish.unanswered} unanswered`;
  if (r.pushback) return `push-back: ${r.pushback}`;
  if (r.latencyMs.p99 !== null && r.latencyMs.p99 > latencyLimitMs) return `p99 latency ${r.latencyMs.p99} ms > ${latencyLimitMs} ms`;
  return null;
}
