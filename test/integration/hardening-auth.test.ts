/**
 * Issue 8's findings about authentication, against a real node and a real
 * JWKS endpoint (an HTTP server in the test whose key set can change and whose
 * answers can be slowed down).
 */
import { createPublicKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { nowSeconds, rsaKeys, signWith, type KeyPair } from '../helpers/tokens.js';

interface JwksServer {
  readonly url: string;
  /** Keys served, by kid. */
  readonly keys: Map<string, { pair: KeyPair; alg?: string }>;
  requests: number;
  delayMs: number;
  close(): Promise<void>;
}

async function startJwks(): Promise<JwksServer> {
  const state = { keys: new Map<string, { pair: KeyPair; alg?: string }>(), requests: 0, delayMs: 0 };
  const server: Server = createServer((_req, res) => {
    state.requests++;
    const body = JSON.stringify({
      keys: [...state.keys].map(([kid, { pair, alg }]) => ({ ...createPublicKey(pair.publicKeyPem).export({ format: 'jwk' }), kid, use: 'sig', ...(alg === undefined ? {} : { alg }) })),
    });
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(body);
    }, state.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as JwksServer;
}

describe('hardening - JWKS', () => {
  const first = rsaKeys();
  let jwks: JwksServer;
  let node: TestNode;
  beforeAll(async () => {
    jwks = await startJwks();
    jwks.keys.set('k1', { pair: first, alg: 'RS256' });
    node = await startNode({ HERALD_JWT_SECRET: '', HERALD_JWKS_URL: jwks.url, HERALD_JWKS_REFETCH_INTERVAL: '1' });
  });
  afterAll(async () => {
    await node?.close();
    await jwks?.close();
  });
  beforeEach(() => {
    jwks.delayMs = 0;
  });

  it('hardening - strangers with random kids cannot lock out a key rotated in meanwhile: it is accepted within the refetch interval', async () => {
    // Prime the cache with the current key.
    (await TestClient.open(node.wsUrl, signWith(first, 'RS256', {}, 'k1'))).close();
    const stranger = rsaKeys();
    const before = jwks.requests;
    const started = Date.now();
    const attempts = Array.from({ length: 40 }, (_, i) => TestClient.connect(node.wsUrl, { token: signWith(stranger, 'RS256', {}, `random-${i}`) }).then((c) => c.waitClosed(8000)));
    // The rotation happens while the strangers wait.
    const rotated = rsaKeys();
    jwks.keys.set('k2', { pair: rotated, alg: 'RS256' });
    const legit = await TestClient.open(node.wsUrl, signWith(rotated, 'RS256', {}, 'k2'), { timeoutMs: 5000 });
    expect(legit.frames[0]).toMatchObject({ type: 'welcome', sub: 'alice' });
    legit.close();
    for (const closed of await Promise.all(attempts)) expect(closed).toEqual({ code: 4001, reason: 'token_invalid' });
    // At most one fetch per interval (1 s) however many unknown kids arrived.
    const elapsedSeconds = (Date.now() - started) / 1000;
    expect(jwks.requests - before).toBeLessThanOrEqual(Math.ceil(elapsedSeconds) + 1);
    expect(jwks.requests - before).toBeGreaterThanOrEqual(1);
  });

  it('hardening - a JWK that states alg RS256 does not verify a PS256 token signed with the same key', async () => {
    const ps = await TestClient.connect(node.wsUrl, { token: signWith(first, 'PS256', {}, 'k1') });
    expect(await ps.waitClosed()).toEqual({ code: 4001, reason: 'token_invalid' });
    const rs = await TestClient.open(node.wsUrl, signWith(first, 'RS256', {}, 'k1'));
    rs.close();
  });

  it('hardening - two auth frames racing (the first waits for a slow JWKS fetch): the later token is the one in force', async () => {
    const client = await TestClient.open(node.wsUrl, signWith(first, 'RS256', {}, 'k1'));
    // Token B needs a key the node has not seen: its verification waits for a slow fetch. It expires soon.
    const slowKey = rsaKeys();
    jwks.keys.set('slow', { pair: slowKey, alg: 'RS256' });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the refetch interval, so B's fetch starts at once
    jwks.delayMs = 600;
    const soon = nowSeconds() + 2;
    client.send({ type: 'auth', id: 'B', token: signWith(slowKey, 'RS256', { exp: soon }, 'slow') });
    // Token C is verified at once from the cache and lives for an hour.
    client.send({ type: 'auth', id: 'C', token: signWith(first, 'RS256', { exp: nowSeconds() + 3600 }, 'k1') });
    const acks = [await client.next((f) => f.id === 'B' || f.id === 'C', 5000), await client.next((f) => f.id === 'B' || f.id === 'C', 5000)];
    // Replies in frame order, both accepted.
    expect(acks.map((f) => [f.id, f.type])).toEqual([['B', 'ack'], ['C', 'ack']]);
    // Past B's expiry the connection is still open: C, the last acknowledged token, is in force.
    await new Promise((resolve) => setTimeout(resolve, (soon - Date.now() / 1000) * 1000 + 1500));
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    client.close();
  });
});
