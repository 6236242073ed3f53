/**
 * Guards for the Redis link's restore after an outage, with thousands of
 * topics (with one topic every ordering looks right):
 * - ready means restored: the moment /readyz answers 200 again, every topic's
 *   channel is subscribed and a message published to any of them is delivered;
 * - topics that lost their last local subscriber while Redis was down are not
 *   revived by the restore.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, eventually, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { startSlowLink } from '../helpers/slow-link.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const token = hs256({ topics: ['g.>'] });
const topicsOf = (group: string, count: number): string[] => Array.from({ length: count }, (_, i) => `g.${group}.${String(i).padStart(4, '0')}`);

/** Subscribes to every topic in one go (no rate limit on these nodes) and waits for all the acks. */
async function subscribeAll(client: TestClient, topics: readonly string[]): Promise<void> {
  const acks = client.frames.filter((f) => f.type === 'ack').length;
  for (const topic of topics) client.send({ type: 'subscribe', topic, id: `s:${topic}` });
  const replies = await client.waitForCount('ack', acks + topics.length, 15_000);
  expect(replies.length).toBe(acks + topics.length);
}

async function publishToEach(httpUrl: string, topics: readonly string[], data: string): Promise<void> {
  const batches: Promise<{ status: number }>[] = [];
  for (let i = 0; i < topics.length; i += 1000) {
    batches.push(publishHttp(httpUrl, { messages: topics.slice(i, i + 1000).map((topic) => ({ topic, data })) }, API_KEY));
  }
  for (const result of await Promise.all(batches)) expect(result.status).toBe(202);
}

/** Polls /readyz back to back (no sleep) until it answers `status`; resolves at that moment. */
async function readyzTurns(httpUrl: string, status: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await fetch(`${httpUrl}/readyz`).then((res) => res.status, () => 0);
    if (answer === status) return;
    if (Date.now() > deadline) throw new Error(`/readyz still ${answer}, not ${status}, after ${timeoutMs} ms`);
  }
}

