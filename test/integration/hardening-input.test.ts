/**
 * Issue 8's findings about outside input, each reproduced against a real node:
 * the node stays up, the connection that sent the input gets a documented
 * code, and other connections never notice.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestClient, eventually, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, SECRET, claims, hs256 } from '../helpers/tokens.js';

const nested = (depth: number, leaf = '1'): string => '['.repeat(depth) + leaf + ']'.repeat(depth);
const nestedValue = (depth: number): unknown => JSON.parse(nested(depth));

/** A token whose payload is given as raw JSON text, signed with the test secret (for values JSON.stringify cannot write, like 1e400). */
async function rawToken(payloadJson: string): Promise<string> {
  const { createHmac } = await import('node:crypto');
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const payload = Buffer.from(payloadJson).toString('base64url');
  const signature = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

describe('hardening - deeply nested JSON never takes a node down', () => {
  const prefix = `hd-${randomBytes(3).toString('hex')}`;
  let node: TestNode;
  let redis: Redis;
  let watcher: TestClient;
  const token = hs256({ topics: ['deep.*'], publish: ['deep.*'] });
  beforeAll(async () => {
    node = await startNode({ HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: prefix });
    redis = new Redis(inject('redisUrl'));
    // A bystander on the same node: it must keep receiving through every attack below.
    watcher = await TestClient.open(node.wsUrl, token);
    expect((await watcher.subscribe('deep.watch')).type).toBe('ack');
  });
  afterAll(async () => {
    watcher?.close();
    redis?.disconnect();
    await node?.close();
  });

  /** The node still serves: the bystander receives a fresh message. */
  async function stillServing(mark: string): Promise<void> {
    expect((await publishHttp(node.httpUrl, { topic: 'deep.watch', data: mark }, API_KEY)).status).toBe(202);
    await watcher.next((f) => f.type === 'message' && f.data === mark);
  }

  it('hardening - a 10 KB frame nested 5,000 deep, from a token that grants nothing, is bad_request and the connection stays open', async () => {
    const nobody = await TestClient.open(node.wsUrl, hs256({ topics: undefined }));
    const frame = `{"type":${nested(5000)},"id":1}`;
    expect(frame.length).toBeLessThan(11_000);
    nobody.send(frame);
    expect(await nobody.next((f) => f.type === 'error')).toMatchObject({ code: 'bad_request' });
    expect(await nobody.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    nobody.close();
    await stillServing('after-frame');
  });

  it('hardening - a client publish whose data nests 5,000 deep is bad_request; 64 levels are accepted, 65 are not', async () => {
    const client = await TestClient.open(node.wsUrl, token);
    // Too deep to be parsed at all, so its id cannot be read: the error carries none.
    client.send(`{"type":"publish","topic":"deep.watch","id":"deep","data":${nested(5000)}}`);
    expect(await client.next((f) => f.type === 'error')).toMatchObject({ code: 'bad_request' });
    expect(await client.request({ type: 'publish', topic: 'deep.watch', data: nestedValue(65) })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await client.request({ type: 'publish', topic: 'deep.watch', data: nestedValue(64) })).toMatchObject({ type: 'ack' });
    const delivered = await watcher.next((f) => f.type === 'message' && Array.isArray(f.data));
    expect(JSON.stringify(delivered.data)).toBe(nested(64));
    client.close();
    await stillServing('after-publish');
  });

  it('hardening - POST /v1/publish with data nested 5,000 deep is 400 bad_request, in a single body and in a batch; 64 levels are accepted', async () => {
    for (const body of [`{"topic":"deep.watch","data":${nested(5000)}}`, `{"messages":[{"topic":"deep.watch","data":${nested(5000)}}]}`]) {
      const res = await publishHttp(node.httpUrl, body, API_KEY);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'bad_request' } });
    }
    expect((await publishHttp(node.httpUrl, `{"topic":"deep.watch","data":${nested(65)}}`, API_KEY)).status).toBe(400);
    expect((await publishHttp(node.httpUrl, `{"messages":[{"topic":"deep.watch","data":${nested(65)}}]}`, API_KEY)).status).toBe(400);
    expect((await publishHttp(node.httpUrl, `{"topic":"deep.watch","data":${nested(64)}}`, API_KEY)).status).toBe(202);
    expect((await publishHttp(node.httpUrl, `{"messages":[{"topic":"deep.watch","data":${nested(64)}}]}`, API_KEY)).status).toBe(202);
    await stillServing('after-http');
  });

  it('hardening - a 5,000-deep message PUBLISHed straight into Redis is dropped and counted; the node keeps delivering', async () => {
    const before = (await scrape(node.metricsUrl)).get('herald_messages_dropped_total{reason="invalid"}') ?? 0;
    await redis.publish(`${prefix}:deep.watch`, `{"data":${nested(5000)}}`);
    await redis.publish(`${prefix}:deep.watch`, `{"data":${nested(65)}}`);
    await eventually(() => scrape(node.metricsUrl), (m) => (m.get('herald_messages_dropped_total{reason="invalid"}') ?? 0) === before + 2, 'both counted as invalid');
    await redis.publish(`${prefix}:deep.watch`, `{"data":${nested(64)}}`);
    await watcher.next((f) => f.type === 'message' && JSON.stringify(f.data) === nested(64));
    await stillServing('after-redis');
  });

  it('hardening - binary frames and a 60,000-deep frame are bad_request; invalid UTF-8 in a text frame closes with 1007; the node serves on', async () => {
    const client = await TestClient.open(node.wsUrl, token);
    client.socket.send(Buffer.from('{"type":"ping"}'), { binary: true });
    client.send('['.repeat(60_000));
    const errors = await client.waitForCount('error', 2);
    expect(errors.map((f) => f.code)).toEqual(['bad_request', 'bad_request']);
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    // RFC 6455 8.1: a text frame that is not UTF-8 fails the connection; the WebSocket layer does it.
    client.socket.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    // uWebSockets.js cuts such a connection without a close frame: the client sees 1006.
    expect((await client.waitClosed()).code).toBe(1006);
    await stillServing('after-bytes');
  });
});

