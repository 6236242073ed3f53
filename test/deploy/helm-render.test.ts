/**
 * The chart rendered: with `helm template` (and checked with `helm lint`)
 * where helm is installed; where it is not, rendered with test/deploy/helmlite
 * (Go text/template + sprig + Helm's functions, from Debian's Go packages),
 * an approximation that still catches template errors and wrong manifests.
 * The rendered manifests parse as YAML, have the expected kinds, wire
 * Services, probes, drain timing, memory sizing and security as intended, and
 * hand Herald an environment its own configuration loader accepts. Upgrades
 * (what `lookup` finds in the cluster) are rendered with helmlite, which can
 * answer it from given objects; `helm template` cannot.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { skipWhen, unless } from '../helpers/skip.js';
import { CHART, chartValues, coalesce, exampleFiles, quantityBytes, worstCaseBytes, type Values } from './lib/chart.js';
import { createHelmlite, createRenderer, helmliteNeed, type Manifest, type Renderer } from './lib/renderer.js';
import { ROOT, helmNeed, run } from './lib/tools.js';

const helm = helmNeed();
const helmlite = helmliteNeed();
if (!helm.present && helmlite.present) {
  console.warn('[deploy tests] rendering helm/herald with test/deploy/helmlite instead of helm (absent): Go text/template + sprig + Helm\'s include/toYaml/fail/lookup, an approximation of helm template');
}

const one = (manifests: readonly Manifest[], kind: string, name?: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
};

/** The kinds the chart should render for these (merged) values. */
function expectedKinds(values: any): string[] {
  const kinds = ['Deployment', 'Service', 'Service', 'Pod'];
  if (values.serviceAccount.create) kinds.push('ServiceAccount');
  if (values.existingSecret === '') kinds.push('Secret');
  if (values.ingress.enabled) kinds.push('Ingress');
  if (values.autoscaling.enabled) kinds.push('HorizontalPodAutoscaler');
  if (values.podDisruptionBudget.enabled) kinds.push('PodDisruptionBudget');
  if (values.serviceMonitor.enabled) kinds.push('ServiceMonitor');
  if (values.prometheusRule.enabled) kinds.push('PrometheusRule');
  if (values.grafanaDashboard.enabled) kinds.push('ConfigMap');
  if (values.networkPolicy.enabled) kinds.push('NetworkPolicy');
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

const envNames = (deployment: Manifest): string[] => (deployment.spec.template.spec.containers[0].env as { name: string }[]).map((e) => e.name);
const subset = (small: Record<string, string>, big: Record<string, string> | undefined): boolean => Object.entries(small).every(([k, v]) => big?.[k] === v);
/** A Secret's data hashed as the chart does: Go's json.Marshal of the map (keys sorted), then sha256. */
const dataChecksum = (data: Record<string, string>): string =>
  createHash('sha256')
    .update(JSON.stringify(Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)))))
    .digest('hex');
const checksumOf = (manifests: readonly Manifest[]): string => one(manifests, 'Deployment').spec.template.metadata.annotations['checksum/secret'];

