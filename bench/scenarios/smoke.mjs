/**
 * The smoke scenario run by `npm test` (test/bench/smoke.test.ts): Herald
 * alone, in memory and through Redis, a few hundred connections, a few
 * seconds, every part of the harness exercised (connect, warm-up, paced step,
 * burst, idle sample).
 */
import { sleep } from '../lib/net.mjs';
import { describeStep, eachTarget } from './common.mjs';
import { byRole, round } from './session.mjs';

export const TARGET_IDS = ['herald-memory', 'herald-redis'];

/** @param {any} env */
export async function run(env, ids = TARGET_IDS) {
  const connections = 300;
  const topics = 10;
  env.log(`smoke: ${connections} connections over ${topics} topics`);
  const runs = await eachTarget(env, 'smoke', ids, () => ({ connections, topics, concurrency: 64 }), async (session, record) => {
    record.warmup = await session.warm();
    record.steps = [await session.paced(200, 1000)];
    env.log(`    ${describeStep(record.steps[0])}`);
    record.burst = await session.burst(100, 5000, 16);
    env.log(`    ${describeStep(record.burst)}`);
    await sleep(200);
    const rss = byRole(env.procs.sample()).server?.rssBytes ?? 0;
    const baseline = byRole(session.baseline).server?.rssBytes ?? 0;
    record.idle = { connections: session.ready, serverRssBytes: rss, baselineRssBytes: baseline, rssPerConnectionBytes: round((rss - baseline) / session.ready) };
  });
  return { title: 'Smoke', description: `${connections} connections over ${topics} topics: one paced step, one burst.`, runs };
}
