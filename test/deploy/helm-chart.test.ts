/**
 * Checks of the Helm chart that need no helm binary: the values against their
 * schema (the defaults, the example overrides, and overrides that must be
 * rejected), and the templates against values.yaml and against Herald's own
 * configuration. Rendering is tested in helm-render.test.ts where helm exists.
 */
import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, parse, parseDocument, type Pair, type YAMLMap } from 'yaml';
import { VARIABLES } from '../../src/config.js';
import { CHART, chartSchema, chartValues, coalesce, exampleFiles, readText, schemaValidator, templateFiles, withValue, type Values } from './lib/chart.js';
import { ROOT } from './lib/tools.js';

const validate = schemaValidator();
const defaults = chartValues();
const deploymentTemplate = readText(join(CHART, 'templates/deployment.yaml'));
const helpersTemplate = readText(join(CHART, 'templates/_helpers.tpl'));

/** The value at a dotted path, with `found` telling a null value from a missing key. */
function lookup(values: unknown, path: string): { found: boolean; value: unknown } {
  let node: unknown = values;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !(key in node)) return { found: false, value: undefined };
    node = (node as Values)[key];
  }
  return { found: true, value: node };
}

const errorsText = (errors: readonly { instancePath: string; message?: string }[]): string => errors.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');

/** The Redis modes a set of values chooses, as the chart's herald.validate counts them. */
function redisModes(values: Values): string[] {
  const redis = values.redis as { url: string; sentinel: { hosts: string[]; masterName: string }; cluster: { nodes: string[] } };
  const modes: string[] = [];
  if (redis.url !== '') modes.push('standalone');
  if (redis.sentinel.hosts.length > 0 || redis.sentinel.masterName !== '') modes.push('sentinel');
  if (redis.cluster.nodes.length > 0) modes.push('cluster');
  return modes;
}

