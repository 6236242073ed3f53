/**
 * History when Redis itself fails, on a private redis-server (these tests kill
 * it and its clients), per docs/protocol.md "History and recovery":
 *
 * - Redis restarted without persistence loses every stream: "every local
 *   subscriber of the topic gets {"type":"unsubscribed",…,"reason":"reset"}
 *   and is unsubscribed"; resubscribing with the old epoch "learns
 *   recovered:false and the new epoch", whose offsets start again from 1, and
 *   "offsets a client sees never go backwards or skip, except across an
 *   unsubscribed reset or a recovered:false ack".
 * - Messages Redis pub/sub dropped on the way to a node (its subscriber
 *   connection killed): "the node reads the missing messages from the history
 *   once for the topic and delivers them, in order, before continuing … Clients
 *   notice nothing" — no close, no reset, every offset.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, eventually, publishHttp, type Frame } from '../helpers/client.js';
import { Follower, HttpPublisher, gapsOf } from '../helpers/history.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { startLocalRedis, type LocalRedisInstance } from '../helpers/redis.js';
import { redisServerNeed, unless } from '../helpers/skip.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const token = hs256({ topics: ['chat.>', 'plain.>'], publish: ['chat.>', 'plain.>'] });
const HISTORY = 'chat.>=1000:300';
// The function's arguments for that rule (docs/protocol.md, "History in Redis"): size, ttl ms, position ttl ms (the default 30 days).
const RULE_ARGS = [1000, 300_000, 2_592_000_000] as const;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const messagesIn = (frames: readonly Frame[], topic: string): Frame[] => frames.filter((f) => f.type === 'message' && f.topic === topic);

/** Publishes over HTTP until Redis takes it (the node may still be reconnecting); returns the entry of the reply. */
async function publishWhenUp(node: TestNode, topic: string, data: unknown): Promise<{ offset: number; epoch: string }> {
  const res = await eventually(() => publishHttp(node.httpUrl, { topic, data }, API_KEY), (r) => r.status === 202, `publish to ${topic} accepted`, 15_000);
  return (res.body.messages as { offset: number; epoch: string }[])[0]!;
}

