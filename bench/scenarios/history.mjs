/**
 * Fan-out on a history topic: what the atomic history publish (offset,
 * stream append, publish in one Redis Function call) costs the fan-out.
 * Herald runs with HERALD_HISTORY = bench.hist.>=1000:300, and the same
 * fan-out session as the fan-out scenario (fixed rates, then --bursts max-rate
 * bursts, the median counting) runs against two nodes of that configuration,
 * each with its own Redis: one on the history topic bench.hist.0, one on the
 * topic bench.t0 outside the pattern (the path every topic took before
 * history); bare uWebSockets.js, the ceiling, beside them. The sessions are
 * open at once and take turns phase by phase, so that the ratio compares
 * bursts run seconds apart. On one node at 1,000 and 10,000 subscribers, and
 * on three nodes over one Redis with the subscribers spread over them.
 *
 * Deliveries are identified as everywhere (zero loss in every step), and on
 * the history topic every delivery frame must carry the offset after the one
 * before it on that connection, from the position its subscribe's ack gave
 * (identity.mjs, `offsets`); frames on the other topic must carry none.
 */
import { HISTORY, HISTORY_PREFIX } from '../targets/index.mjs';
import { scaled } from '../options.mjs';
import { describeStep, runRecord, selectTargets } from './common.mjs';
import { BURST_DELIVERIES, BURST_MAX_MS, burstMessagesFor, median } from './fanout.mjs';
import { openSession } from './session.mjs';

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

/**
 * The variants of one shape measured side by side: every session is opened
 * first (each its own processes, named apart and sampled alone), then each
 * phase runs on every session in turn: the warm-ups, each fixed rate, each
 * burst. On a machine shared with other work, load that comes and goes then
 * falls on all the variants alike instead of on whichever ran at that time.
 * @param {any} env
 * @param {{ nodes: number, subscribers: number, rates: number[] }} shape
 * @param {{ id: string, prefix: string, historyTopic: boolean, tag: string }[]} variants
 */
async function sideBySide(env, shape, variants) {
  const o = env.options;
  const connections = scaled(o, shape.subscribers, 10);
  const burstMessages = burstMessagesFor(shape.subscribers);
  /** @type {{ record: Record<string, any>, session: import('./session.mjs').Session | undefined, saturated: boolean }[]} */
  const open = [];
  const runs = [];
  try {
    for (const v of variants) {
      const picked = selectTargets(env, [v.id])[0];
      if (!picked) continue;
      const record = runRecord(picked.target, { connections, topics: 1, subscribersBase: shape.subscribers, historyTopic: v.historyTopic, topic: `${v.prefix}0` });
      runs.push(record);
      if (picked.skip) {
        record.skipped = picked.skip;
        continue;
      }
      env.log(`  ${picked.target.label} on ${v.prefix}0 (${v.historyTopic ? 'a history topic' : 'no history'}): ${connections} connections`);
      const entry = { record, session: undefined, saturated: false, started: Date.now() };
      try {
        entry.session = await openSession({ ...env, procs: env.procs.scope(v.tag) }, picked.target, { connections, topics: 1, prefix: v.prefix }, `history-${v.tag}-${connections}`);
        record.connect = entry.session.connect;
        env.log(`    connected ${entry.session.ready} in ${entry.session.connect.seconds} s`);
        open.push(entry);
      } catch (error) {
        fail(env, entry, error);
      }
    }
    // One phase on every session still usable, in turn; a failure ends that session's run only.
    const each = async (what, body) => {
      for (const entry of open) {
        if (entry.record.error || entry.saturated === what) continue;
        try {
          await body(entry);
        } catch (error) {
          fail(env, entry, error);
        }
      }
    };
    await each('warm', async (e) => {
      e.record.warmup = await e.session.warm();
      e.record.steps = [];
    });
    for (const rate of shape.rates) {
      await each('paced', async (e) => {
        const step = await e.session.paced(rate, o.stepSeconds * 1000);
        e.record.steps.push(step);
        env.log(`    ${label(e.record)} ${describeStep(step)}`);
        // Stopped at its first saturated step, like the fan-out scenario; the others go on.
        if (step.saturated) e.saturated = 'paced';
      });
    }
    for (let i = 0; i < o.bursts; i++) {
      await each('burst', async (e) => {
        const burst = await e.session.burst(burstMessages, BURST_MAX_MS, 64);
        (e.record.bursts ??= []).push(burst);
        env.log(`    ${label(e.record)} ${describeStep(burst)}`);
      });
    }
    for (const e of open) if (e.record.bursts?.length) e.record.burst = median(e.record.bursts);
  } finally {
    for (const e of open) {
      await e.session?.close().catch((error) => env.log(`    cleanup: ${error.message}`));
      e.record.seconds = Math.round((Date.now() - e.started) / 100) / 10;
    }
  }
  return runs;
}

function fail(env, entry, error) {
  entry.record.error = String(error?.message ?? error).slice(0, 2000);
  env.log(`    ${label(entry.record)} FAILED: ${entry.record.error.split('\n')[0]}`);
}

const label = (record) => (record.family === 'herald' ? (record.historyTopic ? '[history]' : '[plain]') : '[uws]');

/** @param {any} env */
export async function run(env) {
  const runs = [];
  for (const shape of SHAPES) {
    const herald = shape.nodes === 1 ? 'herald-redis-hist' : 'herald-redis-hist-3';
    env.log(`history fan-out: ${scaled(env.options, shape.subscribers, 10)} subscribers on one topic, ${shape.nodes} node(s), side by side`);
    const variants = [
      { id: herald, prefix: HISTORY_PREFIX, historyTopic: true, tag: 'hist' },
      { id: herald, prefix: PLAIN_PREFIX, historyTopic: false, tag: 'plain' },
      ...(shape.nodes === 1 ? [{ id: 'uws-bare', prefix: PLAIN_PREFIX, historyTopic: false, tag: 'uws' }] : []),
    ];
    runs.push(...(await sideBySide(env, shape, variants)));
  }
  const o = env.options;
  return {
    title: 'Fan-out on a history topic',
    description: `Herald through Redis with \`HERALD_HISTORY=${HISTORY}\`: the same fan-out session on the history topic \`${HISTORY_PREFIX}0\` and, on another node of the same configuration (its own Redis), on \`${PLAIN_PREFIX}0\` outside the pattern; bare uWebSockets.js beside them. The sessions are open at once and take turns, phase by phase (warm-up, each rate, each burst), so that other load on the machine falls on all of them alike. One node at 1,000 and 10,000 subscribers, three nodes over one Redis at 10,000 (spread over the nodes, publishes round-robin over their HTTP APIs). Fixed-rate steps of ${o.stepSeconds} s (stopped at the first saturated step), then ${o.bursts} burst(s) of ${BURST_DELIVERIES.toLocaleString('en')} / subscribers messages as fast as accepted (64 in flight, at most ${BURST_MAX_MS / 1000} s each; the median counts). On the history topic every delivery must carry the offset after the previous one on its connection, from its ack's position; on the other topic, none.`,
    historyRatioBudget: HISTORY_RATIO_BUDGET,
    runs,
  };
}
