import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, publishHttp } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

describe('http - publish API', () => {
  let node: TestNode;
  let subscriber: TestClient;
  beforeAll(async () => {
    node = await startNode({ HERALD_MAX_MESSAGE_SIZE: '2048' });
    subscriber = await TestClient.open(node.wsUrl, hs256());
    await subscriber.subscribe('prices.btc');
  });
  afterAll(async () => {
    subscriber.close();
    await node.close();
  });

  it('http - a single message is accepted with 202 and delivered', async () => {
    expect(await publishHttp(node.httpUrl, { topic: 'prices.btc', data: { p: 1 } }, API_KEY)).toEqual({ status: 202, body: { accepted: 1 } });
    expect(await subscriber.next((f) => f.type === 'message')).toMatchObject({ topic: 'prices.btc', data: { p: 1 } });
  });

  it('http - a batch is accepted as a whole and delivered in order', async () => {
    const messages = [1, 2, 3].map((p) => ({ topic: 'prices.btc', data: { p } }));
    expect(await publishHttp(node.httpUrl, { messages }, API_KEY)).toEqual({ status: 202, body: { accepted: 3 } });
    for (const p of [1, 2, 3]) expect(await subscriber.next((f) => f.type === 'message')).toMatchObject({ data: { p } });
  });

  it('http - without a valid API key the answer is 401', async () => {
    expect((await publishHttp(node.httpUrl, { topic: 'prices.btc', data: 1 }, undefined)).status).toBe(401);
    const wrong = await publishHttp(node.httpUrl, { topic: 'prices.btc', data: 1 }, 'wrong-key-0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('http - malformed bodies get 400 bad_request naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      ['not json', /not valid JSON/],
      [[1, 2], /JSON object/],
      [{ topic: 'prices.btc' }, /body\.data is missing/],
      [{ data: 1 }, /body\.topic/],
      [{ messages: [] }, /non-empty array/],
      [{ messages: [{ topic: 'prices.btc', data: 1 }, { topic: 'prices.eth' }] }, /messages\[1\]\.data is missing/],
      [{ messages: Array.from({ length: 1001 }, () => ({ topic: 'a', data: 1 })) }, /at most 1000/],
    ];
    for (const [body, message] of cases) {
      const res = await publishHttp(node.httpUrl, body, API_KEY);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'bad_request' } });
      expect((res.body.error as { message: string }).message).toMatch(message);
    }
  });

  it('http - an invalid topic gets 400 invalid_topic naming the message index', async () => {
    const res = await publishHttp(node.httpUrl, { messages: [{ topic: 'ok', data: 1 }, { topic: 'not ok', data: 1 }] }, API_KEY);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_topic' } });
    expect((res.body.error as { message: string }).message).toContain('messages[1]');
  });

  it('http - a message over HERALD_MAX_MESSAGE_SIZE gets 413 payload_too_large; nothing of the batch is published', async () => {
    const before = subscriber.frames.length;
    const res = await publishHttp(node.httpUrl, { messages: [{ topic: 'prices.btc', data: 'small' }, { topic: 'prices.btc', data: 'x'.repeat(3000) }] }, API_KEY);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'payload_too_large' } });
    expect((res.body.error as { message: string }).message).toContain('messages[1]');
    await subscriber.request({ type: 'ping' });
    expect(subscriber.frames.slice(before).some((f) => f.type === 'message')).toBe(false);
  });

  it('http - a body over 1 MiB gets 413', async () => {
    const res = await publishHttp(node.httpUrl, { topic: 'prices.btc', data: 'x'.repeat(1024 * 1024 + 10) }, API_KEY);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('http - a chunked body over 1 MiB (no content-length) gets 413', async () => {
    const big = new TextEncoder().encode(JSON.stringify({ topic: 'prices.btc', data: 'x'.repeat(1024 * 1024 + 10) }));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < big.length; i += 65536) controller.enqueue(big.subarray(i, i + 65536));
        controller.close();
      },
    });
    const res = await fetch(`${node.httpUrl}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('http - healthz and readyz answer 200 on a running node', async () => {
    const health = await fetch(`${node.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${node.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('http - unknown routes get 404 and GET /v1/publish 405, with error codes', async () => {
    const missing = await fetch(`${node.httpUrl}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    const get = await fetch(`${node.httpUrl}/v1/publish`);
    expect(get.status).toBe(405);
    expect(await get.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
  });

  it('http - the metrics port serves /metrics only; the client port does not serve it', async () => {
    const metrics = await fetch(node.metricsUrl);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('herald_connections ');
    expect((await fetch(node.metricsUrl.replace('/metrics', '/healthz'))).status).toBe(404);
    expect((await fetch(`${node.httpUrl}/metrics`)).status).toBe(404);
  });
});

describe('http - publish disabled without API keys', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_API_KEYS: '' });
  });
  afterAll(() => node.close());

  it('http - a production node without HERALD_API_KEYS refuses every publish with 401', async () => {
    const res = await publishHttp(node.httpUrl, { topic: 'prices.btc', data: 1 }, API_KEY);
    expect(res.status).toBe(401);
    expect((res.body.error as { message: string }).message).toContain('HERALD_API_KEYS');
  });
});