describe('history - Redis restarted without persistence', unless(redisServerNeed()), () => {
  const prefix = `hreset-${randomBytes(3).toString('hex')}`;
  let redis: LocalRedisInstance;
  let nodes: TestNode[];
  beforeAll(async () => {
    redis = await startLocalRedis();
    const env = { HERALD_REDIS_URL: redis.url, HERALD_REDIS_PREFIX: prefix, HERALD_HISTORY: HISTORY, HERALD_LOG_LEVEL: 'info' };
    nodes = [await startNode({ ...env, HERALD_NODE_ID: 'a' }), await startNode({ ...env, HERALD_NODE_ID: 'b' })];
  }, 30_000);
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    await redis?.stop();
  });

  interface Subscriber {
    client: TestClient;
    topic: string;
    epoch: string;
  }

  /** Two history topics, two subscribers of each on each node, five messages each; and one subscriber of a plain topic per node. */
  async function setUp(run: string): Promise<{ topics: string[]; subscribers: Subscriber[]; plain: TestClient[]; plainTopic: string }> {
    const topics = [`chat.${run}.x`, `chat.${run}.y`];
    const plainTopic = `plain.${run}`;
    const subscribers: Subscriber[] = [];
    for (const node of nodes) {
      for (const topic of topics) {
        for (let i = 0; i < 2; i++) {
          const client = await TestClient.open(node.wsUrl, token);
          const ack = await client.subscribe(topic);
          expect(ack).toMatchObject({ type: 'ack', offset: 0 });
          subscribers.push({ client, topic, epoch: ack.epoch as string });
        }
      }
    }
    const plain = await Promise.all(nodes.map((node) => TestClient.open(node.wsUrl, token)));
    for (const client of plain) expect(await client.subscribe(plainTopic)).toEqual({ type: 'ack', id: 1 });
    for (const topic of topics) for (let n = 1; n <= 5; n++) expect(await publishWhenUp(nodes[n % 2]!, topic, { old: n })).toMatchObject({ offset: n });
    for (const { client, topic } of subscribers) {
      await client.waitForCount('message', 5);
      expect(messagesIn(client.frames, topic).map((f) => f.offset)).toEqual([1, 2, 3, 4, 5]);
    }
    for (const topic of topics) expect(new Set(subscribers.filter((s) => s.topic === topic).map((s) => s.epoch)).size).toBe(1);
    return { topics, subscribers, plain, plainTopic };
  }

  /**
   * Every subscriber of a history topic gets exactly one reset and, before
   * it, nothing but the five messages of the old epoch; resubscribing with
   * the old position is not recovered, names a new epoch, and the new
   * epoch's messages follow from `top + 1`.
   */
  async function expectReset(topics: string[], subscribers: Subscriber[], plain: TestClient[], plainTopic: string, newTops: Map<string, number>): Promise<void> {
    for (const { client, topic } of subscribers) {
      const reset = await client.next((f) => f.type === 'unsubscribed', 15_000);
      expect(reset).toEqual({ type: 'unsubscribed', topic, reason: 'reset' });
      const before = client.frames.slice(0, client.frames.indexOf(reset));
      expect(messagesIn(before, topic).map((f) => f.offset), 'only the old epoch before the reset').toEqual([1, 2, 3, 4, 5]);
    }
    const newEpochs = new Map<string, string>();
    for (const { client, topic, epoch } of subscribers) {
      const ack = await client.request({ type: 'subscribe', topic, since: { offset: 5, epoch } }, 10_000);
      expect(ack, 'resubscribe with the old epoch').toMatchObject({ type: 'ack', recovered: false, offset: newTops.get(topic) });
      expect(ack.epoch).not.toBe(epoch);
      expect(ack.epoch).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(newEpochs.get(topic) ?? ack.epoch, 'every node names the same new epoch').toBe(ack.epoch);
      newEpochs.set(topic, ack.epoch as string);
    }
    for (const topic of topics) {
      const entry = await publishWhenUp(nodes[0]!, topic, { fresh: true });
      expect(entry).toEqual({ topic, offset: newTops.get(topic)! + 1, epoch: newEpochs.get(topic) });
    }
    for (const { client, topic } of subscribers) {
      const fresh = await client.next((f) => f.type === 'message' && f.topic === topic && (f.data as { fresh?: boolean }).fresh === true, 10_000);
      expect(fresh.offset).toBe(newTops.get(topic)! + 1);
      // Exactly one reset.
      expect(client.frames.filter((f) => f.type === 'unsubscribed')).toHaveLength(1);
      // After it: the not-recovered resubscribe replays nothing, so only the live message.
      const after = client.frames.slice(client.frames.findIndex((f) => f.type === 'unsubscribed') + 1);
      expect(messagesIn(after, topic).map((f) => f.offset)).toEqual([newTops.get(topic)! + 1]);
    }
    // A topic without history has nothing to reset.
    for (const client of plain) expect(client.frames.filter((f) => f.type === 'unsubscribed' && f.topic === plainTopic)).toEqual([]);
    for (const { client } of subscribers) client.close();
    for (const client of plain) client.close();
  }

  it('history - Redis restarted empty while nobody publishes: every subscriber gets reset, the old epoch is not recovered, the new epoch starts at 1', async () => {
    const { topics, subscribers, plain, plainTopic } = await setUp(randomBytes(2).toString('hex'));
    await redis.kill();
    await redis.restart();
    await expectReset(topics, subscribers, plain, plainTopic, new Map(topics.map((t) => [t, 0])));
  }, 40_000);

  it('history - Redis restarted empty and published to at once: the new epoch\'s messages never pass for the old one\'s, every subscriber gets reset', async () => {
    const { topics, subscribers, plain, plainTopic } = await setUp(randomBytes(2).toString('hex'));
    await redis.kill();
    await redis.restart();
    // Ten messages in the new epoch, published as soon as Redis takes them: offsets 1…10, which a node that did not
    // notice the new epoch would hand on as if they were 6…10 of the old one.
    for (const topic of topics) {
      for (let n = 1; n <= 10; n++) expect(await publishWhenUp(nodes[1]!, topic, { new: n })).toMatchObject({ offset: n });
    }
    await expectReset(topics, subscribers, plain, plainTopic, new Map(topics.map((t) => [t, 10])));
  }, 40_000);
});

