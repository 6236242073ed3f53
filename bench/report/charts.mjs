/**
 * SVG charts of a results object, drawn by vega-lite (compiled to a vega
 * view, rendered headless): deliveries/s and latency percentiles against
 * publish rate, burst throughput, connection costs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { TARGETS } from '../targets/index.mjs';

const usable = (run) => run && !run.error && !run.skipped;

/** Rows of the paced steps of some runs: one per run and rate. */
function pacedRows(runs) {
  const rows = [];
  for (const run of runs.filter(usable)) {
    for (const s of run.steps ?? []) {
      if (s.mode !== 'paced' || s.deliveriesPerSec === null) continue;
      rows.push({
        target: run.label,
        rate: s.rate,
        deliveriesPerSec: s.deliveriesPerSec,
        p50: s.latencyMs.p50,
        p90: s.latencyMs.p90,
        p99: s.latencyMs.p99,
        serverCpuUsPerMessage: s.serverCpuUsPerMessage,
        saturated: s.saturated ? 'saturated' : 'sustained',
      });
    }
  }
  return rows;
}

/** One colour per target in every chart: Herald blues, bare uWS purple, Socket.IO greens, Nchan oranges. */
const PALETTE = {
  'herald-memory': '#1f5fbf', 'herald-redis': '#6fa8ff', 'herald-redis-3': '#0b2f6b',
  'uws-bare': '#8e44ad',
  'socketio-memory': '#2e8b57', 'socketio-redis': '#8fd19e', 'socketio-redis-3': '#145a32',
  'nchan-memory': '#e67e22', 'nchan-redis': '#f5b971', 'nchan-redis-3': '#a04000',
};
/** The colour scale for the targets present in `rows` (field `target` holds the label), in TARGETS order. */
function colorScale(rows) {
  const present = new Set(rows.map((r) => r.target));
  const shown = TARGETS.filter((t) => present.has(t.label));
  return { domain: shown.map((t) => t.label), range: shown.map((t) => PALETTE[t.id] ?? '#888888') };
}

const WIDTH = 420;
const HEIGHT = 260;
const config = { font: 'Helvetica, Arial, sans-serif', axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 } };

function throughputSpec(title, rows) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    config,
    data: { values: rows },
    mark: { type: 'line', point: { filled: true, size: 50 } },
    encoding: {
      x: { field: 'rate', type: 'quantitative', scale: { type: 'log' }, title: 'publish rate (messages/s)' },
      y: { field: 'deliveriesPerSec', type: 'quantitative', scale: { type: 'log' }, title: 'deliveries/s at the receivers' },
      color: { field: 'target', type: 'nominal', title: null, scale: colorScale(rows), legend: { orient: 'bottom', columns: 2 } },
      shape: { field: 'saturated', type: 'nominal', title: null, legend: { orient: 'bottom' } },
      tooltip: [{ field: 'target' }, { field: 'rate' }, { field: 'deliveriesPerSec' }],
    },
  };
}

function latencySpec(title, rows) {
  const long = rows.flatMap((r) => ['p50', 'p90', 'p99'].filter((p) => r[p] !== null).map((p) => ({ target: r.target, rate: r.rate, percentile: p, ms: Math.max(0.01, r[p]) })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    config,
    data: { values: long },
    facet: { column: { field: 'percentile', type: 'nominal', title: null, sort: ['p50', 'p90', 'p99'] } },
    spec: {
      width: 230,
      height: HEIGHT,
      mark: { type: 'line', point: { filled: true, size: 40 } },
      encoding: {
        x: { field: 'rate', type: 'quantitative', scale: { type: 'log' }, title: 'publish rate (messages/s)' },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'publish → receipt latency (ms)' },
        color: { field: 'target', type: 'nominal', title: null, scale: colorScale(rows), legend: { orient: 'bottom', columns: 3 } },
      },
    },
  };
}