describe('hardening - frames', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.close());

  it('hardening - a frame a little too deep (up to 128 levels) is refused with its own id; deeper ones without', async () => {
    const client = await TestClient.open(node.wsUrl, hs256({ publish: ['deep.*'] }));
    client.send(`{"type":"publish","topic":"deep.x","id":7,"data":${nested(127)}}`);
    expect(await client.next()).toMatchObject({ type: 'error', id: 7, code: 'bad_request' });
    client.send(`{"type":"publish","topic":"deep.x","id":8,"data":${nested(128)}}`);
    const unread = await client.next();
    expect(unread).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(unread).not.toHaveProperty('id');
    client.close();
  });
});

describe('hardening - token claims and headers', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.close());

  it('hardening - exp 1e400 (Infinity once parsed) and other absurd times are token_invalid; the welcome frame is always JSON', async () => {
    const base = JSON.stringify(claims({ exp: undefined })).slice(0, -1);
    for (const bad of ['"exp":1e400', '"exp":-1', '"exp":1e20', '"exp":"9999999999"', '"nbf":1e400', '"iat":1e400', '"iat":"yesterday"']) {
      const client = await TestClient.connect(node.wsUrl, { token: await rawToken(`${base},${bad}}`) });
      expect(await client.waitClosed(), bad).toEqual({ code: 4001, reason: 'token_invalid' });
      expect(client.frames, bad).toEqual([]);
    }
    // The largest allowed time is accepted and echoed as valid JSON.
    const far = await TestClient.open(node.wsUrl, await rawToken(`${base},"exp":253402300799}`));
    expect(far.frames[0]).toMatchObject({ type: 'welcome', exp: 253402300799 });
    far.close();
  });

  it('hardening - an auth frame carrying exp 1e400 is refused with token_invalid and the old token stays in force', async () => {
    const client = await TestClient.open(node.wsUrl, hs256());
    const base = JSON.stringify(claims({ exp: undefined })).slice(0, -1);
    expect(await client.request({ type: 'auth', token: await rawToken(`${base},"exp":1e400}`) })).toMatchObject({ type: 'error', code: 'token_invalid' });
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    client.close();
  });

  it('hardening - Authorization: Basic (for a proxy) with a valid ?token= connects with the query token', async () => {
    const client = await TestClient.connect(`${node.wsUrl}?token=${hs256()}`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(await client.next()).toMatchObject({ type: 'welcome', sub: 'alice' });
    client.close();
  });

  it('hardening - a malformed Bearer header is token_invalid, not token_missing, even with a ?token=', async () => {
    for (const header of ['Bearer', 'Bearer ', `Bearer ${hs256()} extra`]) {
      const client = await TestClient.connect(`${node.wsUrl}?token=${hs256()}`, { headers: { authorization: header } });
      expect(await client.waitClosed(), header).toEqual({ code: 4001, reason: 'token_invalid' });
    }
  });

  it('hardening - a frame id of 128 characters counts code points (emoji are one character each); 129 is bad_request', async () => {
    const client = await TestClient.open(node.wsUrl, hs256());
    const emoji = '😀'.repeat(128);
    expect(emoji.length).toBe(256);
    client.send({ type: 'ping', id: emoji });
    expect(await client.next()).toEqual({ type: 'pong', id: emoji });
    client.send({ type: 'ping', id: `${emoji}x` });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'bad_request' });
    client.send({ type: 'ping', id: 'x'.repeat(129) });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'bad_request' });
    client.close();
  });
});