describe('history - a node fills the gaps Redis pub/sub left by itself', unless(redisServerNeed()), () => {
  const prefix = `hgap-${randomBytes(3).toString('hex')}`;
  let redis: LocalRedisInstance;
  let admin: Redis;
  let nodes: TestNode[];
  beforeAll(async () => {
    redis = await startLocalRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    const env = { HERALD_REDIS_URL: redis.url, HERALD_REDIS_PREFIX: prefix, HERALD_HISTORY: HISTORY, HERALD_LOG_LEVEL: 'info' };
    nodes = [await startNode({ ...env, HERALD_NODE_ID: 'a' }), await startNode({ ...env, HERALD_NODE_ID: 'b' })];
  }, 30_000);
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    admin?.disconnect();
    await redis?.stop();
  });

  /**
   * Kills every pub/sub connection (the nodes' subscribers) and, in the same
   * pipeline, publishes `count` messages per topic through Herald's history
   * function: Redis runs them before any node can have subscribed again, so
   * pub/sub delivers them to nobody, and only the stored history has them.
   */
  async function killSubscribersAndPublish(publisher: HttpPublisher, topics: string[], count: number, tag: string): Promise<number> {
    const pipeline = admin.pipeline();
    pipeline.client('KILL', 'TYPE', 'pubsub');
    const sent: { topic: string; data: unknown }[] = [];
    for (let n = 0; n < count; n++) {
      for (const topic of topics) {
        const data = { [tag]: n };
        sent.push({ topic, data });
        const base = `{${prefix}:${topic}}`;
        pipeline.call('FCALL', 'herald_1_history_publish', 2, `${base}:s`, `${base}:m`, 0, `${prefix}:${topic}`, JSON.stringify(data), '', ...RULE_ARGS);
      }
    }
    // Still in the same pipeline: nobody had subscribed again by the time the messages went out.
    pipeline.pubsub('NUMSUB', ...topics.map((topic) => `${prefix}:${topic}`));
    const results = (await pipeline.exec())!;
    const [killError, killed] = results[0]!;
    expect(killError).toBeNull();
    const numsub = results[results.length - 1]![1] as (string | number)[];
    expect(numsub.filter((_, i) => i % 2 === 1).map(Number), 'subscribers while the messages were published').toEqual(topics.map(() => 0));
    for (const [i, { topic, data }] of sent.entries()) {
      const [error, reply] = results[i + 1]!;
      expect(error).toBeNull();
      const [status, offset, epoch] = reply as [number, number, string];
      expect(status).toBe(1);
      publisher.record(topic, offset, epoch, data);
    }
    return Number(killed);
  }

  async function followAll(topics: string[]): Promise<Follower[]> {
    const followers: Follower[] = [];
    for (const node of nodes) {
      for (const topic of topics) {
        for (let i = 0; i < 5; i++) followers.push(new Follower([node.wsUrl], token, topic, { reconnect: false }));
      }
    }
    await Promise.all(followers.map((f) => f.start()));
    return followers;
  }

  function expectUndisturbed(followers: Follower[], publisher: HttpPublisher, topics: string[]): void {
    expect(publisher.failures.slice(0, 5)).toEqual([]);
    for (const topic of topics) expect(publisher.holes(topic), topic).toEqual([]);
    const problems = followers.flatMap((f, i) => [...f.problems, ...gapsOf(f, publisher.published.get(f.topic)!, publisher.top(f.topic))].map((p) => `client ${i}: ${p}`));
    expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
    // The same WebSocket connection all along: never closed, subscribed once.
    for (const f of followers) {
      expect(f.closes).toEqual([]);
      expect(f.subscribed).toBe(true);
      expect(f.nodes).toHaveLength(1);
    }
  }

  it('history - CLIENT KILL TYPE pubsub while publishing continues: the messages pub/sub dropped reach every client, in order, on the same connection', async () => {
    const run = randomBytes(2).toString('hex');
    const topics = [`chat.${run}.a`, `chat.${run}.b`, `chat.${run}.c`];
    const followers = await followAll(topics);
    // Published through node b only: what node a's clients get, node a learned from Redis.
    const publisher = new HttpPublisher([nodes[1]!.httpUrl], topics, { concurrency: 1, batch: 1, pauseMs: 10 });
    try {
      publisher.start();
      await sleep(500);
      for (let round = 0; round < 3; round++) {
        expect(await killSubscribersAndPublish(publisher, topics, 10, `dropped${round}`)).toBeGreaterThanOrEqual(nodes.length);
        await sleep(700);
      }
      await publisher.stop();
      await Promise.all(followers.map((f) => f.waitFor(publisher.top(f.topic), 15_000)));
      expectUndisturbed(followers, publisher, topics);
      expect(publisher.count).toBeGreaterThanOrEqual(3 * 3 * 10 + 100);
    } finally {
      for (const f of followers) f.stop();
      await publisher.stop();
    }
  }, 40_000);

  it('history - CLIENT KILL TYPE pubsub and then silence: after its subscriber reconnects, the node catches up by itself, with no later message to show the gap', async () => {
    const run = randomBytes(2).toString('hex');
    const topics = [`chat.${run}.a`, `chat.${run}.b`];
    const followers = await followAll(topics);
    const publisher = new HttpPublisher([nodes[1]!.httpUrl], topics, { concurrency: 1, batch: 1, pauseMs: 0 });
    try {
      // Five ordinary messages first, so that the node has delivered offsets of these topics.
      for (let n = 0; n < 5; n++) {
        for (const topic of topics) {
          const entry = await publishWhenUp(nodes[1]!, topic, { before: n });
          publisher.record(topic, entry.offset, entry.epoch, { before: n });
        }
      }
      await Promise.all(followers.map((f) => f.waitFor(5, 5000)));
      expect(await killSubscribersAndPublish(publisher, topics, 10, 'dropped')).toBeGreaterThanOrEqual(nodes.length);
      // Nothing is published after the gap: only the node's own catching up after its reconnect can deliver 6…15.
      await Promise.all(followers.map((f) => f.waitFor(15, 15_000)));
      expectUndisturbed(followers, publisher, topics);
    } finally {
      for (const f of followers) f.stop();
    }
  }, 40_000);
});