/** The largest RSS per idle connection docs/benchmarks.md reports for Herald, in KiB. */
function measuredIdleConnectionKiB(): number {
  const line = readFileSync(join(ROOT, 'docs/benchmarks.md'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('| RSS per idle authenticated, subscribed connection |'));
  const figures = [...(line ?? '').matchAll(/([\d.]+) KiB \(Herald/g)].map((m) => Number(m[1]));
  expect(figures.length, 'docs/benchmarks.md reports RSS per idle connection for Herald').toBeGreaterThan(0);
  return Math.max(...figures);
}

/** The memory sizing of a rendering: every connection slow at once fits the pod's memory limit. */
function checkMemorySizing(container: any, env: Record<string, string>, values: any): void {
  expect(values.memorySizing.connectionKiB, 'the sizing counts at least the measured idle connection').toBeGreaterThanOrEqual(measuredIdleConnectionKiB());
  const limit = container.resources?.limits?.memory;
  if (limit === undefined) {
    expect(env.HERALD_MAX_CONNECTIONS).toBe(String(values.herald.limits.maxConnections ?? 0));
    return;
  }
  const limitBytes = quantityBytes(limit);
  const connections = Number(env.HERALD_MAX_CONNECTIONS);
  // 0 would mean unlimited: no bound at all.
  expect(connections).toBeGreaterThan(0);
  const worst = worstCaseBytes(env, values.memorySizing);
  expect(worst, `${connections} connections, all slow, within ${values.memorySizing.limitPercent}% of ${limit}`).toBeLessThanOrEqual((limitBytes * values.memorySizing.limitPercent) / 100);
  if (values.herald.limits.maxConnections === null || values.herald.limits.maxConnections === undefined) {
    // Derived: the most that fit, not merely some number that fits (KiB rounding may cost one).
    expect(worstCaseBytes({ ...env, HERALD_MAX_CONNECTIONS: String(connections + 2) }, values.memorySizing)).toBeGreaterThan((limitBytes * values.memorySizing.limitPercent) / 100);
  }
}

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

  const secret = manifests.find((m) => m.kind === 'Secret');
  const checksum = pod.metadata.annotations['checksum/secret'];
  expect(checksum).toMatch(/^[0-9a-f]{64}$/);
  // The hash of what the Secret really holds, so that it changes exactly when the credentials do.
  if (secret !== undefined) expect(checksum).toBe(dataChecksum(secret.data));

  expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
  expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  // A busy event loop answers late: readiness takes the pod out of rotation long before liveness restarts it.
  const liveness = container.livenessProbe;
  const readiness = container.readinessProbe;
  expect(liveness.timeoutSeconds).toBeGreaterThan(readiness.timeoutSeconds);
  expect(liveness.failureThreshold).toBeGreaterThan(readiness.failureThreshold);
  expect(liveness.periodSeconds * liveness.failureThreshold).toBeGreaterThan(readiness.periodSeconds * readiness.failureThreshold);
  expect(container.ports.map((p: any) => [p.name, p.containerPort])).toEqual([['http', 8080], ['metrics', 9091]]);
  const sleep = Number(container.lifecycle.preStop.exec.command[1]);
  expect(container.lifecycle.preStop.exec.command).toEqual(['sleep', String(values.preStopSleepSeconds)]);
  expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(sleep + values.herald.drainSeconds);
  expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true });
  expect(pod.spec.automountServiceAccountToken).toBe(false);
  expect(pod.spec.topologySpreadConstraints.map((c: any) => c.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
  for (const c of pod.spec.topologySpreadConstraints) {
    expect(subset(c.labelSelector.matchLabels, pod.metadata.labels)).toBe(true);
    // Only pods of the same ReplicaSet count, so that a rolling update spreads the new pods.
    expect(c.matchLabelKeys).toEqual(['pod-template-hash']);
  }

  const env = containerEnv(deployment, secret?.data ?? existingSecretData);
  // Integers arrive as integers, never as 1.048576e+06.
  const integers = ['HERALD_MAX_PAYLOAD', 'HERALD_MAX_MESSAGE_SIZE', 'HERALD_MAX_SUBSCRIPTIONS', 'HERALD_MAX_CONNECTIONS', 'HERALD_IDLE_TIMEOUT', 'HERALD_MAX_BACKPRESSURE', 'HERALD_CLIENT_RATE', 'HERALD_DRAIN_SECONDS'];
  if (values.broker === 'redis') integers.push('HERALD_REDIS_PUBLISH_TIMEOUT_MS');
  for (const name of integers) expect(env[name], name).toMatch(/^\d+$/);
  expect(env.HERALD_MAX_BACKPRESSURE).toBe(String(values.herald.limits.maxBackpressure));
  expect(env.NODE_ENV).toBe('production');
  expect(env.HERALD_BROKER).toBe(values.broker);
  // An in-memory node gets no Redis setting at all (Herald refuses memory together with one).
  if (values.broker === 'memory') expect(envNames(deployment).filter((name) => name.startsWith('HERALD_REDIS_'))).toEqual([]);
  checkMemorySizing(container, env, values);

  // The client Service carries only the client port; /metrics has a ClusterIP Service of its own.
  const service = one(manifests, 'Service', 'herald');
  expect(service.spec.type).toBe(values.service.type);
  expect(service.spec.ports.map((p: any) => [p.name, p.targetPort])).toEqual([['http', 'http']]);
  const metricsService = one(manifests, 'Service', 'herald-metrics');
  expect(metricsService.spec.type).toBe('ClusterIP');
  expect(metricsService.spec.ports).toEqual([{ name: 'metrics', port: values.metricsService.port, targetPort: 'metrics', protocol: 'TCP' }]);
  const testPod = one(manifests, 'Pod');
  for (const s of [service, metricsService]) {
    expect(subset(s.spec.selector, pod.metadata.labels)).toBe(true);
    expect(subset(s.spec.selector, testPod.metadata.labels), `${s.metadata.name} does not select the helm test pod`).toBe(false);
  }
  expect(testPod.spec.containers[0].resources).toEqual(values.helmTest.resources);

  if (values.autoscaling.enabled) {
    const hpa = one(manifests, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.metrics.some((m: any) => m.type === 'Resource' && m.resource.name === 'cpu')).toBe(true);
    if (values.autoscaling.connectionsPerPod.enabled) {
      expect(hpa.spec.metrics).toContainEqual({
        type: 'Pods',
        pods: { metric: { name: 'herald_connections' }, target: { type: 'AverageValue', averageValue: String(values.autoscaling.connectionsPerPod.targetAverageValue) } },
      });
      // Below the cap, or the average could never reach the target.
      expect(values.autoscaling.connectionsPerPod.targetAverageValue).toBeLessThan(Number(env.HERALD_MAX_CONNECTIONS));
    }
  }
  if (values.podDisruptionBudget.enabled) {
    const pdb = one(manifests, 'PodDisruptionBudget');
    expect(subset(pdb.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    // Unready pods (every pod during a Redis outage) never block a node drain.
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  }
  if (values.ingress.enabled) {
    const ingress = one(manifests, 'Ingress');
    expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('3600');
    for (const rule of ingress.spec.rules) for (const path of rule.http.paths) expect(path.backend.service).toEqual({ name: service.metadata.name, port: { name: 'http' } });
  }
  if (values.serviceMonitor.enabled) {
    const monitor = one(manifests, 'ServiceMonitor');
    expect(subset(monitor.spec.selector.matchLabels, metricsService.metadata.labels)).toBe(true);
    expect(subset(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(false);
    expect(monitor.spec.endpoints[0].port).toBe('metrics');
    expect(monitor.spec.endpoints[0].relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: 'herald' });
    expect(monitor.spec.endpoints[0].relabelings).toContainEqual({ action: 'replace', targetLabel: 'release', replacement: 'herald' });
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

describe('helm-render - helm itself', unless(helm), () => {
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

const redisUrl = { redis: { url: 'redis://r:6379' } };
const single = { broker: 'memory', replicaCount: 1, autoscaling: { enabled: false } };

describe(`helm-render - the chart rendered (${helm.present ? 'helm' : 'helmlite'})`, unless(...(helm.present ? [] : [helmlite])), () => {
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
      const expectedBroker = values.broker === 'memory' ? 'memory' : values.redis.url !== '' ? 'redis' : values.redis.sentinel.hosts.length > 0 ? 'sentinel' : 'cluster';
      expect(config.broker.kind).toBe(expectedBroker);
      expect(config.limits.maxConnections).toBe(Number(env.HERALD_MAX_CONNECTIONS));
    },
  );

  it('helm-render - with only redis.url set, the chart generates a JWT secret and an API key, and Herald starts with them', async () => {
    const rendered = await renderer.template([], redisUrl);
    expect(rendered.code, rendered.stderr).toBe(0);
    const env = checkManifests(rendered.manifests, coalesce(defaults, redisUrl) as any, {});
    expect(env.HERALD_JWT_SECRET).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(env.HERALD_API_KEYS).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(env.HERALD_REDIS_URL).toBe('redis://r:6379');
    expect(env.HERALD_BROKER).toBe('redis');
    expect(loadConfig(env).broker).toMatchObject({ kind: 'redis', url: 'redis://r:6379' });
  });

  it('helm-render - broker: memory gives one pod HERALD_BROKER=memory and no Redis variable, and Herald runs it in memory', async () => {
    const rendered = await renderer.template([], single);
    expect(rendered.code, rendered.stderr).toBe(0);
    const values = coalesce(defaults, single) as any;
    const env = checkManifests(rendered.manifests, values, {});
    expect(one(rendered.manifests, 'Deployment').spec.replicas).toBe(1);
    expect(env.HERALD_BROKER).toBe('memory');
    expect(Object.keys(env).filter((name) => name.startsWith('HERALD_REDIS_'))).toEqual([]);
    expect(loadConfig(env).broker.kind).toBe('memory');
  });

  it('helm-render - with existingSecret and no redis.*, HERALD_BROKER=redis makes a Secret without redis-url a startup error, not an isolated node', async () => {
    const values = { existingSecret: 'mine' };
    const rendered = await renderer.template([], values);
    expect(rendered.code, rendered.stderr).toBe(0);
    const deployment = one(rendered.manifests, 'Deployment');
    const withUrl = containerEnv(deployment, { 'jwt-secret': Buffer.from('s'.repeat(48)).toString('base64'), 'redis-url': Buffer.from('redis://r:6379').toString('base64') });
    expect(withUrl.HERALD_BROKER).toBe('redis');
    expect(loadConfig(withUrl).broker).toMatchObject({ kind: 'redis', url: 'redis://r:6379' });
    const withoutUrl = containerEnv(deployment, { 'jwt-secret': Buffer.from('s'.repeat(48)).toString('base64') });
    expect(withoutUrl.HERALD_BROKER).toBe('redis');
    expect(withoutUrl.HERALD_REDIS_URL).toBeUndefined();
    expect(() => loadConfig(withoutUrl)).toThrow(/HERALD_BROKER|HERALD_REDIS/);
  });

  it('helm-render - HERALD_CLIENT_BURST is set only when given', async () => {
    const given = await renderer.template([], { ...redisUrl, herald: { limits: { clientBurst: 500 } } });
    expect(given.code, given.stderr).toBe(0);
    expect(containerEnv(one(given.manifests, 'Deployment'), one(given.manifests, 'Secret').data).HERALD_CLIENT_BURST).toBe('500');
    const absent = await renderer.template([], redisUrl);
    expect(containerEnv(one(absent.manifests, 'Deployment'), one(absent.manifests, 'Secret').data).HERALD_CLIENT_BURST).toBeUndefined();
  });

  it('helm-render - an optional resource appears exactly when enabled', async () => {
    const off = await renderer.template([], { ...redisUrl, autoscaling: { enabled: false }, podDisruptionBudget: { enabled: false }, serviceAccount: { create: false } });
    expect(off.code, off.stderr).toBe(0);
    expect(off.manifests.map((m) => m.kind).sort()).toEqual(['Deployment', 'Pod', 'Secret', 'Service', 'Service']);
    expect(one(off.manifests, 'Deployment').spec.replicas).toBe(3);
    expect(one(off.manifests, 'Deployment').spec.template.spec.serviceAccountName).toBe('default');
  });

  it('helm-render - a LoadBalancer Service exposes the client port only; /metrics stays on a ClusterIP Service', async () => {
    const values = { ...redisUrl, service: { type: 'LoadBalancer' } };
    const rendered = await renderer.template([], values);
    expect(rendered.code, rendered.stderr).toBe(0);
    checkManifests(rendered.manifests, coalesce(defaults, values), {});
    expect(one(rendered.manifests, 'Service', 'herald').spec).toMatchObject({ type: 'LoadBalancer', ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] });
    expect(one(rendered.manifests, 'Service', 'herald-metrics').spec.type).toBe('ClusterIP');
  });

  it('helm-render - the NetworkPolicy admits clients on the client port and scrapers, by namespace and pod, on the metrics port', async () => {
    const ingressNamespace = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } };
    // Maps merge with the defaults, as everywhere in Helm: null drops a default label.
    const metrics = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': null, team: 'obs' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': null, app: 'vm' } } };
    const values = { ...redisUrl, networkPolicy: { enabled: true, clientsFrom: [ingressNamespace], metrics } };
    const rendered = await renderer.template([], values);
    expect(rendered.code, rendered.stderr).toBe(0);
    checkManifests(rendered.manifests, coalesce(defaults, values), {});
    const policy = one(rendered.manifests, 'NetworkPolicy');
    const pod = one(rendered.manifests, 'Deployment').spec.template;
    const testPod = one(rendered.manifests, 'Pod');
    expect(subset(policy.spec.podSelector.matchLabels, pod.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const [clients, scrapers] = policy.spec.ingress;
    expect(clients.ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    expect(clients.from[0]).toEqual(ingressNamespace);
    // `helm test` still reaches the pods.
    expect(clients.from.some((peer: any) => peer.podSelector !== undefined && subset(peer.podSelector.matchLabels, testPod.metadata.labels))).toBe(true);
    expect(scrapers).toEqual({ ports: [{ port: 'metrics', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { team: 'obs' } }, podSelector: { matchLabels: { app: 'vm' } } }] });

    // Without clientsFrom, any source may connect (clients arrive through whatever balancer is in front).
    const open = await renderer.template([], { ...redisUrl, networkPolicy: { enabled: true } });
    expect(open.code, open.stderr).toBe(0);
    const openPolicy = one(open.manifests, 'NetworkPolicy');
    expect(openPolicy.spec.ingress[0]).toEqual({ ports: [{ port: 'http', protocol: 'TCP' }] });
    expect(openPolicy.spec.ingress[1].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
    ]);
  });

  const limits: [string | number, number][] = [
    ['1Gi', 2732],
    ['512Mi', 1113],
    ['2Gi', 5971],
    ['1.5G', 4018],
    [1073741824, 2732],
  ];
  it.each(limits)('helm-render - with a memory limit of %j, HERALD_MAX_CONNECTIONS is the %i connections that fit it', async (limit, expected) => {
    const values = { ...redisUrl, resources: { limits: { memory: limit } } };
    const rendered = await renderer.template([], values);
    expect(rendered.code, rendered.stderr).toBe(0);
    const env = checkManifests(rendered.manifests, coalesce(defaults, values), {});
    expect(env.HERALD_MAX_CONNECTIONS).toBe(String(expected));
  });

  it('helm-render - without a memory limit the cap is what is given, unlimited by default', async () => {
    const unlimited = await renderer.template([], { ...redisUrl, resources: { limits: null } });
    expect(unlimited.code, unlimited.stderr).toBe(0);
    expect(containerEnv(one(unlimited.manifests, 'Deployment'), {}).HERALD_MAX_CONNECTIONS).toBe('0');
    const given = await renderer.template([], { ...redisUrl, resources: { limits: null }, herald: { limits: { maxConnections: 90000 } } });
    expect(given.code, given.stderr).toBe(0);
    expect(containerEnv(one(given.manifests, 'Deployment'), {}).HERALD_MAX_CONNECTIONS).toBe('90000');
  });

  it('helm-render - memorySizing.enforce false accepts a cap over the memory limit', async () => {
    const rendered = await renderer.template([], { ...redisUrl, herald: { limits: { maxConnections: 50000 } }, memorySizing: { enforce: false } });
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(containerEnv(one(rendered.manifests, 'Deployment'), {}).HERALD_MAX_CONNECTIONS).toBe('50000');
  });

  // helm template renders NOTES.txt (an error there fails it) but does not print it; helmlite prints it on stderr.
  it('helm-render - NOTES.txt tells how to reach Herald, get a token, connect and publish', skipWhen(helm.present, 'helm template does not print NOTES.txt'), async () => {
    const generated = await renderer.template([], redisUrl);
    expect(generated.code, generated.stderr).toBe(0);
    const notes = generated.stderr;
    expect(notes).toContain('kubectl -n herald-test port-forward service/herald 8080:8080');
    expect(notes).toContain('TOKEN=$(kubectl -n herald-test exec deployment/herald -- node -e');
    expect(notes).toContain(`get secret herald -o go-template='{{index .data "jwt-secret" | base64decode}}'`);
    expect(notes).toContain('npx wscat -c "ws://localhost:8080/ws?token=$TOKEN"');
    expect(notes).toMatch(/curl -sS -X POST http:\/\/localhost:8080\/v1\/publish -H "Authorization: Bearer \$API_KEY"/);
    expect(notes).toContain('Metrics: service/herald-metrics port 9091, path /metrics');
    expect(notes).toContain('PUBLISH herald:demo.hello');
    const jwks = await renderer.template([join(ROOT, 'helm/examples/sentinel.yaml')]);
    expect(jwks.stderr).toContain('Tokens (TOKEN below) come from your issuer');
    expect(containerEnv(one(jwks.manifests, 'Deployment'), {}).HERALD_JWKS_REFETCH_INTERVAL).toBe('5');
    expect(jwks.stderr).not.toContain('jwt-secret');
    const memory = await renderer.template([], single);
    expect(memory.stderr).toContain('One pod, messages kept in memory (broker: memory)');
    expect(memory.stderr).not.toContain('PUBLISH');
  });

  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['no Redis configured', {}, /set redis\.url.*or put redis-url in existingSecret; for a single pod without Redis, set broker: memory/],
    ['two Redis modes', { redis: { url: 'redis://r:6379', cluster: { nodes: ['r-0:6379'] } } }, /set one Redis mode/],
    ['a Sentinel without its master name', { redis: { sentinel: { hosts: ['s-0:26379'] } } }, /masterName is required/],
    ['a grace period shorter than the drain', { ...redisUrl, terminationGracePeriodSeconds: 10 }, /must be longer than/],
    ['autoscaling without a metric', { ...redisUrl, autoscaling: { targetCPUUtilizationPercentage: null } }, /autoscaling needs a metric/],
    ['broker: memory with an HPA', { broker: 'memory', replicaCount: 1 }, /broker: memory keeps messages inside one pod, and an HPA would add pods/],
    ['broker: memory with two replicas', { ...single, replicaCount: 2 }, /broker: memory keeps messages inside one pod, so replicaCount 2 would make 2 isolated nodes/],
    ['broker: memory with a Redis', { ...single, ...redisUrl }, /broker: memory runs without Redis, but redis\.url is set/],
    ['broker: memory with a Sentinel', { ...single, redis: { sentinel: { hosts: ['s-0:26379'], masterName: 'm' } } }, /broker: memory runs without Redis, but redis\.sentinel is set/],
    ['a connection cap over the memory limit', { ...redisUrl, herald: { limits: { maxConnections: 5000 } } }, /maxConnections 5000 does not fit resources\.limits\.memory \(1Gi\).*at most 2732 connections/],
    ['unlimited connections with a memory limit', { ...redisUrl, herald: { limits: { maxConnections: 0 } } }, /maxConnections 0 \(unlimited\) does not fit/],
    ['a memory limit with no room for a connection', { ...redisUrl, resources: { limits: { memory: '128Mi' } } }, /resources\.limits\.memory \(128Mi\) leaves no room for a connection/],
    ['a memory limit the chart cannot read', { ...redisUrl, resources: { limits: { memory: '1e9' } } }, /resources\.limits\.memory "1e9": the chart reads a number with/],
    ['an HPA target at the connection cap', { ...redisUrl, autoscaling: { connectionsPerPod: { enabled: true, targetAverageValue: 2732 } } }, /targetAverageValue \(2732\) must be below the pods' connection cap \(2732/],
  ];
  it.each(refused)('helm-render - %s is refused with a message naming it', async (_what, overrides, message) => {
    const rendered = await renderer.template([], overrides);
    expect(rendered.code).not.toBe(0);
    expect(rendered.stderr).toMatch(message);
  });
});

/** The Secret a previous release left in the cluster, as `lookup` returns it. */
const stored = (secret: Manifest): Manifest => ({ ...secret, metadata: { ...secret.metadata, uid: '7d1c2f60-0b9e-4c59-9a53-6f3f1b0e9f01', resourceVersion: '4711' } });

describe('helm-render - upgrades: credentials the chart generated are looked up and kept (helmlite)', unless(helmlite), () => {
  let renderer: Renderer;

  beforeAll(async () => {
    renderer = (await createHelmlite())!;
  }, 200_000);
  afterAll(() => renderer?.close());

  it('helm-render - an install generates credentials, and checksum/secret hashes exactly them', async () => {
    const install = await renderer.template([], redisUrl);
    expect(install.code, install.stderr).toBe(0);
    const secret = one(install.manifests, 'Secret');
    expect(Buffer.from(secret.data['jwt-secret'], 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(Buffer.from(secret.data['api-keys'], 'base64').toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(checksumOf(install.manifests)).toBe(dataChecksum(secret.data));
    // A second install draws other credentials, and its checksum follows them.
    const other = await renderer.template([], redisUrl);
    expect(one(other.manifests, 'Secret').data['jwt-secret']).not.toBe(secret.data['jwt-secret']);
    expect(checksumOf(other.manifests)).not.toBe(checksumOf(install.manifests));
  });

  it('helm-render - an upgrade keeps the Secret the install made, key for key, and the same checksum/secret, so no pod rolls', async () => {
    const install = await renderer.template([], redisUrl);
    expect(install.code, install.stderr).toBe(0);
    const installed = one(install.manifests, 'Secret');
    const upgrade = await renderer.template([], redisUrl, { existing: [stored(installed)], upgrade: true });
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(one(upgrade.manifests, 'Secret').data).toEqual(installed.data);
    expect(checksumOf(upgrade.manifests)).toBe(checksumOf(install.manifests));
    // And the pods read the same credentials.
    expect(containerEnv(one(upgrade.manifests, 'Deployment'), one(upgrade.manifests, 'Secret').data)).toEqual(containerEnv(one(install.manifests, 'Deployment'), installed.data));
  });

  it('helm-render - only the release\'s own Secret is reused: one of another name or namespace, or another kind, is not', async () => {
    const install = await renderer.template([], redisUrl);
    const installed = one(install.manifests, 'Secret');
    const elsewhere = [
      { ...installed, metadata: { ...installed.metadata, namespace: 'other' } },
      { ...installed, metadata: { ...installed.metadata, name: 'herald-old' } },
      { ...installed, kind: 'ConfigMap' },
    ];
    const upgrade = await renderer.template([], redisUrl, { existing: elsewhere, upgrade: true });
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(one(upgrade.manifests, 'Secret').data['jwt-secret']).not.toBe(installed.data['jwt-secret']);
    expect(one(upgrade.manifests, 'Secret').data['api-keys']).not.toBe(installed.data['api-keys']);
  });

  it('helm-render - credentials set in an upgrade replace the generated ones and roll the pods; the untouched one is kept', async () => {
    const install = await renderer.template([], redisUrl);
    const installed = one(install.manifests, 'Secret');
    const values = { ...redisUrl, auth: { jwtSecret: 'a-secret-of-at-least-32-characters-here' } };
    const upgrade = await renderer.template([], values, { existing: [stored(installed)], upgrade: true });
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const upgraded = one(upgrade.manifests, 'Secret');
    expect(Buffer.from(upgraded.data['jwt-secret'], 'base64').toString()).toBe('a-secret-of-at-least-32-characters-here');
    expect(upgraded.data['api-keys']).toBe(installed.data['api-keys']);
    expect(checksumOf(upgrade.manifests)).not.toBe(checksumOf(install.manifests));
    expect(checksumOf(upgrade.manifests)).toBe(dataChecksum(upgraded.data));
  });
});
