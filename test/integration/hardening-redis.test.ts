/**
 * Issue 8's findings about Redis: readiness and herald_broker_up must say
 * whether messages actually flow, and a 503 must mean "not published", for a
 * Redis that freezes, a subscriber that silently stops receiving, and one
 * cluster shard going down. Private Redis processes (redis-server), because
 * these tests freeze and kill them.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, eventually, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { startProxy, type TcpProxy } from '../helpers/proxy.js';
import { startLocalCluster, startLocalRedis, type LocalRedisInstance, type RedisClusterInstance } from '../helpers/redis.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const token = hs256({ topics: ['live.*'], publish: ['live.*'] });
const readyz = async (node: TestNode): Promise<number> => (await fetch(`${node.httpUrl}/readyz`)).status;
const brokerUp = async (node: TestNode): Promise<number | undefined> => (await scrape(node.metricsUrl)).get('herald_broker_up');

/**
 * Delivery works (again): publishes numbered marks over HTTP until `client`
 * receives one. Messages published while a subscriber reconnects are lost
 * (pub/sub is at most once), so one publish is not enough.
 */
async function deliveredAgain(node: TestNode, client: TestClient, topic: string, mark: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    await publishHttp(node.httpUrl, { topic, data: `${mark}-${i}` }, API_KEY).catch(() => undefined);
    const got = await client.next((f) => f.type === 'message' && typeof f.data === 'string' && f.data.startsWith(`${mark}-`), 200).catch(() => undefined);
    if (got !== undefined) return;
    if (Date.now() > deadline) throw new Error(`nothing published as ${mark}-* reached the client within ${timeoutMs} ms`);
  }
}

describe('hardening - a frozen Redis (SIGSTOP) is noticed, and what was answered 503 is never delivered', () => {
  const prefix = `fz-${randomBytes(3).toString('hex')}`;
  let redis: LocalRedisInstance;
  let node: TestNode;
  beforeAll(async () => {
    redis = await startLocalRedis();
    node = await startNode({ HERALD_REDIS_URL: redis.url, HERALD_REDIS_PREFIX: prefix, HERALD_REDIS_PUBLISH_TIMEOUT_MS: '500' });
  });
  afterAll(async () => {
    redis?.resume();
    await node?.close();
    await redis?.stop();
  });

  it('hardening - SIGSTOP: not ready and herald_broker_up 0 within ~2 s, publishes answered 503 within the timeout, none of them delivered after SIGCONT', async () => {
    const client = await TestClient.open(node.wsUrl, token);
    expect((await client.subscribe('live.frozen')).type).toBe('ack');
    expect(await readyz(node)).toBe(200);

    redis.pause();
    const frozenAt = Date.now();
    // In flight when Redis froze: written to the socket, unanswered.
    const inFlight = await publishHttp(node.httpUrl, { topic: 'live.frozen', data: 'in-flight' }, API_KEY);
    expect(inFlight.status).toBe(503);
    // 500 ms deadline + 500 ms grace, plus scheduling slack.
    expect(Date.now() - frozenAt).toBeLessThan(2500);
    await eventually(() => readyz(node), (s) => s === 503, 'readyz turns 503', 4000);
    expect(Date.now() - frozenAt).toBeLessThan(4000);
    expect(await brokerUp(node)).toBe(0);
    // Once known down, a publish fails at once.
    const failFast = Date.now();
    expect((await publishHttp(node.httpUrl, { topic: 'live.frozen', data: 'while-down' }, API_KEY)).status).toBe(503);
    expect(Date.now() - failFast).toBeLessThan(300);

    redis.resume();
    await eventually(() => readyz(node), (s) => s === 200, 'ready again after SIGCONT', 5000);
    expect(await brokerUp(node)).toBe(1);
    await deliveredAgain(node, client, 'live.frozen', 'after');
    // Redis woke up with the in-flight publish in its input buffer and refused it: its deadline had passed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const data = client.frames.filter((f) => f.type === 'message').map((f) => String(f.data));
    expect(data).not.toContain('in-flight');
    expect(data).not.toContain('while-down');
    client.close();
  });
});

