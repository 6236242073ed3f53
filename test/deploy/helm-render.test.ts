/**
 * The chart rendered: with `helm template` (and checked with `helm lint`)
 * where helm is installed; where it is not, rendered with test/deploy/helmlite
 * (Go text/template + sprig + Helm's functions, from Debian's Go packages),
 * an approximation that still catches template errors and wrong manifests.
 * The rendered manifests parse as YAML, have the expected kinds, wire
 * Services, probes, drain timing and security as intended, and hand Herald an
 * environment its own configuration loader accepts. With neither tool every
 * test here is skipped with a warning; helm-chart.test.ts still checks the
 * values, the schema and the templates.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { CHART, chartValues, coalesce, exampleFiles, type Values } from './lib/chart.js';
import { createRenderer, helmliteBuildable, type Manifest, type Renderer } from './lib/renderer.js';
import { ROOT, hasHelm, run, warnSkipped } from './lib/tools.js';

const helm = hasHelm();
const helmlite = !helm && helmliteBuildable();
if (!helm) {
  warnSkipped(
    'helm lint, and helm\'s own schema validation at render time',
    'no helm binary on PATH (install Helm 3: https://helm.sh/docs/intro/install/); helm-chart.test.ts checks the values against the schema with Ajv',
  );
}
if (helmlite) {
  console.warn('[deploy tests] rendering helm/herald with test/deploy/helmlite instead of helm (absent): Go text/template + sprig + Helm\'s include/toYaml/fail/lookup, an approximation of helm template');
} else if (!helm) {
  warnSkipped(
    'rendering of helm/herald',
    'neither helm nor Go with Debian\'s sprig to build test/deploy/helmlite (apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev)',
  );
}

const one = (manifests: readonly Manifest[], kind: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

/** The kinds the chart should render for these (merged) values. */
function expectedKinds(values: any): string[] {
  const kinds = ['Deployment', 'Service', 'Pod'];
  if (values.serviceAccount.create) kinds.push('ServiceAccount');
  if (values.existingSecret === '') kinds.push('Secret');
  if (values.ingress.enabled) kinds.push('Ingress');
  if (values.autoscaling.enabled) kinds.push('HorizontalPodAutoscaler');
  if (values.podDisruptionBudget.enabled) kinds.push('PodDisruptionBudget');
  if (values.serviceMonitor.enabled) kinds.push('ServiceMonitor');
  if (values.prometheusRule.enabled) kinds.push('PrometheusRule');
  if (values.grafanaDashboard.enabled) kinds.push('ConfigMap');
  return kinds.sort();
}

/**
 * The environment a Herald container of this Deployment gets: plain values,
 * fieldRefs, and secretKeyRefs resolved from `secretData` (base64, as in a Secret).
 */
function containerEnv(deployment: Manifest, secretData: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of deployment.spec.template.spec.containers[0].env as any[]) {
    if (typeof entry.value === 'string') env[entry.name] = entry.value;
    else if (entry.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[entry.name] = 'herald-5d9c7b8f6-x2x9q';
    else if (entry.valueFrom?.secretKeyRef !== undefined) {
      const { key, optional } = entry.valueFrom.secretKeyRef;
      expect(optional, `${entry.name} is optional`).toBe(true);
      if (secretData[key] !== undefined) env[entry.name] = Buffer.from(secretData[key], 'base64').toString('utf8');
    } else throw new Error(`unexpected env entry ${JSON.stringify(entry)}`);
  }
  return env;
}

const subset = (small: Record<string, string>, big: Record<string, string> | undefined): boolean => Object.entries(small).every(([k, v]) => big?.[k] === v);

