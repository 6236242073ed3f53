/**
 * The Docker Compose reference stack in deploy/: its parts refer to each other
 * correctly (nginx upstreams and Prometheus targets are the Herald services,
 * Grafana finds its datasource and dashboard, every mounted file exists) and
 * Herald is configured only with variables it reads. `docker compose config`
 * validates the file where the Compose plugin is installed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { VARIABLES } from '../../src/config.js';
import { unless } from '../helpers/skip.js';
import { ROOT, dockerComposeNeed, run } from './lib/tools.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  stop_grace_period?: string;
  read_only?: boolean;
  healthcheck?: { test: string[] };
}

const DEPLOY = join(ROOT, 'deploy');
const compose = parse(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const heraldServices = Object.keys(services).filter((name) => services[name]!.environment?.HERALD_NODE_ID !== undefined);
const defaultOf = (name: string): string => VARIABLES.find((v) => v.name === name)!.default;
const composePlugin = dockerComposeNeed();

/** Host path → container path of a service's bind mounts. */
function mounts(service: Service): Map<string, string> {
  return new Map((service.volumes ?? []).map((volume) => volume.split(':') as [string, string]).map(([host, container]) => [host, container]));
}

describe('compose - the reference stack', () => {
  it('compose - Redis, three Herald nodes, nginx, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'herald-1', 'herald-2', 'herald-3', 'nginx', 'prometheus', 'redis']);
    expect(heraldServices).toEqual(['herald-1', 'herald-2', 'herald-3']);
  });

  it('compose - every Herald node is built from the repository\'s Dockerfile and configured for production on the shared Redis', () => {
    const ids = new Set<string>();
    for (const name of heraldServices) {
      const service = services[name]!;
      expect(service.build, name).toEqual({ context: '..', dockerfile: 'Dockerfile' });
      expect(existsSync(join(DEPLOY, service.build!.context, service.build!.dockerfile))).toBe(true);
      const env = service.environment!;
      expect(env.NODE_ENV).toBe('production');
      expect(env.HERALD_REDIS_URL).toBe('redis://redis:6379');
      ids.add(env.HERALD_NODE_ID!);
      // Only variables Herald reads.
      const known = new Set(VARIABLES.map((v) => v.name));
      for (const key of Object.keys(env)) if (key !== 'NODE_ENV') expect(known.has(key), `${name}: ${key}`).toBe(true);
      // Secrets come from the environment or deploy/.env, never from this file.
      for (const secret of VARIABLES.filter((v) => v.secret && v.name !== 'HERALD_REDIS_URL')) {
        if (env[secret.name] !== undefined) expect(env[secret.name], `${name}: ${secret.name}`).toMatch(/^\$\{\w+:\?[^}]+\}$/);
      }
      expect(env.HERALD_JWT_SECRET).toBeDefined();
      // Long enough for the drain, read-only root filesystem, readiness-based health.
      expect(Number.parseInt(service.stop_grace_period!, 10)).toBeGreaterThan(Number(env.HERALD_DRAIN_SECONDS));
      expect(service.read_only).toBe(true);
      expect(service.healthcheck!.test.join(' ')).toContain('/readyz');
    }
    expect(ids.size).toBe(3);
  });

  it('compose - every file mounted into a container exists in deploy/', () => {
    let count = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const host of mounts(service).keys()) {
        if (!host.startsWith('.')) continue;
        count++;
        expect(existsSync(join(DEPLOY, host)), `${name}: ${host}`).toBe(true);
      }
    }
    expect(count).toBeGreaterThanOrEqual(4);
  });

  it('compose - nginx balances over exactly the Herald services, on Herald\'s client port, and waits for them to be ready', () => {
    const conf = readFileSync(join(DEPLOY, 'nginx/nginx.conf'), 'utf8');
    expect(mounts(services.nginx!).get('./nginx/nginx.conf')).toBe('/etc/nginx/nginx.conf');
    const servers = [...conf.matchAll(/^\s*server\s+([\w.-]+):(\d+)\b/gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(servers).toEqual(heraldServices.map((name) => `${name}:${defaultOf('HERALD_PORT')}`));
    const listen = /^\s*listen\s+(\d+)\s*;/m.exec(conf)![1];
    expect(services.nginx!.ports).toEqual([`8080:${listen}`]);
    const dependsOn = services.nginx!.depends_on as Record<string, { condition: string }>;
    for (const name of heraldServices) expect(dependsOn[name]?.condition, name).toBe('service_healthy');
  });

  it('compose - Prometheus scrapes every Herald node\'s metrics port as job "herald" and loads the alert rules', () => {
    expect(mounts(services.prometheus!).get('./prometheus')).toBe('/etc/prometheus');
    const config = parse(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const herald = config.scrape_configs.find((c) => c.job_name === 'herald');
    expect(herald).toBeDefined();
    expect(herald!.metrics_path ?? '/metrics').toBe('/metrics');
    expect(herald!.static_configs.flatMap((c) => c.targets).sort()).toEqual(heraldServices.map((name) => `${name}:${defaultOf('HERALD_METRICS_PORT')}`));
    expect(config.rule_files).toEqual(['alerts.yml']);
    expect(existsSync(join(DEPLOY, 'prometheus', config.rule_files[0]!))).toBe(true);
  });

  it('compose - Grafana is provisioned with the Prometheus datasource and the Herald dashboard', () => {
    const grafanaMounts = mounts(services.grafana!);
    expect(grafanaMounts.get('./grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const dashboardsDir = grafanaMounts.get('./grafana/dashboards')!;
    const datasources = parse(readFileSync(join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { type: string; url: string; isDefault: boolean }[] };
    expect(datasources.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
    expect(services.prometheus!.ports).toEqual(['9090:9090']);
    const providers = parse(readFileSync(join(DEPLOY, 'grafana/provisioning/dashboards/herald.yml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    expect(providers.providers.map((p) => p.options.path)).toEqual([dashboardsDir]);
    const home = services.grafana!.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(home.startsWith(`${dashboardsDir}/`)).toBe(true);
    const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana/dashboards', home.slice(dashboardsDir.length + 1)), 'utf8')) as {
      uid: string;
      templating: { list: { name: string; type: string; query: unknown }[] };
      panels: { type: string; datasource?: { uid: string } }[];
    };
    expect(dashboard.uid).toBe('herald');
    // Every panel queries the datasource chosen in the dashboard's variable (a Prometheus one).
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) expect(panel.datasource?.uid).toBe('${datasource}');
  });

  it('compose - docker compose config accepts the file', unless(composePlugin), async () => {
    const result = await run('docker', ['compose', '-f', 'deploy/docker-compose.yml', 'config', '--quiet'], {
      timeoutMs: 30_000,
      env: { ...process.env, HERALD_JWT_SECRET: 'x'.repeat(32), HERALD_API_KEYS: 'y'.repeat(24) },
    });
    expect(result.code, result.stderr).toBe(0);
  });
});
