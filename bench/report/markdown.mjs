/**
 * docs/benchmarks.md from a results object: the machine, the commands, a
 * table per scenario with Herald and the peers, Herald's ratios to bare
 * uWebSockets.js, the budgets, and the charts (charts.mjs). Hand-written
 * analysis lives in docs/benchmarks/notes.md and is included as it is.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fanoutRatios, fmt, historyRatios, recoveryProblems } from './budgets.mjs';
import { writeCharts } from './charts.mjs';

const usable = (run) => run && !run.error && !run.skipped;
const ms = (v) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en'));
const n = (v) => (v === null || v === undefined ? '–' : Number(v).toLocaleString('en'));
const cores = (step, role) => (step.cpu.coresByRole[role] === undefined ? '–' : step.cpu.coresByRole[role].toFixed(2));

/** Which process limited a step: one at a full core, or the whole machine busy. */
export function bottleneck(step, machineCores) {
  const wall = step.cpu.wallSeconds;
  const procs = Object.entries(step.cpu.byProcess).map(([name, s]) => [name, s / wall]).sort((a, b) => b[1] - a[1]);
  const total = procs.reduce((s, [, c]) => s + c, 0);
  const [top, topCores] = procs[0] ?? ['–', 0];
  const busy = Number.isFinite(step.cpu.machineBusyCores) ? step.cpu.machineBusyCores : total;
  const others = step.cpu.otherCores > 0.05 ? `, ${step.cpu.otherCores.toFixed(2)} by other programs` : '';
  if (topCores >= 0.9) return `${top} at ${topCores.toFixed(2)} core`;
  if (busy >= 0.85 * machineCores) return `machine (${busy.toFixed(2)} of ${machineCores} cores busy${others})`;
  return `none (busiest: ${top} ${topCores.toFixed(2)}${others})`;
}

/** lost / duplicates / out of order / wrong topic of a step ("–" for what a version-1 results file did not count). */
function identity(step) {
  const v = (x) => (x === undefined || x === null ? '–' : n(x));
  return `${v(step.lost)} / ${v(step.duplicates)} / ${v(step.outOfOrder)} / ${v(step.wrongTopic)}`;
}

function note(step) {
  const parts = [];
  if (step.saturated) parts.push(step.saturated);
  else if (step.pushback) parts.push(`push-back: ${step.pushback}`);
  const closes = Object.entries(step.closes ?? {});
  if (closes.length) parts.push(`closed: ${closes.map(([c, k]) => `${k}×${c}`).join(', ')}`);
  if (step.shed?.connections) parts.push(`${n(step.shed.lost)} of the lost on ${n(step.shed.connections)} connection(s) shed with 4008`);
  const stray = step.stray ?? {};
  const strays = [
    stray.earlierStep && `${n(stray.earlierStep)} late frame(s) of an earlier step`,
    stray.unconfirmed && `${n(stray.unconfirmed)} deliveries of unanswered publishes`,
    stray.refused && `${n(stray.refused)} deliveries of refused publishes`,
    stray.neverSent && `${n(stray.neverSent)} deliveries never sent`,
    stray.untagged && `${n(stray.untagged)} unidentified frames`,
  ].filter(Boolean);
  if (strays.length) parts.push(`not counted: ${strays.join(', ')}`);
  return parts.join('; ');
}

