/**
 * The budgets of DEVELOPERS.md, checked against a results object. Each entry:
 * what the budget is, what was measured (and where), whether it is met, or
 * null when the run did not measure it (scenario or peer not run).
 */
import { identityFailures } from '../lib/identity.mjs';

const KIB = 1024;
/** The rate of the CPU-per-message budget when a results file does not name it (the many-topics scenario's BUDGET_RATE). */
const DEFAULT_BUDGET_RATE = 5000;

/** @param {any} results */
function runsOf(results, scenario) {
  return results.scenarios?.[scenario]?.runs ?? [];
}

const usable = (run) => run && !run.error && !run.skipped;

/** Every burst of a run (the median is one of them). */
const burstsOf = (run) => run.bursts ?? (run.burst ? [run.burst] : []);

/** What makes a run's bursts unfit to compare: identity failures in any of them; null when clean. */
function burstProblems(run) {
  const out = [];
  for (const [i, b] of burstsOf(run).entries()) {
    const f = identityFailures(b);
    if (f === null) return null;
    if (f.length) out.push(`burst ${i + 1}: ${f.join(', ')}`);
  }
  return out.length ? out.join('; ') : null;
}

/**
 * Herald deliveries/s over bare uWebSockets.js in the max-rate fan-out burst
 * (the median of as many bursts on each side), per subscriber count. Both
 * rates count distinct accepted deliveries only, and a side whose bursts lost,
 * duplicated or reordered anything is named: its rate is then no fair term of
 * the ratio.
 */
export function fanoutRatios(results) {
  const runs = runsOf(results, 'fanout');
  const out = [];
  for (const base of [...new Set(runs.map((r) => r.subscribersBase))]) {
    const herald = runs.find((r) => r.subscribersBase === base && r.target === 'herald-memory');
    const uws = runs.find((r) => r.subscribersBase === base && r.target === 'uws-bare');
    if (!usable(herald) || !usable(uws) || !herald.burst || !uws.burst) continue;
    const h = herald.burst.deliveriesPerSec;
    const u = uws.burst.deliveriesPerSec;
    out.push({
      subscribers: herald.connections,
      herald: h,
      uws: u,
      ratio: u > 0 ? Math.round((h / u) * 100) / 100 : null,
      bursts: [burstsOf(herald).length, burstsOf(uws).length],
      heraldLost: herald.burst.lost,
      uwsLost: uws.burst.lost,
      heraldProblems: burstProblems(herald),
      uwsProblems: burstProblems(uws),
    });
  }
  return out;
}

/** Every step and burst of a run. */
const stepsOf = (run) => [...(run.steps ?? []), ...burstsOf(run)];

/** Identity failures in any step or burst of a run, named; null when clean. */
function runProblems(run) {
  const out = [];
  for (const step of stepsOf(run)) {
    const f = identityFailures(step) ?? ['not identified'];
    if (f.length) out.push(`${step.mode === 'paced' ? `${step.rate} msg/s` : step.mode}: ${f.join(', ')}`);
  }
  return out.length ? out.join('; ') : null;
}

/** Offsets seen over a run's steps (identity.mjs `offsets`), summed. */
function offsetsOf(run) {
  const out = { frames: 0, gaps: 0, backwards: 0, missing: 0 };
  for (const step of stepsOf(run)) for (const k of Object.keys(out)) out[k] += step.offsets?.[k] ?? 0;
  return out;
}

/**
 * History fan-out over the same fan-out on a topic without history (same
 * node configuration, same run), per node count and subscriber count; bare
 * uWebSockets.js beside it where it ran. Both rates count distinct accepted
 * deliveries only; a side with an identity failure in any step is named.
 */
export function historyRatios(results) {
  const runs = runsOf(results, 'history');
  const out = [];
  const shapes = [...new Set(runs.map((r) => `${r.nodes}:${r.subscribersBase}`))];
  for (const shape of shapes) {
    const [nodes, base] = shape.split(':').map(Number);
    const of = (pred) => runs.find((r) => r.nodes === nodes && r.subscribersBase === base && pred(r));
    const hist = of((r) => r.family === 'herald' && r.historyTopic === true);
    const plain = of((r) => r.family === 'herald' && r.historyTopic === false);
    const uws = of((r) => r.target === 'uws-bare');
    if (!usable(hist) || !usable(plain) || !hist.burst || !plain.burst) continue;
    const h = hist.burst.deliveriesPerSec;
    const p = plain.burst.deliveriesPerSec;
    out.push({
      nodes,
      subscribers: hist.connections,
      history: h,
      plain: p,
      uws: usable(uws) && uws.burst ? uws.burst.deliveriesPerSec : null,
      ratio: p > 0 ? Math.round((h / p) * 100) / 100 : null,
      bursts: [burstsOf(hist).length, burstsOf(plain).length],
      historyProblems: runProblems(hist),
      plainProblems: runProblems(plain),
      historyOffsets: offsetsOf(hist),
      plainOffsets: offsetsOf(plain),
    });
  }
  return out;
}

