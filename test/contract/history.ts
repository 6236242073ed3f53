/**
 * The History contract (src/history/history.ts) as one suite, run against
 * every implementation (memory, Redis, Redis Cluster) by
 * test/integration/history-contract.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerMessage } from '../../src/broker/broker.js';
import { HeraldError } from '../../src/errors.js';
import type { History, HistoryPolicy } from '../../src/history/history.js';
import { sleep, waitUntil } from './wait.js';

export interface HistoryFactory {
  readonly name: string;
  /** A broker and the history beside it. */
  create(): { broker: Broker; history: History };
}

const policy: HistoryPolicy = { size: 100, ttlMs: 60_000, metaTtlMs: 3_600_000 };

export function historyContract(factory: HistoryFactory): void {
  describe(`history(${factory.name}) - contract`, () => {
    const open: Broker[] = [];
    afterEach(async () => {
      for (const broker of open.splice(0)) await broker.close();
    });

    async function start(): Promise<{ history: History; broker: Broker; received: { topic: string; message: BrokerMessage }[] }> {
      const { broker, history } = factory.create();
      open.push(broker);
      const received: { topic: string; message: BrokerMessage }[] = [];
      await broker.start((topic, message) => received.push({ topic, message }), () => undefined);
      expect(broker.isUp()).toBe(true);
      return { history, broker, received };
    }

    /** A topic no other test (or earlier run on a shared Redis) has used. */
    const fresh = (name: string): string => `hc.${name}.${randomBytes(4).toString('hex')}`;
    const message = (n: number, ts = Date.now()): BrokerMessage => ({ data: JSON.stringify({ n }), ts });

    it(`history(${factory.name}) - an empty topic is at offset 0 with an epoch that its first message keeps`, async () => {
      const { history } = await start();
      const topic = fresh('empty');
      const empty = await history.position(topic, policy);
      expect(empty.offset).toBe(0);
      expect(empty.epoch).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(await history.position(topic, policy)).toEqual(empty);
      const first = await history.publish(topic, message(1), policy);
      expect(first).toEqual({ offset: 1, epoch: empty.epoch, duplicate: false });
    });

    it(`history(${factory.name}) - offsets are contiguous from 1, and subscribers receive them with the epoch`, async () => {
      const { history, broker, received } = await start();
      const topic = fresh('seq');
      await broker.subscribe(topic);
      const positions: { offset: number; epoch: string }[] = [];
      for (let n = 1; n <= 20; n++) positions.push(await history.publish(topic, message(n), policy));
      expect(positions.map((p) => p.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
      await waitUntil(() => received.length === 20, '20 deliveries');
      expect(received.map((r) => r.message.offset)).toEqual(positions.map((p) => p.offset));
      expect(received.every((r) => r.topic === topic && r.message.epoch === positions[0]!.epoch)).toBe(true);
      expect(received.map((r) => JSON.parse(r.message.data).n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it(`history(${factory.name}) - concurrent publishes get distinct contiguous offsets`, async () => {
      const { history } = await start();
      const topic = fresh('concurrent');
      const positions = await Promise.all(Array.from({ length: 200 }, (_, n) => history.publish(topic, message(n), policy)));
      expect(positions.map((p) => p.offset).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    });

    it(`history(${factory.name}) - read returns the messages after an offset, oldest first, and the last n`, async () => {
      const { history } = await start();
      const topic = fresh('read');
      for (let n = 1; n <= 10; n++) await history.publish(topic, message(n, 1_800_000_000_000 + n), policy);
      const after = await history.read(topic, policy, { after: 6, limit: 100 });
      expect(after.position.offset).toBe(10);
      expect(after.messages.map((m) => m.offset)).toEqual([7, 8, 9, 10]);
      expect(after.messages.map((m) => JSON.parse(m.data).n)).toEqual([7, 8, 9, 10]);
      expect(after.messages[0]!.ts).toBe(1_800_000_000_007);
      expect((await history.read(topic, policy, { after: 2, limit: 3 })).messages.map((m) => m.offset)).toEqual([3, 4, 5]);
      expect((await history.read(topic, policy, { last: 3 })).messages.map((m) => m.offset)).toEqual([8, 9, 10]);
      expect((await history.read(topic, policy, { last: 50 })).messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await history.read(topic, policy, { after: 10, limit: 5 })).messages).toEqual([]);
    });

    it(`history(${factory.name}) - only the last \`size\` messages are kept`, async () => {
      const { history } = await start();
      const topic = fresh('trim');
      const small: HistoryPolicy = { ...policy, size: 5 };
      for (let n = 1; n <= 12; n++) await history.publish(topic, message(n), small);
      const page = await history.read(topic, small, { after: 0, limit: 100 });
      expect(page.position.offset).toBe(12);
      expect(page.messages.map((m) => m.offset)).toEqual([8, 9, 10, 11, 12]);
    });

    it(`history(${factory.name}) - messages expire after ttl; the epoch and the offsets go on`, async () => {
      const { history } = await start();
      const topic = fresh('ttl');
      const short: HistoryPolicy = { ...policy, ttlMs: 400 };
      const first = await history.publish(topic, message(1), short);
      await history.publish(topic, message(2), short);
      expect((await history.read(topic, short, { after: 0, limit: 10 })).messages).toHaveLength(2);
      await sleep(600);
      const expired = await history.read(topic, short, { after: 0, limit: 10 });
      expect(expired.messages).toEqual([]);
      expect(expired.position).toEqual({ offset: 2, epoch: first.epoch });
      expect(await history.publish(topic, message(3), short)).toEqual({ offset: 3, epoch: first.epoch, duplicate: false });
    });

    it(`history(${factory.name}) - a position not used for metaTtl is forgotten: a new epoch from offset 0`, async () => {
      const { history } = await start();
      const topic = fresh('meta');
      const brief: HistoryPolicy = { ...policy, ttlMs: 200, metaTtlMs: 400 };
      const first = await history.publish(topic, message(1), brief);
      await sleep(700);
      const next = await history.position(topic, brief);
      expect(next.offset).toBe(0);
      expect(next.epoch).not.toBe(first.epoch);
    });

    it(`history(${factory.name}) - a repeated idempotency key returns the original position and publishes nothing`, async () => {
      const { history, broker, received } = await start();
      const topic = fresh('idem');
      await broker.subscribe(topic);
      const first = await history.publish(topic, message(1), policy, { idempotencyKey: 'k-1' });
      const again = await history.publish(topic, message(1), policy, { idempotencyKey: 'k-1' });
      expect(again).toEqual({ ...first, duplicate: true });
      const other = await history.publish(topic, message(2), policy, { idempotencyKey: 'k-2' });
      expect(other.offset).toBe(first.offset + 1);
      await waitUntil(() => received.length === 2, 'two deliveries');
      await sleep(100);
      expect(received.map((r) => r.message.offset)).toEqual([1, 2]);
      expect((await history.read(topic, policy, { after: 0, limit: 10 })).messages.map((m) => m.offset)).toEqual([1, 2]);
    });

    it(`history(${factory.name}) - publishing through a closed broker fails with unavailable and stores nothing`, async () => {
      const { history, broker } = await start();
      const topic = fresh('closed');
      await history.publish(topic, message(1), policy);
      await broker.close();
      await expect(history.publish(topic, message(2), policy)).rejects.toBeInstanceOf(HeraldError);
    });
  });
}
