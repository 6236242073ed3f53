/**
 * The Grafana dashboard, the alert rules and the chart's autoscaling metric
 * may only name metrics that a running Herald node really exposes: a renamed
 * metric must break this test, not a dashboard in production.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { spawnHerald, type HeraldProcess } from '../helpers/process.js';
import { API_KEY, SECRET } from '../helpers/tokens.js';
import { grafanaQueryExpression, labelMatchers, metricNames, parseExposition, type Exposition } from './lib/promql.js';
import { ROOT } from './lib/tools.js';

/** Series Prometheus itself adds to every target; not Herald's to expose. */
const SYNTHESISED_BY_PROMETHEUS = new Set(['up']);
/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS = new Set(['job', 'instance']);

const DASHBOARDS = ['deploy/grafana/dashboards/herald.json', 'helm/herald/files/herald-dashboard.json'];
const RULE_FILES = ['deploy/prometheus/alerts.yml', 'helm/herald/files/alerts.yml'];

interface Query {
  readonly where: string;
  readonly expr: string;
}

/** Every PromQL expression in a dashboard: panel targets and templating queries. */
function dashboardQueries(file: string): Query[] {
  const queries: Query[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${path}[${i}]`));
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'expr' && typeof value === 'string') queries.push({ where: `${file} ${path}.expr`, expr: value });
        else if (path.includes('templating') && (key === 'query' || key === 'definition') && typeof value === 'string' && value.includes('(')) {
          queries.push({ where: `${file} ${path}.${key}`, expr: grafanaQueryExpression(value) });
        } else walk(value, `${path}.${key}`);
      }
    }
  };
  walk(JSON.parse(readFileSync(join(ROOT, file), 'utf8')), '');
  return queries;
}

function ruleQueries(file: string): Query[] {
  const rules = parse(readFileSync(join(ROOT, file), 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  return rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `${file} ${rule.alert ?? rule.record}`, expr: rule.expr })));
}

function chartQueries(): Query[] {
  const values = parse(readFileSync(join(ROOT, 'helm/herald/values.yaml'), 'utf8')) as { autoscaling: { connectionsPerPod: { metricName: string } } };
  return [{ where: 'helm/herald/values.yaml autoscaling.connectionsPerPod.metricName', expr: values.autoscaling.connectionsPerPod.metricName }];
}

/** The names and label values `queries` use that `exposed` does not have. */
function unknownReferences(queries: readonly Query[], exposed: Exposition): string[] {
  const problems: string[] = [];
  for (const { where, expr } of queries) {
    for (const name of metricNames(expr)) {
      if (!exposed.names.has(name) && !SYNTHESISED_BY_PROMETHEUS.has(name)) problems.push(`${where}: metric ${name} is not exposed`);
    }
    for (const m of labelMatchers(expr)) {
      if (TARGET_LABELS.has(m.label) || SYNTHESISED_BY_PROMETHEUS.has(m.metric) || m.value.includes('$')) continue;
      if (m.op !== '=' && !(m.op === '=~' && /^[\w|]+$/.test(m.value))) continue;
      const seen = exposed.series.get(m.metric) ?? [];
      for (const value of m.value.split('|')) {
        if (!seen.some((labels) => labels[m.label] === value)) problems.push(`${where}: no ${m.metric} series has ${m.label}="${value}"`);
      }
    }
  }
  return problems;
}

describe('metric-names - PromQL reading', () => {
  it('metric-names - finds names through functions, aggregations, matchers, ranges and Grafana variables', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(herald_publish_latency_seconds_bucket{job="herald",instance=~"$instance"}[$__rate_interval]))) > 0.5')).toEqual([
      'herald_publish_latency_seconds_bucket',
    ]);
    expect(metricNames('sum(rate(a_total{reason="by"}[5m] offset 1h)) / on(instance) group_left clamp_min(b, 1e-9) and ignoring(x) c > bool 2')).toEqual(['a_total', 'b', 'c']);
    expect(metricNames('(1 - herald_broker_up{job="herald"}) + herald_draining{job="herald"} > 0')).toEqual(['herald_broker_up', 'herald_draining']);
    expect(grafanaQueryExpression('label_values(herald_connections{job="herald"}, instance)')).toBe('herald_connections{job="herald"}');
  });

  it('metric-names - finds label matchers on named metrics', () => {
    expect(labelMatchers('sum(rate(herald_messages_dropped_total{job="herald",reason="slow_consumer"}[5m]))')).toEqual([
      { metric: 'herald_messages_dropped_total', label: 'job', op: '=', value: 'herald' },
      { metric: 'herald_messages_dropped_total', label: 'reason', op: '=', value: 'slow_consumer' },
    ]);
  });
});

interface Variable {
  name: string;
  type: string;
  multi?: boolean;
  includeAll?: boolean;
  query?: { query: string } | string;
}

/** Selectors of `expr` that name no label matcher at all (e.g. a bare `herald_connections`). */
function bareSelectors(expr: string): string[] {
  const withoutMatchers = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '{}');
  return metricNames(expr).filter((name) => new RegExp(`(?<![\\w:])${name}(?![\\w:{])(?!\\s*\\{)`).test(withoutMatchers));
}

describe('grafana - the dashboard shows one namespace and release at a time', () => {
  for (const file of DASHBOARDS) {
    const dashboard = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { templating: { list: Variable[] }; panels: { title: string; targets?: { expr: string }[] }[] };
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));

    it(`grafana - ${file}: namespace and release are single-valued query variables, without "All"`, () => {
      for (const name of ['namespace', 'release']) {
        const variable = variables.get(name);
        expect(variable, name).toMatchObject({ type: 'query', multi: false, includeAll: false });
      }
      const query = (name: string): string => {
        const q = variables.get(name)!.query!;
        return typeof q === 'string' ? q : q.query;
      };
      expect(query('namespace')).toBe('label_values(herald_connections{job="herald"}, namespace)');
      // Each variable offers only what the previous ones leave.
      expect(labelMatchers(grafanaQueryExpression(query('release')))).toContainEqual({ metric: 'herald_connections', label: 'namespace', op: '=', value: '$namespace' });
      for (const label of ['namespace', 'release']) {
        expect(labelMatchers(grafanaQueryExpression(query('instance')))).toContainEqual({ metric: 'herald_connections', label, op: '=', value: `$${label}` });
      }
    });

    it(`grafana - ${file}: every selector of every panel query is narrowed to $namespace and $release`, () => {
      const targets = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => ({ panel: panel.title, expr: t.expr })));
      expect(targets.length).toBeGreaterThan(20);
      const problems: string[] = [];
      for (const { panel, expr } of targets) {
        for (const name of bareSelectors(expr)) problems.push(`${panel}: ${name} without matchers`);
        for (const selector of expr.matchAll(/(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
          const matchers = labelMatchers(selector[0]);
          for (const label of ['namespace', 'release']) {
            if (!matchers.some((m) => m.label === label && m.op === '=' && m.value === `$${label}`)) problems.push(`${panel}: ${selector[1]} is not narrowed to ${label}="$${label}"`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }

  it('grafana - the check finds a selector left unnarrowed, with or without matchers', () => {
    expect(bareSelectors('sum(herald_connections) + sum(herald_topics{job="herald"})')).toEqual(['herald_connections']);
    expect(bareSelectors('sum(rate(herald_x_total{a="b"}[5m]))')).toEqual([]);
  });
});

describe('metric-names - dashboard and alert rules against a running node', () => {
  let node: HeraldProcess | undefined;
  let exposed: Exposition;

  beforeAll(async () => {
    node = await spawnHerald({ NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY, HERALD_REDIS_URL: inject('redisUrl'), HERALD_DRAIN_SECONDS: '0' });
    const response = await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(200);
    exposed = parseExposition(await response.text());
  }, 20_000);

  afterAll(async () => {
    if (node === undefined) return;
    node.child.kill('SIGTERM');
    await Promise.race([node.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    node.kill();
  });

  it('metric-names - the scrape holds Herald\'s metrics, histograms as _bucket/_sum/_count', () => {
    expect(exposed.names.has('herald_connections')).toBe(true);
    expect(exposed.names.has('herald_publish_latency_seconds_bucket')).toBe(true);
    expect(exposed.names.has('herald_publish_latency_seconds_count')).toBe(true);
    expect(exposed.names.has('herald_does_not_exist')).toBe(false);
  });

  it('metric-names - the check reports a name or a label value the node does not expose', () => {
    const problems = unknownReferences([{ where: 'probe', expr: 'sum(rate(herald_messages_sent_total[5m])) + sum(herald_messages_dropped_total{reason="too_slow"})' }], exposed);
    expect(problems).toEqual(['probe: metric herald_messages_sent_total is not exposed', 'probe: no herald_messages_dropped_total series has reason="too_slow"']);
  });

  it('metric-names - every metric and label value in the Grafana dashboards is exposed', () => {
    const queries = DASHBOARDS.flatMap(dashboardQueries);
    expect(queries.length).toBeGreaterThan(20);
    expect(unknownReferences(queries, exposed)).toEqual([]);
  });

  it('metric-names - every metric and label value in the alert rules is exposed', () => {
    const queries = RULE_FILES.flatMap(ruleQueries);
    expect(queries.length).toBeGreaterThanOrEqual(8);
    expect(unknownReferences(queries, exposed)).toEqual([]);
  });

  it('metric-names - the HPA\'s connections-per-pod metric is exposed', () => {
    expect(unknownReferences(chartQueries(), exposed)).toEqual([]);
  });

  it('metric-names - the dashboard shows connections, subscriptions, topics, messages in and out, latency percentiles, auth failures, drops and broker state', () => {
    const queries = dashboardQueries(DASHBOARDS[0]!);
    const used = new Set(queries.flatMap((q) => metricNames(q.expr)));
    for (const name of [
      'herald_connections',
      'herald_subscriptions',
      'herald_topics',
      'herald_messages_published_total',
      'herald_messages_delivered_total',
      'herald_publish_latency_seconds_bucket',
      'herald_auth_failures_total',
      'herald_messages_dropped_total',
      'herald_broker_up',
    ]) {
      expect(used.has(name), `dashboard uses ${name}`).toBe(true);
    }
    const quantiles = queries.filter((q) => q.expr.includes('histogram_quantile(')).map((q) => /histogram_quantile\(([\d.]+)/.exec(q.expr)![1]);
    expect(quantiles).toEqual(expect.arrayContaining(['0.5', '0.9', '0.99']));
    // Counters are shown as rates, never as raw ever-growing totals.
    for (const q of queries) {
      for (const name of metricNames(q.expr)) {
        if (name.endsWith('_total') || name.endsWith('_bucket')) expect(q.expr, `${q.where} wraps ${name} in rate() or increase()`).toMatch(/\b(rate|increase)\(/);
      }
    }
  });
});
