/**
 * The budgets of DEVELOPERS.md, checked against a results object. Each entry:
 * what the budget is, what was measured (and where), whether it is met, or
 * null when the run did not measure it (scenario or peer not run).
 */

const KIB = 1024;

/** @param {any} results */
function runsOf(results, scenario) {
  return results.scenarios?.[scenario]?.runs ?? [];
}

const usable = (run) => run && !run.error && !run.skipped;

/** Herald deliveries/s over bare uWebSockets.js in the max-rate fan-out burst, per subscriber count. */
export function fanoutRatios(results) {
  const runs = runsOf(results, 'fanout');
  const out = [];
  for (const base of [...new Set(runs.map((r) => r.subscribersBase))]) {
    const herald = runs.find((r) => r.subscribersBase === base && r.target === 'herald-memory');
    const uws = runs.find((r) => r.subscribersBase === base && r.target === 'uws-bare');
    if (!usable(herald) || !usable(uws) || !herald.burst || !uws.burst) continue;
    const h = herald.burst.deliveriesPerSec;
    const u = uws.burst.deliveriesPerSec;
    out.push({ subscribers: herald.connections, herald: h, uws: u, ratio: u > 0 ? Math.round((h / u) * 100) / 100 : null, heraldLost: herald.burst.lost, uwsLost: uws.burst.lost });
  }
  return out;
}

/** @param {any} results */
export function computeBudgets(results) {
  const budgets = [];

  const ratios = fanoutRatios(results);
  const worst = ratios.length ? ratios.reduce((a, b) => (a.ratio <= b.ratio ? a : b)) : undefined;
  budgets.push({
    id: 'fanout-ratio',
    name: 'Fan-out deliveries/s vs bare uWebSockets.js (same run, max-rate burst, in-memory)',
    budget: '≥ 0.8×',
    measured: worst?.ratio ?? null,
    measuredText: ratios.length ? ratios.map((r) => `${r.ratio}× at ${r.subscribers} subscribers (${fmt(r.herald)} vs ${fmt(r.uws)} /s)`).join('; ') : 'not measured',
    met: worst ? worst.ratio >= 0.8 && worst.heraldLost === 0 : null,
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
  const sustained = (topicRun?.steps ?? []).filter((s) => !s.saturated && s.serverCpuUsPerMessage !== null);
  const best = sustained.at(-1);
  // The floor: bare uWebSockets.js (HTTP ingest and fan-out, no Redis) at the same rate.
  const floor = best && runsOf(results, 'topics').find((r) => r.target === 'uws-bare' && usable(r))?.steps?.find((s) => s.rate === best.rate);
  budgets.push({
    id: 'redis-cpu-per-message',
    name: 'Herald server CPU per message, Redis path, HTTP ingest included (many topics)',
    budget: '≤ 50 µs',
    measured: best?.serverCpuUsPerMessage ?? null,
    measuredText: best
      ? `${best.serverCpuUsPerMessage} µs at ${best.rate} msg/s (highest sustained rate); per rate: ${sustained.map((s) => `${s.rate}: ${s.serverCpuUsPerMessage}`).join(', ')}` +
        (floor
          ? `; bare uWebSockets.js (no Redis) at ${floor.rate} msg/s: ${floor.serverCpuUsPerMessage} µs, so Herald's own share (Redis out and in, JSON, auth, metrics) is ${Math.round((best.serverCpuUsPerMessage - floor.serverCpuUsPerMessage) * 10) / 10} µs`
          : '')
      : topicRun ? 'no sustained rate' : 'not measured',
    met: best ? best.serverCpuUsPerMessage <= 50 : null,
  });

  const idleRuns = runsOf(results, 'connections').filter((r) => r.family === 'herald' && usable(r) && r.idle);
  const idleWorst = idleRuns.length ? Math.max(...idleRuns.map((r) => r.idle.rssPerConnectionBytes)) : null;
  budgets.push({
    id: 'idle-rss',
    name: 'RSS per idle authenticated, subscribed connection',
    budget: '≤ 2.5 KiB',
    measured: idleWorst === null ? null : Math.round((idleWorst / KIB) * 100) / 100,
    measuredText: idleRuns.length ? idleRuns.map((r) => `${(r.idle.rssPerConnectionBytes / KIB).toFixed(2)} KiB (${r.label}, ${r.idle.connections} connections)`).join('; ') : 'not measured',
    met: idleWorst === null ? null : idleWorst <= 2.5 * KIB,
  });

  const loss = heraldLoss(results);
  budgets.push({
    id: 'zero-loss',
    name: 'Zero loss at every rate Herald accepted (push-back by 503/slower acceptance, or shedding by 4008, allowed)',
    budget: '0 lost',
    measured: loss.steps === 0 ? null : loss.lost,
    measuredText: loss.steps === 0 ? 'not measured' : loss.lost === 0 ? `0 lost in ${loss.steps} Herald steps (${fmt(loss.delivered)} deliveries)${loss.pushback ? `; push-back seen in ${loss.pushback} step(s)` : ''}${loss.shed ? `; ${loss.shed} connection(s) shed with 4008` : ''}` : `${loss.lost} lost: ${loss.where.join('; ')}`,
    met: loss.steps === 0 ? null : loss.lost === 0 || loss.explained,
  });
  return budgets;
}

function heraldLoss(results) {
  const out = { steps: 0, lost: 0, delivered: 0, pushback: 0, shed: 0, where: [], explained: true };
  for (const [scenario, s] of Object.entries(results.scenarios ?? {})) {
    for (const run of s.runs ?? []) {
      if (run.family !== 'herald' || !usable(run)) continue;
      for (const step of [...(run.steps ?? []), ...(run.bursts ?? (run.burst ? [run.burst] : []))]) {
        out.steps++;
        out.delivered += step.delivered;
        if (step.pushback) out.pushback++;
        const shed = step.closes?.['4008'] ?? 0;
        out.shed += shed;
        if (step.lost > 0) {
          out.lost += step.lost;
          out.where.push(`${scenario} ${run.label} ${step.mode === 'burst' ? 'burst' : `${step.rate} msg/s`}: ${step.lost} of ${step.expected}${shed ? ` (${shed} shed with 4008)` : ''}`);
          // Loss is allowed only where subscribers were shed with the documented close code.
          if (shed === 0) out.explained = false;
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
