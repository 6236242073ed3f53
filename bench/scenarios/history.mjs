/**
 * Fan-out on a history topic: what the atomic history publish (offset,
 * stream append, publish in one Redis Function call) costs the fan-out.
 * Herald runs with HERALD_HISTORY = bench.hist.>=1000:300, and the same
 * fan-out session as the fan-out scenario (fixed rates, then --bursts max-rate
 * bursts, the median counting) runs twice against it, each time on a fresh
 * node: on the history topic bench.hist.0, and on the topic bench.t0 outside
 * the pattern (the path every topic took before history); then bare
 * uWebSockets.js, the ceiling, in the same run. On one node at 1,000 and
 * 10,000 subscribers, and on three nodes over one Redis with the subscribers
 * spread over them.
 *
 * Deliveries are identified as everywhere (zero loss in every step), and on
 * the history topic every delivery frame must carry the offset after the one
 * before it on that connection, from the position its subscribe's ack gave
 * (identity.mjs, `offsets`); frames on the other topic must carry none.
 */
import { HISTORY, HISTORY_PREFIX } from '../targets/index.mjs';
import { scaled } from '../options.mjs';
import { eachTarget } from './common.mjs';
import { BURST_DELIVERIES, BURST_MAX_MS, burstMessagesFor, measure } from './fanout.mjs';

export const TARGET_IDS = ['herald-redis-hist', 'herald-redis-hist-3', 'uws-bare'];
/** The fan-out scenario's sizes and rates, and three nodes at 10,000 subscribers. */
export const SHAPES = [
  { nodes: 1, subscribers: 1000, rates: [100, 500, 1000, 2000, 5000] },
  { nodes: 1, subscribers: 10000, rates: [10, 50, 100, 200, 500] },
  { nodes: 3, subscribers: 10000, rates: [10, 50, 100, 200, 500] },
];
/** The ratio budget: history fan-out ≥ this × the same fan-out on a topic without history. */
export const HISTORY_RATIO_BUDGET = 0.8;
const PLAIN_PREFIX = 'bench.t';

/** @param {any} env */
export async function run(env) {
  const o = env.options;
  const runs = [];
  for (const shape of SHAPES) {
    const subscribers = scaled(o, shape.subscribers, 10);
    const burstMessages = burstMessagesFor(shape.subscribers);
    const herald = shape.nodes === 1 ? 'herald-redis-hist' : 'herald-redis-hist-3';
    env.log(`history fan-out: ${subscribers} subscribers on one topic, ${shape.nodes} node(s)`);
    // History topic, then the same node configuration on a topic outside HERALD_HISTORY, then the ceiling (one node only).
    const variants = [
      { ids: [herald], prefix: HISTORY_PREFIX, historyTopic: true },
      { ids: shape.nodes === 1 ? [herald, 'uws-bare'] : [herald], prefix: PLAIN_PREFIX, historyTopic: false },
    ];
    for (const v of variants) {
      env.log(`  on ${v.prefix}0 (${v.historyTopic ? 'a history topic' : 'no history'})`);
      runs.push(
        ...(await eachTarget(env, 'history', v.ids, () => ({ connections: subscribers, topics: 1, prefix: v.prefix }), measure(env, shape.rates, burstMessages), {
          subscribersBase: shape.subscribers,
          historyTopic: v.historyTopic,
          topic: `${v.prefix}0`,
        })),
      );
    }
  }
  return {
    title: 'Fan-out on a history topic',
    description: `Herald through Redis with \`HERALD_HISTORY=${HISTORY}\`: the same fan-out session on the history topic \`${HISTORY_PREFIX}0\` and, on a fresh node of the same configuration, on \`${PLAIN_PREFIX}0\` outside the pattern; bare uWebSockets.js in the same run. One node at 1,000 and 10,000 subscribers, three nodes over one Redis at 10,000 (spread over the nodes, publishes round-robin over their HTTP APIs). Fixed-rate steps of ${o.stepSeconds} s (stopped at the first saturated step), then ${o.bursts} burst(s) of ${BURST_DELIVERIES.toLocaleString('en')} / subscribers messages as fast as accepted (64 in flight, at most ${BURST_MAX_MS / 1000} s each; the median counts). On the history topic every delivery must carry the offset after the previous one on its connection, from its ack's position; on the other topic, none.`,
    historyRatioBudget: HISTORY_RATIO_BUDGET,
    runs,
  };
}
