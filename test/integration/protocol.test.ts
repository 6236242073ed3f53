import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, hs256, nowSeconds } from '../helpers/tokens.js';

describe('protocol - one node', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_MAX_SUBSCRIPTIONS: '3', HERALD_MAX_MESSAGE_SIZE: '1024', HERALD_MAX_PAYLOAD: '4096' });
  });
  afterAll(() => node.close());

  const open = (claims = {}) => TestClient.open(node.wsUrl, hs256({ publish: ['chat.*'], ...claims }));

  it('protocol - subscribe to an allowed topic is acked with the same id, string or number', async () => {
    const client = await open();
    client.send({ type: 'subscribe', topic: 'prices.btc', id: 'sub-1' });
    expect(await client.next()).toEqual({ type: 'ack', id: 'sub-1' });
    client.send({ type: 'subscribe', topic: 'prices.eth', id: 7 });
    expect(await client.next()).toEqual({ type: 'ack', id: 7 });
    client.close();
  });

  it('protocol - {sub} in a pattern grants only the own user tree', async () => {
    const client = await open();
    expect(await client.subscribe('user.alice.inbox')).toEqual({ type: 'ack', id: 1 });
    expect(await client.subscribe('user.bob.inbox')).toMatchObject({ type: 'error', code: 'forbidden' });
    client.close();
  });

  it('protocol - subscribe to a forbidden topic gets forbidden and the connection stays open', async () => {
    const client = await open();
    const reply = await client.subscribe('admin.secrets');
    expect(reply).toMatchObject({ type: 'error', id: 1, code: 'forbidden' });
    expect(typeof reply.message).toBe('string');
    expect(await client.request({ type: 'ping' })).toEqual({ type: 'pong', id: 2 });
    client.close();
  });

  it('protocol - an invalid topic gets invalid_topic', async () => {
    const client = await open();
    for (const topic of ['', 'prices..btc', 'prices.*', 'a b', 'x'.repeat(257), '.prices']) {
      expect(await client.subscribe(topic)).toMatchObject({ type: 'error', code: 'invalid_topic' });
    }
    expect(await client.request({ type: 'unsubscribe', topic: 'bad topic' })).toMatchObject({ type: 'error', code: 'invalid_topic' });
    expect(await client.request({ type: 'publish', topic: 'chat.>', data: 1 })).toMatchObject({ type: 'error', code: 'invalid_topic' });
    client.close();
  });

  it('protocol - malformed frames get bad_request, with the id echoed when one could be read', async () => {
    const client = await open();
    client.send('this is not json');
    expect(await client.next()).toMatchObject({ type: 'error', code: 'bad_request' });
    client.send('[1,2,3]');
    expect(await client.next()).toMatchObject({ type: 'error', code: 'bad_request' });
    client.send({ type: 'dance', id: 'x1' });
    expect(await client.next()).toMatchObject({ type: 'error', id: 'x1', code: 'bad_request' });
    client.send({ id: 3 });
    expect(await client.next()).toMatchObject({ type: 'error', id: 3, code: 'bad_request' });
    client.send({ type: 'subscribe', id: 4 });
    expect(await client.next()).toMatchObject({ type: 'error', id: 4, code: 'bad_request' });
    client.send({ type: 'publish', topic: 'chat.a', id: 5 });
    expect(await client.next()).toMatchObject({ type: 'error', id: 5, code: 'bad_request' });
    client.send({ type: 'subscribe', topic: 'prices.btc', id: { nested: true } });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'bad_request' });
    client.socket.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    client.close();
  });

  it('protocol - subscribing twice to a topic delivers each message once', async () => {
    const client = await open();
    await client.subscribe('prices.ada');
    expect(await client.subscribe('prices.ada')).toMatchObject({ type: 'ack' });
    expect((await publishHttp(node.httpUrl, { topic: 'prices.ada', data: 1 }, API_KEY)).status).toBe(202);
    expect((await publishHttp(node.httpUrl, { topic: 'prices.ada', data: 2 }, API_KEY)).status).toBe(202);
    await client.waitForCount('message', 2);
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(client.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual([1, 2]);
    client.close();
  });

  it('protocol - unsubscribe is acked and stops delivery', async () => {
    const client = await open();
    await client.subscribe('prices.dot');
    expect(await client.request({ type: 'unsubscribe', topic: 'prices.dot' })).toEqual({ type: 'ack', id: 2 });
    await publishHttp(node.httpUrl, { topic: 'prices.dot', data: 'late' }, API_KEY);
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(client.frames.some((f) => f.type === 'message')).toBe(false);
    client.close();
  });

  it('protocol - more subscriptions than HERALD_MAX_SUBSCRIPTIONS get too_many_subscriptions', async () => {
    const client = await open();
    for (const topic of ['prices.a', 'prices.b', 'prices.c']) expect(await client.subscribe(topic)).toMatchObject({ type: 'ack' });
    expect(await client.subscribe('prices.d')).toMatchObject({ type: 'error', code: 'too_many_subscriptions' });
    await client.request({ type: 'unsubscribe', topic: 'prices.a' });
    expect(await client.subscribe('prices.d')).toMatchObject({ type: 'ack' });
    client.close();
  });

  it('protocol - client publish to an allowed topic reaches subscribers and is acked', async () => {
    const publisher = await open();
    const subscriber = await open({ sub: 'bob', topics: ['chat.*'] });
    await subscriber.subscribe('chat.room1');
    const reply = await publisher.request({ type: 'publish', topic: 'chat.room1', data: { text: 'hi', n: [1, 2] } });
    expect(reply).toEqual({ type: 'ack', id: 1 });
    const message = await subscriber.next((f) => f.type === 'message');
    expect(message).toMatchObject({ type: 'message', topic: 'chat.room1', data: { text: 'hi', n: [1, 2] } });
    expect(Math.abs((message.ts as number) - Date.now())).toBeLessThan(5000);
    publisher.close();
    subscriber.close();
  });

  it('protocol - client publish outside the publish claim gets forbidden; no publish claim means no publishing', async () => {
    const publisher = await open();
    expect(await publisher.request({ type: 'publish', topic: 'prices.btc', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
    const readOnly = await TestClient.open(node.wsUrl, hs256({ topics: ['chat.*'] }));
    expect(await readOnly.request({ type: 'publish', topic: 'chat.room1', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
    publisher.close();
    readOnly.close();
  });

  it('protocol - a published message over HERALD_MAX_MESSAGE_SIZE gets payload_too_large and the connection stays open', async () => {
    const publisher = await open();
    expect(await publisher.request({ type: 'publish', topic: 'chat.big', data: 'x'.repeat(2000) })).toMatchObject({ type: 'error', code: 'payload_too_large' });
    expect(await publisher.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    publisher.close();
  });

  it('protocol - a frame over HERALD_MAX_PAYLOAD closes the connection with 1009', async () => {
    const client = await open();
    client.send({ type: 'publish', topic: 'chat.big', data: 'x'.repeat(5000) });
    expect(await client.waitClosed()).toEqual({ code: 1009, reason: 'payload_too_large' });
  });

  it('protocol - ping gets pong with the same id', async () => {
    const client = await open();
    expect(await client.request({ type: 'ping' })).toEqual({ type: 'pong', id: 1 });
    client.send({ type: 'ping' });
    expect(await client.next()).toEqual({ type: 'pong' });
    client.close();
  });

  it('protocol - error frames are counted by code', async () => {
    const before = await scrape(node.metricsUrl);
    const client = await open();
    await client.subscribe('admin.x');
    await client.subscribe('bad topic');
    const after = await scrape(node.metricsUrl);
    expect(after.get('herald_client_errors_total{code="forbidden"}')).toBe(before.get('herald_client_errors_total{code="forbidden"}')! + 1);
    expect(after.get('herald_client_errors_total{code="invalid_topic"}')).toBe(before.get('herald_client_errors_total{code="invalid_topic"}')! + 1);
    client.close();
  });
});

describe('protocol - token refresh and expiry', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.close());

  it('protocol - a connection whose token expires is closed with 4001 token_expired within a second of exp', async () => {
    const exp = nowSeconds() + 2;
    const client = await TestClient.open(node.wsUrl, hs256({ exp }));
    const closed = await client.waitClosed(5000);
    const late = Date.now() - exp * 1000;
    expect(closed).toEqual({ code: 4001, reason: 'token_expired' });
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1000);
  });

  it('protocol - an auth frame with a fresh token keeps the connection open past the first exp', async () => {
    const exp = nowSeconds() + 2;
    const client = await TestClient.open(node.wsUrl, hs256({ exp }));
    await client.subscribe('prices.btc');
    expect(await client.request({ type: 'auth', token: hs256({ exp: nowSeconds() + 60 }) })).toEqual({ type: 'ack', id: 2 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 1300));
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect((await publishHttp(node.httpUrl, { topic: 'prices.btc', data: 'still here' }, API_KEY)).status).toBe(202);
    expect(await client.next((f) => f.type === 'message')).toMatchObject({ data: 'still here' });
    client.close();
  });

  it('protocol - a refresh that narrows the grants drops the subscriptions no longer allowed, announcing each', async () => {
    const client = await TestClient.open(node.wsUrl, hs256({ topics: ['prices.*', 'news.*'] }));
    await client.subscribe('prices.btc');
    await client.subscribe('news.today');
    client.send({ type: 'auth', token: hs256({ topics: ['prices.*'] }), id: 'r1' });
    expect(await client.next()).toEqual({ type: 'unsubscribed', topic: 'news.today', reason: 'forbidden' });
    expect(await client.next()).toEqual({ type: 'ack', id: 'r1' });
    await publishHttp(node.httpUrl, { messages: [{ topic: 'news.today', data: 'no' }, { topic: 'prices.btc', data: 'yes' }] }, API_KEY);
    expect(await client.next((f) => f.type === 'message')).toMatchObject({ topic: 'prices.btc', data: 'yes' });
    expect(await client.subscribe('news.today')).toMatchObject({ type: 'error', code: 'forbidden' });
    client.close();
  });

  it('protocol - a refresh with another sub, an invalid or an expired token gets token_invalid and keeps the old token', async () => {
    const client = await TestClient.open(node.wsUrl, hs256());
    expect(await client.request({ type: 'auth', token: hs256({ sub: 'mallory' }) })).toMatchObject({ type: 'error', code: 'token_invalid' });
    expect(await client.request({ type: 'auth', token: 'garbage' })).toMatchObject({ type: 'error', code: 'token_invalid' });
    expect(await client.request({ type: 'auth', token: hs256({ exp: nowSeconds() - 1 }) })).toMatchObject({ type: 'error', code: 'token_invalid' });
    expect(await client.subscribe('prices.btc')).toMatchObject({ type: 'ack' });
    client.close();
  });
});

describe('protocol - admission limits', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_ALLOWED_ORIGINS: 'https://app.example.com', HERALD_MAX_CONNECTIONS: '2' });
  });
  afterAll(() => node.close());

  it('protocol - an origin outside HERALD_ALLOWED_ORIGINS gets HTTP 403 and no upgrade', async () => {
    await expect(TestClient.connect(node.wsUrl, { token: hs256(), headers: { origin: 'https://evil.example.com' } })).rejects.toMatchObject({ status: 403 });
    const allowed = await TestClient.open(node.wsUrl, hs256(), { headers: { origin: 'https://app.example.com' } });
    allowed.close();
    await allowed.closed;
  });

  it('protocol - over HERALD_MAX_CONNECTIONS the upgrade gets HTTP 503', async () => {
    const a = await TestClient.open(node.wsUrl, hs256());
    const b = await TestClient.open(node.wsUrl, hs256());
    await expect(TestClient.connect(node.wsUrl, { token: hs256() })).rejects.toMatchObject({ status: 503 });
    a.close();
    await a.closed;
    // The server sees the close shortly after the client does.
    const deadline = Date.now() + 2000;
    let c: TestClient | undefined;
    while (c === undefined && Date.now() < deadline) {
      c = await TestClient.open(node.wsUrl, hs256()).catch(() => undefined);
      if (c === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(c).toBeDefined();
    b.close();
    c!.close();
  });
});

