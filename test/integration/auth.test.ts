import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { SECRET, ecKeys, hs256, nowSeconds, rsaKeys, signWith, unsignedToken } from '../helpers/tokens.js';

/** Connects with `token` and returns how the server closed the connection. */
async function rejection(node: TestNode, token: string | undefined): Promise<{ code: number; reason: string }> {
  const client = await TestClient.connect(node.wsUrl, token === undefined ? {} : { token });
  const closed = await client.waitClosed();
  expect(client.frames).toEqual([]);
  return closed;
}

describe('auth - HS256 node', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_JWT_ALGORITHMS: 'HS256', HERALD_JWT_ISSUER: 'https://issuer.test', HERALD_JWT_AUDIENCE: 'herald' });
  });
  afterAll(() => node.close());

  const good = (extra = {}) => hs256({ iss: 'https://issuer.test', aud: 'herald', ...extra });

  it('auth - a valid token in the query string gets a welcome frame with node, sub and exp', async () => {
    const exp = nowSeconds() + 600;
    const client = await TestClient.connect(node.wsUrl, { token: good({ exp }) });
    expect(await client.next()).toEqual({ type: 'welcome', node: 'test-node', sub: 'alice', exp });
    client.close();
  });

  it('auth - a valid token in the Authorization header is accepted', async () => {
    const client = await TestClient.open(node.wsUrl, good(), { tokenInHeader: true });
    expect((await client.subscribe('prices.btc')).type).toBe('ack');
    client.close();
  });

  it('auth - no token closes with 4001 token_missing after the upgrade', async () => {
    expect(await rejection(node, undefined)).toEqual({ code: 4001, reason: 'token_missing' });
  });

  it('auth - a wrong signature closes with 4001 token_invalid', async () => {
    expect(await rejection(node, hs256({ iss: 'https://issuer.test', aud: 'herald' }, 'another-secret-0123456789abcdef0123456789'))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - an algorithm outside the allow-list (HS512) closes with token_invalid', async () => {
    expect(await rejection(node, hs256({ iss: 'https://issuer.test', aud: 'herald' }, SECRET, 'HS512'))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - alg none is rejected', async () => {
    expect(await rejection(node, unsignedToken({ iss: 'https://issuer.test', aud: 'herald' }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - an RS256 token is rejected by an HMAC-only node', async () => {
    expect(await rejection(node, signWith(rsaKeys(), 'RS256', { iss: 'https://issuer.test', aud: 'herald' }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - an expired token closes with 4001 token_expired', async () => {
    expect(await rejection(node, good({ exp: nowSeconds() - 10 }))).toEqual({ code: 4001, reason: 'token_expired' });
  });

  it('auth - a token not yet valid (nbf in the future) closes with token_invalid', async () => {
    expect(await rejection(node, good({ nbf: nowSeconds() + 300 }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - a wrong issuer closes with token_invalid', async () => {
    expect(await rejection(node, good({ iss: 'https://evil.test' }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - a wrong audience closes with token_invalid', async () => {
    expect(await rejection(node, good({ aud: 'someone-else' }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - a token without exp is rejected while exp is required', async () => {
    expect(await rejection(node, good({ exp: undefined }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - a token without sub is rejected', async () => {
    expect(await rejection(node, good({ sub: undefined }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - a token whose topics claim holds an invalid pattern is rejected', async () => {
    expect(await rejection(node, good({ topics: ['prices.>.x'] }))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - a garbage token is rejected', async () => {
    expect(await rejection(node, 'not-a-jwt')).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - failures are counted by reason and logged with the reason but never the token', async () => {
    const before = await scrape(node.metricsUrl);
    const expired = good({ exp: nowSeconds() - 5 });
    await rejection(node, expired);
    await rejection(node, undefined);
    const after = await scrape(node.metricsUrl);
    expect(after.get('herald_auth_failures_total{reason="token_expired"}')).toBe((before.get('herald_auth_failures_total{reason="token_expired"}') ?? 0) + 1);
    expect(after.get('herald_auth_failures_total{reason="token_missing"}')).toBe((before.get('herald_auth_failures_total{reason="token_missing"}') ?? 0) + 1);
    const failures = node.logs.filter((line) => line.msg === 'connection rejected: authentication failed');
    expect(failures.map((line) => line.reason)).toEqual(expect.arrayContaining(['token_expired', 'token_missing']));
    expect(failures.every((line) => line.level === 'info')).toBe(true);
    expect(node.logText()).not.toContain(expired);
    expect(node.logText()).not.toContain(expired.split('.')[2]);
  });
});

describe('auth - exp optional', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_JWT_REQUIRE_EXP: 'false' });
  });
  afterAll(() => node.close());

  it('auth - a token without exp is accepted when HERALD_JWT_REQUIRE_EXP=false, and welcome says exp null', async () => {
    const client = await TestClient.connect(node.wsUrl, { token: hs256({ exp: undefined }) });
    expect(await client.next()).toEqual({ type: 'welcome', node: 'test-node', sub: 'alice', exp: null });
    client.close();
  });
});

describe('auth - RS256 and ES256 public keys', () => {
  const rsa = rsaKeys();
  const ec = ecKeys();
  let rsaNode: TestNode;
  let ecNode: TestNode;
  beforeAll(async () => {
    rsaNode = await startNode({ HERALD_JWT_SECRET: '', HERALD_JWT_PUBLIC_KEY: rsa.publicKeyPem });
    ecNode = await startNode({ HERALD_JWT_SECRET: '', HERALD_JWT_PUBLIC_KEY: ec.publicKeyPem });
  });
  afterAll(async () => {
    await rsaNode.close();
    await ecNode.close();
  });

  it('auth - an RS256 token signed by the configured key is accepted', async () => {
    const client = await TestClient.open(rsaNode.wsUrl, signWith(rsa, 'RS256'));
    expect((await client.subscribe('prices.eth')).type).toBe('ack');
    client.close();
  });

  it('auth - an RS256 token signed by another key is rejected', async () => {
    expect(await rejection(rsaNode, signWith(rsaKeys(), 'RS256'))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - an HS256 token made with the public key as its secret is rejected (key confusion)', async () => {
    expect(await rejection(rsaNode, hs256({}, rsa.publicKeyPem))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - an ES256 token signed by the configured key is accepted', async () => {
    const client = await TestClient.open(ecNode.wsUrl, signWith(ec, 'ES256'));
    expect((await client.subscribe('prices.eth')).type).toBe('ack');
    client.close();
  });

  it('auth - an ES256 token signed by another key is rejected', async () => {
    expect(await rejection(ecNode, signWith(ecKeys(), 'ES256'))).toEqual({ code: 4001, reason: 'token_invalid' });
  });
});

describe('auth - JWKS', () => {
  const rsa = rsaKeys();
  const ec = ecKeys();
  let jwks: Server;
  let node: TestNode;
  let requests = 0;
  beforeAll(async () => {
    const jwk = (pem: string, kid: string, alg: string) => ({ ...createPublicKey(pem).export({ format: 'jwk' }), kid, alg, use: 'sig' });
    jwks = createServer((_req, res) => {
      requests++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk(rsa.publicKeyPem, 'rsa-1', 'RS256'), jwk(ec.publicKeyPem, 'ec-1', 'ES256')] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    node = await startNode({ HERALD_JWT_SECRET: '', HERALD_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`, HERALD_JWKS_REFETCH_INTERVAL: '1' });
  });
  afterAll(async () => {
    await node.close();
    await new Promise((resolve) => jwks.close(resolve));
  });

  it('auth - tokens signed by JWKS keys (RS256 and ES256, chosen by kid) are accepted, the key set fetched once', async () => {
    const a = await TestClient.open(node.wsUrl, signWith(rsa, 'RS256', {}, 'rsa-1'));
    const b = await TestClient.open(node.wsUrl, signWith(ec, 'ES256', {}, 'ec-1'));
    const c = await TestClient.open(node.wsUrl, signWith(rsa, 'RS256', { sub: 'bob' }, 'rsa-1'));
    expect((await c.subscribe('prices.sol')).type).toBe('ack');
    // The first token's unknown kid fetched the whole set; the other two found their keys in it.
    expect(requests).toBe(1);
    for (const client of [a, b, c]) client.close();
  });

  it('auth - an unknown kid is rejected with token_invalid', async () => {
    expect(await rejection(node, signWith(rsaKeys(), 'RS256', {}, 'rsa-unknown'))).toEqual({ code: 4001, reason: 'token_invalid' });
  });

  it('auth - a known kid with a forged signature is rejected', async () => {
    expect(await rejection(node, signWith(rsaKeys(), 'RS256', {}, 'rsa-1'))).toEqual({ code: 4001, reason: 'token_invalid' });
  });
});
