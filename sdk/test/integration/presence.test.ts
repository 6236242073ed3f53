/**
 * Presence through the SDK against real Herald processes: two nodes on Redis
 * with presence and join/leave on `chat.>` and a one-second leave grace. Two
 * users on different nodes see each other in presence(), presenceCount() and
 * the tracked members; a second user's join arrives, and their leave arrives
 * once the grace has passed, not before. Then the refusals: `no_presence`,
 * `forbidden`, `not_connected`.
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { HeraldClient, type HeraldError, type Member, type Subscription } from '../../src/index.js';
import { PRODUCTION, PRODUCTION_REDIS, hs256, spawnHerald, until, wsUrl, type HeraldProcess } from '../helpers/herald.js';

const GRACE_S = 1;
const PRESENCE = { HERALD_PRESENCE: 'chat.>', HERALD_PRESENCE_JOIN_LEAVE: 'chat.>', HERALD_PRESENCE_LEAVE_GRACE: String(GRACE_S) };

let nodes: HeraldProcess[] = [];
let clients: HeraldClient[] = [];

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  for (const node of nodes) node.kill();
  await Promise.all(nodes.map((n) => n.exited));
  nodes = [];
});

function connect(node: HeraldProcess, claims: Record<string, unknown>): HeraldClient {
  const client = new HeraldClient({ url: wsUrl(node), token: hs256({ topics: ['chat.>', 'news.>'], ...claims }), WebSocket });
  clients.push(client);
  client.connect();
  return client;
}

const subscribedTo = (sub: Subscription): Promise<void> => until(() => sub.state === 'subscribed', `the subscription to ${sub.topic}`);
/** Asks until the answer passes `ok`: each node writes its presence changes in batches, some tens of milliseconds apart. */
async function poll<T>(ask: () => Promise<T>, ok: (answer: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await ask();
    if (ok(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last answer ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const subs = (members: readonly { sub: string }[] | undefined): string[] | undefined => members?.map((m) => m.sub).sort();

describe('sdk presence - two nodes on Redis', () => {
  it('sdk presence - users on two nodes see each other; a join arrives, and the leave only after the grace', async () => {
    const env = { ...PRODUCTION_REDIS, ...PRESENCE, HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: `sdkp-${randomBytes(3).toString('hex')}` };
    nodes = await Promise.all([0, 1].map((i) => spawnHerald({ ...env, HERALD_NODE_ID: `node-${i}` })));
    const room = `chat.room-${randomBytes(3).toString('hex')}`;

    const alice = connect(nodes[0]!, { sub: 'alice', info: { name: 'Alice' } });
    const aliceRoom = alice.subscribe(room, undefined, { presence: true });
    const joins: Member[] = [];
    const leaves: (Member & { at: number })[] = [];
    aliceRoom.on('join', (m) => joins.push(m));
    aliceRoom.on('leave', (m) => leaves.push({ ...m, at: Date.now() }));
    const errors: string[] = [];
    aliceRoom.on('error', (e) => errors.push(e.code));
    await subscribedTo(aliceRoom);
    // Alice is there herself: from the list read after the ack, or from her own join just after it.
    await until(() => subs(aliceRoom.members)?.includes('alice') === true, 'alice among her own members');

    // Bob, on the other node, in two tabs: one user, two connections.
    const bobTabs = [connect(nodes[1]!, { sub: 'bob', info: { name: 'Bob' } }), connect(nodes[1]!, { sub: 'bob', info: { name: 'Bob' } })];
    const bobRooms = bobTabs.map((tab) => tab.subscribe(room));
    await Promise.all(bobRooms.map(subscribedTo));
    await until(() => subs(aliceRoom.members)?.includes('bob') === true, 'bob among alice\'s members');
    expect(joins.filter((j) => j.sub === 'bob')).toEqual([{ sub: 'bob', info: { name: 'Bob' } }]);
    expect(aliceRoom.members!.find((m) => m.sub === 'bob')).toEqual({ sub: 'bob', info: { name: 'Bob' } });

    // Both nodes answer the same, from either side, once bob's second tab is written too.
    for (const sub of [aliceRoom, bobRooms[0]!]) {
      const { users, count } = await poll(() => sub.presence(), (p) => p.users.find((u) => u.sub === 'bob')?.connections === 2, 'bob with two connections');
      expect(count).toBe(2);
      expect([...users].sort((a, b) => a.sub.localeCompare(b.sub))).toEqual([
        { sub: 'alice', connections: 1, info: { name: 'Alice' } },
        { sub: 'bob', connections: 2, info: { name: 'Bob' } },
      ]);
      expect(await sub.presenceCount()).toEqual({ users: 2, connections: 3 });
    }

    // Bob closes one tab: still there. Then the other: he leaves, after the grace.
    bobTabs[0]!.close();
    expect(await poll(() => aliceRoom.presenceCount(), (c) => c.connections === 2, 'bob\'s first tab gone')).toEqual({ users: 2, connections: 2 });
    const closedAt = Date.now();
    bobTabs[1]!.close();
    await until(() => leaves.length > 0, 'bob\'s leave', 10_000);
    expect(leaves.map(({ sub, info }) => ({ sub, info }))).toEqual([{ sub: 'bob', info: { name: 'Bob' } }]);
    console.log(`[sdk presence] bob's leave arrived ${leaves[0]!.at - closedAt} ms after his last tab closed (grace ${GRACE_S} s)`);
    expect(leaves[0]!.at - closedAt).toBeGreaterThanOrEqual(GRACE_S * 1000 - 100);
    expect(subs(aliceRoom.members)).toEqual(['alice']);
    expect(await aliceRoom.presence()).toEqual({ users: [{ sub: 'alice', connections: 1, info: { name: 'Alice' } }], count: 1 });
    expect(joins.filter((j) => j.sub === 'bob')).toHaveLength(1);
    expect(errors).toEqual([]);
  });
});

describe('sdk presence - refusals', () => {
  it('sdk presence - a topic without presence answers no_presence (the subscription carries on), a forbidden one forbidden, and none is sent while disconnected', async () => {
    nodes = [await spawnHerald({ ...PRODUCTION, ...PRESENCE })];
    const carol = connect(nodes[0]!, { sub: 'carol' });
    const news = carol.subscribe('news.today', undefined, { presence: true });
    const errors: HeraldError[] = [];
    news.on('error', (e) => errors.push(e));
    await subscribedTo(news);
    await until(() => errors.length > 0, 'the no_presence error of the tracked list');
    expect(errors.map((e) => e.code)).toEqual(['no_presence']);
    expect(news.state).toBe('subscribed');
    expect(news.members).toBeUndefined();
    await expect(news.presence()).rejects.toMatchObject({ code: 'no_presence' });
    await expect(news.presenceCount()).rejects.toMatchObject({ code: 'no_presence' });

    // The token allows chat.> and news.>: asking about another tree is refused as subscribing to it would be.
    const admin = carol.subscribe('admin.x');
    await until(() => admin.state === 'unsubscribed', 'the refused subscribe');
    await expect(admin.presence()).rejects.toMatchObject({ code: 'forbidden' });

    // Carol alone in a room, with info absent from her token: listed without info.
    const room = carol.subscribe('chat.quiet');
    await subscribedTo(room);
    expect(await poll(() => room.presence(), (p) => p.count > 0, 'carol in the room')).toEqual({ users: [{ sub: 'carol', connections: 1 }], count: 1 });

    carol.close();
    await expect(room.presence()).rejects.toMatchObject({ code: 'not_connected' });
  });
});