/** The recovery storm's runs that produced a record. */
function recoveryRuns(results) {
  return runsOf(results, 'recovery').filter((r) => usable(r) && r.recovery);
}

/** What keeps a storm from "every client recovered, exactly its missed messages, in order, once, then live"; empty when none. */
export function recoveryProblems(run) {
  const x = run.recovery;
  const out = [];
  if (!x.released?.released) out.push('the nodes had not released the topics before the storm');
  if (x.reconnect.failed) out.push(`${x.reconnect.failed} reconnects failed`);
  const acks = x.acks ?? { recovered: 0, notRecovered: 0, none: 0 };
  if (acks.recovered !== x.clients) out.push(`${acks.recovered} of ${x.clients} acknowledged recovered:true (${acks.notRecovered} recovered:false, ${acks.none} without)`);
  if (x.caughtUp !== x.clients) out.push(`${x.caughtUp} of ${x.clients} caught up`);
  if (x.published !== x.missedPerClient * x.topics) out.push(`${x.published} of ${x.missedPerClient * x.topics} messages accepted while away`);
  const problems = runProblems(run);
  if (problems) out.push(problems);
  if (offsetsOf(run).frames === 0) out.push('no offset seen');
  return out;
}

/** @param {any} results */
export function computeBudgets(results) {
  const budgets = [];

  const ratios = fanoutRatios(results);
  const worst = ratios.length ? ratios.reduce((a, b) => ((a.ratio ?? 0) <= (b.ratio ?? 0) ? a : b)) : undefined;
  const ratioText = (r) => {
    const problems = [r.heraldProblems && `Herald: ${r.heraldProblems}`, r.uwsProblems && `bare uWS: ${r.uwsProblems}`].filter(Boolean);
    return `${r.ratio}× at ${r.subscribers} subscribers (${fmt(r.herald)} vs ${fmt(r.uws)} /s, median of ${r.bursts[0]} and ${r.bursts[1]} bursts)${problems.length ? ` — not a fair comparison: ${problems.join('; ')}` : ''}`;
  };
  budgets.push({
    id: 'fanout-ratio',
    name: 'Fan-out deliveries/s vs bare uWebSockets.js (same run, max-rate burst, in-memory, distinct accepted deliveries on both sides)',
    budget: '≥ 0.9×',
    measured: worst?.ratio ?? null,
    measuredText: ratios.length ? ratios.map(ratioText).join('; ') : 'not measured',
    met: ratios.length ? ratios.every((r) => r.ratio !== null && r.ratio >= 0.9 && r.heraldProblems === null && r.uwsProblems === null) : null,
  });

  // Through Redis against in memory, same scenario, same run: what the broker hop costs the node's fan-out.
  const fanoutRuns = runsOf(results, 'fanout');
  const viaRedis = [];
  for (const base of [...new Set(fanoutRuns.map((r) => r.subscribersBase))]) {
    const memory = fanoutRuns.find((r) => r.subscribersBase === base && r.target === 'herald-memory');
    const redis = fanoutRuns.find((r) => r.subscribersBase === base && r.target === 'herald-redis');
    if (!usable(memory) || !usable(redis) || !memory.burst || !redis.burst) continue;
    viaRedis.push({ subscribers: memory.connections, memory: memory.burst.deliveriesPerSec, redis: redis.burst.deliveriesPerSec, problems: [burstProblems(memory), burstProblems(redis)].filter(Boolean).join('; ') || null });
  }
  const redisRatio = (v) => (v.memory > 0 ? Math.round((v.redis / v.memory) * 100) / 100 : null);
  budgets.push({
    id: 'redis-ratio',
    name: 'Fan-out deliveries/s through Redis vs in memory (same run, max-rate burst, distinct accepted deliveries)',
    budget: '≥ 0.6×',
    measured: viaRedis.length ? Math.min(...viaRedis.map((v) => redisRatio(v) ?? 0)) : null,
    measuredText: viaRedis.length ? viaRedis.map((v) => `${redisRatio(v)}× at ${v.subscribers} subscribers (${fmt(v.redis)} vs ${fmt(v.memory)} /s)${v.problems ? ` — not a fair comparison: ${v.problems}` : ''}`).join('; ') : 'not measured',
    met: viaRedis.length ? viaRedis.every((v) => (redisRatio(v) ?? 0) >= 0.6 && v.problems === null) : null,
  });

  const connectRuns = runsOf(results, 'connections').filter((r) => r.family === 'herald' && usable(r) && r.connect);
  const connectWorst = connectRuns.length ? Math.max(...connectRuns.map((r) => r.connect.serverCpuUsPerConnect)) : null;
  budgets.push({
    id: 'connect-cpu',
    name: 'Server CPU per authenticated connect + subscribe (connect storm)',
    budget: '≤ 100 µs',
    measured: connectWorst,
    measuredText: connectRuns.length ? connectRuns.map((r) => `${r.connect.serverCpuUsPerConnect} µs (${r.label}, ${r.connect.ready} connections)`).join('; ') : 'not measured',
    met: connectWorst === null ? null : connectWorst <= 100,
  });

  const topicRun = runsOf(results, 'topics').find((r) => r.target === 'herald-redis' && usable(r));
  const rate = results.scenarios?.topics?.budgetRate ?? DEFAULT_BUDGET_RATE;
  const steps = topicRun?.steps ?? [];
  const atRate = steps.find((s) => s.rate === rate);
  // The floor: bare uWebSockets.js (HTTP ingest and fan-out, no Redis) at the same rate.
  const floor = runsOf(results, 'topics').find((r) => r.target === 'uws-bare' && usable(r))?.steps?.find((s) => s.rate === rate);
  const perRate = steps.map((s) => `${s.rate}: ${s.serverCpuUsPerMessage}${s.saturated ? ' (saturated)' : ''}`).join(', ');
  let cpuText = 'not measured';
  if (topicRun && !atRate) cpuText = `${rate} msg/s not reached: the sweep stopped at ${steps.at(-1)?.rate ?? '–'} msg/s (${steps.at(-1)?.saturated ?? 'no step'}); per rate: ${perRate}`;
  else if (atRate) {
    cpuText =
      `${atRate.serverCpuUsPerMessage} µs at ${rate} msg/s${atRate.saturated ? `, not sustained there (${atRate.saturated})` : ''}; per rate: ${perRate}` +
      (floor ? `; bare uWebSockets.js (no Redis) at ${rate} msg/s: ${floor.serverCpuUsPerMessage} µs, so Herald's own share (Redis out and in, JSON, auth, metrics) is ${Math.round((atRate.serverCpuUsPerMessage - floor.serverCpuUsPerMessage) * 10) / 10} µs` : '');
  }
  budgets.push({
    id: 'redis-cpu-per-message',
    name: `Herald server CPU per message at ${rate.toLocaleString('en')} msg/s, Redis path, HTTP ingest included (many topics)`,
    budget: '≤ 50 µs',
    measured: atRate?.serverCpuUsPerMessage ?? null,
    measuredText: cpuText,
    // Not reaching the rate, or not sustaining it, misses the budget: it is a budget at that rate.
    met: !topicRun ? null : atRate !== undefined && !atRate.saturated && atRate.serverCpuUsPerMessage !== null && atRate.serverCpuUsPerMessage <= 50,
  });

  const idleRuns = runsOf(results, 'connections').filter((r) => r.family === 'herald' && usable(r) && r.idle);
  const idleWorst = idleRuns.length ? Math.max(...idleRuns.map((r) => r.idle.rssPerConnectionBytes)) : null;
  budgets.push({
    id: 'idle-rss',
    name: 'RSS per idle authenticated, subscribed connection',
    budget: '≤ 1.5 KiB',
    measured: idleWorst === null ? null : Math.round((idleWorst / KIB) * 100) / 100,
    measuredText: idleRuns.length
      ? idleRuns.map((r) => `${(r.idle.rssPerConnectionBytes / KIB).toFixed(2)} KiB (${r.label}, ${r.idle.connections} connections)${r.idle.rssPerConnectionBytes <= 0 ? ' — no measurement: RSS after the idle period was not above the baseline (too few connections to stand out of the heap’s own variation)' : ''}`).join('; ')
      : 'not measured',
    // A connection costs memory: a figure of zero or below is noise, which can meet no budget.
    met: idleWorst === null ? null : idleWorst <= 1.5 * KIB && idleRuns.every((r) => r.idle.rssPerConnectionBytes > 0),
  });

  const hr = historyRatios(results);
  const ratioFloor = results.scenarios?.history?.historyRatioBudget ?? 0.8;
  const hrWorst = hr.length ? hr.reduce((a, b) => ((a.ratio ?? 0) <= (b.ratio ?? 0) ? a : b)) : undefined;
  const hrText = (r) => {
    const problems = [r.historyProblems && `history topic: ${r.historyProblems}`, r.plainProblems && `plain topic: ${r.plainProblems}`].filter(Boolean);
    if (r.historyOffsets.frames === 0) problems.push('no offset seen on the history topic');
    if (r.plainOffsets.frames > 0) problems.push(`${fmt(r.plainOffsets.frames)} frames with an offset on the plain topic`);
    return `${r.ratio}× at ${fmt(r.subscribers)} subscribers on ${r.nodes} node(s) (${fmt(r.history)} vs ${fmt(r.plain)} /s${r.uws === null ? '' : `, bare uWS ${fmt(r.uws)} /s`}, median of ${r.bursts[0]} and ${r.bursts[1]} bursts)${problems.length ? ` — ${problems.join('; ')}` : ''}`;
  };
  budgets.push({
    id: 'history-fanout-ratio',
    name: 'Fan-out deliveries/s through Redis on a history topic vs the same on a topic without history (same run, max-rate burst; zero loss in every step, offsets on the history topic only)',
    budget: `≥ ${ratioFloor}×`,
    measured: hrWorst?.ratio ?? null,
    measuredText: hr.length ? hr.map(hrText).join('; ') : 'not measured',
    met: hr.length ? hr.every((r) => r.ratio !== null && r.ratio >= ratioFloor && r.historyProblems === null && r.plainProblems === null && r.historyOffsets.frames > 0 && r.plainOffsets.frames === 0) : null,
  });

  // Offsets: every frame of a history topic carries the one after the previous on its connection.
  const historyRuns = [...runsOf(results, 'history').filter((r) => r.family === 'herald' && r.historyTopic === true), ...runsOf(results, 'recovery')].filter(usable);
  const off = { frames: 0, gaps: 0, backwards: 0, missing: 0 };
  for (const run of historyRuns) for (const [k, v] of Object.entries(offsetsOf(run))) off[k] += v;
  const offBad = off.gaps + off.backwards + off.missing;
  budgets.push({
    id: 'history-offsets',
    name: 'Offsets on history topics: every delivery frame carries the offset after the previous one on its connection, from its subscribe\'s position or its since (history fan-out, recovery storm)',
    budget: '0 skipped, 0 backwards, 0 missing',
    measured: historyRuns.length ? offBad : null,
    measuredText: historyRuns.length ? `${fmt(off.frames)} frames checked in ${historyRuns.length} runs: ${off.gaps} skipped, ${off.backwards} backwards, ${off.missing} without an offset` : 'not measured',
    met: historyRuns.length ? off.frames > 0 && offBad === 0 : null,
  });

  const storms = recoveryRuns(results);
  const stormText = (r) => {
    const x = r.recovery;
    const problems = recoveryProblems(r);
    const c = x.catchUpMs;
    return `${r.label}: ${fmt(x.clients)} clients over ${x.topics} topics, ${x.missedPerClient} behind: ${problems.length ? problems.join('; ') : `all recovered, every missed message once and in order, then live; the last caught up after ${fmt(x.lastCaughtUpMs)} ms`} (per client p50 ${c?.p50 ?? '–'} ms, p99 ${c?.p99 ?? '–'} ms)`;
  };
  budgets.push({
    id: 'recovery-storm',
    name: 'Recovery storm: every client back at once with since is acknowledged recovered:true and receives exactly the messages it missed, in order, once, then live ones (measured: the time until the last client has caught up, ms)',
    budget: 'all recovered, 0 lost, 0 duplicates, 0 out of order',
    measured: storms.length ? Math.max(...storms.map((r) => r.recovery.lastCaughtUpMs ?? Infinity)) : null,
    measuredText: storms.length ? storms.map(stormText).join('; ') : 'not measured',
    met: storms.length ? storms.every((r) => recoveryProblems(r).length === 0) : null,
  });

  const readsLimit = results.scenarios?.recovery?.readsBudget ?? 3;
  const readsOf = (r) => Math.max(r.recovery.readsPerTopicPerNode.herald ?? Infinity, r.recovery.readsPerTopicPerNode.redisMonitor ?? Infinity, r.recovery.readsPerTopicPerNode.redisCommandstats ?? Infinity);
  budgets.push({
    id: 'recovery-reads',
    name: 'History reads per topic per node in the recovery storm, whatever the number of clients (Herald\'s herald_history_reads_total; Redis: herald_1_read calls per topic by MONITOR, and INFO commandstats)',
    budget: `≤ ${readsLimit}`,
    measured: storms.length ? Math.max(...storms.map(readsOf)) : null,
    measuredText: storms.length
      ? storms
          .map((r) => {
            const x = r.recovery;
            const p = x.readsPerTopicPerNode;
            return `${r.label} (${fmt(x.clients)} clients, ${x.topics} topics): Herald ${p.herald} (${x.herald.readsPerNode.join(' + ')} reads), Redis MONITOR ${p.redisMonitor} (${x.redis.readsSeen} herald_1_read, at most ${x.redis.readsPerTopic.max} on one topic), commandstats ${p.redisCommandstats} (cmdstat_fcall +${x.redis.fcallCalls}, ${x.redis.otherFunctionCalls} of them other functions)`;
          })
          .join('; ')
      : 'not measured',
    met: storms.length ? storms.every((r) => readsOf(r) <= readsLimit && r.recovery.redis.readsSeen > 0) : null,
  });

  const loss = heraldLoss(results);
  const info = [
    loss.pushback ? `push-back seen in ${loss.pushback} step(s)` : '',
    loss.shed ? `${loss.shed} connection(s) shed with 4008 (${loss.shedLost} deliveries lost on them, excused)` : '',
    loss.earlierStep ? `${fmt(loss.earlierStep)} frame(s) of an earlier step arrived late (not counted in the step they arrived in)` : '',
    loss.unconfirmed ? `${fmt(loss.unconfirmed)} delivery(ies) of publishes that got no answer` : '',
  ].filter(Boolean);
  budgets.push({
    id: 'zero-loss',
    name: 'Zero loss at every rate Herald accepted: every accepted message delivered exactly once, in order, on its topic, to every subscriber (push-back by 503/slower acceptance allowed; 4008 excuses only the loss of the connections it shed)',
    budget: '0 lost, 0 duplicates, 0 out of order, 0 wrong topic',
    measured: loss.steps === 0 ? null : loss.failing,
    measuredText:
      loss.steps === 0
        ? 'not measured'
        : `${loss.failing === 0 ? `every delivery identified in ${loss.steps} Herald steps (${fmt(loss.delivered)} deliveries): 0 lost, 0 duplicates, 0 out of order, 0 wrong topic` : `${loss.failing} of ${loss.steps} Herald steps failed: ${loss.where.join('; ')}`}${info.length ? `; ${info.join('; ')}` : ''}`,
    met: loss.steps === 0 ? null : loss.failing === 0,
  });
  return budgets;
}

