/**
 * Subscriptions against a fake WebSocket: the registry across connections,
 * and resume on history topics with the frame shapes of the recovery contract
 * (issue 10: offsets, epochs, `since`, `recovered`, `reset`).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeraldClient, type GapEvent, type HeraldClientOptions, type Message, type SubscribedEvent, type Subscription, type WebSocketConstructor } from '../src/index.js';
import { FakeSocket, jwt, settle } from './helpers/fake-socket.js';

let client: HeraldClient | undefined;

function make(options: Partial<HeraldClientOptions> = {}): HeraldClient {
  client = new HeraldClient({ url: 'ws://a.test/ws', token: jwt({ exp: Math.floor(Date.now() / 1000) + 3600 }), WebSocket: FakeSocket as unknown as WebSocketConstructor, pingIntervalMs: 0, ...options });
  return client;
}

interface Seen {
  messages: Message[];
  subscribed: SubscribedEvent[];
  gaps: GapEvent[];
  ended: string[];
  errors: string[];
}

function watch(sub: Subscription): Seen {
  const seen: Seen = { messages: [], subscribed: [], gaps: [], ended: [], errors: [] };
  sub.on('message', (m) => seen.messages.push(m));
  sub.on('subscribed', (e) => seen.subscribed.push(e));
  sub.on('gap', (e) => seen.gaps.push(e));
  sub.on('unsubscribed', (e) => seen.ended.push(e.reason));
  sub.on('error', (e) => seen.errors.push(e.code));
  return seen;
}

const message = (offset: number | undefined, topic = 'chat.room1'): Record<string, unknown> => ({ type: 'message', topic, data: { n: offset }, ts: 1_767_225_600_123, ...(offset === undefined ? {} : { offset }) });
const offsets = (seen: Seen): (number | undefined)[] => seen.messages.map((m) => m.offset);

/** Drops the current connection with `code` and brings up the next one. */
async function reconnect(c: HeraldClient, code = 1001): Promise<FakeSocket> {
  let delay = 0;
  const off = c.on('disconnected', (d) => (delay = d.delayMs ?? 0));
  FakeSocket.last.serverClose(code);
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

describe('subscription - a registry that outlives connections', () => {
  it('subscription - made before connect() it is sent with the first connection; made while connected it is sent at once', () => {
    const c = make();
    const early = c.subscribe('prices.btc');
    expect(early.state).toBe('subscribing');
    c.connect();
    FakeSocket.last.accept();
    expect(FakeSocket.last.frames('subscribe')).toEqual([{ type: 'subscribe', topic: 'prices.btc', id: expect.any(Number) }]);
    c.subscribe('prices.eth');
    expect(FakeSocket.last.frames('subscribe').map((f) => f.topic)).toEqual(['prices.btc', 'prices.eth']);
    FakeSocket.last.ackAll('subscribe');
    expect(early.state).toBe('subscribed');
  });

  it('subscription - after a reconnect every subscription is sent again at once, none waiting for another\'s ack', async () => {
    const c = make();
    const topics = Array.from({ length: 20 }, (_, i) => `prices.t${i}`);
    const subs = topics.map((t) => c.subscribe(t));
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe');
    expect(subs.every((s) => s.state === 'subscribed')).toBe(true);
    const next = await reconnect(c, 1006);
    // Nothing acknowledged yet on the new socket, and all twenty are already out.
    expect(next.frames('subscribe').map((f) => f.topic)).toEqual(topics);
    expect(subs.every((s) => s.state === 'subscribing')).toBe(true);
    next.ackAll('subscribe');
    expect(subs.every((s) => s.state === 'subscribed')).toBe(true);
  });

  it('subscription - unsubscribe() tells the server, ends with reason client, and is not restored after a reconnect', async () => {
    const c = make();
    const sub = c.subscribe('prices.btc');
    const seen = watch(sub);
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe');
    sub.unsubscribe();
    sub.unsubscribe();
    expect(FakeSocket.last.frames('unsubscribe')).toEqual([{ type: 'unsubscribe', topic: 'prices.btc', id: expect.any(Number) }]);
    expect(seen.ended).toEqual(['client']);
    FakeSocket.last.receive(message(undefined, 'prices.btc'));
    expect(seen.messages).toEqual([]);
    expect(c.getSubscription('prices.btc')).toBeUndefined();
    const next = await reconnect(c);
    expect(next.frames('subscribe')).toEqual([]);
  });

  it('subscription - one per topic: a second subscribe throws already_subscribed until the first ends, and a listener may subscribe again', () => {
    const c = make();
    const first = c.subscribe('prices.btc');
    expect(() => c.subscribe('prices.btc')).toThrow(expect.objectContaining({ code: 'already_subscribed' }));
    let again: Subscription | undefined;
    first.on('unsubscribed', () => (again = c.subscribe('prices.btc')));
    first.unsubscribe();
    expect(again).toBeDefined();
    expect(c.getSubscription('prices.btc')).toBe(again);
  });

  it('subscription - an unsubscribe while the subscribe is in flight is not undone by the late ack', () => {
    const c = make();
    c.connect();
    FakeSocket.last.accept();
    const sub = c.subscribe('prices.btc');
    const [frame] = FakeSocket.last.frames('subscribe');
    sub.unsubscribe();
    FakeSocket.last.ack(frame!);
    expect(sub.state).toBe('unsubscribed');
  });

  it('subscription - a refused subscribe ends it (forbidden); unavailable is retried with backoff on the same connection', async () => {
    const c = make();
    c.connect();
    FakeSocket.last.accept();
    const denied = watch(c.subscribe('admin.x'));
    const flaky = c.subscribe('prices.btc');
    const retried = watch(flaky);
    const [a, b] = FakeSocket.last.frames('subscribe');
    FakeSocket.last.error(a!, 'forbidden');
    FakeSocket.last.error(b!, 'unavailable');
    await settle();
    expect(denied.errors).toEqual(['forbidden']);
    expect(denied.ended).toEqual(['forbidden']);
    expect(c.getSubscription('admin.x')).toBeUndefined();
    expect(retried.errors).toEqual(['unavailable']);
    await vi.advanceTimersByTimeAsync(1000);
    const again = FakeSocket.last.frames('subscribe').filter((f) => f.topic === 'prices.btc');
    expect(again).toHaveLength(2);
    FakeSocket.last.ack(again[1]!);
    expect(flaky.state).toBe('subscribed');
    expect(FakeSocket.last.frames('unsubscribe')).toEqual([]);
  });

  it('subscription - unsubscribed with reason forbidden (a refreshed token narrowed the grants) ends it', async () => {
    const c = make();
    const sub = c.subscribe('news.today');
    const seen = watch(sub);
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe');
    FakeSocket.last.receive({ type: 'unsubscribed', topic: 'news.today', reason: 'forbidden' });
    expect(seen.ended).toEqual(['forbidden']);
    expect(sub.state).toBe('unsubscribed');
    const next = await reconnect(c);
    expect(next.frames('subscribe')).toEqual([]);
  });

  it('subscription - messages reach only their topic\'s subscription, with topic, data and ts', () => {
    const c = make();
    const a = watch(c.subscribe('prices.btc'));
    const b = watch(c.subscribe('prices.eth'));
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.receive({ type: 'message', topic: 'prices.btc', data: { price: 97000 }, ts: 1_767_225_600_123 });
    FakeSocket.last.receive({ type: 'message', topic: 'prices.other', data: 1, ts: 1 });
    expect(a.messages).toEqual([{ topic: 'prices.btc', data: { price: 97000 }, ts: 1_767_225_600_123, offset: undefined }]);
    expect(b.messages).toEqual([]);
  });
});

describe('subscription - topics without history', () => {
  it('subscription - a resubscribe after an interruption sends no since and reports gap: messages may have been missed', async () => {
    const c = make();
    const seen = watch(c.subscribe('prices.btc'));
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe');
    expect(seen.subscribed).toEqual([{ recovered: false, offset: undefined, epoch: undefined }]);
    expect(seen.gaps).toEqual([]);
    const next = await reconnect(c);
    expect(next.frames('subscribe')).toEqual([{ type: 'subscribe', topic: 'prices.btc', id: expect.any(Number) }]);
    next.ackAll('subscribe');
    expect(seen.gaps).toEqual([{ offset: undefined, epoch: undefined }]);
  });

  it('subscription - since on a topic without history: the ack has recovered false and no offset; messages flow, no offsets kept', () => {
    const c = make();
    const sub = c.subscribe('prices.btc', undefined, { since: { last: 50 } });
    const seen = watch(sub);
    c.connect();
    FakeSocket.last.accept();
    const [frame] = FakeSocket.last.frames('subscribe');
    expect(frame).toMatchObject({ since: { last: 50 } });
    FakeSocket.last.ack(frame!, { recovered: false });
    FakeSocket.last.receive(message(undefined, 'prices.btc'));
    expect(seen.gaps).toEqual([]);
    expect(seen.messages).toHaveLength(1);
    expect(sub.offset).toBeUndefined();
  });

  it('subscription - once the ack showed a topic has no history, resubscribes send no since', async () => {
    const c = make();
    c.subscribe('prices.btc', undefined, { since: { last: 50 } });
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe', { recovered: false });
    const next = await reconnect(c);
    expect(next.frames('subscribe')).toEqual([{ type: 'subscribe', topic: 'prices.btc', id: expect.any(Number) }]);
  });
});

describe('subscription - history topics (recovery contract of issue 10)', () => {
  it('subscription - each offset is delivered once: duplicates and stale offsets are dropped', () => {
    const c = make();
    const sub = c.subscribe('chat.room1');
    const seen = watch(sub);
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe', { offset: 10, epoch: 'k3f9x2' });
    for (const o of [11, 12, 12, 11, 13, 9, 10, 14]) FakeSocket.last.receive(message(o));
    expect(offsets(seen)).toEqual([11, 12, 13, 14]);
    expect(sub.offset).toBe(14);
    expect(sub.epoch).toBe('k3f9x2');
  });

  it('subscription - after a reconnect it resumes with since {offset, epoch} of the last message; the replay fills the break exactly once', async () => {
    const c = make();
    const seen = watch(c.subscribe('chat.room1'));
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe', { offset: 40, epoch: 'k3f9x2' });
    FakeSocket.last.receive(message(41));
    const next = await reconnect(c);
    const [frame] = next.frames('subscribe');
    expect(frame).toEqual({ type: 'subscribe', topic: 'chat.room1', id: expect.any(Number), since: { offset: 41, epoch: 'k3f9x2' } });
    next.ack(frame!, { offset: 57, epoch: 'k3f9x2', recovered: true });
    for (let o = 41; o <= 60; o++) next.receive(message(o));
    expect(offsets(seen)).toEqual(Array.from({ length: 20 }, (_, i) => 41 + i));
    expect(seen.subscribed.at(-1)).toEqual({ recovered: true, offset: 57, epoch: 'k3f9x2' });
    expect(seen.gaps).toEqual([]);
  });

  it('subscription - recovered false: gap once, then live messages after the current top', async () => {
    const c = make();
    const sub = c.subscribe('chat.room1');
    const seen = watch(sub);
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe', { offset: 5, epoch: 'k3f9x2' });
    FakeSocket.last.receive(message(6));
    const next = await reconnect(c, 4008);
    next.ackAll('subscribe', { offset: 900, epoch: 'k3f9x2', recovered: false });
    expect(seen.gaps).toEqual([{ offset: 900, epoch: 'k3f9x2' }]);
    next.receive(message(900));
    next.receive(message(901));
    expect(offsets(seen)).toEqual([6, 901]);
    const again = await reconnect(c);
    expect(again.frames('subscribe')[0]).toMatchObject({ since: { offset: 901, epoch: 'k3f9x2' } });
    again.ackAll('subscribe', { offset: 901, epoch: 'k3f9x2', recovered: true });
    expect(seen.gaps).toHaveLength(1);
  });

  it('subscription - a new epoch restarts the offsets: messages with lower offsets than before are delivered', async () => {
    const c = make();
    const seen = watch(c.subscribe('chat.room1'));
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe', { offset: 500, epoch: 'old' });
    FakeSocket.last.receive(message(501));
    const next = await reconnect(c);
    next.ackAll('subscribe', { offset: 2, epoch: 'new', recovered: false });
    next.receive(message(3));
    next.receive(message(4));
    expect(offsets(seen)).toEqual([501, 3, 4]);
    expect(seen.gaps).toEqual([{ offset: 2, epoch: 'new' }]);
  });

  it('subscription - unsubscribed with reason reset: resubscribes with since from the old epoch and reports gap once', () => {
    const c = make();
    const sub = c.subscribe('chat.room1');
    const seen = watch(sub);
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe', { offset: 7, epoch: 'e1' });
    FakeSocket.last.receive(message(8));
    FakeSocket.last.receive({ type: 'unsubscribed', topic: 'chat.room1', reason: 'reset' });
    expect(sub.state).toBe('subscribing');
    const frames = FakeSocket.last.frames('subscribe');
    expect(frames).toHaveLength(2);
    expect(frames[1]).toMatchObject({ since: { offset: 8, epoch: 'e1' } });
    FakeSocket.last.ack(frames[1]!, { offset: 0, epoch: 'e2', recovered: false });
    FakeSocket.last.receive(message(1));
    expect(seen.gaps).toEqual([{ offset: 0, epoch: 'e2' }]);
    expect(seen.ended).toEqual([]);
    expect(offsets(seen)).toEqual([8, 1]);
  });

  it('subscription - since {last} on the first subscribe: the replayed tail is delivered, and a reconnect resumes from the last message', async () => {
    const c = make();
    const seen = watch(c.subscribe('chat.room1', undefined, { since: { last: 50 } }));
    c.connect();
    FakeSocket.last.accept();
    const [frame] = FakeSocket.last.frames('subscribe');
    expect(frame).toEqual({ type: 'subscribe', topic: 'chat.room1', id: expect.any(Number), since: { last: 50 } });
    // Only 30 messages are stored: the ack says recovered false (fewer than asked), and no gap is reported for a first join.
    FakeSocket.last.ack(frame!, { offset: 100, epoch: 'e1', recovered: false });
    for (let o = 71; o <= 102; o++) FakeSocket.last.receive(message(o));
    expect(offsets(seen)).toEqual(Array.from({ length: 32 }, (_, i) => 71 + i));
    expect(seen.gaps).toEqual([]);
    const next = await reconnect(c);
    expect(next.frames('subscribe')[0]).toMatchObject({ since: { offset: 102, epoch: 'e1' } });
  });

  it('subscription - since {offset, epoch} saved by the application: sent on the first subscribe; recovered false reports gap', () => {
    const c = make();
    const seen = watch(c.subscribe('chat.room1', undefined, { since: { offset: 41, epoch: 'k3f9x2' } }));
    c.connect();
    FakeSocket.last.accept();
    const [frame] = FakeSocket.last.frames('subscribe');
    expect(frame).toMatchObject({ since: { offset: 41, epoch: 'k3f9x2' } });
    FakeSocket.last.ack(frame!, { offset: 57, epoch: 'zz', recovered: false });
    expect(seen.gaps).toEqual([{ offset: 57, epoch: 'zz' }]);
  });

  it('subscription - an interruption before the first ack resends the application\'s since, not a position it never had', async () => {
    const c = make();
    c.subscribe('chat.room1', undefined, { since: { last: 20 } });
    c.connect();
    FakeSocket.last.accept();
    const next = await reconnect(c);
    expect(next.frames('subscribe')[0]).toMatchObject({ since: { last: 20 } });
  });

  it('subscription - every offset exactly once, in order, across many reconnects with overlapping replays', async () => {
    const c = make();
    const seen = watch(c.subscribe('chat.room1'));
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe', { offset: 0, epoch: 'e' });
    let published = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 5; i++) FakeSocket.last.receive(message(++published));
      published += 3; // published while the client is away
      const next = await reconnect(c, round % 2 === 0 ? 1001 : 1006);
      const since = (next.frames('subscribe')[0]!.since as { offset: number }).offset;
      next.ackAll('subscribe', { offset: published, epoch: 'e', recovered: true });
      // The server replays from a little before `since` (an overlap the client must drop), then the missed ones.
      for (let o = Math.max(1, since - 2); o <= published; o++) next.receive(message(o));
    }
    expect(offsets(seen)).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(seen.gaps).toEqual([]);
  });
});