describe('guards - restoring thousands of topics after a Redis outage', () => {
  let redis: RedisInstance;
  let probe: Redis;
  beforeAll(async () => {
    // A private Redis: these tests kill it.
    redis = await startRedis();
    probe = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 20 });
    probe.on('error', () => undefined);
  }, 60_000);
  afterAll(async () => {
    probe?.disconnect();
    await redis?.stop();
  });

  /** Subscriber counts of many channels in one PUBSUB NUMSUB. */
  const numsub = async (prefix: string, topics: readonly string[]): Promise<Map<string, number>> => {
    const reply = (await probe.pubsub('NUMSUB', ...topics.map((topic) => `${prefix}:${topic}`))) as (string | number)[];
    const counts = new Map<string, number>();
    for (let i = 0; i < reply.length; i += 2) counts.set(String(reply[i]).slice(prefix.length + 1), Number(reply[i + 1]));
    return counts;
  };
  const withCount = (counts: Map<string, number>, n: number): string[] => [...counts].filter(([, c]) => c === n).map(([topic]) => topic);

  async function outage(node: TestNode, whileDown: () => Promise<void> = async () => {}): Promise<void> {
    await redis.kill();
    await eventually(async () => (await fetch(`${node.httpUrl}/readyz`)).status, (status) => status === 503, 'readyz turns 503');
    await whileDown();
    await redis.restart();
    // The probe client is connected again before readiness is polled, so that nothing sits between 200 and the check.
    await eventually(() => probe.ping(), (pong) => pong === 'PONG', 'probe client reconnected', 5000);
  }

  it('guards - 3,000 topics on 3 connections, subscriber on a 25 KB/s link: the moment /readyz is 200 after Redis restarts, every channel is subscribed and a publish to each is delivered', async () => {
    const prefix = `gr3-${randomBytes(3).toString('hex')}`;
    // After the outage the subscriber connection (the one that sends SUBSCRIBE) is slowed: restoring 3,000 channels
    // (~80 KB) takes about 3 s, longer than the publisher connection can lag behind it in reconnecting (at most
    // a second), so a node that reported ready before its restore was done would do so visibly early.
    let slowAfterOutage = false;
    const link = await startSlowLink(redis.host, redis.port, { bytesPerSecond: 25_000, slow: (sent) => slowAfterOutage && /subscribe/i.test(sent) });
    const node = await startNode({
      HERALD_REDIS_URL: `redis://127.0.0.1:${link.port}`,
      HERALD_REDIS_PREFIX: prefix,
      HERALD_MAX_SUBSCRIPTIONS: '1000',
      HERALD_CLIENT_RATE: '0',
      HERALD_LOG_LEVEL: 'info',
    });
    const groups = ['a', 'b', 'c'].map((group) => topicsOf(group, 1000));
    const all = groups.flat();
    const clients: TestClient[] = [];
    try {
      for (const topics of groups) {
        const client = await TestClient.open(node.wsUrl, token);
        clients.push(client);
        await subscribeAll(client, topics);
      }
      expect(withCount(await numsub(prefix, all), 1)).toHaveLength(all.length);

      slowAfterOutage = true;
      await outage(node);
      const restarted = Date.now();
      await readyzTurns(node.httpUrl, 200, 20_000);
      const readyAfterMs = Date.now() - restarted;
      const counts = await numsub(prefix, all);
      // The restore really went through the slow link.
      expect(link.slowed()).toBeGreaterThanOrEqual(1);
      const missing = withCount(counts, 0);
      expect(missing.length, `channels not yet subscribed when /readyz said 200, ${readyAfterMs} ms after Redis was back (first: ${missing.slice(0, 3).join(', ')})`).toBe(0);
      await publishToEach(node.httpUrl, all, 'after');

      for (const [i, client] of clients.entries()) {
        const messages = await client.waitForCount('message', 1000, 10_000).catch(() => client.frames.filter((f) => f.type === 'message'));
        const received = new Set(messages.map((f) => f.topic as string));
        const lost = groups[i]!.filter((topic) => !received.has(topic));
        expect(lost.length, `messages published right after /readyz 200 and never delivered (first: ${lost.slice(0, 3).join(', ')})`).toBe(0);
        expect(messages).toHaveLength(1000);
      }
    } finally {
      for (const client of clients) client.close();
      await node.close();
      await link.close();
    }
  }, 60_000);

  it('guards - 1,000 topics unsubscribed or closed while Redis is down stay unsubscribed after it returns; 500 kept are restored', async () => {
    const prefix = `gr4-${randomBytes(3).toString('hex')}`;
    const node = await startNode({
      HERALD_REDIS_URL: redis.url,
      HERALD_REDIS_PREFIX: prefix,
      HERALD_SUBSCRIPTION_LINGER_MS: '100',
      HERALD_CLIENT_RATE: '0',
      HERALD_LOG_LEVEL: 'info',
    });
    const kept = topicsOf('kept', 500);
    const unsubscribed = topicsOf('unsubscribed', 500);
    const closed = topicsOf('closed', 500);
    const clients: TestClient[] = [];
    try {
      const keeper = await TestClient.open(node.wsUrl, token);
      const leaver = await TestClient.open(node.wsUrl, token);
      const closer = await TestClient.open(node.wsUrl, token);
      clients.push(keeper, leaver, closer);
      await subscribeAll(keeper, kept);
      await subscribeAll(leaver, unsubscribed);
      await subscribeAll(closer, closed);
      expect(withCount(await numsub(prefix, [...kept, ...unsubscribed, ...closed]), 1)).toHaveLength(1500);

      await outage(node, async () => {
        const acks = leaver.frames.filter((f) => f.type === 'ack').length;
        for (const topic of unsubscribed) leaver.send({ type: 'unsubscribe', topic, id: `u:${topic}` });
        await leaver.waitForCount('ack', acks + unsubscribed.length, 10_000);
        closer.close();
        await closer.closed;
        // Past the linger: the node has let go of all 1,000 while Redis was away.
        await eventually(() => scrape(node.metricsUrl), (m) => m.get('herald_topics') === 500, 'herald_topics falls to the 500 kept topics', 5000);
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      await readyzTurns(node.httpUrl, 200);

      const check = async (when: string): Promise<void> => {
        const counts = await numsub(prefix, [...kept, ...unsubscribed, ...closed]);
        const revived = [...unsubscribed, ...closed].filter((topic) => counts.get(topic) !== 0);
        expect(revived.length, `topics let go while Redis was down and subscribed again ${when} (first: ${revived.slice(0, 3).join(', ')})`).toBe(0);
        expect(kept.filter((topic) => counts.get(topic) !== 1).length, `kept topics not subscribed ${when}`).toBe(0);
      };
      await check('when /readyz said 200');
      // A second probe cycle later, nothing has come back either.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await check('1.5 s later');

      const before = await scrape(node.metricsUrl);
      await publishToEach(node.httpUrl, [...unsubscribed, ...closed, ...kept], 'after');
      await keeper.waitForCount('message', 500, 10_000);
      const after = await scrape(node.metricsUrl);
      // Only the kept topics' traffic reaches the node from Redis.
      expect(after.get('herald_messages_published_total{source="broker"}')! - before.get('herald_messages_published_total{source="broker"}')!).toBe(500);
      expect(leaver.frames.filter((f) => f.type === 'message')).toHaveLength(0);
    } finally {
      for (const client of clients) client.close();
      await node.close();
    }
  }, 60_000);
});
