/**
 * Fan-out: N subscribers on one topic (1,000 and 10,000); a sweep of fixed
 * publish rates, stopped at the first saturated step, then a bounded
 * max-rate burst (64 publishes in flight) whose deliveries/s is the number
 * compared with bare uWebSockets.js: --bursts of them (default 3) for every
 * target alike, the median counting.
 */
import { scaled } from '../options.mjs';
import { describeStep, eachTarget } from './common.mjs';

export const TARGET_IDS = ['herald-memory', 'herald-redis', 'uws-bare', 'socketio-memory', 'socketio-redis', 'nchan-memory', 'nchan-redis'];
/** Publish rates (msg/s) per subscriber count, at full scale. */
export const SIZES = [
  { subscribers: 1000, rates: [100, 500, 1000, 2000, 5000] },
  { subscribers: 10000, rates: [10, 50, 100, 200, 500] },
];
/** Deliveries in a burst: messages = this / subscribers (per-socket backlog stays far below Herald's 1 MiB). */
export const BURST_DELIVERIES = 2_000_000;
export const BURST_MAX_MS = 10_000;

/** @param {any} env */
export async function run(env, sizes = SIZES, ids = TARGET_IDS, title = 'fan-out') {
  const o = env.options;
  const out = [];
  for (const size of sizes) {
    const subscribers = scaled(o, size.subscribers, 10);
    const burstMessages = burstMessagesFor(size.subscribers);
    env.log(`${title}: ${subscribers} subscribers on one topic`);
    const runs = await eachTarget(env, 'fanout', ids, () => ({ connections: subscribers, topics: 1 }), measure(env, size.rates, burstMessages), { subscribersBase: size.subscribers });
    out.push(...runs);
  }
  return {
    title: 'Fan-out',
    description: `Subscribers on one topic; fixed-rate steps of ${o.stepSeconds} s (stopped at the first saturated step), then ${o.bursts} burst(s) of ${BURST_DELIVERIES.toLocaleString('en')} / subscribers messages published as fast as accepted (64 in flight, at most ${BURST_MAX_MS / 1000} s each), the same number for every target; the burst shown is the median by deliveries/s.`,
    runs: out,
  };
}

/** Messages in one max-rate burst to `subscribers`: the same number of deliveries whatever the size. */
export function burstMessagesFor(subscribers) {
  return Math.max(10, Math.round(BURST_DELIVERIES / subscribers));
}

/**
 * What a fan-out session measures: warm-up, the fixed rates until the first
 * saturated step, then --bursts bursts of `burstMessages` (the median counts).
 * @param {any} env
 * @param {number[]} rates
 * @param {number} burstMessages
 * @returns {(session: import('./session.mjs').Session, record: Record<string, any>) => Promise<void>}
 */
export function measure(env, rates, burstMessages) {
  const o = env.options;
  return async (session, record) => {
    record.warmup = await session.warm();
    record.steps = [];
    for (const rate of rates) {
      const step = await session.paced(rate, o.stepSeconds * 1000);
      record.steps.push(step);
      env.log(`    ${describeStep(step)}`);
      if (step.saturated) break;
    }
    // The same number of bursts for every target (the median counts): one burst's throughput varies a lot on a busy machine.
    const bursts = [];
    for (let i = 0; i < o.bursts; i++) {
      const burst = await session.burst(burstMessages, BURST_MAX_MS, 64);
      bursts.push(burst);
      env.log(`    ${describeStep(burst)}`);
    }
    record.burst = median(bursts);
    record.bursts = bursts;
  };
}

/** The median step by deliveries/s (the lower middle one of an even count). */
export function median(steps) {
  return [...steps].sort((a, b) => (a.deliveriesPerSec ?? 0) - (b.deliveriesPerSec ?? 0))[Math.floor((steps.length - 1) / 2)];
}
