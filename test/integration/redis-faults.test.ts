import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, eventually, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { freePort, startRedis, type RedisInstance } from '../helpers/redis.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const LINGER_MS = 200;

describe('redis - subscriptions follow local subscribers, and survive Redis going away', () => {
  const prefix = `rf-${randomBytes(3).toString('hex')}`;
  let redis: RedisInstance;
  let probe: Redis;
  let nodes: TestNode[];
  beforeAll(async () => {
    // A private Redis: this file kills it.
    redis = await startRedis();
    probe = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    const env = { HERALD_REDIS_URL: redis.url, HERALD_REDIS_PREFIX: prefix, HERALD_SUBSCRIPTION_LINGER_MS: String(LINGER_MS), HERALD_LOG_LEVEL: 'info' };
    nodes = [await startNode({ ...env, HERALD_NODE_ID: 'a' }), await startNode({ ...env, HERALD_NODE_ID: 'b' })];
  }, 60_000);
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    probe?.disconnect();
    await redis?.stop();
  });

  const numsub = async (topic: string): Promise<number> => Number(((await probe.pubsub('NUMSUB', `${prefix}:${topic}`)) as [string, number])[1]);
  const token = hs256({ topics: ['rc.*', 'fault.*'], publish: ['fault.*'] });

  it('refcount - the Redis subscription exists while a local client holds the topic and is gone after the last leaves and the linger passes', async () => {
    const a1 = await TestClient.open(nodes[0]!.wsUrl, token);
    const a2 = await TestClient.open(nodes[0]!.wsUrl, token);
    const b1 = await TestClient.open(nodes[1]!.wsUrl, token);
    await a1.subscribe('rc.one');
    await a2.subscribe('rc.one');
    expect(await numsub('rc.one')).toBe(1);
    await b1.subscribe('rc.one');
    expect(await numsub('rc.one')).toBe(2);

    a1.close();
    await a1.closed;
    await new Promise((resolve) => setTimeout(resolve, LINGER_MS * 3));
    expect(await numsub('rc.one')).toBe(2);
    a2.close();
    await eventually(() => numsub('rc.one'), (n) => n === 1, 'node a unsubscribes after its last client left');
    expect(await b1.request({ type: 'unsubscribe', topic: 'rc.one' })).toMatchObject({ type: 'ack' });
    await eventually(() => numsub('rc.one'), (n) => n === 0, 'node b unsubscribes after its last client unsubscribed');
    b1.close();
  });

  it('refcount - a client that leaves and comes back within the linger keeps the Redis subscription (no churn)', async () => {
    const commandCalls = async (command: string): Promise<number> => {
      const stats = await probe.info('commandstats');
      return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    };
    const first = await TestClient.open(nodes[0]!.wsUrl, token);
    await first.subscribe('rc.churn');
    expect(await numsub('rc.churn')).toBe(1);
    const [subscribes, unsubscribes] = [await commandCalls('subscribe'), await commandCalls('unsubscribe')];
    for (let i = 0; i < 5; i++) {
      await first.request({ type: 'unsubscribe', topic: 'rc.churn' });
      await first.subscribe('rc.churn');
    }
    await new Promise((resolve) => setTimeout(resolve, LINGER_MS * 3));
    expect(await numsub('rc.churn')).toBe(1);
    expect(await commandCalls('subscribe')).toBe(subscribes);
    expect(await commandCalls('unsubscribe')).toBe(unsubscribes);
    first.close();
  });

  it('refcount - a node without subscribers of a topic receives none of its traffic', async () => {
    const onA = await TestClient.open(nodes[0]!.wsUrl, token);
    await onA.subscribe('rc.only-a');
    const before = await scrape(nodes[1]!.metricsUrl);
    for (let i = 0; i < 20; i++) expect((await publishHttp(nodes[1]!.httpUrl, { topic: 'rc.only-a', data: i }, API_KEY)).status).toBe(202);
    await onA.waitForCount('message', 20);
    const after = await scrape(nodes[1]!.metricsUrl);
    expect(after.get('herald_messages_published_total{source="http"}')! - before.get('herald_messages_published_total{source="http"}')!).toBe(20);
    expect(after.get('herald_messages_published_total{source="broker"}')).toBe(before.get('herald_messages_published_total{source="broker"}'));
    expect(after.get('herald_messages_dropped_total{reason="no_subscribers"}')).toBe(before.get('herald_messages_dropped_total{reason="no_subscribers"}'));
    onA.close();
  });

  it('faults - Redis killed: connections stay open, readiness and metrics say so, publishes fail clearly; Redis back: delivery resumes without resubscribing', async () => {
    const clients = [
      await TestClient.open(nodes[0]!.wsUrl, token),
      await TestClient.open(nodes[0]!.wsUrl, token),
      await TestClient.open(nodes[1]!.wsUrl, token),
      await TestClient.open(nodes[1]!.wsUrl, token),
    ];
    for (const client of clients) await client.subscribe('fault.t');
    expect((await publishHttp(nodes[0]!.httpUrl, { topic: 'fault.t', data: 'before' }, API_KEY)).status).toBe(202);
    for (const client of clients) expect(await client.next((f) => f.type === 'message')).toMatchObject({ data: 'before' });

    await redis.kill();

    for (const node of nodes) {
      await eventually(async () => (await fetch(`${node.httpUrl}/readyz`)).status, (status) => status === 503, 'readyz turns 503');
      expect(await (await fetch(`${node.httpUrl}/readyz`)).json()).toEqual({ status: 'not_ready', reason: 'broker_unavailable' });
      expect((await fetch(`${node.httpUrl}/healthz`)).status).toBe(200);
      expect((await scrape(node.metricsUrl)).get('herald_broker_up')).toBe(0);
      const res = await publishHttp(node.httpUrl, { topic: 'fault.t', data: 'lost' }, API_KEY);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: { code: 'unavailable' } });
    }
    for (const client of clients) {
      expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    }
    expect(await clients[0]!.request({ type: 'publish', topic: 'fault.t', data: 'lost' })).toMatchObject({ type: 'error', code: 'unavailable' });
    expect(await clients[0]!.subscribe('fault.new')).toMatchObject({ type: 'error', code: 'unavailable' });
    // New connections are still accepted (the node is alive, only not ready).
    const latecomer = await TestClient.open(nodes[1]!.wsUrl, token);
    expect(await latecomer.subscribe('fault.t')).toMatchObject({ type: 'ack' });
    clients.push(latecomer);

    await redis.restart();

    for (const node of nodes) {
      await eventually(async () => (await fetch(`${node.httpUrl}/readyz`)).status, (status) => status === 200, 'readyz turns 200 again');
      const metrics = await scrape(node.metricsUrl);
      expect(metrics.get('herald_broker_up')).toBe(1);
      expect(metrics.get('herald_broker_reconnects_total')).toBe(1);
    }
    expect(await numsub('fault.t')).toBe(2);
    expect(await numsub('fault.new')).toBe(0);
    expect((await publishHttp(nodes[1]!.httpUrl, { topic: 'fault.t', data: 'after' }, API_KEY)).status).toBe(202);
    for (const client of clients) {
      expect(await client.next((f) => f.type === 'message')).toMatchObject({ topic: 'fault.t', data: 'after' });
      expect(client.frames.filter((f) => f.type === 'message').map((f) => f.data)).not.toContain('lost');
      client.close();
    }
  }, 60_000);
});