describe('helm-values - values.yaml and the examples against values.schema.json', () => {
  it('helm-values - the defaults validate', () => {
    const result = validate(defaults);
    expect(result.valid, errorsText(result.errors)).toBe(true);
  });

  it('helm-values - there are example overrides for standalone, Sentinel and Cluster Redis', () => {
    const modes = exampleFiles().map((file) => redisModes(coalesce(defaults, parse(readText(file)) as Values)));
    expect(modes).toEqual(expect.arrayContaining([['standalone'], ['sentinel'], ['cluster']]));
  });

  it('helm-values - there is an example for a single pod without Redis', () => {
    const brokers = exampleFiles().map((file) => (coalesce(defaults, parse(readText(file)) as Values) as { broker: string }).broker);
    expect(brokers).toContain('memory');
    expect(defaults.broker).toBe('redis');
  });

  it.each(exampleFiles().map((file) => [basename(file), file]))('helm-values - helm/examples/%s merged over the defaults validates and chooses exactly one Redis mode, or none for broker: memory', (_name, file) => {
    const overrides = parse(readText(file)) as Values;
    const merged = coalesce(defaults, overrides);
    const result = validate(merged);
    expect(result.valid, errorsText(result.errors)).toBe(true);
    expect(redisModes(merged)).toHaveLength(merged.broker === 'memory' ? 0 : 1);
  });

  const rejected: [string, unknown, string][] = [
    ['replicaCount', 'three', '/replicaCount'],
    ['replicaCount', 2.5, '/replicaCount'],
    ['redis.url', 42, '/redis/url'],
    ['redis.url', 'http://redis:6379', '/redis/url'],
    ['redis.ulr', 'redis://redis:6379', '/redis'],
    ['redis.sentinel.hosts', ['sentinel-0'], '/redis/sentinel/hosts/0'],
    ['redis.cluster.nodes', 'redis-0:6379,redis-1:6379', '/redis/cluster/nodes'],
    ['auth.apiKeys', 'a-single-key-not-a-list', '/auth/apiKeys'],
    ['auth.apiKeys', ['short'], '/auth/apiKeys/0'],
    ['auth.jwtSecret', 'too-short', '/auth/jwtSecret'],
    ['herald.drainSeconds', -1, '/herald/drainSeconds'],
    ['herald.jwt.jwksRefetchInterval', 0, '/herald/jwt/jwksRefetchInterval'],
    ['herald.drainSeconds', '10', '/herald/drainSeconds'],
    ['herald.logLevel', 'verbose', '/herald/logLevel'],
    ['herald.limits.idleTimeout', 5, '/herald/limits/idleTimeout'],
    ['herald.limits.maxPayload', '64k', '/herald/limits/maxPayload'],
    ['herald.allowedOrigins', ['app.example.com'], '/herald/allowedOrigins/0'],
    ['image.pullPolicy', 'Sometimes', '/image/pullPolicy'],
    ['service.ports.http', 70000, '/service/ports/http'],
    ['autoscaling.enabled', 'yes', '/autoscaling/enabled'],
    ['podDisruptionBudget.maxUnavailable', 'half', '/podDisruptionBudget/maxUnavailable'],
    ['topologySpread.nodes.whenUnsatisfiable', 'Maybe', '/topologySpread/nodes/whenUnsatisfiable'],
    ['terminationGracePeriodSeconds', '60', '/terminationGracePeriodSeconds'],
    ['podAnnotations', { 'example.com/weight': 3 }, '/podAnnotations/example.com~1weight'],
    ['nodeSelectr', { disk: 'ssd' }, ''],
    ['broker', 'nats', '/broker'],
    ['broker', '', '/broker'],
    ['redis.prefix', 'herald{1}', '/redis/prefix'],
    ['redis.publishTimeoutMs', 0, '/redis/publishTimeoutMs'],
    ['redis.publishTimeoutMs', 60001, '/redis/publishTimeoutMs'],
    ['herald.limits.maxConnections', -1, '/herald/limits/maxConnections'],
    ['herald.limits.maxConnections', '5000', '/herald/limits/maxConnections'],
    ['memorySizing.limitPercent', 120, '/memorySizing/limitPercent'],
    ['memorySizing.enforce', 'no', '/memorySizing/enforce'],
    ['service.ports.metrics', 9091, '/service/ports'],
    ['metricsService.port', 0, '/metricsService/port'],
    ['networkPolicy.clientsFrom', [{}], '/networkPolicy/clientsFrom/0'],
    ['networkPolicy.metrics.namespaceSelectr', {}, '/networkPolicy/metrics'],
  ];
  it.each(rejected)('helm-values - %s: %j is rejected', (path, value, instancePath) => {
    const result = validate(withValue(defaults, path, value));
    expect(result.valid).toBe(false);
    expect(result.errors.map((e) => e.instancePath)).toContain(instancePath);
  });

  const accepted: [string, unknown][] = [
    ['podDisruptionBudget.maxUnavailable', '25%'],
    ['podDisruptionBudget.minAvailable', 2],
    ['herald.limits.clientBurst', 500],
    ['herald.limits.idleTimeout', 0],
    ['terminationGracePeriodSeconds', 60],
    ['redis.url', 'rediss://default:secret@redis.example.com:6380/1'],
    ['redis.sentinel.hosts', ['[fd00::1]:26379', 'sentinel-1.redis:26379']],
    ['autoscaling.targetCPUUtilizationPercentage', null],
    ['broker', 'memory'],
    ['herald.limits.maxConnections', null],
    ['herald.limits.maxConnections', 1000],
    ['networkPolicy.enabled', true],
    ['networkPolicy.clientsFrom', [{ podSelector: { matchLabels: { app: 'ingress' } } }]],
  ];
  it.each(accepted)('helm-values - %s: %j is accepted', (path, value) => {
    const result = validate(withValue(defaults, path, value));
    expect(result.valid, errorsText(result.errors)).toBe(true);
  });
});

