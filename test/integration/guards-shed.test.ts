/**
 * Guard: a slow consumer that is shed (4008) is unsubscribed from everything
 * at the moment it is shed, not when its connection finally closes: the
 * subscription and topic gauges drop at once, uWebSockets.js has no more
 * subscribers to hand it frames through, and a topic only it held is released.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, eventually, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const SHED = 'herald_messages_dropped_total{reason="slow_consumer"}';
const DELIVERED = 'herald_messages_delivered_total';
const NO_SUBSCRIBERS = 'herald_messages_dropped_total{reason="no_subscribers"}';

describe('guards - a shed slow consumer is unsubscribed at once', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ HERALD_MAX_BACKPRESSURE: '65536', HERALD_MAX_MESSAGE_SIZE: '1048576' });
  });
  afterAll(() => node.close());

  it('guards - on shedding: herald_subscriptions and herald_topics drop, later messages are handed only to the others, and the shed client gets none of them', async () => {
    const slow = await TestClient.open(node.wsUrl, hs256());
    const fast = await TestClient.open(node.wsUrl, hs256({ sub: 'bob' }));
    await slow.subscribe('prices.firehose');
    await slow.subscribe('prices.slow-only');
    await fast.subscribe('prices.firehose');
    const before = await scrape(node.metricsUrl);
    expect(before.get('herald_subscriptions')).toBe(3);
    expect(before.get('herald_topics')).toBe(2);

    const rawSocket = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    rawSocket.pause();
    const chunk = 'x'.repeat(60_000);
    // Fill the kernel's socket buffers, then Herald's 64 KiB allowance, until the once-a-second sweep sheds it.
    let published = 0;
    while (published < 600) {
      expect((await publishHttp(node.httpUrl, { messages: Array.from({ length: 10 }, () => ({ topic: 'prices.firehose', data: chunk })) }, API_KEY)).status).toBe(202);
      published += 10;
      if ((await scrape(node.metricsUrl)).get(SHED) === 1) break;
    }
    await eventually(() => scrape(node.metricsUrl), (m) => m.get(SHED) === 1, 'the slow consumer is shed', 5000);
    await fast.waitForCount('message', published, 10_000);
    // Still open: it is shedding, not closed, and it has not read anything since the pause.
    expect(slow.socket.readyState).toBe(slow.socket.OPEN);

    const shed = await scrape(node.metricsUrl);
    expect(shed.get('herald_subscriptions'), 'herald_subscriptions once shed').toBe(1);
    expect(shed.get('herald_topics'), 'herald_topics once shed').toBe(1);

    // Messages from now on: the firehose is handed to one socket (fast), the slow client's own topic to nobody.
    const after = Array.from({ length: 5 }, (_, i) => `after-shed-${i}`);
    expect((await publishHttp(node.httpUrl, { messages: after.map((data) => ({ topic: 'prices.firehose', data })) }, API_KEY)).status).toBe(202);
    expect((await publishHttp(node.httpUrl, { messages: after.map((data) => ({ topic: 'prices.slow-only', data })) }, API_KEY)).status).toBe(202);
    const fastGot = await fast.waitForCount('message', published + 5, 5000);
    expect(fastGot.slice(-5).map((f) => f.data)).toEqual(after);
    const handed = await scrape(node.metricsUrl);
    expect(handed.get(DELIVERED)! - shed.get(DELIVERED)!, 'frames handed to sockets for 5 + 5 messages after the shed').toBe(5);
    expect(handed.get(NO_SUBSCRIBERS)! - shed.get(NO_SUBSCRIBERS)!, 'messages of the shed client\'s own topic with nobody to hand them to').toBe(5);

    rawSocket.resume();
    expect(await slow.waitClosed(10_000)).toEqual({ code: 4008, reason: 'slow_consumer' });
    const slowData = slow.frames.filter((f) => f.type === 'message').map((f) => f.data);
    expect(slowData.filter((data) => typeof data === 'string' && data.startsWith('after-shed')), 'messages the shed client got after it was shed').toEqual([]);
    expect(slowData.length).toBeGreaterThan(0);
    const closed = await scrape(node.metricsUrl);
    expect(closed.get('herald_subscriptions')).toBe(1);
    expect(closed.get('herald_topics')).toBe(1);
    expect(fast.socket.readyState).toBe(fast.socket.OPEN);
    fast.close();
  });
});
