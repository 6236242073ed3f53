/** The connection state machine against a fake WebSocket, on fake timers. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeraldClient, HeraldError, type ConnectionState, type DisconnectedEvent, type HeraldClientOptions, type WebSocketConstructor } from '../src/index.js';
import { FakeSocket, jwt, settle } from './helpers/fake-socket.js';

let client: HeraldClient | undefined;
const nowS = (): number => Math.floor(Date.now() / 1000);

function make(options: Partial<HeraldClientOptions> = {}): HeraldClient {
  client = new HeraldClient({ url: 'ws://a.test/ws', token: jwt({ exp: nowS() + 3600 }), WebSocket: FakeSocket as unknown as WebSocketConstructor, ...options });
  return client;
}

function record(c: HeraldClient): { states: ConnectionState[]; disconnects: DisconnectedEvent[]; errors: HeraldError[] } {
  const seen = { states: [] as ConnectionState[], disconnects: [] as DisconnectedEvent[], errors: [] as HeraldError[] };
  c.on('state', (s) => seen.states.push(s));
  c.on('disconnected', (d) => seen.disconnects.push(d));
  c.on('error', (e) => seen.errors.push(e));
  return seen;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.reset();
});

afterEach(() => {
  client?.close();
  client = undefined;
  vi.useRealTimers();
  expect(FakeSocket.overlaps, 'two sockets live at once').toEqual([]);
});

describe('client - connecting', () => {
  it('client - connect() opens one socket with the token in the query and the herald.v1 subprotocol, then reports the welcome', () => {
    const token = jwt({ exp: nowS() + 3600 });
    const c = make({ url: 'ws://a.test/ws?x=1', token });
    const seen = record(c);
    const connected: unknown[] = [];
    c.on('connected', (info) => connected.push(info));
    expect(c.state).toBe('closed');
    expect(FakeSocket.instances).toHaveLength(0);
    c.connect();
    c.connect();
    expect(FakeSocket.instances).toHaveLength(1);
    const socket = FakeSocket.last;
    expect(socket.url.startsWith('ws://a.test/ws?x=1&token=')).toBe(true);
    expect(socket.token).toBe(token);
    expect(socket.protocols).toBe('herald.v1');
    expect(c.state).toBe('connecting');
    socket.accept(nowS() + 3600, 'node-7');
    expect(seen.states).toEqual(['connecting', 'connected']);
    expect(connected).toEqual([{ node: 'node-7', sub: 'alice', exp: nowS() + 3600 }]);
  });

  it('client - autoConnect connects in the constructor; without a token or getToken the constructor refuses', () => {
    make({ autoConnect: true });
    expect(FakeSocket.instances).toHaveLength(1);
    expect(() => new HeraldClient({ url: 'ws://a.test/ws', WebSocket: FakeSocket as unknown as WebSocketConstructor })).toThrow(/token or getToken/);
  });

  it('client - without a token, getToken provides the first one before the socket opens', async () => {
    const getToken = vi.fn(async () => jwt({ exp: nowS() + 60, n: 1 }));
    make({ token: undefined, getToken }).connect();
    expect(FakeSocket.instances).toHaveLength(0);
    await settle();
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(FakeSocket.last.token).toBe(await getToken.mock.results[0]!.value);
  });

  it('client - a token known to be expired is replaced through getToken before connecting, not sent to earn a 4001', async () => {
    const fresh = jwt({ exp: nowS() + 600 });
    const getToken = vi.fn(async () => fresh);
    make({ token: jwt({ exp: nowS() - 5 }), getToken }).connect();
    await settle();
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(FakeSocket.last.token).toBe(fresh);
  });

  it('client - no welcome within timeoutMs: the socket is given up and the client backs off to the next URL', async () => {
    const c = make({ url: ['ws://a.test/ws', 'ws://b.test/ws'], timeoutMs: 3000 });
    const seen = record(c);
    c.connect();
    const first = FakeSocket.last;
    first.readyState = 1;
    await vi.advanceTimersByTimeAsync(2999);
    expect(seen.disconnects).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.closedByClient).toBeDefined();
    expect(seen.disconnects).toMatchObject([{ code: 1006, reason: 'no_welcome', willReconnect: true }]);
    await vi.advanceTimersByTimeAsync(seen.disconnects[0]!.delayMs!);
    expect(FakeSocket.instances).toHaveLength(2);
    expect(FakeSocket.last.url.startsWith('ws://b.test/ws')).toBe(true);
  });

  it('client - URLs are tried in turn, wrapping around', async () => {
    const c = make({ url: ['ws://a.test/ws', 'ws://b.test/ws', 'ws://c.test/ws'] });
    const seen = record(c);
    c.connect();
    for (let i = 0; i < 4; i++) {
      FakeSocket.last.serverClose(1006);
      await vi.advanceTimersByTimeAsync(seen.disconnects.at(-1)!.delayMs!);
    }
    expect(FakeSocket.instances.map((s) => new URL(s.url).host)).toEqual(['a.test', 'b.test', 'c.test', 'a.test', 'b.test']);
  });

  it('client - close() stops reconnecting; subscriptions stay registered and connect() restores them', async () => {
    const c = make();
    const seen = record(c);
    c.subscribe('prices.btc');
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.ackAll('subscribe');
    c.close();
    expect(FakeSocket.last.closedByClient).toEqual({ code: 1000, reason: undefined });
    expect(seen.disconnects.at(-1)).toEqual({ code: 1000, reason: 'client', willReconnect: false });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(c.state).toBe('closed');
    c.connect();
    FakeSocket.last.accept();
    expect(FakeSocket.last.frames('subscribe')).toMatchObject([{ topic: 'prices.btc' }]);
  });

  it('client - close() while getToken is pending: its token is never used', async () => {
    let resolve!: (token: string) => void;
    const c = make({ token: undefined, getToken: () => new Promise<string>((r) => (resolve = r)) });
    c.connect();
    await settle();
    c.close();
    resolve(jwt({ exp: nowS() + 60 }));
    await settle();
    expect(FakeSocket.instances).toHaveLength(0);
    expect(c.state).toBe('closed');
  });
});

describe('client - one socket at a time', () => {
  it('client - an abandoned socket\'s late events never reach the client: exactly one new socket per loss', async () => {
    const c = make({ pingIntervalMs: 1000, pongTimeoutMs: 500 });
    const seen = record(c);
    c.connect();
    FakeSocket.last.accept();
    await vi.advanceTimersByTimeAsync(1500);
    // The fake browser reports its own close (1005) after the client gave the socket up: ignored.
    await settle();
    expect(seen.disconnects).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(seen.disconnects[0]!.delayMs!);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.last.accept();
    FakeSocket.instances[0]!.receive({ type: 'message', topic: 'prices.btc', data: 1, ts: 1 });
    FakeSocket.instances[0]!.serverClose(1001);
    await vi.advanceTimersByTimeAsync(900);
    expect(FakeSocket.instances).toHaveLength(2);
    expect(seen.disconnects).toHaveLength(1);
  });

  it('client - many closes in a row never overlap two sockets', async () => {
    const c = make();
    const seen = record(c);
    c.connect();
    for (const code of [1006, 1001, 4008, 1011, 1006, 1001]) {
      FakeSocket.last.accept();
      FakeSocket.last.serverClose(code);
      await vi.advanceTimersByTimeAsync(seen.disconnects.at(-1)!.delayMs!);
    }
    expect(FakeSocket.instances).toHaveLength(7);
    expect(FakeSocket.instances.filter((s) => s.live)).toHaveLength(1);
  });
});

describe('client - publishing and replies', () => {
  it('client - publish while not connected rejects at once with not_connected, and is never sent later', async () => {
    const c = make();
    await expect(c.publish('chat.a', { text: 'offline' })).rejects.toMatchObject({ code: 'not_connected' });
    c.connect();
    await expect(c.publish('chat.a', { text: 'connecting' })).rejects.toMatchObject({ code: 'not_connected' });
    FakeSocket.last.accept();
    FakeSocket.last.serverClose(1006);
    await expect(c.publish('chat.a', { text: 'disconnected' })).rejects.toBeInstanceOf(HeraldError);
    await vi.advanceTimersByTimeAsync(30_000);
    FakeSocket.last.accept();
    await settle();
    expect(FakeSocket.instances.flatMap((s) => s.frames('publish'))).toEqual([]);
  });

  it('client - publish resolves on its ack and rejects with the error code of its error, matched by id whatever the order', async () => {
    const c = make();
    c.connect();
    FakeSocket.last.accept();
    const ok = c.publish('chat.a', { text: 'one' });
    const refused = c.publish('admin.x', 2);
    const [one, two] = FakeSocket.last.frames('publish');
    expect(one).toEqual({ type: 'publish', topic: 'chat.a', data: { text: 'one' }, id: one!.id });
    FakeSocket.last.error(two!, 'forbidden', 'the token does not allow publishing to admin.x');
    FakeSocket.last.ack(one!);
    await expect(ok).resolves.toBeUndefined();
    await expect(refused).rejects.toMatchObject({ name: 'HeraldError', code: 'forbidden', message: 'the token does not allow publishing to admin.x' });
    expect(one!.id).not.toBe(two!.id);
  });

  it('client - a reply that never comes rejects with timeout after timeoutMs; a late reply is ignored', async () => {
    const c = make({ timeoutMs: 2000 });
    c.connect();
    FakeSocket.last.accept();
    const outcome = c.publish('chat.a', 1).then(() => 'resolved', (e: HeraldError) => e.code);
    await vi.advanceTimersByTimeAsync(1999);
    FakeSocket.last.receive({ type: 'message', topic: 'x', data: 1, ts: 1 });
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBe('timeout');
    FakeSocket.last.ackAll('publish');
    expect(c.state).toBe('connected');
  });

  it('client - replies still pending when the connection drops reject with connection_lost', async () => {
    const c = make();
    c.connect();
    FakeSocket.last.accept();
    const pending = c.publish('chat.a', 1);
    FakeSocket.last.serverClose(1006);
    await expect(pending).rejects.toMatchObject({ code: 'connection_lost' });
  });

  it('client - an error frame without id is reported as an error event', () => {
    const c = make();
    const seen = record(c);
    c.connect();
    FakeSocket.last.accept();
    FakeSocket.last.receive({ type: 'error', code: 'rate_limited', message: 'over 100 frames per second; frame ignored' });
    expect(seen.errors).toMatchObject([{ code: 'rate_limited' }]);
    FakeSocket.last.receive('not json');
    FakeSocket.last.receive({ type: 'ack' });
    FakeSocket.last.receive({ type: 'welcome', node: 1 });
    expect(c.state).toBe('connected');
  });
});

describe('client - liveness', () => {
  it('client - pings after pingIntervalMs without frames and reconnects when nothing arrives within pongTimeoutMs', async () => {
    const c = make({ pingIntervalMs: 20_000, pongTimeoutMs: 10_000 });
    const seen = record(c);
    c.connect();
    const socket = FakeSocket.last;
    socket.accept();
    await vi.advanceTimersByTimeAsync(19_999);
    expect(socket.frames('ping')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.frames('ping')).toEqual([{ type: 'ping' }]);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(c.state).toBe('connected');
    await vi.advanceTimersByTimeAsync(1);
    expect(c.state).toBe('disconnected');
    expect(socket.closedByClient).toBeDefined();
    expect(seen.disconnects).toMatchObject([{ code: 1006, reason: 'no_pong', willReconnect: true }]);
  });

  it('client - a pong, or any frame, keeps the connection; a busy connection is never pinged', async () => {
    const c = make({ pingIntervalMs: 20_000, pongTimeoutMs: 10_000 });
    c.connect();
    const socket = FakeSocket.last;
    socket.accept();
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(5000);
      socket.receive({ type: 'message', topic: 'x', data: i, ts: 1 });
    }
    expect(socket.frames('ping')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(socket.frames('ping')).toHaveLength(1);
    // A server that answers every ping within 3 s keeps the connection for good.
    for (let t = 0; t < 120; t++) {
      const pings = socket.frames('ping').length;
      await vi.advanceTimersByTimeAsync(3000);
      if (socket.frames('ping').length > pings || t === 0) socket.receive({ type: 'pong' });
    }
    expect(socket.frames('ping').length).toBeGreaterThanOrEqual(10);
    expect(c.state).toBe('connected');
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it('client - pingIntervalMs 0 turns pinging off', async () => {
    const c = make({ pingIntervalMs: 0 });
    c.connect();
    FakeSocket.last.accept();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(FakeSocket.last.frames('ping')).toHaveLength(0);
    expect(c.state).toBe('connected');
  });
});

describe('client - token refresh', () => {
  it('client - refreshes over an auth frame refreshSkewMs before exp, then again before the new token\'s exp', async () => {
    const tokens = [jwt({ exp: nowS() + 700 }), jwt({ exp: nowS() + 1300 })];
    const getToken = vi.fn(async () => tokens.shift()!);
    const c = make({ token: jwt({ exp: nowS() + 120 }), getToken, refreshSkewMs: 30_000, pingIntervalMs: 0 });
    c.connect();
    const socket = FakeSocket.last;
    socket.accept(nowS() + 120);
    await vi.advanceTimersByTimeAsync(89_000);
    expect(getToken).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1000);
    await settle();
    expect(getToken).toHaveBeenCalledTimes(1);
    const [auth] = socket.frames('auth');
    expect(auth).toMatchObject({ type: 'auth', token: await getToken.mock.results[0]!.value });
    socket.ack(auth!);
    await settle();
    // The second token expires 700 s after the start, 610 s from now: refreshed 30 s ahead.
    await vi.advanceTimersByTimeAsync(579_000);
    expect(getToken).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1500);
    await settle();
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(socket.frames('auth')).toHaveLength(2);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it('client - a refreshed token is the one used for the next connection', async () => {
    const next = jwt({ exp: nowS() + 3600 });
    const c = make({ token: jwt({ exp: nowS() + 60 }), getToken: async () => next, pingIntervalMs: 0 });
    c.connect();
    FakeSocket.last.accept(nowS() + 60);
    await vi.advanceTimersByTimeAsync(31_000);
    await settle();
    FakeSocket.last.ackAll('auth');
    await settle();
    FakeSocket.last.serverClose(1001);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.instances).toHaveLength(2);
    expect(FakeSocket.last.token).toBe(next);
  });

  it('client - a failed refresh is retried with backoff, reported as errors, and left to the 4001 path once the token runs out', async () => {
    let calls = 0;
    const fresh = jwt({ exp: nowS() + 3600 });
    const getToken = vi.fn(async () => {
      calls++;
      if (calls <= 3) throw new Error('auth backend down');
      return fresh;
    });
    const c = make({ token: jwt({ exp: nowS() + 10 }), getToken, pingIntervalMs: 0 });
    const seen = record(c);
    c.connect();
    FakeSocket.last.accept(nowS() + 10);
    await vi.advanceTimersByTimeAsync(9000);
    await settle();
    // Halfway (5 s), then retries after 0.5-1 s, 0.5-2 s, ... while they fit before exp.
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(seen.errors.every((e) => e.code === 'token_unavailable')).toBe(true);
    expect(seen.errors.length).toBe(Math.min(calls, 3));
    const callsBeforeExpiry = calls;
    FakeSocket.last.serverClose(4001, 'token_expired');
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    expect(calls).toBeGreaterThan(callsBeforeExpiry);
    if (calls > 3) expect(FakeSocket.last.token).toBe(fresh);
  });

  it('client - a refresh token the server rejects is retried; the connection stays until then', async () => {
    const getToken = vi.fn(async () => jwt({ exp: nowS() + 3600 }));
    const c = make({ token: jwt({ exp: nowS() + 100 }), getToken, pingIntervalMs: 0 });
    const seen = record(c);
    c.connect();
    FakeSocket.last.accept(nowS() + 100);
    await vi.advanceTimersByTimeAsync(70_000);
    await settle();
    const [first] = FakeSocket.last.frames('auth');
    FakeSocket.last.error(first!, 'token_invalid', 'new token has a different "sub"');
    await settle();
    expect(seen.errors).toMatchObject([{ code: 'token_invalid' }]);
    await vi.advanceTimersByTimeAsync(2000);
    await settle();
    expect(FakeSocket.last.frames('auth')).toHaveLength(2);
    expect(c.state).toBe('connected');
  });

  it('client - a getToken that hands back a token expiring no later than the current one is not sent', async () => {
    const same = jwt({ exp: nowS() + 100 });
    const c = make({ token: same, getToken: async () => same, pingIntervalMs: 0 });
    const seen = record(c);
    c.connect();
    FakeSocket.last.accept(nowS() + 100);
    await vi.advanceTimersByTimeAsync(71_000);
    await settle();
    expect(FakeSocket.last.frames('auth')).toHaveLength(0);
    expect(seen.errors[0]).toMatchObject({ code: 'token_unavailable' });
  });
});
