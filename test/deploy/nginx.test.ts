/**
 * deploy/nginx/nginx.conf, run for real without Docker: a private Redis, three
 * Herald processes and nginx with that configuration (adapted only in
 * addresses, ports, paths and the worker user). 300 clients connect through
 * nginx, land on all three nodes, and all receive a message published through
 * nginx; then a node drains and nginx sends new clients to the other two.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, publishHttp, scrape, withTimeout } from '../helpers/client.js';
import { spawnHerald, type HeraldProcess } from '../helpers/process.js';
import { freePort, startLocalRedis, type RedisInstance } from '../helpers/redis.js';
import { redisServerNeed, unless } from '../helpers/skip.js';
import { API_KEY, SECRET, hs256 } from '../helpers/tokens.js';
import { adaptNginxConfig, startNginx, type NginxProcess } from './lib/nginx.js';
import { ROOT, nginxNeed } from './lib/tools.js';

const CONF = readFileSync(join(ROOT, 'deploy/nginx/nginx.conf'), 'utf8');
const NODE_NAMES = ['herald-1', 'herald-2', 'herald-3'];
const CLIENTS = 300;
const BATCH = 50;
const DRAIN_SECONDS = 5;


describe('nginx - the configuration adaptation', () => {
  const upstreams = new Map(NODE_NAMES.map((name, i) => [`${name}:8080`, 40001 + i]));
  const adapted = adaptNginxConfig(CONF, { upstreams, listenPort: 40100, prefix: '/tmp/p', asRoot: true });

  it('nginx - upstream servers and the listen port are replaced, with their parameters kept', () => {
    expect(adapted).toContain('server 127.0.0.1:40001 max_fails=1 fail_timeout=10s;');
    expect(adapted).toContain('server 127.0.0.1:40003 max_fails=1 fail_timeout=10s;');
    expect(adapted).toMatch(/^\s*listen 127\.0\.0\.1:40100;/m);
    expect(adapted).not.toMatch(/herald-\d:8080/);
  });

  it('nginx - every other line of the real configuration is kept as it is', () => {
    const adaptedLines = new Set(adapted.split('\n'));
    const changeable = /^\s*(server\s+[\w.-]+:\d+|listen\s|user\s)|\/var\/log\/nginx\//;
    const kept = CONF.split('\n').filter((line) => !changeable.test(line));
    expect(kept.filter((line) => !adaptedLines.has(line))).toEqual([]);
    // The balancing and WebSocket settings this test exists to prove are among them.
    for (const directive of ['least_conn;', 'proxy_set_header Upgrade $http_upgrade;', 'proxy_set_header Connection $connection_upgrade;', 'proxy_read_timeout 1h;', 'proxy_next_upstream error timeout http_503;']) {
      expect(kept.some((line) => line.trim() === directive), directive).toBe(true);
    }
  });

  it('nginx - a configuration whose upstreams the test does not know is refused', () => {
    expect(() => adaptNginxConfig(CONF.replace('herald-3:8080', 'herald-4:8080'), { upstreams, listenPort: 1, prefix: '/tmp/p', asRoot: true })).toThrow(/herald-4:8080/);
  });
});

describe('nginx - three Herald nodes behind deploy/nginx/nginx.conf', unless(nginxNeed(), redisServerNeed()), () => {
  let redis: RedisInstance | undefined;
  const nodes: HeraldProcess[] = [];
  let nginx: NginxProcess | undefined;
  const clients: TestClient[] = [];
  const token = hs256({ topics: ['deploy.*'] });
  const nodeOf = (client: TestClient): string => String(client.frames.find((f) => f.type === 'welcome')?.node);
  let wsUrl = '';

  beforeAll(async () => {
    redis = await startLocalRedis();
    const env = { NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY, HERALD_REDIS_URL: redis.url, HERALD_DRAIN_SECONDS: String(DRAIN_SECONDS) };
    nodes.push(...(await Promise.all(NODE_NAMES.map((name) => spawnHerald({ ...env, HERALD_NODE_ID: name })))));
    // Ready (connected to Redis) before traffic, as nginx's depends_on waits for in Compose.
    await withTimeout(
      Promise.all(
        nodes.map(async (node) => {
          while ((await fetch(`http://127.0.0.1:${node.port}/readyz`)).status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
        }),
      ),
      10_000,
      'nodes not ready',
    );
    const upstreams = new Map(NODE_NAMES.map((name, i) => [`${name}:8080`, nodes[i]!.port]));
    nginx = await startNginx(CONF, await freePort(), upstreams);
    wsUrl = `ws://127.0.0.1:${nginx.port}/ws`;
  }, 40_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await nginx?.stop();
    await Promise.all(
      nodes.map(async (node) => {
        node.child.kill('SIGTERM');
        await Promise.race([node.exited, new Promise((resolve) => setTimeout(resolve, (DRAIN_SECONDS + 3) * 1000))]);
        node.kill();
      }),
    );
    await redis?.stop();
  }, 30_000);

  it('nginx - 300 WebSocket clients connect through nginx and land on all three nodes', async () => {
    for (let i = 0; i < CLIENTS; i += BATCH) {
      clients.push(...(await Promise.all(Array.from({ length: BATCH }, () => TestClient.open(wsUrl, token, { timeoutMs: 10_000 })))));
    }
    const perNode = new Map<string, number>();
    for (const client of clients) perNode.set(nodeOf(client), (perNode.get(nodeOf(client)) ?? 0) + 1);
    expect([...perNode.keys()].sort()).toEqual(NODE_NAMES);
    // least_conn with a shared zone spreads connections evenly, not just somewhere.
    for (const [name, count] of perNode) expect(count, `${name} holds ${count} of ${CLIENTS}`).toBeGreaterThanOrEqual(CLIENTS / NODE_NAMES.length / 2);
    // Each node's own count agrees with what the welcome frames said.
    for (const [i, node] of nodes.entries()) {
      const metrics = await scrape(`http://127.0.0.1:${node.metricsPort}/metrics`);
      expect(metrics.get('herald_connections'), NODE_NAMES[i]).toBe(perNode.get(NODE_NAMES[i]!));
    }
  }, 40_000);

  it('nginx - a message published through nginx reaches every one of the 300 clients, on every node', async () => {
    expect(clients).toHaveLength(CLIENTS);
    const acks = await Promise.all(clients.map((client) => client.subscribe('deploy.news')));
    expect(acks.every((ack) => ack.type === 'ack')).toBe(true);
    const published = await publishHttp(`http://127.0.0.1:${nginx!.port}`, { topic: 'deploy.news', data: { n: 1 } }, API_KEY);
    expect(published).toEqual({ status: 202, body: { accepted: 1 } });
    const received = await Promise.all(clients.map((client) => client.next((f) => f.type === 'message' && (f.data as { n?: number }).n === 1, 10_000)));
    expect(received).toHaveLength(CLIENTS);
    expect(received.every((frame) => frame.topic === 'deploy.news')).toBe(true);
  }, 30_000);

  it('nginx - while a node drains, its clients get 1001 and new clients are sent to the other nodes, none refused', async () => {
    const drained = nodes[0]!;
    const drainedName = NODE_NAMES[0]!;
    const itsClients = clients.filter((client) => nodeOf(client) === drainedName);
    expect(itsClients.length).toBeGreaterThan(0);
    drained.child.kill('SIGTERM');
    await withTimeout(
      (async () => {
        while ((await fetch(`http://127.0.0.1:${drained.port}/readyz`)).status !== 503) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      5000,
      'the node did not turn unready',
    );
    // The draining node has the fewest connections, so least_conn picks it first;
    // it refuses the upgrade with 503 and nginx retries on another node.
    const newcomers = await Promise.all(Array.from({ length: 30 }, () => TestClient.open(wsUrl, token, { timeoutMs: 10_000 })));
    clients.push(...newcomers);
    expect(newcomers.filter((client) => nodeOf(client) === drainedName)).toEqual([]);
    const closes = await Promise.all(itsClients.map((client) => client.waitClosed((DRAIN_SECONDS + 5) * 1000)));
    expect(closes.every((close) => close.code === 1001 && close.reason === 'draining'), JSON.stringify(closes.slice(0, 3))).toBe(true);
    expect(await withTimeout(drained.exited, 10_000, 'the drained node did not exit')).toBe(0);
    // nginx did try the draining node and moved on: a WebSocket is logged when it
    // closes, with one upstream status per attempt.
    for (const client of newcomers) client.close();
    await withTimeout(
      (async () => {
        while (!/"GET \/ws" 101 .* upstream_status=503, 101 /.test(nginx!.accessLog())) await new Promise((resolve) => setTimeout(resolve, 50));
      })(),
      5000,
      'no retried upgrade in the access log',
    );
    // Tokens travel in the query string; the log format leaves it out.
    expect(nginx!.accessLog()).not.toContain('token=');
  }, 40_000);
});