function stepTable(runs, machineCores, extra = false) {
  const head = ['target', 'rate msg/s', 'delivered / expected', 'lost / dup / reordered / wrong topic', 'deliveries/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'server cores', 'redis cores', 'loadgen cores', 'publisher cores'];
  if (extra) head.push('server µs/msg');
  head.push('bottleneck', 'notes');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const run of runs) {
    if (!usable(run)) continue;
    for (const s of run.steps ?? []) {
      const cells = [run.label, n(s.rate), `${n(s.delivered)} / ${n(s.expected)}`, identity(s), n(s.deliveriesPerSec), ms(s.latencyMs.p50), ms(s.latencyMs.p90), ms(s.latencyMs.p99), ms(s.latencyMs.max), cores(s, 'server'), cores(s, 'redis'), cores(s, 'loadgen'), cores(s, 'publisher')];
      if (extra) cells.push(s.serverCpuUsPerMessage ?? '–');
      cells.push(bottleneck(s, machineCores), note(s));
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

function burstTable(runs, machineCores) {
  const uws = runs.find((r) => r.target === 'uws-bare' && usable(r) && r.burst)?.burst;
  const head = ['target', 'messages accepted', 'accepted msg/s', 'deliveries/s', '× bare uWS', 'lost / dup / reordered / wrong topic', 'p50 ms', 'p99 ms', 'max ms', 'server cores', 'loadgen cores', 'deliveries per read', 'bottleneck', 'notes'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const run of runs) {
    if (!usable(run) || !run.burst) continue;
    const b = run.burst;
    const ratio = uws && uws.deliveriesPerSec > 0 ? `${(b.deliveriesPerSec / uws.deliveriesPerSec).toFixed(2)}×` : '–';
    const label = run.bursts?.length > 1 ? `${run.label} (median of ${run.bursts.length}: ${run.bursts.map((x) => n(x.deliveriesPerSec)).join(', ')})` : run.label;
    // The median burst's counts; any other burst with a failure is named in the notes.
    const others = (run.bursts ?? []).filter((x) => (x.step !== undefined ? x.step !== b.step : JSON.stringify(x) !== JSON.stringify(b)) && (x.lost || x.duplicates || x.outOfOrder || x.wrongTopic)).map((x) => `another burst: ${identity(x)}`);
    lines.push(`| ${[label, n(b.publish.accepted), n(b.publish.acceptedPerSec), n(b.deliveriesPerSec), ratio, identity(b), ms(b.latencyMs.p50), ms(b.latencyMs.p99), ms(b.latencyMs.max), cores(b, 'server'), cores(b, 'loadgen'), b.deliveriesPerRead ?? '–', bottleneck(b, machineCores), [note(b), ...others].filter(Boolean).join('; ')].join(' | ')} |`);
  }
  return lines.join('\n');
}

function connectionsTable(runs) {
  const head = ['target', 'connections', 'failed', 'connect time s', 'connects/s', 'server CPU µs per connect', 'server RSS MiB', 'RSS per idle connection KiB', 'RSS slope during the storm KiB', 'idle server CPU % of a core', 'loadgen cores during connect', 'subscribed (checked)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const run of runs) {
    if (!usable(run) || !run.idle) continue;
    const c = run.connect;
    const i = run.idle;
    lines.push(`| ${[run.label, n(c.ready), n(c.failed), c.seconds, n(c.connectsPerSec), c.serverCpuUsPerConnect, (i.serverRssBytes / 2 ** 20).toFixed(1), (i.rssPerConnectionBytes / 1024).toFixed(2), i.rssSlopePerConnectionBytes == null ? '–' : (i.rssSlopePerConnectionBytes / 1024).toFixed(2), i.serverCpuPercent, c.cpu.coresByRole.loadgen ?? '–', run.check ? `${n(run.check.covered)} of ${n(run.check.ready)}` : '–'].join(' | ')} |`);
  }
  return lines.join('\n');
}

/** History fan-out over the same fan-out without history, per shape. */
function historyTable(results) {
  const head = ['nodes', 'subscribers', 'history topic deliveries/s', 'plain topic deliveries/s', 'history ÷ plain', 'bare uWS deliveries/s', 'offsets checked (history topic)', 'offset problems', 'frames with an offset on the plain topic', 'identity problems'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of historyRatios(results)) {
    const o = r.historyOffsets;
    const problems = [r.historyProblems && `history: ${r.historyProblems}`, r.plainProblems && `plain: ${r.plainProblems}`].filter(Boolean).join('; ') || 'none';
    lines.push(`| ${[r.nodes, n(r.subscribers), n(r.history), n(r.plain), `**${r.ratio}×**`, r.uws === null ? '–' : n(r.uws), n(o.frames), `${o.gaps} skipped / ${o.backwards} backwards / ${o.missing} missing`, n(r.plainOffsets.frames), problems].join(' | ')} |`);
  }
  return lines.join('\n');
}

function recoveryTable(runs, machineCores) {
  const head = ['target', 'clients / topics', 'behind', 'acks recovered / not / without', 'caught up', 'last caught up ms', 'per client: acked p50 / p99 ms', 'per client: caught up p50 / p99 ms', 'reconnect s (failed)', 'storm: lost / dup / reordered / wrong topic', 'live after: lost / dup / reordered / wrong topic', 'offsets checked (problems)', 'server cores (storm)', 'bottleneck (storm)', 'verdict'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const run of runs) {
    if (!usable(run) || !run.recovery) continue;
    const x = run.recovery;
    const [storm, live] = run.steps ?? [];
    const off = (run.steps ?? []).reduce((a, s) => ({ frames: a.frames + (s.offsets?.frames ?? 0), bad: a.bad + (s.offsets ? s.offsets.gaps + s.offsets.backwards + s.offsets.missing : 0) }), { frames: 0, bad: 0 });
    const acks = x.acks ? `${n(x.acks.recovered)} / ${n(x.acks.notRecovered)} / ${n(x.acks.none)}` : '–';
    const problems = recoveryProblems(run);
    lines.push(`| ${[run.label, `${n(x.clients)} / ${n(x.topics)}`, x.missedPerClient, acks, n(x.caughtUp), ms(x.lastCaughtUpMs), `${ms(x.ackMs?.p50)} / ${ms(x.ackMs?.p99)}`, `${ms(x.catchUpMs?.p50)} / ${ms(x.catchUpMs?.p99)}`, `${x.reconnect.seconds} (${n(x.reconnect.failed)})`, storm ? identity(storm) : '–', live ? identity(live) : '–', `${n(off.frames)} (${n(off.bad)})`, storm ? cores(storm, 'server') : '–', storm ? bottleneck(storm, machineCores) : '–', problems.length ? `**failed**: ${problems.join('; ')}` : '**all recovered**'].join(' | ')} |`);
  }
  return lines.join('\n');
}

function readsTable(runs) {
  const head = ['target', 'nodes', 'topics', 'clients', 'Herald herald_history_reads_total, per node', 'Redis herald_1_read calls (MONITOR): total, max / min per topic', 'cmdstat_fcall Δ (other functions)', 'reads per topic per node: Herald / MONITOR / commandstats', 'broker reconnects per node (largest event-loop delay, ms)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const run of runs) {
    if (!usable(run) || !run.recovery) continue;
    const x = run.recovery;
    const p = x.readsPerTopicPerNode;
    lines.push(`| ${[run.label, x.nodes, n(x.topics), n(x.clients), x.herald.readsPerNode.map(n).join(' + '), `${n(x.redis.readsSeen)}: ${x.redis.readsPerTopic.max} / ${x.redis.readsPerTopic.min} (${n(x.redis.readsPerTopic.topicsRead)} topics read)`, `${n(x.redis.fcallCalls)} (${n(x.redis.otherFunctionCalls)})`, `${p.herald} / ${p.redisMonitor} / ${p.redisCommandstats}`, (x.herald.brokerReconnectsPerNode ?? []).map((r, i) => `${r} (${x.herald.eventLoopLagMaxMs?.[i] ?? '–'})`).join(' + ') || '–'].join(' | ')} |`);
  }
  return lines.join('\n');
}

function churnTable(runs) {
  const head = ['target', 'cycles', 'failed', 'seconds', 'cycles/s', 'server RSS MiB: before → after', 'RSS slope, second half (B/cycle)', 'open fds: before → after', 'gauges after (connections / subscriptions / topics)', 'Redis channels after', 'verdict'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  for (const run of runs) {
    if (!usable(run) || !run.churn) continue;
    const c = run.churn;
    const g = c.gauges ? `${c.gauges.herald_connections} / ${c.gauges.herald_subscriptions} / ${c.gauges.herald_topics}` : 'unread';
    const v = c.verdict;
    lines.push(`| ${[run.label, n(c.completed), n(c.failed), c.seconds, n(c.cyclesPerSec), `${mib(c.before.rssBytes)} → ${mib(c.after.rssBytes)}`, v.rssSlopeSecondHalfBytesPerCycle ?? '–', `${c.before.openFds} → ${c.after.openFds}`, g, c.redisChannels ?? '–', `${v.bounded ? '**bounded**' : `**not bounded**: ${v.reasons.join('; ')}`}${v.rssJudged === false ? ' (RSS not judged: too few cycles)' : ''}`].join(' | ')} |`);
  }
  return lines.join('\n');
}

function problems(runs) {
  const out = [];
  for (const run of runs) {
    if (run.skipped) out.push(`- ${run.label}: **skipped**: ${run.skipped}`);
    else if (run.error) out.push(`- ${run.label}: **failed**: ${run.error.split('\n')[0]}`);
    else if (run.connect?.failed > 0) out.push(`- ${run.label}: ${run.connect.failed} of ${run.connect.requested} connections failed (${Object.entries(run.connect.failures).map(([k, v]) => `${v}× ${k}`).join(', ')})`);
    if (run.warmup && run.warmup.covered < run.warmup.ready) out.push(`- ${run.label}: after warm-up only ${run.warmup.covered} of ${run.warmup.ready} subscribers had received a message`);
  }
  return out.join('\n');
}

function machineTable(m) {
  const rows = [
    ['CPU', `${m.cpu} (${m.cores} cores)`],
    ['memory', `${m.memoryGiB} GiB`],
    ['OS, kernel', `${m.os ?? '?'}, ${m.kernel ?? '?'}`],
    ['Node.js', m.node],
    ['Redis', m.redis ?? 'not found'],
    ['nginx / Nchan', `${m.nginx ?? 'not installed'} / ${m.nchan ?? 'not installed'}`],
    ['uWebSockets.js', m.uWebSockets],
    ['Socket.IO / redis-adapter / redis-emitter', `${m.socketIo} / ${m.socketIoRedisAdapter} / ${m.socketIoRedisEmitter}`],
    ['ioredis', m.ioredis],
    ['open files per process (soft / hard)', m.openFilesLimit ? `${m.openFilesLimit.soft} / ${m.openFilesLimit.hard}` : '?'],
    ['ephemeral ports', m.ephemeralPorts],
    ['somaxconn', m.somaxconn],
  ];
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v ?? '?'} |`)].join('\n');
}

function budgetsTable(budgets) {
  const lines = ['| budget | limit | measured | met |', '|---|---|---|---|'];
  for (const b of budgets) lines.push(`| ${b.name} | ${b.budget} | ${b.measuredText} | ${b.met === true ? '**met**' : b.met === false ? '**missed**' : 'not measured'} |`);
  return lines.join('\n');
}

/** Herald's throughput relative to each peer in the fan-out burst. */
function keyRatios(results) {
  const out = [];
  for (const r of fanoutRatios(results)) out.push(`- Fan-out burst, ${n(r.subscribers)} subscribers: Herald (in-memory) **${r.ratio}×** bare uWebSockets.js (${fmt(r.herald)} vs ${fmt(r.uws)} deliveries/s).`);
  const fanout = results.scenarios?.fanout?.runs ?? [];
  for (const base of [...new Set(fanout.map((r) => r.subscribersBase))]) {
    const runs = fanout.filter((r) => r.subscribersBase === base && usable(r) && r.burst);
    const herald = runs.find((r) => r.target === 'herald-redis');
    if (!herald) continue;
    for (const peer of runs.filter((r) => r.family === 'socketio' || r.family === 'nchan')) {
      if (peer.broker !== 'redis') continue;
      out.push(`- Fan-out burst, ${n(herald.connections)} subscribers, through Redis: Herald **${(herald.burst.deliveriesPerSec / peer.burst.deliveriesPerSec).toFixed(2)}×** ${peer.label}.`);
    }
  }
  for (const r of historyRatios(results)) out.push(`- Fan-out burst on a history topic, ${n(r.subscribers)} subscribers, ${r.nodes} node${r.nodes > 1 ? 's' : ''}: **${r.ratio}×** the same on a topic without history (${fmt(r.history)} vs ${fmt(r.plain)} deliveries/s).`);
  for (const run of (results.scenarios?.recovery?.runs ?? []).filter((r) => usable(r) && r.recovery)) {
    const x = run.recovery;
    const problems = recoveryProblems(run);
    out.push(`- Recovery storm, ${run.label}: ${n(x.clients)} clients over ${n(x.topics)} topics, ${x.missedPerClient} behind: ${problems.length ? `**not all recovered** (${problems.join('; ')})` : `all recovered, the last caught up after **${ms(x.lastCaughtUpMs)} ms**`}; ${x.readsPerTopicPerNode.redisMonitor} Redis history reads per topic per node.`);
  }
  return out.join('\n');
}

const FIELDS = `\`bench/results/<date>.json\` (schema: \`bench/results.schema.json\`; version 2: deliveries identified, see *Method*):

- \`machine\`, \`options\` (the command-line options), \`command\`, \`limits\`, \`unavailable\` (peers that could not run, with why).
- \`scenarios.<id>.runs[]\`, one per target: \`target\`, \`label\`, \`family\`, \`broker\`, \`nodes\`, \`connections\`, \`topics\`,
  \`connect\` (the connect phase: \`ready\`, \`failed\`, \`failures\`, \`seconds\`, \`connectsPerSec\`, \`serverCpuUsPerConnect\`, \`cpu\`),
  \`warmup\` (\`covered\` of \`ready\` subscribers received a warm-up message, in \`rounds\`), \`steps[]\`, \`bursts[]\` and \`burst\` (fan-out, many topics, three nodes; \`burst\` is the median of \`bursts[]\` by deliveries/s), \`idle\` and \`check\` (connections), \`churn\` (churn soak), \`error\` or \`skipped\`. \`scenarios.topics.budgetRate\`: the rate of the CPU-per-message budget.
- each step: \`mode\` (\`paced\` or \`burst\`), \`rate\` (messages/s asked; 0 for a burst), \`step\` (the number its payloads carry), \`publish\` (\`offered\`, \`sent\`, \`accepted\`, \`rejected\` = HTTP 503, \`failed\`, \`unanswered\`, \`statuses\`, \`maxBehind\`, \`acceptedPerSec\`),
  \`subscribers\` (connections subscribed when the step began), \`expected\` (Σ over them of the messages accepted on their topic), \`delivered\` (distinct accepted messages received, per connection, summed), \`lost\` (expected − delivered, never clamped), \`duplicates\`, \`outOfOrder\` (received after a message published after it), \`wrongTopic\`, \`shed\` (\`connections\` closed with 4008 during the step and the \`lost\` deliveries among them), \`received\` (every delivery frame of this step, duplicates included),
  \`stray\` (frames that are no delivery of this step: \`earlierStep\` late from an earlier step, \`untagged\`, \`neverSent\`, \`refused\` = of a publish answered non-2xx, \`unconfirmed\` = of a publish that got no answer),
  \`deliveryRatio\` (delivered / expected), \`deliveriesPerSec\` (delivered / time from the first send to the last first receipt),
  \`latencyMs\` (\`p50\`, \`p90\`, \`p99\`, \`max\`, \`samples\`: publish → receipt, every first receipt), \`deliveriesPerRead\` (delivery frames per socket read), \`closes\` (close codes seen by clients during the step), \`connectionsOpen\`,
  \`cpu\` (\`wallSeconds\`, CPU seconds \`byRole\` and \`byProcess\`, \`coresByRole\` = CPU seconds / wall seconds, \`machineBusyCores\` = the whole machine's busy CPU / wall seconds, \`otherCores\` = the part of it used by programs outside the benchmark), \`serverCpuUsPerMessage\`, \`serverCpuNsPerDelivery\`, \`serverRssBytes\`,
  \`pushback\` (503s or slower acceptance), \`drainTimedOut\`, \`saturated\` (why the step counts as past what the server sustains, or null).
- \`idle\`: \`connections\`, \`seconds\`, \`serverRssBytes\`, \`baselineRssBytes\` (before the first connection), \`rssPerConnectionBytes\` ((RSS − baseline) / connections, both after an idle period), \`rssSlopePerConnectionBytes\` (slope of RSS over the connect batches, \`connect.rssPoints\`), \`serverCpuSeconds\`, \`serverCpuPercent\`.
- each step also has \`offsets\` (history topics: \`frames\` carrying an offset, and \`gaps\`, \`backwards\`, \`missing\` = frames whose offset skipped, went backwards, or was absent on a connection that had one); a recovery storm's step has \`mode\` \`recovery\` (CPU, time and deliveries/s from the reconnect on; latency publish → receipt, the time away included).
- history fan-out runs: \`historyTopic\` (true on \`bench.hist.0\`, false on the plain topic of the same node configuration), \`topic\`, \`subscribersBase\`; \`scenarios.history.historyRatioBudget\`.
- \`recovery\` (recovery storm): \`clients\`, \`topics\`, \`nodes\`, \`missedPerClient\`, \`gone\`, \`released\` (every node had released the topics, after \`seconds\`), \`published\` (messages accepted while away), \`reconnect\` (\`ready\`, \`failed\`, \`failures\`, \`seconds\`), \`acks\` (\`recovered\`, \`notRecovered\`, \`none\`), \`caughtUp\` (clients that received all their missed messages), \`lastCaughtUpMs\` (reconnect → the last client's last missed message; null unless every client caught up), \`ackMs\` and \`catchUpMs\` (per client, its connect → its ack, and → its last missed message), \`herald\` (\`readsPerNode\`, \`recoveredPerNode\`, \`replayedPerNode\`, \`brokerReconnectsPerNode\`: deltas of Herald's counters during the storm; \`eventLoopLagMaxMs\`: each node's largest event-loop delay during it), \`redis\` (\`fcallCalls\` = cmdstat_fcall Δ, \`otherFunctionCalls\` and \`readsSeen\` by MONITOR, \`readsByCommandstats\`, \`readsPerTopic\`), \`readsPerTopicPerNode\` (\`herald\`, \`redisMonitor\`, \`redisCommandstats\`); \`steps\` = [the storm, the live burst after]. \`scenarios.recovery.readsBudget\`.
- \`churn\`: \`cycles\` asked, \`completed\`, \`failed\` (with \`failures\`), \`seconds\`, \`cyclesPerSec\`, \`samples[]\` (\`cycles\`, \`rssBytes\`, \`openFds\` of the server, sampled after a pause), \`before\` and \`after\` (the same, idle, before the first and after the last cycle), \`gauges\` (Herald's connection, subscription and topic gauges after the soak), \`verdict\` (\`bounded\` and the reasons).
- \`budgets[]\`: \`id\`, \`name\`, \`budget\`, \`measured\`, \`measuredText\`, \`met\` (true, false, or null when not measured).`;

/**
 * Writes the markdown report and its charts.
 * @returns {Promise<string[]>} the files written
 */
export async function writeReport(results, docPath, chartsDir, resultsFile) {
  if (!docPath) return [];
  mkdirSync(dirname(docPath), { recursive: true });
  const charts = await writeCharts(results, chartsDir);
  const docDir = dirname(docPath);
  const chartLinks = (scenario) =>
    charts.filter((c) => c.scenario === scenario).map((c) => `![${c.title}](${relative(docDir, c.file)})`).join('\n\n');
  const m = results.machine;
  const o = results.options;
  let scaleNote = o.scale === 1 ? '' : `\n> **Reduced-size run (\`--scale ${o.scale}\`)**: connection and topic counts are ${o.scale}× the suite's, on a machine shared with other work. These numbers show that every scenario and peer runs end to end; they are not the published figures. \`npm run bench\` runs the full size.\n`;

  if (results.version === 1) {
    scaleNote += `\n> **Results file of version 1**: it predates the identification of deliveries. Its *delivered* counts delivery frames (duplicates and frames of other steps included) and its *lost* is max(0, expected − frames); the method below describes the current harness, not this file.\n`;
  }
  const sections = [];
  sections.push(`# Herald benchmarks

Generated by \`bench/run.mjs\` from \`${resultsFile}\` (run ${results.startedAt} → ${results.finishedAt}). Do not edit by hand: rerun the suite, or edit the harness, or \`docs/benchmarks/notes.md\` (included below as *Analysis*).
${scaleNote}
## Summary

${keyRatios(results) || '- No fan-out burst with both Herald and bare uWebSockets.js in this run.'}

### Budgets

${budgetsTable(results.budgets)}
`);

  sections.push(`## Machine

${machineTable(m)}

Every process ran on this one machine, on loopback (127.0.0.1): servers, Redis, the load generator's workers and the publisher share its ${m.cores} cores, so each table shows the CPU of each role (in cores: CPU seconds / wall seconds) and names the bottleneck: a process at a full core, or the whole machine busy.

**Open files.** A process may hold at most ${n(results.limits.openFilesPerProcess)} open files here (hard limit, not raisable). Single-node scenarios therefore use at most 19,500 connections (the server needs a few descriptors of its own), and the load generator spreads its connections over worker processes of fewer than ${n(results.limits.socketsPerLoadgenWorker)} sockets each.
`);

  sections.push(`## How it was run

\`\`\`sh
${results.command ?? 'node bench/run.mjs'}
\`\`\`

Reproduce (\`npm run bench\` builds Herald, then runs everything at full scale; about 30 minutes on 2 cores):

\`\`\`sh
npm run bench                                         # the whole suite, writes bench/results/<date>.json and this file
node bench/run.mjs --only fanout                      # one scenario: fanout, topics, connections (connect storm + idle), cluster, history, recovery, churn
node bench/run.mjs --scale 0.1 --only fanout --peers herald,uws   # small and quick
node bench/run.mjs --profile --only topics --peers herald         # Herald under node --cpu-prof → bench/results/profiles
node bench/run.mjs --install-peers                    # apt-get install nginx libnginx-mod-nchan first (also when CI=true)
node bench/run.mjs --report bench/results/<date>.json # regenerate this file and the charts from a results file
\`\`\`

**Method.**
- *Servers.* Herald is \`node --max-semi-space-size=2 dist/main.js\` (the flag the image and \`npm start\` run it with: README, Runtime) with \`NODE_ENV=production\`, \`HERALD_CLIENT_RATE=0\` (the load generator's clients must not be rate limited), \`HERALD_MAX_CONNECTIONS=0\`, logs at \`warn\`, otherwise defaults (1 MiB max backpressure, 60 s idle timeout); with Redis, a private \`redis-server --save '' --appendonly no\` per run. Bare uWebSockets.js (\`bench/peers/uws-bare.mjs\`): no auth, subscribed on open, POST /publish wraps the body in Herald's delivery frame and calls \`app.publish\` — the ceiling of the stack. Socket.IO 4 (\`bench/peers/socketio.mjs\`): WebSocket transport only, rooms joined by an acknowledged \`subscribe\` event; in memory, published by an HTTP endpoint; with \`@socket.io/redis-adapter\`, published through \`@socket.io/redis-emitter\` from the publisher process, as Socket.IO backends do. Nchan: Debian's nginx + libnginx-mod-nchan, one worker process, WebSocket subscribers, HTTP publisher, with Redis in \`nostore\` mode (plain pub/sub, like Herald).
- *Load generator* (\`bench/client/\`): worker processes with a minimal WebSocket client on raw TCP sockets (upgrade, frame parsing straight from the bytes, pongs, masked client frames), the same code for every server. Every Herald connection authenticates with its own HS256 JWT and subscribes (waits for the ack) before it counts.
- *Publisher* (\`bench/publisher/\`): a separate process; keep-alive HTTP/1.1, one request in flight per connection, at most 128 connections. Every payload (${o.payloadBytes} bytes) is tagged \`{"t":…,"e":…,"k":…,"s":…,"f":…,"p":"…"}\`: its send time in µs on CLOCK_MONOTONIC (the same clock in every process; receivers compute publish → receipt latency from it for every first receipt, histogram with 2 % buckets), its step, its topic, its sequence within topic and step, and a floor (every sequence below it was answered before this one was sent).
- *Every delivery identified* (\`bench/lib/identity.mjs\`). Each receiving connection keeps, per step, the next sequence it expects of its topic, the highest floor it saw and, only while something is missing, a bitmap of what it saw. *delivered* counts distinct accepted messages per connection; *lost* = expected − delivered, never clamped; a *duplicate* never counts twice; *out of order* is a message received after one that was published after it (the floor: a concurrent publisher's order is only known for messages answered before others were sent); *wrong topic* is a payload of another topic. Deliveries of publishes answered non-2xx, unanswered, or never sent are counted apart and never as delivered. Frames of another step never count in a step: each step ends after 300 ms without any frame, and a late frame is counted as *stray* in the step it arrives in.
- *Steps.* Fixed-rate steps of ${o.stepSeconds} s; a step ends when every expected delivery has arrived, or none for 2 s, then after quiet. Expected = Σ over the connections subscribed when the step began of the messages accepted on their topic. A step counts as *saturated* on any loss, publish failure, push-back (HTTP 503, or fewer than 98 % of the messages sent in time because the server answered too slowly), or p99 latency over ${o.latencyLimitMs} ms; the sweep stops there. Bursts publish a fixed number of messages with 64 in flight, ${o.bursts ?? 1} of them for every target alike (the median counts).
- *CPU and memory* of every process (server, Redis, workers, publisher) from /proc: utime + stime per step, VmRSS (nginx: master + worker).
`);

  const fanout = results.scenarios?.fanout;
  if (fanout) {
    sections.push(`## Fan-out\n\n${fanout.description}\n`);
    for (const base of [...new Set(fanout.runs.map((r) => r.subscribersBase))]) {
      const runs = fanout.runs.filter((r) => r.subscribersBase === base);
      sections.push(`### ${n(runs[0]?.connections ?? base)} subscribers\n\nFixed rates:\n\n${stepTable(runs, m.cores)}\n\nMax-rate burst:\n\n${burstTable(runs, m.cores)}\n`);
      const p = problems(runs);
      if (p) sections.push(`${p}\n`);
    }
    sections.push(`${chartLinks('fanout')}\n`);
  }

  const topics = results.scenarios?.topics;
  if (topics) {
    sections.push(`## Many topics\n\n${topics.description} *server µs/msg* is the server's CPU (all of it: HTTP ingest, Redis, fan-out to the topic's subscribers) divided by the messages accepted.\n\n${stepTable(topics.runs, m.cores, true)}\n`);
    const p = problems(topics.runs);
    if (p) sections.push(`${p}\n`);
    sections.push(`${chartLinks('topics')}\n`);
  }

  const conns = results.scenarios?.connections;
  if (conns) {
    sections.push(`## Connect storm and idle connections\n\n${conns.description} *RSS per idle connection* = (server RSS after the idle period − server RSS before the first connection) / connections; both samples follow the same idle time, so that a Node.js server has had the same chance to shrink its heap (V8 does so only after a few seconds without work). The connections open in four equal parts (the storm's CPU is summed over them), the server's RSS sampled 1 s after each: *RSS slope during the storm* is the least-squares slope over those samples, the memory each further connection costs while the storm's garbage is still there. *Subscribed (checked)*: after the idle period, one message per topic; how many connections received theirs.\n\n${connectionsTable(conns.runs)}\n`);
    const p = problems(conns.runs);
    if (p) sections.push(`${p}\n`);
    sections.push(`${chartLinks('connections')}\n`);
  }

  const cluster = results.scenarios?.cluster;
  if (cluster) {
    sections.push(`## Three nodes over one Redis\n\n${cluster.description}\n\nFixed rates:\n\n${stepTable(cluster.runs, m.cores)}\n\nMax-rate burst:\n\n${burstTable(cluster.runs, m.cores)}\n`);
    const p = problems(cluster.runs);
    if (p) sections.push(`${p}\n`);
    sections.push(`${chartLinks('cluster')}\n`);
  }

  const history = results.scenarios?.history;
  if (history) {
    sections.push(`## Fan-out on a history topic\n\n${history.description}\n\nThe median max-rate burst on the history topic against the same on the plain topic (budget ≥ ${history.historyRatioBudget ?? 0.8}×):\n\n${historyTable(results)}\n`);
    for (const shape of [...new Set(history.runs.map((r) => `${r.nodes}:${r.subscribersBase}`))]) {
      const [nodes, base] = shape.split(':').map(Number);
      const runs = history.runs.filter((r) => r.nodes === nodes && r.subscribersBase === base).map((r) => ({ ...r, label: r.family === 'herald' ? `${r.label} on ${r.historyTopic ? 'the history topic' : 'a plain topic'}` : r.label }));
      sections.push(`### ${n(runs[0]?.connections ?? base)} subscribers, ${nodes} node${nodes > 1 ? 's' : ''}\n\nFixed rates:\n\n${stepTable(runs, m.cores)}\n\nMax-rate burst:\n\n${burstTable(runs, m.cores)}\n`);
      const p = problems(runs);
      if (p) sections.push(`${p}\n`);
    }
    sections.push(`${chartLinks('history')}\n`);
  }

  const recovery = results.scenarios?.recovery;
  if (recovery) {
    sections.push(`## Recovery storm\n\n${recovery.description}\n\n${recoveryTable(recovery.runs, m.cores)}\n\nHistory reads during the storm (budget ≤ ${recovery.readsBudget ?? 3} per topic per node):\n\n${readsTable(recovery.runs)}\n`);
    const p = problems(recovery.runs);
    if (p) sections.push(`${p}\n`);
  }

  const churn = results.scenarios?.churn;
  if (churn) {
    sections.push(`## Churn soak\n\n${churn.description}\n\n${churnTable(churn.runs)}\n`);
    const p = problems(churn.runs);
    if (p) sections.push(`${p}\n`);
    sections.push(`${chartLinks('churn')}\n`);
  }

  const unavailable = Object.entries(results.unavailable ?? {});
  if (unavailable.length) sections.push(`## Peers that could not run\n\n${unavailable.map(([k, v]) => `- ${k}: ${v}`).join('\n')}\n`);

  const notesPath = `${chartsDir}/notes.md`;
  if (existsSync(notesPath)) sections.push(`## Analysis\n\n${readFileSync(notesPath, 'utf8').trim()}\n`);

  sections.push(`## Results file\n\n${FIELDS}\n`);

  writeFileSync(docPath, sections.join('\n'));
  return [docPath, ...charts.map((c) => c.file)];
}