/** Checks of one rendering, shared by every example. */
function checkManifests(manifests: readonly Manifest[], values: any, existingSecretData: Record<string, string>): Record<string, string> {
  const appVersion = (parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;
  expect(manifests.map((m) => m.kind).sort()).toEqual(expectedKinds(values));
  for (const m of manifests) {
    expect(m.apiVersion, m.kind).toBeTruthy();
    expect(m.metadata.name, m.kind).toMatch(/^herald(-[a-z]+)?$/);
    expect(m.metadata.labels?.['app.kubernetes.io/name'], m.kind).toBe('herald');
  }

  const deployment = one(manifests, 'Deployment');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  expect(container.image).toBe(`${values.image.repository}:${values.image.tag || appVersion}`);
  expect(subset(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
  if (values.autoscaling.enabled) expect(deployment.spec.replicas).toBeUndefined();
  expect(pod.metadata.annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);

  expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
  expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  expect(container.ports.map((p: any) => [p.name, p.containerPort])).toEqual([['http', 8080], ['metrics', 9091]]);
  const sleep = Number(container.lifecycle.preStop.exec.command[1]);
  expect(container.lifecycle.preStop.exec.command).toEqual(['sleep', String(values.preStopSleepSeconds)]);
  expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(sleep + values.herald.drainSeconds);
  expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true });
  expect(pod.spec.automountServiceAccountToken).toBe(false);
  expect(pod.spec.topologySpreadConstraints.map((c: any) => c.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
  for (const c of pod.spec.topologySpreadConstraints) expect(subset(c.labelSelector.matchLabels, pod.metadata.labels)).toBe(true);

  const secret = manifests.find((m) => m.kind === 'Secret');
  const env = containerEnv(deployment, secret?.data ?? existingSecretData);
  // Integers arrive as integers, never as 1.048576e+06.
  for (const name of ['HERALD_MAX_PAYLOAD', 'HERALD_MAX_MESSAGE_SIZE', 'HERALD_MAX_SUBSCRIPTIONS', 'HERALD_MAX_CONNECTIONS', 'HERALD_IDLE_TIMEOUT', 'HERALD_MAX_BACKPRESSURE', 'HERALD_CLIENT_RATE', 'HERALD_DRAIN_SECONDS']) {
    expect(env[name], name).toMatch(/^\d+$/);
  }
  expect(env.HERALD_MAX_BACKPRESSURE).toBe(String(values.herald.limits.maxBackpressure));
  expect(env.NODE_ENV).toBe('production');

  const service = one(manifests, 'Service');
  expect(service.spec.ports.map((p: any) => [p.name, p.targetPort])).toEqual([['http', 'http'], ['metrics', 'metrics']]);
  expect(subset(service.spec.selector, pod.metadata.labels)).toBe(true);

  if (values.autoscaling.enabled) {
    const hpa = one(manifests, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.metrics.some((m: any) => m.type === 'Resource' && m.resource.name === 'cpu')).toBe(true);
    if (values.autoscaling.connectionsPerPod.enabled) {
      expect(hpa.spec.metrics).toContainEqual({
        type: 'Pods',
        pods: { metric: { name: 'herald_connections' }, target: { type: 'AverageValue', averageValue: String(values.autoscaling.connectionsPerPod.targetAverageValue) } },
      });
    }
  }
  if (values.podDisruptionBudget.enabled) expect(subset(one(manifests, 'PodDisruptionBudget').spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
  if (values.ingress.enabled) {
    const ingress = one(manifests, 'Ingress');
    expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('3600');
    for (const rule of ingress.spec.rules) for (const path of rule.http.paths) expect(path.backend.service).toEqual({ name: service.metadata.name, port: { name: 'http' } });
  }
  if (values.serviceMonitor.enabled) {
    const monitor = one(manifests, 'ServiceMonitor');
    expect(subset(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    expect(monitor.spec.endpoints[0].port).toBe('metrics');
    expect(monitor.spec.endpoints[0].relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: 'herald' });
  }
  if (values.prometheusRule.enabled) {
    const rules = parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: unknown };
    expect(one(manifests, 'PrometheusRule').spec.groups).toEqual(rules.groups);
  }
  if (values.grafanaDashboard.enabled) {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dashboards/herald.json'), 'utf8')) as unknown;
    const configMap = one(manifests, 'ConfigMap');
    expect(configMap.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(configMap.data['herald.json'])).toEqual(dashboard);
  }
  return env;
}

describe.runIf(helm)('helm-render - helm itself', () => {
  it.each(exampleFiles().map((file) => [basename(file), file]))('helm-render - helm lint passes with helm/examples/%s', async (_name, file) => {
    const result = await run('helm', ['lint', CHART, '-f', file], { timeoutMs: 60_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('0 chart(s) failed');
  });

  // values.schema.json as helm applies it (helm-chart.test.ts checks the same schema with Ajv everywhere).
  const schemaRefused: [string, string[], RegExp][] = [
    ['a wrong type', ['--set', 'redis.url=redis://r:6379', '--set', 'replicaCount=three'], /replicaCount/],
    ['a misspelt value', ['--set', 'redis.ulr=redis://r:6379'], /ulr/],
  ];
  it.each(schemaRefused)('helm-render - %s is refused by helm with a message naming it', async (_what, args, message) => {
    const result = await run('helm', ['template', 'herald', CHART, ...args], { timeoutMs: 60_000 });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});

describe.runIf(helm || helmlite)(`helm-render - the chart rendered (${helm ? 'helm' : 'helmlite'})`, () => {
  const defaults = chartValues();
  let renderer: Renderer;

  beforeAll(async () => {
    renderer = (await createRenderer())!;
  }, 200_000);
  afterAll(() => renderer?.close());

  it.each(exampleFiles().map((file) => [basename(file), file]))(
    'helm-render - helm/examples/%s renders the expected manifests, and Herald accepts the environment they give it',
    async (_name, file) => {
      const values = coalesce(defaults, parse(readFileSync(file, 'utf8')) as Values) as any;
      const rendered = await renderer.template([file]);
      expect(rendered.code, rendered.stderr).toBe(0);
      // What a user's existingSecret would hold (cluster.yaml uses one).
      const existingSecretData = { 'jwt-secret': Buffer.from('s'.repeat(48)).toString('base64'), 'api-keys': Buffer.from('k'.repeat(24)).toString('base64'), 'redis-password': Buffer.from('pw').toString('base64') };
      const env = checkManifests(rendered.manifests, values, existingSecretData);
      const config = loadConfig(env);
      expect(config.mode).toBe('production');
      expect(config.nodeId).toBe('herald-5d9c7b8f6-x2x9q');
      const expectedBroker = values.redis.url !== '' ? 'redis' : values.redis.sentinel.hosts.length > 0 ? 'sentinel' : 'cluster';
      expect(config.broker.kind).toBe(expectedBroker);
    },
  );

  it('helm-render - with only redis.url set, the chart generates a JWT secret and an API key, and Herald starts with them', async () => {
    const overrides = { redis: { url: 'redis://my-redis:6379' } };
    const rendered = await renderer.template([], overrides);
    expect(rendered.code, rendered.stderr).toBe(0);
    const env = checkManifests(rendered.manifests, coalesce(defaults, overrides) as any, {});
    expect(env.HERALD_JWT_SECRET).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(env.HERALD_API_KEYS).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(env.HERALD_REDIS_URL).toBe('redis://my-redis:6379');
    expect(loadConfig(env).broker).toMatchObject({ kind: 'redis', url: 'redis://my-redis:6379' });
  });

  it('helm-render - HERALD_CLIENT_BURST is set only when given', async () => {
    const given = await renderer.template([], { redis: { url: 'redis://r:6379' }, herald: { limits: { clientBurst: 500 } } });
    expect(given.code, given.stderr).toBe(0);
    expect(containerEnv(one(given.manifests, 'Deployment'), one(given.manifests, 'Secret').data).HERALD_CLIENT_BURST).toBe('500');
    const absent = await renderer.template([], { redis: { url: 'redis://r:6379' } });
    expect(containerEnv(one(absent.manifests, 'Deployment'), one(absent.manifests, 'Secret').data).HERALD_CLIENT_BURST).toBeUndefined();
  });

  it('helm-render - an optional resource appears exactly when enabled', async () => {
    const off = await renderer.template([], { redis: { url: 'redis://r:6379' }, autoscaling: { enabled: false }, podDisruptionBudget: { enabled: false }, serviceAccount: { create: false } });
    expect(off.code, off.stderr).toBe(0);
    expect(off.manifests.map((m) => m.kind).sort()).toEqual(['Deployment', 'Pod', 'Secret', 'Service']);
    expect(one(off.manifests, 'Deployment').spec.replicas).toBe(3);
    expect(one(off.manifests, 'Deployment').spec.template.spec.serviceAccountName).toBe('default');
  });

  // helm template renders NOTES.txt (an error there fails it) but does not print it; helmlite prints it on stderr.
  it.skipIf(helm)('helm-render - NOTES.txt tells how to reach Herald, get a token, connect and publish', async () => {
    const generated = await renderer.template([], { redis: { url: 'redis://r:6379' } });
    expect(generated.code, generated.stderr).toBe(0);
    const notes = generated.stderr;
    expect(notes).toContain('kubectl -n herald-test port-forward service/herald 8080:8080');
    expect(notes).toContain('TOKEN=$(kubectl -n herald-test exec deployment/herald -- node -e');
    expect(notes).toContain(`get secret herald -o go-template='{{index .data "jwt-secret" | base64decode}}'`);
    expect(notes).toContain('npx wscat -c "ws://localhost:8080/ws?token=$TOKEN"');
    expect(notes).toMatch(/curl -sS -X POST http:\/\/localhost:8080\/v1\/publish -H "Authorization: Bearer \$API_KEY"/);
    const jwks = await renderer.template([join(ROOT, 'helm/examples/sentinel.yaml')]);
    expect(jwks.stderr).toContain('Tokens (TOKEN below) come from your issuer');
    expect(jwks.stderr).not.toContain('jwt-secret');
  });

  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['no Redis configured', {}, /set redis\.url/],
    ['two Redis modes', { redis: { url: 'redis://r:6379', cluster: { nodes: ['r-0:6379'] } } }, /set one Redis mode/],
    ['a Sentinel without its master name', { redis: { sentinel: { hosts: ['s-0:26379'] } } }, /masterName is required/],
    ['a grace period shorter than the drain', { redis: { url: 'redis://r:6379' }, terminationGracePeriodSeconds: 10 }, /must be longer than/],
    ['autoscaling without a metric', { redis: { url: 'redis://r:6379' }, autoscaling: { targetCPUUtilizationPercentage: null } }, /autoscaling needs a metric/],
  ];
  it.each(refused)('helm-render - %s is refused with a message naming it', async (_what, overrides, message) => {
    const rendered = await renderer.template([], overrides);
    expect(rendered.code).not.toBe(0);
    expect(rendered.stderr).toMatch(message);
  });
});
