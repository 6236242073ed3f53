import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestClient, publishHttp, scrape } from '../helpers/client.js';
import { spawnHerald, type HeraldProcess } from '../helpers/process.js';
import { API_KEY, SECRET, hs256 } from '../helpers/tokens.js';

const NODES = 3;
const SUBSCRIBERS = 300;
const TOPICS = Array.from({ length: 10 }, (_, i) => `scale.t${i}`);
const PER_SOURCE = 5;

interface Cluster3 {
  nodes: HeraldProcess[];
  subscribers: { client: TestClient; topic: string }[];
}

/** Starts three Herald processes on one Redis setup and spreads 300 subscribers over nodes and topics. */
async function startCluster(redisEnv: Record<string, string>): Promise<Cluster3> {
  const env = { NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY, HERALD_LOG_LEVEL: 'info', HERALD_DRAIN_SECONDS: '0', ...redisEnv };
  const nodes = await Promise.all(Array.from({ length: NODES }, (_, i) => spawnHerald({ ...env, HERALD_NODE_ID: `node-${i}` })));
  const token = hs256({ topics: ['scale.*'] });
  const subscribers: Cluster3['subscribers'] = [];
  for (let i = 0; i < SUBSCRIBERS; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, async (_, j) => {
        const n = i + j;
        const client = await TestClient.open(`ws://127.0.0.1:${nodes[n % NODES]!.port}/ws`, token, { timeoutMs: 10_000 });
        const topic = TOPICS[Math.floor(n / NODES) % TOPICS.length]!;
        expect(await client.subscribe(topic)).toMatchObject({ type: 'ack' });
        return { client, topic };
      }),
    );
    subscribers.push(...batch);
  }
  return { nodes, subscribers };
}

async function stopCluster(cluster: Cluster3 | undefined): Promise<void> {
  if (cluster === undefined) return;
  for (const { client } of cluster.subscribers) client.close();
  for (const node of cluster.nodes) {
    node.child.kill('SIGTERM');
    await node.exited;
  }
}

/**
 * Publishes PER_SOURCE messages per topic from every node's HTTP API and from
 * a plain Redis client, then checks that every subscriber got exactly its
 * topic's messages, once each, in each source's order.
 */
async function publishAndVerify(cluster: Cluster3, publishRaw: (channel: string, payload: string) => Promise<unknown>, prefix: string): Promise<void> {
  const sources = [...cluster.nodes.map((_, i) => `http-${i}`), 'redis'];
  for (let seq = 0; seq < PER_SOURCE; seq++) {
    for (const [i, node] of cluster.nodes.entries()) {
      const messages = TOPICS.map((topic) => ({ topic, data: { source: `http-${i}`, seq, topic } }));
      expect((await publishHttp(`http://127.0.0.1:${node.port}`, { messages }, API_KEY)).status).toBe(202);
    }
    for (const topic of TOPICS) await publishRaw(`${prefix}:${topic}`, JSON.stringify({ data: { source: 'redis', seq, topic } }));
  }
  const expectedCount = sources.length * PER_SOURCE;
  for (const { client, topic } of cluster.subscribers) {
    const messages = await client.waitForCount('message', expectedCount, 15_000);
    const data = messages.map((m) => m.data as { source: string; seq: number; topic: string });
    expect(messages.every((m) => m.topic === topic)).toBe(true);
    expect(data.every((d) => d.topic === topic)).toBe(true);
    for (const source of sources) {
      expect(data.filter((d) => d.source === source).map((d) => d.seq), `${source} on ${topic}`).toEqual(Array.from({ length: PER_SOURCE }, (_, s) => s));
    }
  }
  // A ping round trip on every client: nothing beyond the expected messages was in flight.
  await Promise.all(cluster.subscribers.map(({ client }) => client.request({ type: 'ping' })));
  for (const { client } of cluster.subscribers) expect(client.frames.filter((f) => f.type === 'message')).toHaveLength(expectedCount);
}