describe('redis - a node started before Redis', () => {
  it('faults - serves unready while Redis is unreachable at startup, and becomes ready when Redis appears', async () => {
    const port = await freePort();
    const started = Date.now();
    const node = await startNode({ HERALD_REDIS_URL: `redis://127.0.0.1:${port}`, HERALD_REDIS_PREFIX: `late-${randomBytes(3).toString('hex')}` });
    let redis: RedisInstance | undefined;
    try {
      // It does not wait forever for Redis: a bounded wait, then it serves.
      expect(Date.now() - started).toBeLessThan(8000);
      expect((await fetch(`${node.httpUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${node.httpUrl}/readyz`)).status).toBe(503);
      expect((await scrape(node.metricsUrl)).get('herald_broker_up')).toBe(0);
      const client = await TestClient.open(node.wsUrl, hs256());
      expect(await client.subscribe('prices.late')).toMatchObject({ type: 'error', code: 'unavailable' });

      redis = await startRedis(port);
      await eventually(async () => (await fetch(`${node.httpUrl}/readyz`)).status, (status) => status === 200, 'ready once Redis is up');
      expect(await client.subscribe('prices.late')).toMatchObject({ type: 'ack' });
      expect((await publishHttp(node.httpUrl, { topic: 'prices.late', data: 'hello' }, API_KEY)).status).toBe(202);
      expect(await client.next((f) => f.type === 'message')).toMatchObject({ data: 'hello' });
      client.close();
    } finally {
      await node.close();
      await redis?.stop();
    }
  }, 30_000);
});
