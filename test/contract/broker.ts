/**
 * The Broker contract (src/broker/broker.ts) as one suite, run against every
 * implementation by test/integration/broker-contract.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerMessage } from '../../src/broker/broker.js';
import { HeraldError } from '../../src/errors.js';
import { waitUntil } from './wait.js';

export interface BrokerFactory {
  readonly name: string;
  /** A new broker; brokers from one factory call share a backend when `shared` is true. */
  create(): Broker;
  /** Whether two brokers from this factory reach each other (separate nodes on one Redis). */
  readonly shared: boolean;
}

interface Started {
  broker: Broker;
  received: { topic: string; message: BrokerMessage }[];
  statuses: boolean[];
}

export function brokerContract(factory: BrokerFactory): void {
  describe(`broker(${factory.name}) - contract`, () => {
    const open: Broker[] = [];
    afterEach(async () => {
      for (const broker of open.splice(0)) await broker.close();
    });

    async function start(): Promise<Started> {
      const broker = factory.create();
      open.push(broker);
      const started: Started = { broker, received: [], statuses: [] };
      await broker.start(
        (topic, message) => started.received.push({ topic, message }),
        (up) => started.statuses.push(up),
      );
      expect(broker.isUp()).toBe(true);
      return started;
    }

    const message = (n: number): BrokerMessage => ({ data: JSON.stringify({ n, text: `m${n}` }), ts: 1_700_000_000_000 + n });

    it(`broker(${factory.name}) - delivers a published message of a subscribed topic with data and ts intact`, async () => {
      const node = await start();
      await node.broker.subscribe('contract.a');
      await node.broker.publish('contract.a', message(1));
      await waitUntil(() => node.received.length === 1, 'delivery');
      expect(node.received[0]).toEqual({ topic: 'contract.a', message: message(1) });
    });

    it(`broker(${factory.name}) - delivers nothing for topics it is not subscribed to`, async () => {
      const node = await start();
      await node.broker.subscribe('contract.wanted');
      await node.broker.publish('contract.unwanted', message(1));
      await node.broker.publish('contract.wanted', message(2));
      await waitUntil(() => node.received.length >= 1, 'the barrier message');
      expect(node.received.map((r) => r.topic)).toEqual(['contract.wanted']);
    });

    it(`broker(${factory.name}) - keeps publish order within a topic`, async () => {
      const node = await start();
      await node.broker.subscribe('contract.order');
      await Promise.all(Array.from({ length: 200 }, (_, n) => node.broker.publish('contract.order', message(n))));
      await waitUntil(() => node.received.length === 200, '200 deliveries');
      expect(node.received.map((r) => r.message.ts - 1_700_000_000_000)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    });

    it(`broker(${factory.name}) - subscribe is idempotent and unsubscribe stops delivery`, async () => {
      const node = await start();
      await node.broker.subscribe('contract.x');
      await node.broker.subscribe('contract.x');
      await node.broker.publish('contract.x', message(1));
      await waitUntil(() => node.received.length === 1, 'delivery');
      await node.broker.unsubscribe('contract.x');
      await node.broker.subscribe('contract.barrier');
      await node.broker.publish('contract.x', message(2));
      await node.broker.publish('contract.barrier', message(3));
      await waitUntil(() => node.received.length === 2, 'the barrier message');
      expect(node.received.map((r) => r.topic)).toEqual(['contract.x', 'contract.barrier']);
    });

    it(`broker(${factory.name}) - an unsubscribe right after a subscribe, in the same turn, wins`, async () => {
      const node = await start();
      const subscribed = node.broker.subscribe('contract.flicker');
      await node.broker.unsubscribe('contract.flicker');
      await subscribed;
      await node.broker.subscribe('contract.barrier');
      await node.broker.publish('contract.flicker', message(1));
      await node.broker.publish('contract.barrier', message(2));
      await waitUntil(() => node.received.length >= 1, 'the barrier message');
      expect(node.received.map((r) => r.topic)).toEqual(['contract.barrier']);
    });

    it(`broker(${factory.name}) - close is idempotent and later publishes fail with unavailable`, async () => {
      const node = await start();
      await node.broker.close();
      await node.broker.close();
      expect(node.broker.isUp()).toBe(false);
      const failure = await node.broker.publish('contract.a', message(1)).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(HeraldError);
      expect((failure as HeraldError).code).toBe('unavailable');
    });

    if (factory.shared) {
      it(`broker(${factory.name}) - a message published on one node reaches every subscribed node once`, async () => {
        const [a, b, c] = [await start(), await start(), await start()];
        await a.broker.subscribe('contract.shared');
        await b.broker.subscribe('contract.shared');
        for (let n = 0; n < 50; n++) await c.broker.publish('contract.shared', message(n));
        await waitUntil(() => a.received.length === 50 && b.received.length === 50, '50 deliveries on both nodes');
        await c.broker.subscribe('contract.barrier');
        await a.broker.publish('contract.barrier', message(99));
        await waitUntil(() => c.received.length === 1, 'the barrier message');
        expect(c.received.map((r) => r.topic)).toEqual(['contract.barrier']);
        for (const node of [a, b]) expect(node.received.map((r) => r.message)).toEqual(Array.from({ length: 50 }, (_, n) => message(n)));
      });
    }
  });
}
