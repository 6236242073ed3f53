import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const SUBSCRIBERS = 1000;
const MESSAGES = 100;

describe('fanout - one topic, many subscribers', () => {
  let node: TestNode;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    node = await startNode({ HERALD_LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await node.close();
  });

  it(`fanout - ${SUBSCRIBERS} subscribers each receive all ${MESSAGES} messages exactly once, in order; another topic's subscriber none`, async () => {
    const token = hs256();
    for (let batch = 0; batch < SUBSCRIBERS; batch += 100) {
      const opened = await Promise.all(Array.from({ length: 100 }, () => TestClient.open(node.wsUrl, token, { timeoutMs: 10_000 })));
      await Promise.all(opened.map((client) => client.subscribe('prices.btc')));
      clients.push(...opened);
    }
    const bystander = await TestClient.open(node.wsUrl, token);
    await bystander.subscribe('prices.eth');
    clients.push(bystander);

    const before = await scrape(node.metricsUrl);
    expect(before.get('herald_connections')).toBe(SUBSCRIBERS + 1);
    expect(before.get('herald_subscriptions')).toBe(SUBSCRIBERS + 1);
    expect(before.get('herald_topics')).toBe(2);

    // Half single publishes, half in batches, so both HTTP shapes feed the same path.
    for (let seq = 0; seq < MESSAGES / 2; seq++) {
      expect((await publishHttp(node.httpUrl, { topic: 'prices.btc', data: { seq } }, API_KEY)).status).toBe(202);
    }
    const batch = Array.from({ length: MESSAGES / 2 }, (_, i) => ({ topic: 'prices.btc', data: { seq: MESSAGES / 2 + i } }));
    expect((await publishHttp(node.httpUrl, { messages: batch }, API_KEY)).body).toEqual({ accepted: MESSAGES / 2 });

    const expected = Array.from({ length: MESSAGES }, (_, seq) => seq);
    for (const client of clients.slice(0, SUBSCRIBERS)) {
      const messages = await client.waitForCount('message', MESSAGES, 15_000);
      expect(messages.map((m) => (m.data as { seq: number }).seq)).toEqual(expected);
      expect(messages.every((m) => m.topic === 'prices.btc')).toBe(true);
    }
    // Nothing extra arrives later: a ping round-trip on a few clients flushes whatever was in flight.
    for (const client of [clients[0]!, clients[SUBSCRIBERS - 1]!]) {
      await client.request({ type: 'ping' });
      expect(client.frames.filter((f) => f.type === 'message')).toHaveLength(MESSAGES);
    }
    await bystander.request({ type: 'ping' });
    expect(bystander.frames.some((f) => f.type === 'message')).toBe(false);

    const after = await scrape(node.metricsUrl);
    expect(after.get('herald_messages_published_total{source="http"}')! - before.get('herald_messages_published_total{source="http"}')!).toBe(MESSAGES);
    expect(after.get('herald_messages_delivered_total')! - before.get('herald_messages_delivered_total')!).toBe(MESSAGES * SUBSCRIBERS);
    expect(after.get('herald_publish_latency_seconds_count')! - before.get('herald_publish_latency_seconds_count')!).toBe(MESSAGES);
  }, 60_000);
});

describe('fanout - metrics follow connections and messages', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.close());

  it('metrics - gauges and counters change as clients connect, subscribe, receive and leave', async () => {
    const m0 = await scrape(node.metricsUrl);
    expect(m0.get('herald_connections')).toBe(0);
    expect(m0.get('herald_broker_up')).toBe(1);
    expect(m0.has('process_cpu_seconds_total')).toBe(true);

    const a = await TestClient.open(node.wsUrl, hs256({ publish: ['prices.*'] }));
    const b = await TestClient.open(node.wsUrl, hs256());
    await a.subscribe('prices.btc');
    await b.subscribe('prices.btc');
    await b.subscribe('prices.eth');
    const m1 = await scrape(node.metricsUrl);
    expect(m1.get('herald_connections')).toBe(2);
    expect(m1.get('herald_connections_opened_total')).toBe(2);
    expect(m1.get('herald_subscriptions')).toBe(3);
    expect(m1.get('herald_topics')).toBe(2);

    expect(await a.request({ type: 'publish', topic: 'prices.btc', data: 1 })).toMatchObject({ type: 'ack' });
    await b.next((f) => f.type === 'message');
    await publishHttp(node.httpUrl, { topic: 'prices.none', data: 1 }, API_KEY);
    const m2 = await scrape(node.metricsUrl);
    expect(m2.get('herald_messages_published_total{source="client"}')).toBe(1);
    expect(m2.get('herald_messages_published_total{source="http"}')).toBe(1);
    expect(m2.get('herald_messages_published_total{source="broker"}')).toBe(1);
    expect(m2.get('herald_messages_delivered_total')).toBe(2);
    expect(m2.get('herald_publish_latency_seconds_count')).toBe(1);

    a.socket.close(1000);
    await a.closed;
    b.close();
    await b.closed;
    const deadline = Date.now() + 2000;
    let m3 = await scrape(node.metricsUrl);
    while (m3.get('herald_connections') !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      m3 = await scrape(node.metricsUrl);
    }
    expect(m3.get('herald_connections')).toBe(0);
    expect(m3.get('herald_subscriptions')).toBe(0);
    expect(m3.get('herald_topics')).toBe(0);
    expect(m3.get('herald_disconnections_total{code="1000"}')).toBe(1);
    expect(m3.get('herald_disconnections_total{code="1006"}')).toBe(1);
  });
});
