/**
 * Just enough PromQL reading to find the metric names and label matchers an
 * expression uses, so that the dashboard and the alert rules can be checked
 * against what a running Herald node exposes.
 */

/** Words of the language that look like metric names. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const STRING = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;

/** The metric names an expression selects (functions, keywords, labels, durations and Grafana variables left out). */
export function metricNames(expr: string): string[] {
  let s = expr.replace(STRING, '""');
  s = s.replace(/\{[^}]*\}/g, ' '); // label matchers
  s = s.replace(/\[[^\]]*\]/g, ' '); // range and subquery durations
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  s = s.replace(/\boffset\s+-?[\w$]+/g, ' ');
  s = s.replace(/\$\{?\w+\}?/g, ' '); // Grafana variables such as $__rate_interval
  const names = new Set<string>();
  for (const match of s.matchAll(new RegExp(`(?<![\\w.:$])(${NAME})(?![\\w:])(\\s*\\()?`, 'g'))) {
    const name = match[1]!;
    if (match[2] !== undefined) continue; // a function call
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

export interface Matcher {
  readonly metric: string;
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

/** Label matchers written on a named metric, e.g. herald_messages_dropped_total{reason="invalid"}. */
export function labelMatchers(expr: string): Matcher[] {
  const matchers: Matcher[] = [];
  for (const selector of expr.matchAll(new RegExp(`(?<![\\w.:$])(${NAME})\\s*\\{([^}]*)\\}`, 'g'))) {
    for (const m of selector[2]!.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      matchers.push({ metric: selector[1]!, label: m[1]!, op: m[2] as Matcher['op'], value: m[3]! });
    }
  }
  return matchers;
}

/** The metric selector inside a Grafana `label_values(<selector>, <label>)` query, or the query itself. */
export function grafanaQueryExpression(query: string): string {
  const labelValues = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/.exec(query);
  if (labelValues !== null) return labelValues[1]!;
  if (/^\s*label_values\(\s*\w+\s*\)\s*$/.test(query)) return '';
  return query;
}

export interface Exposition {
  /** Every sample name (histograms as their _bucket, _sum and _count series) and every # TYPE name. */
  readonly names: ReadonlySet<string>;
  /** Label sets seen per sample name. */
  readonly series: ReadonlyMap<string, readonly Readonly<Record<string, string>>[]>;
}

/** Parses Prometheus text exposition. */
export function parseExposition(text: string): Exposition {
  const names = new Set<string>();
  const series = new Map<string, Record<string, string>[]>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) \w+/.exec(line);
    if (type !== null) {
      names.add(type[1]!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = new RegExp(`^(${NAME})(\\{(.*)\\})?\\s`).exec(line);
    if (sample === null) continue;
    const labels: Record<string, string> = {};
    for (const m of (sample[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    names.add(sample[1]!);
    const list = series.get(sample[1]!) ?? [];
    list.push(labels);
    series.set(sample[1]!, list);
  }
  return { names, series };
}
