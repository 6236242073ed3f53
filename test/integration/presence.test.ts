/**
 * Presence through real sockets: one node in memory, nodes over Redis (two
 * in process, three as processes for kill and drain), and a Redis Cluster.
 * The contract is docs/protocol.md, "Presence".
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestClient, eventually, scrape, type Frame } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { spawnHerald, type HeraldProcess } from '../helpers/process.js';
import { API_KEY, SECRET, hs256 } from '../helpers/tokens.js';

const PRESENCE = { HERALD_PRESENCE: 'room.>,lobby', HERALD_PRESENCE_JOIN_LEAVE: 'room.>' };
const tokenOf = (sub: string, info?: Record<string, unknown>): string => hs256({ sub, topics: ['room.>', 'lobby', 'plain.*'], ...(info === undefined ? {} : { info }) });
const room = (): string => `room.${randomBytes(3).toString('hex')}`;

async function join(url: string, sub: string, topic: string, info?: Record<string, unknown>): Promise<TestClient> {
  const client = await TestClient.open(url, tokenOf(sub, info));
  expect((await client.subscribe(topic)).type).toBe('ack');
  return client;
}

const events = (client: TestClient, type: 'join' | 'leave'): Frame[] => client.frames.filter((f) => f.type === type);
const bySub = (users: { sub: string }[]): { sub: string }[] => [...users].sort((a, b) => a.sub.localeCompare(b.sub));

describe('presence - one node', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ ...PRESENCE, HERALD_PRESENCE_LEAVE_GRACE: '1' });
  });
  afterAll(() => node?.close());

  it('presence - the list shows each user once with their connections and info; the count agrees', async () => {
    const topic = room();
    const alice1 = await join(node.wsUrl, 'alice', topic, { name: 'Alice' });
    const alice2 = await join(node.wsUrl, 'alice', topic, { name: 'Alice' });
    const bob = await join(node.wsUrl, 'bob', topic);
    const list = await eventually(() => bob.request({ type: 'presence', topic }), (f) => f.count === 2, 'both users listed');
    expect(list).toMatchObject({ type: 'presence', topic, count: 2 });
    expect(bySub(list.users as { sub: string }[])).toEqual([{ sub: 'alice', connections: 2, info: { name: 'Alice' } }, { sub: 'bob', connections: 1 }]);
    expect(await bob.request({ type: 'presence_count', topic })).toMatchObject({ type: 'presence_count', topic, users: 2, connections: 3 });
    for (const c of [alice1, alice2, bob]) c.close();
  });

  it('presence - join once per user, leave once after the grace; a reload within the grace is neither', async () => {
    const topic = room();
    const watcher = await join(node.wsUrl, 'watcher', topic);
    const tab1 = await join(node.wsUrl, 'carol', topic, { name: 'Carol' });
    const tab2 = await join(node.wsUrl, 'carol', topic, { name: 'Carol' });
    await watcher.next((f) => f.type === 'join' && f.sub === 'carol');
    tab1.close();
    tab2.close();
    // A reload: back within the grace (1 s).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reloaded = await join(node.wsUrl, 'carol', topic, { name: 'Carol' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(events(watcher, 'join').filter((f) => f.sub === 'carol')).toHaveLength(1);
    expect(events(watcher, 'leave').filter((f) => f.sub === 'carol')).toHaveLength(0);
    reloaded.close();
    const leave = await watcher.next((f) => f.type === 'leave' && f.sub === 'carol', 5000);
    expect(leave).toEqual({ type: 'leave', topic, sub: 'carol', info: { name: 'Carol' } });
    expect(events(watcher, 'join').filter((f) => f.sub === 'carol')).toEqual([{ type: 'join', topic, sub: 'carol', info: { name: 'Carol' } }]);
    watcher.close();
  });

  it('presence - a topic with presence but without join/leave sends no join or leave frames', async () => {
    const watcher = await join(node.wsUrl, 'w2', 'lobby');
    const other = await join(node.wsUrl, 'dan', 'lobby');
    await eventually(() => watcher.request({ type: 'presence_count', topic: 'lobby' }), (f) => f.users === 2, 'counted');
    other.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(watcher.frames.filter((f) => f.type === 'join' || f.type === 'leave')).toEqual([]);
    watcher.close();
  });

  it('presence - asking about a topic one may not subscribe to is forbidden; a topic without presence is no_presence', async () => {
    const client = await TestClient.open(node.wsUrl, hs256({ sub: 'eve', topics: ['plain.*'] }));
    expect(await client.request({ type: 'presence', topic: 'room.secret' })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await client.request({ type: 'presence_count', topic: 'plain.x' })).toMatchObject({ type: 'error', code: 'no_presence' });
    expect(await client.request({ type: 'presence', topic: 'a..b' })).toMatchObject({ type: 'error', code: 'invalid_topic' });
    expect(await client.request({ type: 'presence' })).toMatchObject({ type: 'error', code: 'bad_request' });
    client.close();
  });

  it('presence - an info claim that is not a small object makes the token invalid', async () => {
    for (const info of ['a string', ['array'], { big: 'x'.repeat(2000) }]) {
      const client = await TestClient.connect(node.wsUrl, { token: hs256({ sub: 'x', info }) });
      expect(await client.waitClosed(), JSON.stringify(info).slice(0, 30)).toEqual({ code: 4001, reason: 'token_invalid' });
    }
  });

  it('presence - HTTP: GET /v1/presence and /v1/presence/count with an API key', async () => {
    const topic = room();
    const client = await join(node.wsUrl, 'frank', topic, { role: 'admin' });
    const get = async (path: string): Promise<{ status: number; body: Record<string, any> }> => {
      const res = await fetch(`${node.httpUrl}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const list = await eventually(() => get(`/v1/presence?topic=${topic}`), (r) => r.body.count === 1, 'listed');
    expect(list).toEqual({ status: 200, body: { topic, users: [{ sub: 'frank', connections: 1, info: { role: 'admin' } }], count: 1 } });
    expect(await get(`/v1/presence/count?topic=${topic}`)).toEqual({ status: 200, body: { topic, users: 1, connections: 1 } });
    expect((await get('/v1/presence?topic=plain.x')).status).toBe(404);
    expect((await get('/v1/presence?topic=a..b')).status).toBe(400);
    expect((await get('/v1/presence')).status).toBe(400);
    expect((await fetch(`${node.httpUrl}/v1/presence?topic=${topic}`)).status).toBe(401);
    client.close();
  });
});

describe('presence - nodes over Redis', () => {
  const prefix = `pres-${randomBytes(3).toString('hex')}`;
  let nodes: TestNode[];
  beforeAll(async () => {
    const env = { ...PRESENCE, HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: prefix, HERALD_PRESENCE_LEAVE_GRACE: '1' };
    nodes = [await startNode({ ...env, HERALD_NODE_ID: 'pa' }), await startNode({ ...env, HERALD_NODE_ID: 'pb' })];
  });
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
  });

  it('presence - users on different nodes appear in one list; two tabs on two nodes are one user', async () => {
    const topic = room();
    const a = await join(nodes[0]!.wsUrl, 'gina', topic, { n: 1 });
    const b = await join(nodes[1]!.wsUrl, 'gina', topic, { n: 1 });
    const c = await join(nodes[1]!.wsUrl, 'hal', topic);
    const list = await eventually(() => a.request({ type: 'presence', topic }), (f) => f.count === 2 && (f.users as { connections: number }[]).reduce((n, u) => n + u.connections, 0) === 3, 'both nodes counted');
    expect(bySub(list.users as { sub: string }[])).toEqual([{ sub: 'gina', connections: 2, info: { n: 1 } }, { sub: 'hal', connections: 1 }]);
    for (const x of [a, b, c]) x.close();
  });

  it('presence - join once and leave once across nodes, delivered on both', async () => {
    const topic = room();
    const onA = await join(nodes[0]!.wsUrl, 'watch-a', topic);
    const onB = await join(nodes[1]!.wsUrl, 'watch-b', topic);
    const tab1 = await join(nodes[0]!.wsUrl, 'ivy', topic);
    const tab2 = await join(nodes[1]!.wsUrl, 'ivy', topic);
    for (const watcher of [onA, onB]) await watcher.next((f) => f.type === 'join' && f.sub === 'ivy');
    tab1.close();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(events(onA, 'leave').filter((f) => f.sub === 'ivy')).toHaveLength(0);
    tab2.close();
    for (const watcher of [onA, onB]) await watcher.next((f) => f.type === 'leave' && f.sub === 'ivy', 5000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const watcher of [onA, onB]) {
      expect(events(watcher, 'join').filter((f) => f.sub === 'ivy')).toHaveLength(1);
      expect(events(watcher, 'leave').filter((f) => f.sub === 'ivy')).toHaveLength(1);
    }
    onA.close();
    onB.close();
  });

  it('presence - a reconnect storm into presence topics costs a bounded number of store writes, not one per client', async () => {
    const topic = room();
    const before = (await scrape(nodes[0]!.metricsUrl)).get('herald_presence_writes_total') ?? 0;
    const clients = await Promise.all(Array.from({ length: 300 }, (_, i) => join(nodes[0]!.wsUrl, `storm-${i}`, topic)));
    const counted = await eventually(() => clients[0]!.request({ type: 'presence_count', topic }), (f) => f.users === 300, 'all 300 counted', 10_000);
    expect(counted).toMatchObject({ users: 300, connections: 300 });
    const writes = ((await scrape(nodes[0]!.metricsUrl)).get('herald_presence_writes_total') ?? 0) - before;
    // Writes are batched per 50 ms per topic: a few dozen at most for 300 clients, never 300.
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(60);
    for (const client of clients) client.close();
  }, 30_000);
});

describe('presence - node failures (processes over Redis)', () => {
  const prefix = `presp-${randomBytes(3).toString('hex')}`;
  let procs: HeraldProcess[] = [];
  const env = (id: string): Record<string, string> => ({
    NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY, HERALD_LOG_LEVEL: 'info', HERALD_NODE_ID: id,
    HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: prefix, ...PRESENCE, HERALD_PRESENCE_TTL: '3', HERALD_PRESENCE_LEAVE_GRACE: '2', HERALD_DRAIN_SECONDS: '1',
  });
  const url = (proc: HeraldProcess): string => `ws://127.0.0.1:${proc.port}/ws`;
  beforeAll(async () => {
    procs = await Promise.all(['p1', 'p2', 'p3'].map((id) => spawnHerald(env(id))));
  }, 30_000);
  afterAll(() => {
    for (const proc of procs) proc.kill();
  });

  it('presence - a SIGKILLed node\'s users disappear within the TTL, with their leave', async () => {
    const topic = room();
    const watcher = await join(url(procs[0]!), 'watcher', topic);
    const doomed = await join(url(procs[2]!), 'jack', topic);
    await watcher.next((f) => f.type === 'join' && f.sub === 'jack');
    procs[2]!.kill();
    await doomed.closed;
    const killedAt = Date.now();
    await watcher.next((f) => f.type === 'leave' && f.sub === 'jack', 10_000);
    // TTL 3 s, refreshed every second by the others: gone within the TTL plus one refresh.
    expect(Date.now() - killedAt).toBeLessThan(3000 + 1500);
    const list = await watcher.request({ type: 'presence', topic });
    expect((list.users as { sub: string }[]).map((u) => u.sub)).toEqual(['watcher']);
    watcher.close();
  }, 20_000);

  it('presence - a drained node\'s users who reconnect elsewhere produce no leave (and no second join)', async () => {
    const topic = room();
    const watcher = await join(url(procs[0]!), 'watcher2', topic);
    const moving = await join(url(procs[1]!), 'kate', topic, { k: 1 });
    await watcher.next((f) => f.type === 'join' && f.sub === 'kate');
    procs[1]!.child.kill('SIGTERM');
    expect((await moving.waitClosed(5000)).code).toBe(1001);
    const back = await join(url(procs[0]!), 'kate', topic, { k: 1 });
    // Past the grace (2 s) and the TTL (3 s): nothing announced about kate.
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(events(watcher, 'leave').filter((f) => f.sub === 'kate')).toEqual([]);
    expect(events(watcher, 'join').filter((f) => f.sub === 'kate')).toHaveLength(1);
    expect((await watcher.request({ type: 'presence_count', topic })).users).toBe(2);
    back.close();
    watcher.close();
  }, 20_000);
});

describe('presence - Redis Cluster', () => {
  const prefix = `presc-${randomBytes(3).toString('hex')}`;
  let nodes: TestNode[];
  beforeAll(async () => {
    const env = { ...PRESENCE, HERALD_REDIS_CLUSTER_NODES: inject('redisClusterNodes'), HERALD_REDIS_PREFIX: prefix };
    nodes = [await startNode({ ...env, HERALD_NODE_ID: 'ca' }), await startNode({ ...env, HERALD_NODE_ID: 'cb' })];
  }, 30_000);
  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
  });

  it('presence - on a cluster, topics on every shard list users of both nodes, with joins', async () => {
    // Several topics, so that they land on different shards.
    for (let i = 0; i < 4; i++) {
      const topic = room();
      const a = await join(nodes[0]!.wsUrl, 'lee', topic);
      const b = await join(nodes[1]!.wsUrl, 'mia', topic);
      await a.next((f) => f.type === 'join' && f.sub === 'mia');
      const list = await eventually(() => b.request({ type: 'presence', topic }), (f) => f.count === 2, `both users on ${topic}`);
      expect(bySub(list.users as { sub: string }[]).map((u) => u.sub)).toEqual(['lee', 'mia']);
      a.close();
      b.close();
    }
  }, 30_000);
});
