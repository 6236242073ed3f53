/** Tokens against a real Herald process: refresh over `auth` past the first token's exp, getToken after a 4001, closed without one. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeraldClient, type ConnectedEvent, type DisconnectedEvent, type HeraldError, type Message } from '../../src/index.js';
import { PRODUCTION, hs256, nowS, publish, spawnHerald, trackedWebSocket, until, wsUrl, type HeraldProcess } from '../helpers/herald.js';

let node: HeraldProcess | undefined;
let client: HeraldClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  node?.kill();
  await node?.exited;
  node = undefined;
});

function watch(c: HeraldClient): { connected: ConnectedEvent[]; disconnected: DisconnectedEvent[]; errors: HeraldError[] } {
  const seen = { connected: [] as ConnectedEvent[], disconnected: [] as DisconnectedEvent[], errors: [] as HeraldError[] };
  c.on('connected', (e) => seen.connected.push(e));
  c.on('disconnected', (e) => seen.disconnected.push(e));
  c.on('error', (e) => seen.errors.push(e));
  return seen;
}

describe('sdk tokens - against a real node', () => {
  it('sdk tokens - proactive refresh carries one connection well past the first token\'s exp', async () => {
    node = await spawnHerald(PRODUCTION);
    const firstExp = nowS() + 3;
    const getToken = vi.fn(async () => hs256({ exp: nowS() + 4 }));
    const tracked = trackedWebSocket();
    client = new HeraldClient({ url: wsUrl(node), token: hs256({ exp: firstExp }), getToken, WebSocket: tracked.WebSocket });
    const seen = watch(client);
    const messages: Message[] = [];
    client.subscribe('prices.btc', (m) => messages.push(m));
    client.connect();
    await until(() => client!.getSubscription('prices.btc')!.state === 'subscribed', 'the subscription');
    expect(seen.connected[0]!.exp).toBe(firstExp);
    // Herald closes with 4001 within a second of exp unless a fresh token arrived: wait well past the first one's.
    await until(() => Date.now() > (firstExp + 3) * 1000, 'three seconds past the first exp', 10_000);
    expect(await publish(node, 'prices.btc', { price: 1 })).toBe(202);
    await until(() => messages.length === 1, 'the message on the refreshed connection');
    expect(getToken.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(seen.disconnected).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect(seen.connected).toHaveLength(1);
    expect(tracked.sockets).toHaveLength(1);
  });

  it('sdk tokens - a token the server refuses (4001 token_invalid) makes the client call getToken and reconnect with the new one', async () => {
    node = await spawnHerald(PRODUCTION);
    const getToken = vi.fn(async () => hs256({ exp: nowS() + 3600 }));
    const tracked = trackedWebSocket();
    client = new HeraldClient({ url: wsUrl(node), token: hs256({ exp: nowS() + 3600 }, 'some-other-secret-that-is-long-enough-0123'), getToken, WebSocket: tracked.WebSocket });
    const seen = watch(client);
    client.connect();
    await until(() => seen.connected.length === 1, 'the connection with the new token');
    expect(seen.disconnected).toMatchObject([{ code: 4001, reason: 'token_invalid', willReconnect: true, delayMs: 0 }]);
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(seen.connected[0]!.sub).toBe('alice');
    expect(tracked.sockets).toHaveLength(2);
    expect(tracked.overlaps).toEqual([]);
  });

  it('sdk tokens - a refresh that keeps failing leaves the connection until the server closes it with 4001 token_expired; getToken then reconnects it', async () => {
    node = await spawnHerald(PRODUCTION);
    const exp = nowS() + 3;
    // The auth backend is down until the token has expired, then answers again.
    const getToken = vi.fn(async () => {
      if (Date.now() < exp * 1000) throw new Error('auth backend down');
      return hs256({ exp: nowS() + 3600 });
    });
    const tracked = trackedWebSocket();
    client = new HeraldClient({ url: wsUrl(node), token: hs256({ exp }), getToken, WebSocket: tracked.WebSocket });
    const seen = watch(client);
    client.connect();
    await until(() => seen.connected.length === 2, 'the reconnect after the expiry', 10_000);
    expect(seen.disconnected).toMatchObject([{ code: 4001, reason: 'token_expired', willReconnect: true }]);
    expect(seen.errors.length).toBeGreaterThanOrEqual(1);
    expect(seen.errors.every((e) => e.code === 'token_unavailable')).toBe(true);
    expect(tracked.sockets).toHaveLength(2);
    expect(tracked.overlaps).toEqual([]);
  });

  it('sdk tokens - without getToken a refused token ends in state closed, with the reason, and no retry', async () => {
    node = await spawnHerald(PRODUCTION);
    const tracked = trackedWebSocket();
    client = new HeraldClient({ url: wsUrl(node), token: 'not-a-jwt', WebSocket: tracked.WebSocket });
    const seen = watch(client);
    client.connect();
    await until(() => client!.state === 'closed', 'state closed');
    expect(seen.disconnected).toEqual([{ code: 4001, reason: 'token_invalid', willReconnect: false }]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(tracked.sockets).toHaveLength(1);
  });
});
