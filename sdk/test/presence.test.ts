/**
 * Presence against a fake WebSocket: presence() and presenceCount() as
 * requests matched by id, join/leave routed to their subscription, and the
 * `presence` option that keeps `members` from a list read after each ack plus
 * the joins and leaves that follow (docs/protocol.md, "Presence").
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeraldClient, type HeraldClientOptions, type Member, type Subscription, type WebSocketConstructor } from '../src/index.js';
import { FakeSocket, jwt, settle, type Sent } from './helpers/fake-socket.js';

let client: HeraldClient | undefined;

function make(options: Partial<HeraldClientOptions> = {}): HeraldClient {
  client = new HeraldClient({ url: 'ws://a.test/ws', token: jwt({ exp: Math.floor(Date.now() / 1000) + 3600 }), WebSocket: FakeSocket as unknown as WebSocketConstructor, pingIntervalMs: 0, ...options });
  return client;
}

/** A connected client with one subscription to `chat.room1`, acknowledged. */
function subscribed(options: { presence?: boolean } = {}, clientOptions: Partial<HeraldClientOptions> = {}): Subscription {
  const c = make(clientOptions);
  const sub = c.subscribe('chat.room1', undefined, options);
  c.connect();
  FakeSocket.last.accept();
  FakeSocket.last.ackAll('subscribe');
  return sub;
}

const ALICE = { sub: 'alice', connections: 2, info: { name: 'Alice' } };
const BOB = { sub: 'bob', connections: 1 };

function list(frame: Sent, users: Record<string, unknown>[], socket = FakeSocket.last): void {
  socket.receive({ type: 'presence', id: frame.id, topic: frame.topic, users, count: users.length });
}

const event = (type: 'join' | 'leave', sub: string, info?: Record<string, unknown>, topic = 'chat.room1'): Record<string, unknown> => ({ type, topic, sub, ...(info === undefined ? {} : { info }) });
const subs = (members: readonly Member[] | undefined): string[] | undefined => members?.map((m) => m.sub).sort();

/** Drops the current connection and brings up the next one (subscribe frames sent, not yet acknowledged). */
async function reconnect(c: HeraldClient): Promise<FakeSocket> {
  let delay = 0;
  const off = c.on('disconnected', (d) => (delay = d.delayMs ?? 0));
  FakeSocket.last.serverClose(1006);
  off();
  await vi.advanceTimersByTimeAsync(delay);
  FakeSocket.last.accept();
  return FakeSocket.last;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.reset();
});
afterEach(() => {
  client?.close();
  client = undefined;
  vi.useRealTimers();
  expect(FakeSocket.overlaps).toEqual([]);
});