function barSpec(title, rows, field, axisTitle, facetField) {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    config,
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'target', type: 'nominal', title: null, sort: null, axis: { labelLimit: 300 } },
      x: { field, type: 'quantitative', title: axisTitle },
      color: { field: 'target', type: 'nominal', scale: colorScale(rows), legend: null },
      tooltip: [{ field: 'target' }, { field }],
    },
    width: WIDTH,
  };
  if (facetField) {
    return { $schema: spec.$schema, title, config, data: spec.data, facet: { row: { field: facetField, type: 'ordinal', title: null, header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelFontWeight: 'bold', labelFontSize: 12 } } }, spec: { mark: spec.mark, encoding: spec.encoding, width: WIDTH } };
  }
  return spec;
}

async function render(spec) {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/**
 * Writes every chart the results allow into `dir`.
 * @returns {Promise<{ file: string, title: string, scenario: string }[]>}
 */
export async function writeCharts(results, dir) {
  mkdirSync(dir, { recursive: true });
  /** @type {{ name: string, title: string, scenario: string, spec: any }[]} */
  const charts = [];
  const fanout = results.scenarios?.fanout?.runs ?? [];
  for (const base of [...new Set(fanout.map((r) => r.subscribersBase))]) {
    const runs = fanout.filter((r) => r.subscribersBase === base);
    const n = runs[0]?.connections ?? base;
    const rows = pacedRows(runs);
    if (rows.length === 0) continue;
    charts.push({ name: `fanout-${base}-deliveries`, scenario: 'fanout', title: `Fan-out to ${n} subscribers: deliveries/s`, spec: throughputSpec(`Fan-out, ${n} subscribers on one topic: deliveries/s`, rows) });
    charts.push({ name: `fanout-${base}-latency`, scenario: 'fanout', title: `Fan-out to ${n} subscribers: latency`, spec: latencySpec(`Fan-out, ${n} subscribers: latency percentiles`, rows) });
  }
  const bursts = fanout.filter((r) => usable(r) && r.burst).map((r) => ({ target: r.label, family: r.family, subscribers: `${r.connections} subscribers`, deliveriesPerSec: r.burst.deliveriesPerSec }));
  if (bursts.length) charts.push({ name: 'fanout-burst', scenario: 'fanout', title: 'Fan-out max-rate burst: deliveries/s', spec: barSpec('Fan-out, max-rate burst: deliveries/s', bursts, 'deliveriesPerSec', 'deliveries/s at the receivers', 'subscribers') });

  const history = (results.scenarios?.history?.runs ?? []).filter((r) => usable(r) && r.burst);
  if (history.length) {
    const rows = history.map((r) => ({
      target: r.family !== 'herald' ? 'bare uWebSockets.js' : `Herald, ${r.historyTopic ? 'history topic' : 'plain topic'}`,
      family: r.family,
      shape: `${r.connections} subscribers, ${r.nodes} node${r.nodes > 1 ? 's' : ''}`,
      kind: r.family !== 'herald' ? 'bare uWebSockets.js' : r.historyTopic ? 'history topic' : 'plain topic',
      deliveriesPerSec: r.burst.deliveriesPerSec,
    }));
    const spec = barSpec('Fan-out on a history topic vs a plain topic, max-rate burst: deliveries/s', rows, 'deliveriesPerSec', 'deliveries/s at the receivers', 'shape');
    // Coloured by what is compared (the labels are not the targets' own): history topic, plain topic, bare uWS.
    spec.spec.encoding.color = { field: 'kind', type: 'nominal', scale: { domain: ['history topic', 'plain topic', 'bare uWebSockets.js'], range: [PALETTE['herald-redis-3'], PALETTE['herald-redis'], PALETTE['uws-bare']] }, legend: null };
    spec.resolve = { scale: { y: 'independent' } };
    charts.push({ name: 'history-burst', scenario: 'history', title: 'Fan-out on a history topic, max-rate burst: deliveries/s', spec });
  }

  const topics = results.scenarios?.topics?.runs ?? [];
  const topicRows = pacedRows(topics);
  if (topicRows.length) {
    charts.push({ name: 'topics-deliveries', scenario: 'topics', title: 'Many topics: deliveries/s', spec: throughputSpec('Many topics: deliveries/s', topicRows) });
    charts.push({ name: 'topics-latency', scenario: 'topics', title: 'Many topics: latency', spec: latencySpec('Many topics: latency percentiles', topicRows) });
    const cpuRows = topicRows.filter((r) => r.serverCpuUsPerMessage !== null);
    charts.push({
      name: 'topics-server-cpu',
      scenario: 'topics',
      title: 'Many topics: server CPU per message',
      spec: { ...throughputSpec('Many topics: server CPU per published message (µs)', cpuRows), encoding: { ...throughputSpec('', cpuRows).encoding, y: { field: 'serverCpuUsPerMessage', type: 'quantitative', title: 'server CPU per message (µs)' } } },
    });
  }

  const cluster = results.scenarios?.cluster?.runs ?? [];
  const clusterRows = pacedRows(cluster);
  if (clusterRows.length) {
    charts.push({ name: 'cluster-deliveries', scenario: 'cluster', title: 'Three nodes: deliveries/s', spec: throughputSpec('Three nodes over one Redis: deliveries/s', clusterRows) });
    charts.push({ name: 'cluster-latency', scenario: 'cluster', title: 'Three nodes: latency', spec: latencySpec('Three nodes over one Redis: latency percentiles', clusterRows) });
  }

  const conns = (results.scenarios?.connections?.runs ?? []).filter((r) => usable(r) && r.idle);
  if (conns.length) {
    charts.push({ name: 'connections-rss', scenario: 'connections', title: 'RSS per idle connection', spec: barSpec('Server RSS per idle connection (KiB)', conns.map((r) => ({ target: r.label, family: r.family, kib: Math.round((r.idle.rssPerConnectionBytes / 1024) * 100) / 100 })), 'kib', 'KiB per connection') });
    charts.push({ name: 'connections-cpu', scenario: 'connections', title: 'Server CPU per connect', spec: barSpec('Server CPU per connect + subscribe (µs)', conns.map((r) => ({ target: r.label, family: r.family, us: r.connect.serverCpuUsPerConnect })), 'us', 'µs of server CPU per connection') });
  }

  const churn = (results.scenarios?.churn?.runs ?? []).filter((r) => usable(r) && r.churn);
  if (churn.length) {
    const rows = churn.flatMap((r) => [r.churn.before, ...r.churn.samples, r.churn.after].map((s, i, all) => ({ target: r.label, cycles: s.cycles, mib: Math.round((s.rssBytes / 2 ** 20) * 10) / 10, sample: i === 0 ? 'idle before' : i === all.length - 1 ? 'idle after' : 'during' })));
    charts.push({
      name: 'churn-rss',
      scenario: 'churn',
      title: 'Churn soak: server RSS',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        title: 'Churn soak: server RSS over connect/subscribe/disconnect cycles',
        width: WIDTH,
        height: HEIGHT,
        config,
        data: { values: rows },
        mark: { type: 'line', point: { filled: true, size: 50 } },
        encoding: {
          x: { field: 'cycles', type: 'quantitative', title: 'cycles completed' },
          y: { field: 'mib', type: 'quantitative', title: 'server RSS (MiB)', scale: { zero: true } },
          color: { field: 'target', type: 'nominal', title: null, scale: colorScale(rows), legend: { orient: 'bottom' } },
          shape: { field: 'sample', type: 'nominal', title: null, legend: { orient: 'bottom' } },
        },
      },
    });
  }

  const out = [];
  for (const c of charts) {
    const file = join(dir, `${c.name}.svg`);
    writeFileSync(file, await render(c.spec));
    out.push({ file, title: c.title, scenario: c.scenario });
  }
  return out;
}