/** Herald's steps and bursts checked for identity: each failing one named. */
function heraldLoss(results) {
  const out = { steps: 0, failing: 0, delivered: 0, pushback: 0, shed: 0, shedLost: 0, earlierStep: 0, unconfirmed: 0, where: [] };
  for (const [scenario, s] of Object.entries(results.scenarios ?? {})) {
    for (const run of s.runs ?? []) {
      if (run.family !== 'herald' || !usable(run)) continue;
      for (const step of [...(run.steps ?? []), ...burstsOf(run)]) {
        out.steps++;
        out.delivered += step.delivered;
        if (step.pushback) out.pushback++;
        out.shed += step.shed?.connections ?? 0;
        out.shedLost += step.shed?.lost ?? 0;
        out.earlierStep += step.stray?.earlierStep ?? 0;
        out.unconfirmed += step.stray?.unconfirmed ?? 0;
        const failures = identityFailures(step) ?? [`not identified (results version 1): lost ${step.lost}`];
        if (failures.length) {
          out.failing++;
          out.where.push(`${scenario} ${run.label} ${step.mode === 'paced' ? `${step.rate} msg/s` : step.mode} (${step.delivered} of ${step.expected} delivered): ${failures.join(', ')}`);
        }
      }
    }
  }
  return out;
}

export function fmt(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n * 100) / 100);
}