describe('presence - asking who is in a topic', () => {
  it('presence - presence() and presenceCount() send their frames and resolve with the replies matched by id, whatever the order', async () => {
    const sub = subscribed();
    const who = sub.presence();
    const count = sub.presenceCount();
    const [asked] = FakeSocket.last.frames('presence');
    const [counted] = FakeSocket.last.frames('presence_count');
    expect(asked).toEqual({ type: 'presence', topic: 'chat.room1', id: expect.any(Number) });
    expect(counted).toEqual({ type: 'presence_count', topic: 'chat.room1', id: expect.any(Number) });
    FakeSocket.last.receive({ type: 'presence_count', id: counted!.id, topic: 'chat.room1', users: 2, connections: 3 });
    list(asked!, [ALICE, BOB]);
    await expect(who).resolves.toEqual({ users: [ALICE, BOB], count: 2 });
    await expect(count).resolves.toEqual({ users: 2, connections: 3 });
  });

  it('presence - rejects with the server\'s code (forbidden, no_presence, unavailable); the subscription carries on', async () => {
    const sub = subscribed();
    const outcomes = ['forbidden', 'no_presence', 'unavailable'].map(() => sub.presence().then(() => 'resolved', (e: { code: string }) => e.code));
    FakeSocket.last.frames('presence').forEach((frame, i) => FakeSocket.last.error(frame, ['forbidden', 'no_presence', 'unavailable'][i]!));
    expect(await Promise.all(outcomes)).toEqual(['forbidden', 'no_presence', 'unavailable']);
    const count = sub.presenceCount();
    FakeSocket.last.error(FakeSocket.last.frames('presence_count')[0]!, 'no_presence', 'topic chat.room1 has no presence (see HERALD_PRESENCE)');
    await expect(count).rejects.toMatchObject({ name: 'HeraldError', code: 'no_presence', message: 'topic chat.room1 has no presence (see HERALD_PRESENCE)' });
    expect(sub.state).toBe('subscribed');
  });

  it('presence - not connected: rejects at once with not_connected and sends nothing, now or later', async () => {
    const c = make();
    const sub = c.subscribe('chat.room1');
    await expect(sub.presence()).rejects.toMatchObject({ code: 'not_connected' });
    c.connect();
    await expect(sub.presenceCount()).rejects.toMatchObject({ code: 'not_connected' });
    FakeSocket.last.accept();
    await settle();
    expect(FakeSocket.last.frames('presence')).toEqual([]);
    expect(FakeSocket.last.frames('presence_count')).toEqual([]);
  });

  it('presence - a lost connection rejects with connection_lost; no reply within timeoutMs rejects with timeout', async () => {
    const sub = subscribed({}, { timeoutMs: 2000 });
    const slow = sub.presence().then(() => 'resolved', (e: { code: string }) => e.code);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await slow).toBe('timeout');
    const pending = sub.presenceCount();
    FakeSocket.last.serverClose(1006);
    await expect(pending).rejects.toMatchObject({ code: 'connection_lost' });
  });

  it('presence - a reply of the wrong shape is dropped, and the call times out instead of resolving with it', async () => {
    const sub = subscribed({}, { timeoutMs: 1000 });
    const who = sub.presence().then(() => 'resolved', (e: { code: string }) => e.code);
    const [asked] = FakeSocket.last.frames('presence');
    FakeSocket.last.receive({ type: 'presence', id: asked!.id, topic: 'chat.room1', users: [{ sub: 'alice' }], count: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(await who).toBe('timeout');
  });
});

describe('presence - join and leave', () => {
  it('presence - join and leave reach their topic\'s subscription as { sub, info? }, and no other', () => {
    const c = make();
    const room = c.subscribe('chat.room1');
    const other = c.subscribe('chat.room2');
    const seen: [string, Member][] = [];
    for (const type of ['join', 'leave'] as const) {
      room.on(type, (m) => seen.push([type, m]));
      other.on(type, (m) => seen.push([`other ${type}`, m]));
    }
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe');
    FakeSocket.last.receive(event('join', 'alice', { name: 'Alice' }));
    FakeSocket.last.receive(event('join', 'bob'));
    FakeSocket.last.receive(event('leave', 'alice', { name: 'Alice' }));
    FakeSocket.last.receive(event('join', 'carol', undefined, 'chat.room9'));
    FakeSocket.last.receive({ type: 'join', topic: 'chat.room1', sub: 'mallory', info: 'not an object' });
    expect(seen).toEqual([
      ['join', { sub: 'alice', info: { name: 'Alice' } }],
      ['join', { sub: 'bob' }],
      ['leave', { sub: 'alice', info: { name: 'Alice' } }],
    ]);
    expect(room.members).toBeUndefined();
  });

  it('presence - an ended subscription hears no more joins or leaves', () => {
    const sub = subscribed();
    const seen: string[] = [];
    sub.on('join', (m) => seen.push(m.sub));
    sub.unsubscribe();
    FakeSocket.last.receive(event('join', 'alice'));
    expect(seen).toEqual([]);
  });
});

describe('presence - the presence option keeps members', () => {
  it('presence - reads the list after the ack, then each join adds and each leave removes a member, with a members event each time', () => {
    const sub = subscribed({ presence: true });
    const changes: (string[] | undefined)[] = [];
    sub.on('members', (members) => changes.push(subs(members)));
    const [asked] = FakeSocket.last.frames('presence');
    expect(asked).toEqual({ type: 'presence', topic: 'chat.room1', id: expect.any(Number) });
    expect(sub.members).toBeUndefined();
    list(asked!, [ALICE, BOB]);
    expect(sub.members).toEqual([{ sub: 'alice', info: { name: 'Alice' } }, { sub: 'bob' }]);
    FakeSocket.last.receive(event('join', 'carol', { name: 'Carol' }));
    FakeSocket.last.receive(event('leave', 'alice', { name: 'Alice' }));
    // A second tab of a present user is not announced; a join of someone already listed changes nothing.
    FakeSocket.last.receive(event('join', 'bob'));
    expect(subs(sub.members)).toEqual(['bob', 'carol']);
    expect(sub.members!.find((m) => m.sub === 'carol')).toEqual({ sub: 'carol', info: { name: 'Carol' } });
    expect(changes).toEqual([['alice', 'bob'], ['alice', 'bob', 'carol'], ['bob', 'carol'], ['bob', 'carol']]);
  });

  it('presence - joins and leaves that arrive while the list is being read are applied on top of it', () => {
    const sub = subscribed({ presence: true });
    const changes: (string[] | undefined)[] = [];
    sub.on('members', (members) => changes.push(subs(members)));
    const joins: string[] = [];
    sub.on('join', (m) => joins.push(m.sub));
    const [asked] = FakeSocket.last.frames('presence');
    // The list was read before bob left and carol joined, and after dave joined and left: each user's last event wins.
    FakeSocket.last.receive(event('join', 'dave'));
    FakeSocket.last.receive(event('leave', 'bob'));
    FakeSocket.last.receive(event('join', 'carol'));
    FakeSocket.last.receive(event('leave', 'dave'));
    expect(changes).toEqual([]);
    expect(joins).toEqual(['dave', 'carol']);
    list(asked!, [ALICE, BOB]);
    expect(subs(sub.members)).toEqual(['alice', 'carol']);
    expect(changes).toEqual([['alice', 'carol']]);
  });

  it('presence - after a reconnect the list is read again; until then the last one is kept', async () => {
    const sub = subscribed({ presence: true });
    list(FakeSocket.last.frames('presence')[0]!, [ALICE, BOB]);
    const next = await reconnect(client!);
    expect(subs(sub.members)).toEqual(['alice', 'bob']);
    expect(next.frames('presence')).toEqual([]);
    next.ackAll('subscribe');
    const [again] = next.frames('presence');
    expect(again).toEqual({ type: 'presence', topic: 'chat.room1', id: expect.any(Number) });
    // Bob left while this client was away: no leave reached it, the new list says so.
    list(again!, [ALICE]);
    expect(subs(sub.members)).toEqual(['alice']);
  });

  it('presence - a list request lost with its connection is forgotten: its late reply, and the next ack, do not mix', async () => {
    const sub = subscribed({ presence: true });
    const [first] = FakeSocket.last.frames('presence');
    const old = FakeSocket.last;
    const next = await reconnect(client!);
    list(first!, [BOB], old);
    expect(sub.members).toBeUndefined();
    next.ackAll('subscribe');
    list(next.frames('presence')[0]!, [ALICE]);
    expect(subs(sub.members)).toEqual(['alice']);
  });

  it('presence - no_presence or forbidden is an error event; the subscription carries on, members stay unknown, nothing is retried', async () => {
    const sub = subscribed({ presence: true });
    const errors: string[] = [];
    sub.on('error', (e) => errors.push(e.code));
    const messages: unknown[] = [];
    sub.on('message', (m) => messages.push(m.data));
    FakeSocket.last.error(FakeSocket.last.frames('presence')[0]!, 'no_presence');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(errors).toEqual(['no_presence']);
    expect(sub.state).toBe('subscribed');
    expect(sub.members).toBeUndefined();
    expect(FakeSocket.last.frames('presence')).toHaveLength(1);
    FakeSocket.last.receive({ type: 'message', topic: 'chat.room1', data: 'still here', ts: 1 });
    expect(messages).toEqual(['still here']);
  });

  it('presence - unavailable is retried with backoff while subscribed', async () => {
    const sub = subscribed({ presence: true });
    const errors: string[] = [];
    sub.on('error', (e) => errors.push(e.code));
    FakeSocket.last.error(FakeSocket.last.frames('presence')[0]!, 'unavailable');
    expect(FakeSocket.last.frames('presence')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    const asked = FakeSocket.last.frames('presence');
    expect(asked).toHaveLength(2);
    list(asked[1]!, [BOB]);
    expect(subs(sub.members)).toEqual(['bob']);
    expect(errors).toEqual(['unavailable']);
  });

  it('presence - unsubscribe() forgets the members and stops a pending retry', async () => {
    const sub = subscribed({ presence: true });
    list(FakeSocket.last.frames('presence')[0]!, [ALICE]);
    FakeSocket.last.receive({ type: 'unsubscribed', topic: 'chat.room1', reason: 'reset' });
    FakeSocket.last.ackAll('subscribe');
    FakeSocket.last.error(FakeSocket.last.frames('presence')[1]!, 'unavailable');
    sub.unsubscribe();
    expect(sub.members).toBeUndefined();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.last.frames('presence')).toHaveLength(2);
  });

  it('presence - a resubscribe on the same connection (reset) reads the list again; only the newest read counts', () => {
    const sub = subscribed({ presence: true });
    const [first] = FakeSocket.last.frames('presence');
    FakeSocket.last.receive({ type: 'unsubscribed', topic: 'chat.room1', reason: 'reset' });
    FakeSocket.last.ackAll('subscribe');
    const [, second] = FakeSocket.last.frames('presence');
    expect(second).toBeDefined();
    list(first!, [BOB]);
    expect(sub.members).toBeUndefined();
    list(second!, [ALICE]);
    expect(subs(sub.members)).toEqual(['alice']);
  });

  it('presence - a retry still waiting when a new ack reads the list is dropped: one read, not two', async () => {
    const sub = subscribed({ presence: true });
    FakeSocket.last.error(FakeSocket.last.frames('presence')[0]!, 'unavailable');
    FakeSocket.last.receive({ type: 'unsubscribed', topic: 'chat.room1', reason: 'reset' });
    FakeSocket.last.ackAll('subscribe');
    expect(FakeSocket.last.frames('presence')).toHaveLength(2);
    // Well past the retry's delay, and short of the read's own timeout (after which it is retried, as timeouts are).
    await vi.advanceTimersByTimeAsync(5000);
    expect(FakeSocket.last.frames('presence')).toHaveLength(2);
    expect(sub.members).toBeUndefined();
  });

  it('presence - a list that arrives after unsubscribe() is not taken in', () => {
    const sub = subscribed({ presence: true });
    const changes: unknown[] = [];
    sub.on('members', (m) => changes.push(m));
    sub.unsubscribe();
    list(FakeSocket.last.frames('presence')[0]!, [ALICE]);
    expect(sub.members).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('presence - without the option no list is read and members stay undefined', () => {
    const sub = subscribed();
    FakeSocket.last.receive(event('join', 'alice'));
    expect(FakeSocket.last.frames('presence')).toEqual([]);
    expect(sub.members).toBeUndefined();
  });
});
