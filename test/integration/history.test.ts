/**
 * History and recovery through real sockets, on one node (memory broker) and
 * on two nodes over Redis: the frame shapes of docs/protocol.md ("History and
 * recovery"), exact replay, every way a recovery can fail, the HTTP API.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestClient, eventually, publishHttp, scrape, type Frame } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const token = hs256({ topics: ['chat.>', 'prices.*', 'short.*', 'plain.*'], publish: ['chat.>', 'prices.*', 'short.*', 'plain.*'] });
const HISTORY = 'chat.>=100:300,prices.*=1:60,short.*=100:1';

const messages = (client: TestClient, topic: string): Frame[] => client.frames.filter((f) => f.type === 'message' && f.topic === topic);
const offsetsOf = (frames: Frame[]): number[] => frames.map((f) => f.offset as number);

async function publishMany(node: TestNode, topic: string, count: number, from = 0): Promise<number[]> {
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await publishHttp(node.httpUrl, { topic, data: { n: from + i } }, API_KEY);
    expect(res.status).toBe(202);
    offsets.push((res.body.messages as { offset: number }[])[0]!.offset);
  }
  return offsets;
}

async function history(node: TestNode, query: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${node.httpUrl}/v1/history?${query}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('history - one node, in memory', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_HISTORY: HISTORY, HERALD_HISTORY_MAX_RECOVERY: '20' });
  });
  afterAll(() => node?.close());

  it('history - a subscribe to a history topic is acknowledged with its position; messages carry offsets', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const a = await TestClient.open(node.wsUrl, token);
    const ack = await a.subscribe(topic);
    expect(ack).toMatchObject({ type: 'ack', offset: 0 });
    expect(ack.epoch).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(Object.keys(ack).sort()).toEqual(['epoch', 'id', 'offset', 'type']);
    expect(await publishMany(node, topic, 3)).toEqual([1, 2, 3]);
    await a.waitForCount('message', 3);
    const frame = messages(a, topic)[0]!;
    expect(frame).toEqual({ type: 'message', topic, data: { n: 0 }, ts: frame.ts, offset: 1 });
    const b = await TestClient.open(node.wsUrl, token);
    expect(await b.subscribe(topic)).toMatchObject({ offset: 3, epoch: ack.epoch });
    a.close();
    b.close();
  });

  it('history - the epoch of an empty topic fixed by its first subscribe lets since offset 0 replay from 1', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const first = await TestClient.open(node.wsUrl, token);
    const { epoch } = await first.subscribe(topic);
    first.close();
    await publishMany(node, topic, 4);
    const later = await TestClient.open(node.wsUrl, token);
    expect(await later.request({ type: 'subscribe', topic, since: { offset: 0, epoch } })).toMatchObject({ type: 'ack', offset: 4, epoch, recovered: true });
    await later.waitForCount('message', 4);
    expect(offsetsOf(messages(later, topic))).toEqual([1, 2, 3, 4]);
    later.close();
  });

  it('history - a reconnecting client gets exactly what it missed, in order, then live messages', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const before = await TestClient.open(node.wsUrl, token);
    const { epoch } = await before.subscribe(topic);
    await publishMany(node, topic, 5);
    await before.waitForCount('message', 5);
    before.close();
    await publishMany(node, topic, 7, 5);
    const after = await TestClient.open(node.wsUrl, token);
    const ack = await after.request({ type: 'subscribe', topic, since: { offset: 5, epoch } });
    expect(ack).toMatchObject({ type: 'ack', offset: 12, epoch, recovered: true });
    await after.waitForCount('message', 7);
    // The ack comes before the replay.
    const ackIndex = after.frames.indexOf(ack);
    expect(after.frames.findIndex((f) => f.type === 'message')).toBeGreaterThan(ackIndex);
    expect(offsetsOf(messages(after, topic))).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(messages(after, topic).map((f) => (f.data as { n: number }).n)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    await publishMany(node, topic, 2, 12);
    await after.waitForCount('message', 9);
    expect(offsetsOf(messages(after, topic))).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14]);
    after.close();
  });

  it('history - since at the current top recovers trivially; last n replays the newest n', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const seed = await TestClient.open(node.wsUrl, token);
    const { epoch } = await seed.subscribe(topic);
    await publishMany(node, topic, 6);
    seed.close();
    const current = await TestClient.open(node.wsUrl, token);
    expect(await current.request({ type: 'subscribe', topic, since: { offset: 6, epoch } })).toMatchObject({ offset: 6, recovered: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(messages(current, topic)).toHaveLength(0);
    current.close();
    const joiner = await TestClient.open(node.wsUrl, token);
    expect(await joiner.request({ type: 'subscribe', topic, since: { last: 3 } })).toMatchObject({ offset: 6, epoch, recovered: true });
    await joiner.waitForCount('message', 3);
    expect(offsetsOf(messages(joiner, topic))).toEqual([4, 5, 6]);
    const greedy = await TestClient.open(node.wsUrl, token);
    expect(await greedy.request({ type: 'subscribe', topic, since: { last: 10 } })).toMatchObject({ offset: 6, recovered: true });
    await greedy.waitForCount('message', 6);
    joiner.close();
    greedy.close();
  });

  it('history - a foreign epoch, a gap over HERALD_HISTORY_MAX_RECOVERY, a trimmed gap: recovered:false, nothing replayed, live follows', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const seed = await TestClient.open(node.wsUrl, token);
    const { epoch } = await seed.subscribe(topic);
    await publishMany(node, topic, 30);
    seed.close();
    let top = 30;
    for (const since of [{ offset: 25, epoch: 'not-this-one' }, { offset: 5, epoch }]) {
      const client = await TestClient.open(node.wsUrl, token);
      expect(await client.request({ type: 'subscribe', topic, since }), JSON.stringify(since)).toMatchObject({ offset: top, epoch, recovered: false });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(messages(client, topic)).toHaveLength(0);
      await publishMany(node, topic, 1, 100);
      await client.waitForCount('message', 1);
      expect(offsetsOf(messages(client, topic))).toEqual([++top]);
      client.close();
    }
    // prices.* keeps one message: a client two behind cannot recover.
    const price = `prices.${randomBytes(3).toString('hex')}`;
    const watcher = await TestClient.open(node.wsUrl, token);
    const priceEpoch = (await watcher.subscribe(price)).epoch;
    await publishMany(node, price, 3);
    watcher.close();
    const behind = await TestClient.open(node.wsUrl, token);
    expect(await behind.request({ type: 'subscribe', topic: price, since: { offset: 1, epoch: priceEpoch } })).toMatchObject({ recovered: false, offset: 3 });
    // ... but `last: 1` gives the last value.
    expect(await behind.request({ type: 'unsubscribe', topic: price })).toMatchObject({ type: 'ack' });
    expect(await behind.request({ type: 'subscribe', topic: price, since: { last: 1 } })).toMatchObject({ recovered: true, offset: 3 });
    await behind.waitForCount('message', 1);
    expect(offsetsOf(messages(behind, price))).toEqual([3]);
    behind.close();
  });

  it('history - expired messages (ttl 1 s) cannot be recovered', async () => {
    const topic = `short.${randomBytes(3).toString('hex')}`;
    const seed = await TestClient.open(node.wsUrl, token);
    const { epoch } = await seed.subscribe(topic);
    await publishMany(node, topic, 3);
    seed.close();
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const late = await TestClient.open(node.wsUrl, token);
    expect(await late.request({ type: 'subscribe', topic, since: { offset: 1, epoch } })).toMatchObject({ recovered: false, offset: 3, epoch });
    late.close();
  });

  it('history - a topic without history: frames unchanged, and since is answered recovered:false without offset', async () => {
    const client = await TestClient.open(node.wsUrl, token);
    expect(await client.subscribe('plain.a')).toEqual({ type: 'ack', id: 1 });
    expect(await client.request({ type: 'subscribe', topic: 'plain.b', since: { offset: 3, epoch: 'x' } })).toEqual({ type: 'ack', id: 2, recovered: false });
    expect((await publishHttp(node.httpUrl, { topic: 'plain.a', data: 1 }, API_KEY)).body).toEqual({ accepted: 1 });
    const frame = await client.next((f) => f.type === 'message');
    expect(Object.keys(frame).sort()).toEqual(['data', 'topic', 'ts', 'type']);
    client.close();
  });

  it('history - HTTP publish answers history topics with their offsets, one entry per message; an Idempotency-Key replay publishes nothing', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const client = await TestClient.open(node.wsUrl, token);
    const { epoch } = await client.subscribe(topic);
    const body = { messages: [{ topic, data: 'a' }, { topic: 'plain.x', data: 'b' }, { topic, data: 'c' }] };
    const send = (): Promise<Response> =>
      fetch(`${node.httpUrl}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'idempotency-key': 'retry-1' }, body: JSON.stringify(body) });
    const first = await send();
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ accepted: 3, messages: [{ topic, offset: 1, epoch }, { topic: 'plain.x' }, { topic, offset: 2, epoch }] });
    const again = await send();
    expect(await again.json()).toEqual({ accepted: 3, messages: [{ topic, offset: 1, epoch, duplicate: true }, { topic: 'plain.x', duplicate: true }, { topic, offset: 2, epoch, duplicate: true }] });
    await client.waitForCount('message', 2);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(offsetsOf(messages(client, topic))).toEqual([1, 2]);
    const bad = await fetch(`${node.httpUrl}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'idempotency-key': 'has space' }, body: '{"topic":"plain.x","data":1}' });
    expect(bad.status).toBe(400);
    client.close();
  });

  it('history - a client publish on a history topic is acknowledged with its offset', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const client = await TestClient.open(node.wsUrl, token);
    const { epoch } = await client.subscribe(topic);
    expect(await client.request({ type: 'publish', topic, data: 'mine' })).toMatchObject({ type: 'ack', offset: 1, epoch });
    client.close();
  });

  it('history - GET /v1/history: the latest messages, the messages after an offset, and the errors', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    await publishMany(node, topic, 5);
    const latest = await history(node, `topic=${topic}&limit=2`);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ topic, offset: 5 });
    expect(latest.body.messages).toEqual([
      { offset: 4, data: { n: 3 }, ts: latest.body.messages[0].ts },
      { offset: 5, data: { n: 4 }, ts: latest.body.messages[1].ts },
    ]);
    const after = await history(node, `topic=${topic}&since=2&epoch=${latest.body.epoch}&limit=10`);
    expect(after.body.recovered).toBe(true);
    expect(after.body.messages.map((m: { offset: number }) => m.offset)).toEqual([3, 4, 5]);
    const foreign = await history(node, `topic=${topic}&since=2&epoch=other`);
    expect(foreign.body).toMatchObject({ recovered: false, messages: [] });
    expect((await history(node, 'topic=plain.x')).status).toBe(404);
    expect((await history(node, 'topic=plain.x')).body).toMatchObject({ error: { code: 'no_history' } });
    for (const query of ['', 'topic=a..b', `topic=${topic}&limit=0`, `topic=${topic}&limit=1001`, `topic=${topic}&since=1`, `topic=${topic}&since=-1&epoch=e`]) {
      expect((await history(node, query)).status, query).toBe(400);
    }
    const unauthorized = await fetch(`${node.httpUrl}/v1/history?topic=${topic}`);
    expect(unauthorized.status).toBe(401);
  });

  it('history - recoveries and replays are counted in metrics', async () => {
    const metrics = await scrape(node.metricsUrl);
    expect(metrics.get('herald_history_recoveries_total{outcome="recovered"}')).toBeGreaterThan(0);
    expect(metrics.get('herald_history_recoveries_total{outcome="not_recovered"}')).toBeGreaterThan(0);
    expect(metrics.get('herald_history_replayed_messages_total{by="client"}')).toBeGreaterThan(0);
  });
});

describe('history - two nodes over Redis', () => {
  const prefix = `hist-${randomBytes(3).toString('hex')}`;
  let nodes: TestNode[];
  let redis: Redis;
  beforeAll(async () => {
    const env = { HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: prefix, HERALD_HISTORY: HISTORY };
    nodes = [await startNode({ ...env, HERALD_NODE_ID: 'a' }), await startNode({ ...env, HERALD_NODE_ID: 'b' })];
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    redis?.disconnect();
    for (const node of nodes ?? []) await node.close();
  });

  it('history - a client leaves node a and recovers on node b what was published meanwhile on either', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const onA = await TestClient.open(nodes[0]!.wsUrl, token);
    const { epoch } = await onA.subscribe(topic);
    await publishMany(nodes[0]!, topic, 3);
    await onA.waitForCount('message', 3);
    onA.close();
    await publishMany(nodes[0]!, topic, 2, 3);
    await publishMany(nodes[1]!, topic, 2, 5);
    const onB = await TestClient.open(nodes[1]!.wsUrl, token);
    expect(await onB.request({ type: 'subscribe', topic, since: { offset: 3, epoch } })).toMatchObject({ offset: 7, epoch, recovered: true });
    await onB.waitForCount('message', 4);
    expect(offsetsOf(messages(onB, topic))).toEqual([4, 5, 6, 7]);
    await publishMany(nodes[0]!, topic, 1, 7);
    await onB.waitForCount('message', 5);
    expect(offsetsOf(messages(onB, topic))).toEqual([4, 5, 6, 7, 8]);
    onB.close();
  });

  it('history - the keys share the slot of the channel: {<prefix>:<topic>}:s and :m', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    await publishMany(nodes[0]!, topic, 2);
    expect(await redis.xlen(`{${prefix}:${topic}}:s`)).toBe(2);
    expect(await redis.hget(`{${prefix}:${topic}}:m`, 'o')).toBe('2');
  });

  it('history - a plain PUBLISH into a history topic is delivered live without offset, not stored, and counted', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const client = await TestClient.open(nodes[1]!.wsUrl, token);
    await client.subscribe(topic);
    await redis.publish(`${prefix}:${topic}`, '{"data":"raw"}');
    const frame = await client.next((f) => f.type === 'message');
    expect(frame).not.toHaveProperty('offset');
    expect(frame.data).toBe('raw');
    await eventually(() => scrape(nodes[1]!.metricsUrl), (m) => (m.get('herald_history_unsequenced_total') ?? 0) >= 1, 'counted');
    expect(await redis.exists(`{${prefix}:${topic}}:s`)).toBe(0);
    client.close();
  });

  it('history - a backend can publish with history through the Redis Function, from any client', async () => {
    const topic = `chat.${randomBytes(3).toString('hex')}`;
    const client = await TestClient.open(nodes[0]!.wsUrl, token);
    const { epoch } = await client.subscribe(topic);
    const base = `{${prefix}:${topic}}`;
    // FCALL herald_1_history_publish 2 <stream> <position> <deadline> <channel> <data> <ts> <size> <ttl ms> <position ttl ms>
    const reply = await redis.call('FCALL', 'herald_1_history_publish', 2, `${base}:s`, `${base}:m`, 0, `${prefix}:${topic}`, '{"from":"backend"}', '', 100, 300_000, 2_592_000_000);
    expect(reply).toEqual([1, 1, epoch]);
    const frame = await client.next((f) => f.type === 'message');
    expect(frame).toMatchObject({ data: { from: 'backend' }, offset: 1 });
    await expect(redis.call('FCALL', 'herald_1_history_publish', 2, `${base}:s`, `${base}:m`, 0, `${prefix}:${topic}`, 'not json', '', 100, 300_000, 2_592_000_000)).rejects.toThrow(/not JSON/);
    await expect(redis.call('FCALL', 'herald_1_history_publish', 2, `${base}:s`, `${base}:m`, 0, `${prefix}:${topic}`, '['.repeat(65) + ']'.repeat(65), '', 100, 300_000, 2_592_000_000)).rejects.toThrow(/not JSON/);
    client.close();
  });
});