describe('scale-out - three nodes on standalone Redis', () => {
  const prefix = `so-${randomBytes(3).toString('hex')}`;
  let cluster: Cluster3 | undefined;
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'));
    cluster = await startCluster({ HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: prefix });
  }, 60_000);
  afterAll(async () => {
    await stopCluster(cluster);
    redis.disconnect();
  });

  it('scale-out - 300 subscribers over 3 nodes and 10 topics get exactly their messages, once, in order, from HTTP on every node and from Redis', async () => {
    await publishAndVerify(cluster!, (channel, payload) => redis.publish(channel, payload), prefix);
    // Every node holds subscribers of every topic, so each subscribes once per topic: NUMSUB counts nodes, not clients.
    const counts = (await redis.pubsub('NUMSUB', ...TOPICS.map((t) => `${prefix}:${t}`))) as (string | number)[];
    for (let i = 1; i < counts.length; i += 2) expect(Number(counts[i])).toBe(NODES);
    // No node uses a pattern subscription.
    expect(Number(await redis.pubsub('NUMPAT'))).toBe(0);
  }, 60_000);

  it('scale-out - a message without ts published straight into Redis gets the receiving node\'s time', async () => {
    const { client, topic } = cluster!.subscribers[0]!;
    const before = Date.now();
    await redis.publish(`${prefix}:${topic}`, '{"data":{"raw":true}}');
    const message = await client.next((f) => f.type === 'message' && (f.data as { raw?: boolean }).raw === true);
    expect(message.ts as number).toBeGreaterThanOrEqual(before - 5);
    expect(message.ts as number).toBeLessThanOrEqual(Date.now() + 5);
  });

  it('scale-out - undecodable Redis messages are dropped and counted, and do not disturb delivery', async () => {
    const { client, topic } = cluster!.subscribers[0]!;
    const node = cluster!.nodes[0]!;
    const before = await scrape(`http://127.0.0.1:${node.metricsPort}/metrics`);
    for (const bad of ['not json', '[1,2]', '{"ts":1}', '"just a string"']) await redis.publish(`${prefix}:${topic}`, bad);
    await redis.publish(`${prefix}:${topic}`, '{"data":"after the garbage"}');
    expect(await client.next((f) => f.type === 'message' && f.data === 'after the garbage')).toMatchObject({ topic });
    const after = await scrape(`http://127.0.0.1:${node.metricsPort}/metrics`);
    expect(after.get('herald_messages_dropped_total{reason="invalid"}')! - before.get('herald_messages_dropped_total{reason="invalid"}')!).toBe(4);
  });
});

describe('scale-out - three nodes on a three-master Redis Cluster (sharded pub/sub)', () => {
  const prefix = `soc-${randomBytes(3).toString('hex')}`;
  const nodesList = inject('redisClusterNodes');
  let cluster: Cluster3 | undefined;
  let redis: Cluster;
  beforeAll(async () => {
    redis = new Cluster(nodesList.split(',').map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })));
    cluster = await startCluster({ HERALD_REDIS_CLUSTER_NODES: nodesList, HERALD_REDIS_PREFIX: prefix });
  }, 60_000);
  afterAll(async () => {
    await stopCluster(cluster);
    redis.disconnect();
  });

  it('scale-out - 300 subscribers over 3 nodes get exactly their messages through the cluster, from HTTP and SPUBLISH', async () => {
    await publishAndVerify(cluster!, (channel, payload) => redis.spublish(channel, payload), prefix);
  }, 60_000);

  it('scale-out - subscriptions are sharded: each channel is SSUBSCRIBEd on the master owning its slot, and nowhere with SUBSCRIBE', async () => {
    const masters = redis.nodes('master');
    expect(masters).toHaveLength(3);
    const shardsUsed = new Set<string>();
    for (const topic of TOPICS) {
      const channel = `${prefix}:${topic}`;
      const slot = Number(await redis.cluster('KEYSLOT', channel));
      let owners = 0;
      for (const master of masters) {
        const [, count] = (await master.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
        const [, classic] = (await master.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
        expect(Number(classic)).toBe(0);
        if (Number(count) > 0) {
          owners++;
          expect(Number(count)).toBe(NODES);
          shardsUsed.add(`${master.options.host}:${master.options.port}`);
          // The master that holds the subscription owns the channel's slot.
          const myId = String(await master.cluster('MYID'));
          const ranges = (await master.cluster('SLOTS')) as unknown as [number, number, [string, number, string]][];
          const ownerOfSlot = ranges.find(([from, to]) => slot >= from && slot <= to)![2][2];
          expect(ownerOfSlot).toBe(myId);
        }
      }
      expect(owners, `${channel} is subscribed on exactly one shard`).toBe(1);
    }
    // Ten topics spread over more than one shard, so the test really exercises routing.
    expect(shardsUsed.size).toBeGreaterThan(1);
  });
});