describe('protocol - rate limit', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_CLIENT_RATE: '10', HERALD_CLIENT_BURST: '5', HERALD_CLIENT_RATE_CLOSE_AFTER: '8' });
  });
  afterAll(() => node.close());

  it('protocol - frames over the rate get rate_limited; a client that stops recovers', async () => {
    const client = await TestClient.open(node.wsUrl, hs256());
    for (let i = 0; i < 7; i++) client.send({ type: 'ping', id: i });
    await client.waitForCount('pong', 5);
    const errors = await client.waitForCount('error', 2);
    expect(errors.every((f) => f.code === 'rate_limited')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    client.close();
  });

  it('protocol - a client that keeps flooding after rate_limited errors is closed with 4029', async () => {
    const client = await TestClient.open(node.wsUrl, hs256());
    for (let i = 0; i < 50; i++) client.send({ type: 'ping', id: i });
    expect(await client.waitClosed()).toEqual({ code: 4029, reason: 'rate_limited' });
    expect(client.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited').length).toBe(7);
  });
});

describe('protocol - slow consumer', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_MAX_BACKPRESSURE: '65536', HERALD_MAX_MESSAGE_SIZE: '1048576' });
  });
  afterAll(() => node.close());

  it('protocol - a subscriber that stops reading is shed with 4008 once over HERALD_MAX_BACKPRESSURE, others unaffected', async () => {
    const slow = await TestClient.open(node.wsUrl, hs256());
    const fast = await TestClient.open(node.wsUrl, hs256({ sub: 'bob' }));
    await slow.subscribe('prices.firehose');
    await fast.subscribe('prices.firehose');
    const rawSocket = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    rawSocket.pause();
    const chunk = 'x'.repeat(60_000);
    // Enough to fill the kernel's socket buffers and then Herald's 64 KiB allowance.
    for (let i = 0; i < 20; i++) {
      expect((await publishHttp(node.httpUrl, { messages: Array.from({ length: 10 }, () => ({ topic: 'prices.firehose', data: chunk })) }, API_KEY)).status).toBe(202);
    }
    await fast.waitForCount('message', 200, 10_000);
    // The sweep runs every second; give it two, then let the slow client read its backlog.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    rawSocket.resume();
    expect(await slow.waitClosed(10_000)).toEqual({ code: 4008, reason: 'slow_consumer' });
    const metrics = await scrape(node.metricsUrl);
    expect(metrics.get('herald_messages_dropped_total{reason="slow_consumer"}')).toBe(1);
    expect(metrics.get('herald_disconnections_total{code="4008"}')).toBe(1);
    expect(fast.socket.readyState).toBe(fast.socket.OPEN);
    fast.close();
  });
});
