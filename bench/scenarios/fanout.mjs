/**
 * Fan-out: N subscribers on one topic (1,000 and 10,000); a sweep of fixed
 * publish rates, stopped at the first saturated step, then a bounded
 * max-rate burst (64 publishes in flight) whose deliveries/s is the number
 * compared with bare uWebSockets.js (for those two, the median of three bursts).
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
const BURST_DELIVERIES = 2_000_000;
const BURST_MAX_MS = 10_000;
/** Herald's fan-out budget compares these two. */
const RATIO_PAIR = ['herald-memory', 'uws-bare'];

/** @param {any} env */
export async function run(env, sizes = SIZES, ids = TARGET_IDS, title = 'fan-out') {
  const o = env.options;
  const out = [];
  for (const size of sizes) {
    const subscribers = scaled(o, size.subscribers, 10);
    const burstMessages = Math.max(10, Math.round(BURST_DELIVERIES / size.subscribers));
    env.log(`${title}: ${subscribers} subscribers on one topic`);
    const runs = await eachTarget(env, 'fanout', ids, () => ({ connections: subscribers, topics: 1 }), async (session, record) => {
      record.warmup = await session.warm();
      record.steps = [];
      for (const rate of size.rates) {
        const step = await session.step(() => session.publisher.paced(rate, o.stepSeconds * 1000), { rate, mode: 'paced' });
        record.steps.push(step);
        env.log(`    ${describeStep(step)}`);
        if (step.saturated) break;
      }
      // The pair behind the ratio budget gets three bursts (the median counts): one burst's throughput varies a lot on a busy machine.
      const repeats = RATIO_PAIR.includes(session.target.id) ? 3 : 1;
      const bursts = [];
      for (let i = 0; i < repeats; i++) {
        const burst = await session.step(() => session.publisher.burst(burstMessages, BURST_MAX_MS, 64), { rate: 0, mode: 'burst' });
        bursts.push(burst);
        env.log(`    ${describeStep(burst)}`);
      }
      record.burst = [...bursts].sort((a, b) => (a.deliveriesPerSec ?? 0) - (b.deliveriesPerSec ?? 0))[Math.floor(bursts.length / 2)];
      if (repeats > 1) record.bursts = bursts;
    }, { subscribersBase: size.subscribers });
    out.push(...runs);
  }
  return {
    title: 'Fan-out',
    description: `Subscribers on one topic; fixed-rate steps of ${o.stepSeconds} s (stopped at the first saturated step), then a burst of ${BURST_DELIVERIES.toLocaleString('en')} / subscribers messages published as fast as accepted (64 in flight, at most ${BURST_MAX_MS / 1000} s); for Herald in memory and bare uWebSockets.js, whose ratio is a budget, the median of three bursts.`,
    runs: out,
  };
}