describe('helm-chart - templates and values.yaml agree', () => {
  it('helm-chart - every .Values path the templates use exists in values.yaml', () => {
    const missing: string[] = [];
    let count = 0;
    for (const file of templateFiles()) {
      for (const match of readText(file).matchAll(/\$?\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)/g)) {
        count++;
        if (!lookup(defaults, match[1]!).found) missing.push(`${relative(CHART, file)}: .Values.${match[1]}`);
      }
    }
    expect(count).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('helm-chart - every value is described by a comment and declared in the schema, and the schema declares nothing else', () => {
    const doc = parseDocument(readText(join(CHART, 'values.yaml')));
    const undocumented: string[] = [];
    const undeclared: string[] = [];
    const declared = new Set<string>();
    const schemaPaths = (schema: Record<string, unknown>, path: string): void => {
      const resolved = typeof schema.$ref === 'string' ? ((chartSchema().definitions as Record<string, Record<string, unknown>>)[schema.$ref.split('/').pop()!] ?? {}) : schema;
      const properties = resolved.properties as Record<string, Record<string, unknown>> | undefined;
      if (properties === undefined) return;
      for (const [key, child] of Object.entries(properties)) {
        declared.add(`${path}${key}`);
        schemaPaths(child, `${path}${key}.`);
      }
    };
    schemaPaths(chartSchema(), '');
    declared.delete('global');

    const seen = new Set<string>();
    const walk = (map: YAMLMap, path: string): void => {
      map.items.forEach((pair: Pair, index) => {
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        const full = `${path}${key}`;
        // Keys of free-form maps (annotations, resources, ...) are the user's, not the chart's.
        if (!declared.has(full)) {
          if (path === '' || declared.has(path.slice(0, -1)) && hasProperties(path.slice(0, -1))) undeclared.push(full);
          return;
        }
        seen.add(full);
        const keyNode = pair.key as { commentBefore?: string | null };
        const valueNode = pair.value as { comment?: string | null } | null;
        const comment = keyNode.commentBefore ?? valueNode?.comment ?? (index === 0 ? map.commentBefore : undefined);
        if (comment === undefined || comment === null || comment.trim() === '') undocumented.push(full);
        if (isMap(pair.value)) walk(pair.value, `${full}.`);
      });
    };
    const hasProperties = (path: string): boolean => {
      let schema: Record<string, unknown> = chartSchema();
      for (const key of path.split('.')) {
        const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
        schema = properties?.[key] ?? {};
        if (typeof schema.$ref === 'string') schema = (chartSchema().definitions as Record<string, Record<string, unknown>>)[schema.$ref.split('/').pop()!] ?? {};
      }
      return schema.properties !== undefined;
    };
    walk(doc.contents as YAMLMap, '');
    expect(undocumented, 'values without a comment').toEqual([]);
    expect(undeclared, 'values the schema does not declare').toEqual([]);
    expect([...declared].filter((path) => !seen.has(path)), 'schema properties missing from values.yaml').toEqual([]);
    expect(seen.size).toBeGreaterThan(60);
  });

  it('helm-chart - template actions are balanced: every if, range, with and define has its end', () => {
    // One action: {{ ... }} with quoted strings (which may hold braces) inside.
    const action = /\{\{-?((?:"(?:[^"\\]|\\.)*"|`[^`]*`|[^"`}]|\}(?!\}))*?)-?\}\}/g;
    for (const file of templateFiles()) {
      const text = readText(file);
      const bodies = [...text.matchAll(action)].map((m) => m[1]!.trim()).filter((body) => !body.startsWith('/*'));
      const opened = bodies.filter((body) => /^(if|range|with|define|block)\b/.test(body)).length;
      const closed = bodies.filter((body) => body === 'end').length;
      expect(closed, relative(CHART, file)).toBe(opened);
      // Nothing outside the actions opens one (an unterminated "{{").
      expect(text.replace(action, ''), relative(CHART, file)).not.toContain('{{');
    }
  });

  it('helm-chart - every included template is defined', () => {
    const helpers = readText(join(CHART, 'templates/_helpers.tpl'));
    const defined = new Set([...helpers.matchAll(/define "([^"]+)"/g)].map((m) => m[1]));
    const included = new Set(templateFiles().flatMap((file) => [...readText(file).matchAll(/include "([^"]+)"/g)].map((m) => m[1]!)));
    expect(included.size).toBeGreaterThan(5);
    for (const name of included) expect(defined.has(name), `${name} is defined`).toBe(true);
  });
});

describe('helm-chart - the chart against Herald', () => {
  const documented = new Set(VARIABLES.map((v) => v.name));
  const setByChart = new Set([...deploymentTemplate.matchAll(/\bHERALD_[A-Z_]+\b/g)].map((m) => m[0]));

  it('helm-chart - the Deployment sets only variables Herald reads', () => {
    expect([...setByChart].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('helm-chart - the Deployment can set every Herald variable except HERALD_HOST (0.0.0.0, the default, is right in a pod)', () => {
    expect(VARIABLES.map((v) => v.name).filter((name) => !setByChart.has(name))).toEqual(['HERALD_HOST']);
  });

  it('helm-chart - the chart\'s defaults are Herald\'s defaults', () => {
    const mapping: Record<string, string> = {
      HERALD_LOG_LEVEL: 'herald.logLevel',
      HERALD_DRAIN_SECONDS: 'herald.drainSeconds',
      HERALD_SUBSCRIPTION_LINGER_MS: 'herald.subscriptionLingerMs',
      HERALD_JWT_REQUIRE_EXP: 'herald.jwt.requireExp',
      HERALD_JWKS_REFETCH_INTERVAL: 'herald.jwt.jwksRefetchInterval',
      HERALD_MAX_PAYLOAD: 'herald.limits.maxPayload',
      HERALD_MAX_MESSAGE_SIZE: 'herald.limits.maxMessageSize',
      HERALD_MAX_SUBSCRIPTIONS: 'herald.limits.maxSubscriptions',
      HERALD_IDLE_TIMEOUT: 'herald.limits.idleTimeout',
      HERALD_CLIENT_RATE: 'herald.limits.clientRate',
      HERALD_CLIENT_RATE_CLOSE_AFTER: 'herald.limits.clientRateCloseAfter',
      HERALD_REDIS_TLS: 'redis.tls',
      HERALD_REDIS_PREFIX: 'redis.prefix',
      HERALD_REDIS_PUBLISH_TIMEOUT_MS: 'redis.publishTimeoutMs',
      HERALD_HISTORY_MAX_RECOVERY: 'herald.history.maxRecovery',
      HERALD_HISTORY_META_TTL: 'herald.history.metaTtl',
      HERALD_PRESENCE_TTL: 'herald.presence.ttl',
      HERALD_PRESENCE_LEAVE_GRACE: 'herald.presence.leaveGrace',
    };
    for (const [variable, path] of Object.entries(mapping)) {
      const documentedDefault = VARIABLES.find((v) => v.name === variable)?.default;
      expect(String(lookup(defaults, path).value), `${path} vs ${variable}`).toBe(documentedDefault);
    }
    // null = let Herald derive it (twice the rate).
    expect(lookup(defaults, 'herald.limits.clientBurst')).toEqual({ found: true, value: null });
  });

  it('helm-chart - the connection cap and backpressure differ from Herald\'s on purpose: bounded by the pod\'s memory limit', () => {
    const herald = (name: string): string => VARIABLES.find((v) => v.name === name)!.default;
    // Herald alone: unlimited connections with 1 MiB each; the chart derives the cap from resources.limits.memory.
    expect(herald('HERALD_MAX_CONNECTIONS')).toBe('0');
    expect(lookup(defaults, 'herald.limits.maxConnections')).toEqual({ found: true, value: null });
    expect(Number(lookup(defaults, 'herald.limits.maxBackpressure').value)).toBeLessThan(Number(herald('HERALD_MAX_BACKPRESSURE')));
    expect(deploymentTemplate).toContain('value: {{ include "herald.maxConnections" $ | quote }}');
  });

  it('helm-chart - numeric values reach the environment through int64, never as floats such as 1.048576e+06', () => {
    const numeric: string[] = [];
    const collect = (node: unknown, path: string): void => {
      if (typeof node === 'number') numeric.push(path);
      else if (node !== null && typeof node === 'object' && !Array.isArray(node)) for (const [k, v] of Object.entries(node)) collect(v, path === '' ? k : `${path}.${k}`);
    };
    collect(defaults.herald, 'herald');
    numeric.push('herald.limits.clientBurst', 'redis.publishTimeoutMs');
    expect(numeric.length).toBeGreaterThan(8);
    const lines = deploymentTemplate.split('\n');
    for (const path of numeric) {
      const leaf = path.split('.').pop()!;
      const uses = lines.filter((line) => line.includes(`.Values.${path} `) || line.includes(`{{ .${leaf} |`));
      expect(uses.length, `${path} is used`).toBeGreaterThan(0);
      for (const line of uses) if (line.includes('value:')) expect(line, path).toMatch(/\|\s*int64\s*\|\s*quote/);
    }
  });

  it('helm-chart - the Secret\'s keys are those the Deployment reads and values.yaml documents for existingSecret', () => {
    const read = [...deploymentTemplate.matchAll(/"HERALD_[A-Z_]+" "([a-z-]+)"/g)].map((m) => m[1]!).sort();
    const secretData = helpersTemplate.slice(helpersTemplate.indexOf('define "herald.secretData"'), helpersTemplate.indexOf('define "herald.secretChecksum"'));
    const written = [...new Set([...secretData.matchAll(/set \$data "([a-z-]+)"/g)].map((m) => m[1]!))].sort();
    expect(read).toEqual(['api-keys', 'jwt-public-key', 'jwt-secret', 'redis-password', 'redis-url']);
    expect(written).toEqual(read);
    const valuesText = readText(join(CHART, 'values.yaml'));
    const existingSecretDoc = valuesText.slice(valuesText.indexOf('# A Secret you manage'), valuesText.indexOf('existingSecret:'));
    for (const key of read) expect(existingSecretDoc, `existingSecret documents ${key}`).toContain(key);
  });

  it('helm-chart - the chart\'s alert rules and dashboard are the ones in deploy/', () => {
    expect(readText(join(CHART, 'files/alerts.yml'))).toBe(readText(join(ROOT, 'deploy/prometheus/alerts.yml')));
    expect(readText(join(CHART, 'files/herald-dashboard.json'))).toBe(readText(join(ROOT, 'deploy/grafana/dashboards/herald.json')));
  });

  it('helm-chart - the image tag defaults to appVersion, which is Herald\'s version', () => {
    const chart = parse(readText(join(CHART, 'Chart.yaml'))) as { appVersion: string; apiVersion: string };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart.apiVersion).toBe('v2');
    expect(chart.appVersion).toBe(pkg.version);
    expect(lookup(defaults, 'image.tag').value).toBe('');
    expect(readText(join(CHART, 'templates/_helpers.tpl'))).toMatch(/default \.Chart\.AppVersion \.Values\.image\.tag/);
  });

  it('helm-chart - the Deployment probes /healthz and /readyz, pauses before the drain, outlasts it, and runs non-root on a read-only filesystem', () => {
    expect(deploymentTemplate).toMatch(/livenessProbe:\s+httpGet:\s+path: \/healthz/);
    expect(deploymentTemplate).toMatch(/readinessProbe:\s+httpGet:\s+path: \/readyz/);
    expect(deploymentTemplate).toMatch(/preStop:\s+exec:\s+command: \["sleep"/);
    expect(deploymentTemplate).toContain('terminationGracePeriodSeconds: {{ include "herald.terminationGracePeriodSeconds" . }}');
    expect(deploymentTemplate).toContain('topologyKey: kubernetes.io/hostname');
    expect(deploymentTemplate).toContain('topologyKey: topology.kubernetes.io/zone');
    expect(deploymentTemplate).toContain('checksum/secret: {{ include "herald.secretChecksum" . }}');
    const podSecurity = defaults.podSecurityContext as Record<string, unknown>;
    const containerSecurity = defaults.securityContext as Record<string, unknown>;
    expect(podSecurity.runAsNonRoot).toBe(true);
    expect(podSecurity.runAsUser).not.toBe(0);
    expect(containerSecurity.readOnlyRootFilesystem).toBe(true);
    expect(containerSecurity.allowPrivilegeEscalation).toBe(false);
    // With terminationGracePeriodSeconds null the helper adds a margin to preStop + drain.
    expect(defaults.terminationGracePeriodSeconds).toBeNull();
    expect(readText(join(CHART, 'templates/_helpers.tpl'))).toMatch(/add \$needed 15/);
  });
});
