/**
 * Guard for README's central design claim: a message is serialised once per
 * node and copied to every subscriber by uWebSockets.js's C++ fan-out
 * (app.publish), never by a JavaScript loop over sockets. The Hub's half (one
 * encode, one Fanout.publish) is test/unit/hub.test.ts; this is the node as
 * wired by app.ts, with every uWebSockets.js call from JavaScript counted.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestClient, publishHttp } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';
import { installUwsSpy, type UwsSpy } from '../helpers/uws-spy.js';

const SUBSCRIBERS = 200;
const MESSAGES = 20;
/** Per-socket calls the node's periodic sweeps make (backpressure, expiry): they walk sockets once a second, never per message. */
const SWEEP_METHODS = new Set(['getUserData', 'getBufferedAmount']);

describe('guards - fan-out is uWebSockets.js publish, nothing per socket', () => {
  let spy: UwsSpy;
  let node: TestNode;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    spy = await installUwsSpy();
    node = await startNode({ HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: `gf-${randomBytes(3).toString('hex')}`, HERALD_LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await node?.close();
    spy?.uninstall();
  });

  it(`guards - ${MESSAGES} messages to ${SUBSCRIBERS} subscribers through Redis: ${MESSAGES} app.publish calls carrying the bytes every client got, no per-socket call`, async () => {
    const token = hs256();
    for (let batch = 0; batch < SUBSCRIBERS; batch += 50) {
      const opened = await Promise.all(Array.from({ length: 50 }, () => TestClient.open(node.wsUrl, token, { timeoutMs: 10_000 })));
      await Promise.all(opened.map(async (client) => expect(await client.subscribe('prices.fan')).toMatchObject({ type: 'ack' })));
      clients.push(...opened);
    }
    // The raw text of every message frame each client received, to compare with what uWebSockets.js was given.
    const raw = clients.map((client) => {
      const texts: string[] = [];
      client.socket.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('{"type":"message"')) texts.push(text);
      });
      return texts;
    });

    // The spy sees per-socket calls at all: every subscribe was answered with ws.send (or cork, then send).
    expect(spy.socketCalls.get('send') ?? 0, 'ws.send calls seen for the acks').toBeGreaterThanOrEqual(SUBSCRIBERS);
    spy.reset();
    const batch = Array.from({ length: MESSAGES }, (_, seq) => ({ topic: 'prices.fan', data: { seq } }));
    expect((await publishHttp(node.httpUrl, { messages: batch }, API_KEY)).status).toBe(202);
    await Promise.all(clients.map((client) => client.waitForCount('message', MESSAGES, 10_000)));

    const perSocket = [...spy.socketCalls].filter(([name]) => !SWEEP_METHODS.has(name));
    expect(Object.fromEntries(perSocket), 'WebSocket methods called from JavaScript while fanning out').toEqual({});
    expect(spy.appPublishes.map((p) => p.topic), 'app.publish calls').toEqual(Array(MESSAGES).fill('prices.fan'));
    spy.appPublishes.forEach((p, seq) => expect(JSON.parse(p.message)).toMatchObject({ type: 'message', topic: 'prices.fan', data: { seq } }));
    // One serialisation per message: every client received exactly the bytes handed to app.publish.
    const published = spy.appPublishes.map((p) => p.message);
    for (const texts of raw) expect(texts).toEqual(published);
  });
});