describe('hardening - HTTP bodies Herald does not want', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.close());

  /** Sends a raw request and resolves with everything the node answered before closing. */
  function raw(request: Buffer | string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(node.port, '127.0.0.1', () => socket.write(request));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
      setTimeout(() => socket.destroy(), 8000);
    });
  }

  it('hardening - a 4 MiB body gets its 413 (read and dropped first), not a reset connection', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${node.httpUrl}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'a.b', data: 'x'.repeat(4_000_000) }) }).then(
          (res) => res.status,
          (error: Error) => error.message,
        ),
      ),
    );
    expect(results).toEqual([413, 413, 413, 413, 413]);
  });

  it('hardening - a body sent to an unknown route or without a key still gets its answer', async () => {
    const big = 'x'.repeat(2_000_000);
    expect((await fetch(`${node.httpUrl}/nowhere`, { method: 'POST', body: big })).status).toBe(404);
    expect((await fetch(`${node.httpUrl}/v1/publish`, { method: 'POST', body: big })).status).toBe(401);
    expect((await fetch(`${node.httpUrl}/v1/publish`, { method: 'PUT', body: big })).status).toBe(405);
  });

  it('hardening - two Content-Length headers are refused (a request-smuggling risk)', async () => {
    const body = '{"topic":"a.b","data":1}';
    const answer = await raw(`POST /v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n${body}`);
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
  });
});

describe('hardening - HTTP pipelining through Redis', () => {
  const prefix = `hp-${randomBytes(3).toString('hex')}`;
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_REDIS_URL: inject('redisUrl'), HERALD_REDIS_PREFIX: prefix });
  });
  afterAll(() => node.close());

  it('hardening - requests pipelined in one write: every message published got a 2xx, none was published without one', async () => {
    const watcher = await TestClient.open(node.wsUrl, hs256({ topics: ['pipe.*'] }));
    expect((await watcher.subscribe('pipe.x')).type).toBe('ack');
    const body = (i: number): string => JSON.stringify({ topic: 'pipe.x', data: i });
    const requests = [0, 1, 2, 3, 4]
      .map((i) => `POST /v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body(i))}\r\n\r\n${body(i)}`)
      .join('');
    const answered = await new Promise<string>((resolve, reject) => {
      const socket = connect(node.port, '127.0.0.1', () => socket.write(requests));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
        resolve(text);
      }, 3000);
    });
    const accepted = (answered.match(/HTTP\/1\.1 202/g) ?? []).length;
    // Give any message that did go out time to arrive, then compare.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const delivered = watcher.frames.filter((f) => f.type === 'message').length;
    expect(delivered).toBe(accepted);
    watcher.close();
  });
});
