/**
 * The alert rules and the Prometheus configuration of deploy/: promtool checks
 * and unit-tests them where it is installed (Debian package prometheus); the
 * alerts the issue asks for are there in any case.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { unless } from '../helpers/skip.js';
import { ROOT, promtoolNeed, run } from './lib/tools.js';

const RULES = 'deploy/prometheus/alerts.yml';
const promtool = promtoolNeed();

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules = (parse(readFileSync(join(ROOT, RULES), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

describe('prometheus - alert rules', () => {
  it('prometheus - there are alerts for broker down, p99 latency, drops, nodes not ready and nodes down', () => {
    const byName = new Map(rules.map((rule) => [rule.alert, rule]));
    expect(byName.get('HeraldBrokerDown')?.expr).toContain('herald_broker_up');
    expect(byName.get('HeraldPublishLatencyHigh')?.expr).toMatch(/histogram_quantile\(0\.99,/);
    expect(byName.get('HeraldSlowConsumersShed')?.expr).toContain('reason="slow_consumer"');
    expect(byName.get('HeraldInvalidBrokerMessages')?.expr).toContain('reason="invalid"');
    expect(byName.get('HeraldNodeNotReady')?.expr).toMatch(/herald_broker_up.*herald_draining/);
    expect(byName.get('HeraldNodeDown')?.expr).toContain('up{job="herald"}');
  });

  it('prometheus - every alert has a severity, a summary and a description', () => {
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
  });

  it('prometheus - promtool check rules accepts the alert rules', unless(promtool), async () => {
    const result = await run('promtool', ['check', 'rules', RULES], { timeoutMs: 30_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('prometheus - promtool check config accepts deploy/prometheus/prometheus.yml and the rule file it loads', unless(promtool), async () => {
    const result = await run('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml'], { timeoutMs: 30_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toContain('SUCCESS: 1 rule files found');
  });

  it('prometheus - the alerts fire on the failures they are for, after their `for`, and not on a healthy cluster (promtool test rules)', unless(promtool), async () => {
    const result = await run('promtool', ['test', 'rules', 'test/deploy/fixtures/alerts.test.yml'], { timeoutMs: 60_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    // Every alert is exercised by at least one firing case.
    const fixture = readFileSync(join(ROOT, 'test/deploy/fixtures/alerts.test.yml'), 'utf8');
    for (const rule of rules) expect(fixture, rule.alert).toMatch(new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
  });
});
