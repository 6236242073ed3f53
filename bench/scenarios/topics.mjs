/**
 * Many topics: 10,000 subscribers over 1,000 topics (10 each), single-message
 * HTTP publishes round-robin over the topics at fixed rates until the server
 * saturates. Herald's server CPU per message on the Redis path (HTTP ingest
 * included) is a budget, read at BUDGET_RATE: the rate this scenario names,
 * not whichever rate happens to look best.
 */
import { scaled } from '../options.mjs';
import { describeStep, eachTarget } from './common.mjs';

export const TARGET_IDS = ['herald-memory', 'herald-redis', 'uws-bare', 'socketio-memory', 'socketio-redis', 'nchan-memory', 'nchan-redis'];
export const RATES = [1000, 2500, 5000, 10000, 20000, 40000];
/** The rate at which the CPU-per-message budget is read (msg/s). */
export const BUDGET_RATE = 5000;

/** @param {any} env */
export async function run(env, ids = TARGET_IDS) {
  const o = env.options;
  const connections = scaled(o, 10_000, 10);
  const topics = scaled(o, 1000, 1);
  env.log(`many topics: ${connections} subscribers over ${topics} topics`);
  const runs = await eachTarget(env, 'topics', ids, () => ({ connections, topics }), async (session, record) => {
    record.warmup = await session.warm();
    record.steps = [];
    for (const rate of RATES) {
      const step = await session.paced(rate, o.stepSeconds * 1000);
      record.steps.push(step);
      env.log(`    ${describeStep(step)} | server ${step.serverCpuUsPerMessage} µs/msg`);
      if (step.saturated) break;
    }
  });
  return {
    title: 'Many topics',
    description: `${connections.toLocaleString('en')} subscribers over ${topics.toLocaleString('en')} topics; single-message publishes spread over the topics at fixed rates for ${o.stepSeconds} s each, until the first saturated step. The CPU-per-message budget is read at ${BUDGET_RATE.toLocaleString('en')} msg/s.`,
    budgetRate: BUDGET_RATE,
    runs,
  };
}
