/**
 * The Hub against a counting Fanout and a counting broker: README's central
 * claim, "each message is serialised once per node and copied to every
 * subscriber by uWebSockets.js, never by a JavaScript loop", as far as the
 * Hub is concerned: one encode and one Fanout.publish per message, whatever
 * the number of subscribers. (test/integration/guards-fanout.test.ts checks
 * the other half: that the Fanout Herald wires in is uWebSockets.js's C++
 * publish and nothing per socket.)
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Broker, BrokerMessage, MessageHandler, ShardHealth } from '../../src/broker/broker.js';
import { Hub, type Fanout } from '../../src/hub.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { encodeMessage, encodePresenceEvent } from '../../src/protocol/frames.js';

// The real encoder, wrapped in a spy so that encodes can be counted.
vi.mock('../../src/protocol/frames.js', { spy: true });

class CountingFanout implements Fanout {
  readonly published: { topic: string; frame: string }[] = [];
  numSubscribersCalls = 0;
  constructor(private readonly subscribers: Map<string, number>) {}
  publish(topic: string, frame: string): boolean {
    this.published.push({ topic, frame });
    return true;
  }
  numSubscribers(topic: string): number {
    this.numSubscribersCalls++;
    return this.subscribers.get(topic) ?? 0;
  }
}

class CountingBroker implements Broker {
  readonly kind = 'counting';
  readonly calls: string[] = [];
  private pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** When false, subscribe stays pending until settle() is called. */
  immediate = true;
  async start(_onMessage: MessageHandler): Promise<void> {}
  isUp(): boolean {
    return true;
  }
  shards(): readonly ShardHealth[] {
    return [{ index: 0, up: true }];
  }
  subscribe(topic: string): Promise<void> {
    this.calls.push(`subscribe ${topic}`);
    if (this.immediate) return Promise.resolve();
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  async unsubscribe(topic: string): Promise<void> {
    this.calls.push(`unsubscribe ${topic}`);
  }
  async publish(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
  settle(error?: Error): void {
    for (const entry of this.pending.splice(0)) error === undefined ? entry.resolve() : entry.reject(error);
  }
}

const silent = createLogger('silent', new Writable({ write: (_chunk, _encoding, callback) => callback() }));

function makeHub(subscribers: Map<string, number>, lingerMs = 0) {
  const fanout = new CountingFanout(subscribers);
  const broker = new CountingBroker();
  const metrics = new Metrics({ defaultMetrics: false });
  const hub = new Hub(broker, fanout, metrics, silent, lingerMs);
  return { hub, fanout, broker, metrics };
}

async function counter(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  const values = (await metric!.get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
}

const encodes = vi.mocked(encodeMessage);
const eventEncodes = vi.mocked(encodePresenceEvent);

afterEach(() => {
  encodes.mockClear();
  eventEncodes.mockClear();
  vi.useRealTimers();
});

describe('hub - fan-out is one encode and one publish per message per node', () => {
  it.each([1, 2, 1000, 100_000])('hub - a message for a topic with %i local subscribers is encoded once and handed to the Fanout once', async (count) => {
    const { hub, fanout, metrics } = makeHub(new Map([['prices.btc', count]]));
    const message: BrokerMessage = { data: '{"price":97000}', ts: 1_700_000_000_000 };
    hub.deliver('prices.btc', message);
    expect(encodes, 'encodeMessage calls').toHaveBeenCalledTimes(1);
    expect(fanout.published, 'Fanout.publish calls').toHaveLength(1);
    expect(fanout.published[0]).toEqual({ topic: 'prices.btc', frame: '{"type":"message","topic":"prices.btc","data":{"price":97000},"ts":1700000000000}' });
    // The very string the encoder returned is what uWebSockets.js copies to every subscriber.
    expect(fanout.published[0]!.frame).toBe(encodes.mock.results[0]!.value);
    // Delivered frames are counted from the subscriber count, not by walking subscribers.
    expect(await counter(metrics, 'herald_messages_delivered_total')).toBe(count);
  });

  it('hub - 200 messages over 5 topics of 1,000 subscribers each: 200 encodes, 200 publishes, each frame its own message', () => {
    const topics = ['t.a', 't.b', 't.c', 't.d', 't.e'];
    const { hub, fanout } = makeHub(new Map(topics.map((t) => [t, 1000])));
    for (let i = 0; i < 200; i++) hub.deliver(topics[i % 5]!, { data: String(i), ts: 1000 + i });
    expect(encodes).toHaveBeenCalledTimes(200);
    expect(fanout.published).toHaveLength(200);
    expect(fanout.numSubscribersCalls).toBe(200);
    fanout.published.forEach(({ topic, frame }, i) => {
      expect(topic).toBe(topics[i % 5]);
      expect(JSON.parse(frame)).toEqual({ type: 'message', topic: topics[i % 5], data: i, ts: 1000 + i });
    });
  });

  it('hub - a history topic\'s live message (emit) is encoded once and handed to the Fanout once, whatever the subscriber count', async () => {
    const { hub, fanout, metrics } = makeHub(new Map([['h.t', 5000]]));
    const frame = hub.emit('h.t', { data: '"x"', ts: 7 });
    expect(encodes).toHaveBeenCalledTimes(1);
    expect(fanout.published).toEqual([{ topic: 'h.t', frame }]);
    expect(JSON.parse(frame)).toMatchObject({ type: 'message', topic: 'h.t', data: 'x', ts: 7 });
    expect(await counter(metrics, 'herald_messages_delivered_total')).toBe(5000);
  });

  it('hub - a presence event is encoded once and handed to the Fanout once, whatever the subscriber count', () => {
    const { hub, fanout } = makeHub(new Map([['room.1', 3000]]));
    hub.deliverEvent('room.1', { event: 'join', sub: 'alice', info: '{"name":"Alice"}' });
    expect(eventEncodes).toHaveBeenCalledTimes(1);
    expect(fanout.published).toHaveLength(1);
    expect(JSON.parse(fanout.published[0]!.frame)).toEqual({ type: 'join', topic: 'room.1', sub: 'alice', info: { name: 'Alice' } });
    expect(fanout.published[0]!.frame).toBe(eventEncodes.mock.results[0]!.value);
  });

  it('hub - a message for a topic without local subscribers is neither encoded nor published, and is counted as dropped', async () => {
    const { hub, fanout, metrics } = makeHub(new Map());
    hub.deliver('nobody.here', { data: '1', ts: 1 });
    expect(encodes).not.toHaveBeenCalled();
    expect(fanout.published).toHaveLength(0);
    expect(await counter(metrics, 'herald_messages_dropped_total', { reason: 'no_subscribers' })).toBe(1);
    expect(await counter(metrics, 'herald_messages_published_total', { source: 'broker' })).toBe(1);
  });
});

describe('hub - broker subscriptions follow the first and last local subscriber', () => {
  it('hub - the first subscriber subscribes the broker once; more subscribers and ensure() calls do not', async () => {
    const { hub, broker } = makeHub(new Map());
    hub.topicGained('a.b');
    const pending = hub.ensure('a.b');
    // Until the broker confirms, later subscribers wait for the same subscription.
    expect(pending).toBeInstanceOf(Promise);
    expect(hub.ensure('a.b')).toBe(pending);
    await pending;
    expect(hub.ensure('a.b')).toBeUndefined();
    expect(broker.calls).toEqual(['subscribe a.b']);
    expect(hub.localTopicCount).toBe(1);
  });

  it('hub - without a linger the last subscriber leaving unsubscribes at once', async () => {
    const { hub, broker } = makeHub(new Map());
    hub.topicGained('a.b');
    await hub.ensure('a.b');
    hub.topicLost('a.b');
    expect(broker.calls).toEqual(['subscribe a.b', 'unsubscribe a.b']);
    expect(hub.localTopicCount).toBe(0);
  });

  it('hub - with a linger the unsubscribe waits, and a subscriber returning within it cancels it', () => {
    vi.useFakeTimers();
    const { hub, broker } = makeHub(new Map(), 1000);
    hub.topicGained('a.b');
    hub.topicLost('a.b');
    vi.advanceTimersByTime(999);
    expect(broker.calls).toEqual(['subscribe a.b']);
    hub.topicGained('a.b');
    vi.advanceTimersByTime(5000);
    expect(broker.calls).toEqual(['subscribe a.b']);
    hub.topicLost('a.b');
    vi.advanceTimersByTime(1000);
    expect(broker.calls).toEqual(['subscribe a.b', 'unsubscribe a.b']);
  });

  it('hub - a failed broker subscription is forgotten, so that the next subscriber tries again', async () => {
    const { hub, broker } = makeHub(new Map());
    broker.immediate = false;
    const first = hub.ensure('a.b');
    expect(hub.ensure('a.b')).toBe(first);
    broker.settle(new Error('down'));
    await expect(first).rejects.toThrow('down');
    broker.immediate = true;
    await hub.ensure('a.b');
    expect(broker.calls).toEqual(['subscribe a.b', 'subscribe a.b']);
  });
});