describe('hardening - pub/sub that silently stops is detected and repaired', () => {
  const prefix = `ps-${randomBytes(3).toString('hex')}`;
  let redis: LocalRedisInstance;
  let admin: Redis;
  let proxy: TcpProxy;
  let node: TestNode;
  beforeAll(async () => {
    redis = await startLocalRedis();
    admin = new Redis(redis.url);
    proxy = await startProxy('127.0.0.1', redis.port);
    node = await startNode({ HERALD_REDIS_URL: `redis://127.0.0.1:${proxy.port}`, HERALD_REDIS_PREFIX: prefix });
  });
  afterAll(async () => {
    await node?.close();
    await proxy?.close();
    admin?.disconnect();
    await redis?.stop();
  });
  afterEach(async () => {
    await eventually(() => readyz(node), (s) => s === 200, 'ready between tests', 10_000);
  });

  it('hardening - CLIENT KILL TYPE pubsub while publishing continues: delivery resumes without any client action', async () => {
    const client = await TestClient.open(node.wsUrl, token);
    expect((await client.subscribe('live.kill')).type).toBe('ack');
    await deliveredAgain(node, client, 'live.kill', 'before');
    expect(Number(await admin.client('KILL', 'TYPE', 'pubsub'))).toBeGreaterThanOrEqual(1);
    await deliveredAgain(node, client, 'live.kill', 'after');
    client.close();
  });

  it('hardening - a subscriber connection that stays open but receives nothing is replaced; not ready meanwhile', async () => {
    const client = await TestClient.open(node.wsUrl, token);
    expect((await client.subscribe('live.wedge')).type).toBe('ack');
    await deliveredAgain(node, client, 'live.wedge', 'before');
    const subscribers = proxy.connections.filter((c) => /SUBSCRIBE/i.test(c.sent) && !c.client.destroyed);
    expect(subscribers).toHaveLength(1);
    subscribers[0]!.blackholed = true;
    const wedgedAt = Date.now();
    // The probe that does not come back within 3 s makes the node unready and replaces the subscriber.
    await eventually(() => readyz(node), (s) => s === 503, 'not ready while pub/sub does not flow', 8000);
    await eventually(() => readyz(node), (s) => s === 200, 'ready again on a new subscriber connection', 10_000);
    expect(Date.now() - wedgedAt).toBeLessThan(12_000);
    expect(subscribers[0]!.client.destroyed).toBe(true);
    await deliveredAgain(node, client, 'live.wedge', 'after');
    client.close();
  });

  it('hardening - CLIENT PAUSE (Redis answers nothing for a while): not ready during the pause, ready and delivering after', async () => {
    const client = await TestClient.open(node.wsUrl, token);
    expect((await client.subscribe('live.pause')).type).toBe('ack');
    await admin.call('CLIENT', 'PAUSE', '4000', 'ALL');
    await eventually(() => readyz(node), (s) => s === 503, 'not ready while Redis is paused', 4000);
    await eventually(() => readyz(node), (s) => s === 200, 'ready after the pause', 8000);
    await deliveredAgain(node, client, 'live.pause', 'after-pause');
    client.close();
  });
});

describe('hardening - Redis Cluster with one shard down', () => {
  const prefix = `cs-${randomBytes(3).toString('hex')}`;
  let cluster: RedisClusterInstance & { readonly instances: readonly LocalRedisInstance[] };
  let node: TestNode;
  beforeAll(async () => {
    cluster = await startLocalCluster();
    node = await startNode({ HERALD_REDIS_CLUSTER_NODES: cluster.nodes.join(','), HERALD_REDIS_PREFIX: prefix });
  }, 60_000);
  afterAll(async () => {
    await node?.close();
    await cluster?.stop();
  });

  it('hardening - every shard reports up; stopping one master turns the node unready and exactly that shard down', async () => {
    await eventually(() => readyz(node), (s) => s === 200, 'ready on the whole cluster');
    const shardUp = async (): Promise<number[]> => {
      const metrics = await scrape(node.metricsUrl);
      return [0, 1, 2].map((i) => metrics.get(`herald_broker_shard_up{shard="${i}"}`) ?? -1);
    };
    expect(await shardUp()).toEqual([1, 1, 1]);
    expect(await brokerUp(node)).toBe(1);

    cluster.instances[1]!.pause();
    try {
      await eventually(() => readyz(node), (s) => s === 503, 'not ready with a shard down', 6000);
      expect(await brokerUp(node)).toBe(0);
      const states = await eventually(shardUp, (s) => s.filter((v) => v === 0).length === 1, 'exactly one shard down', 6000);
      expect(states.filter((v) => v === 1)).toHaveLength(2);
    } finally {
      cluster.instances[1]!.resume();
    }
    await eventually(shardUp, (s) => s.every((v) => v === 1), 'all shards up again after the master resumes', 15_000);
  }, 40_000);
});
