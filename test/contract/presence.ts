/**
 * The PresenceStore contract (src/presence/presence.ts) as one suite, run
 * against memory, Redis and Redis Cluster by
 * test/integration/presence-contract.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, PresenceEvent } from '../../src/broker/broker.js';
import type { PresenceStore } from '../../src/presence/presence.js';
import { sleep, waitUntil } from './wait.js';

export interface PresenceFactory {
  readonly name: string;
  /** A broker and the presence store beside it; stores from separate calls share a backend when `shared`. */
  create(): { broker: Broker; store: PresenceStore };
}

const TTL = 60_000;

export function presenceContract(factory: PresenceFactory): void {
  describe(`presence(${factory.name}) - contract`, () => {
    const open: Broker[] = [];
    afterEach(async () => {
      for (const broker of open.splice(0)) await broker.close();
    });

    async function start(): Promise<{ store: PresenceStore; broker: Broker; events: { topic: string; event: PresenceEvent }[] }> {
      const { broker, store } = factory.create();
      open.push(broker);
      const events: { topic: string; event: PresenceEvent }[] = [];
      await broker.start(() => undefined, () => undefined, (topic, event) => events.push({ topic, event }));
      return { store, broker, events };
    }

    const fresh = (name: string): string => `pc.${name}.${randomBytes(4).toString('hex')}`;
    const sorted = <T extends { sub: string }>(users: T[]): T[] => [...users].sort((a, b) => a.sub.localeCompare(b.sub));

    it(`presence(${factory.name}) - entries of several nodes add up per user; counts agree with the list`, async () => {
      const { store } = await start();
      const topic = fresh('sum');
      await store.update(topic, 'node-a', [{ sub: 'alice', connections: 2, info: '{"name":"Alice"}' }, { sub: 'bob', connections: 1, info: undefined }], TTL, false);
      await store.update(topic, 'node-b', [{ sub: 'alice', connections: 1, info: '{"name":"Alice"}' }], TTL, false);
      expect(sorted(await store.list(topic, false))).toEqual([
        { sub: 'alice', connections: 3, info: '{"name":"Alice"}' },
        { sub: 'bob', connections: 1, info: undefined },
      ]);
      expect(await store.count(topic, false)).toEqual({ users: 2, connections: 4 });
      await store.update(topic, 'node-a', [{ sub: 'alice', connections: 1, info: '{"name":"Alice"}' }], TTL, false);
      expect(await store.count(topic, false)).toEqual({ users: 2, connections: 3 });
      await store.update(topic, 'node-a', [{ sub: 'bob', connections: 0, info: undefined }], TTL, false);
      expect(sorted(await store.list(topic, false)).map((u) => u.sub)).toEqual(['alice']);
      expect(await store.count(topic, false)).toEqual({ users: 1, connections: 2 });
    });

    it(`presence(${factory.name}) - a sub with spaces, quotes and unicode survives`, async () => {
      const { store } = await start();
      const topic = fresh('odd');
      const sub = 'a b "c" é 😀';
      await store.update(topic, 'node-a', [{ sub, connections: 1, info: undefined }], TTL, false);
      expect(await store.list(topic, false)).toEqual([{ sub, connections: 1, info: undefined }]);
    });

    it(`presence(${factory.name}) - join once for a user's first entry anywhere, leave once for the last`, async () => {
      const { store, broker, events } = await start();
      const topic = fresh('events');
      await broker.subscribe(topic);
      await store.update(topic, 'node-a', [{ sub: 'alice', connections: 1, info: '{"n":1}' }], TTL, true);
      await store.update(topic, 'node-b', [{ sub: 'alice', connections: 2, info: '{"n":1}' }], TTL, true);
      await store.update(topic, 'node-a', [{ sub: 'alice', connections: 3, info: '{"n":1}' }], TTL, true);
      await waitUntil(() => events.length >= 1, 'the join');
      await store.update(topic, 'node-a', [{ sub: 'alice', connections: 0, info: undefined }], TTL, true);
      await sleep(100);
      expect(events.map((e) => e.event.event)).toEqual(['join']);
      await store.update(topic, 'node-b', [{ sub: 'alice', connections: 0, info: undefined }], TTL, true);
      await waitUntil(() => events.length === 2, 'the leave');
      expect(events).toEqual([
        { topic, event: { event: 'join', sub: 'alice', info: '{"n":1}' } },
        { topic, event: { event: 'leave', sub: 'alice', info: '{"n":1}' } },
      ]);
    });

    it(`presence(${factory.name}) - without announce nothing is published`, async () => {
      const { store, broker, events } = await start();
      const topic = fresh('quiet');
      await broker.subscribe(topic);
      await store.update(topic, 'node-a', [{ sub: 'alice', connections: 1, info: undefined }], TTL, false);
      await store.update(topic, 'node-a', [{ sub: 'alice', connections: 0, info: undefined }], TTL, false);
      await sleep(150);
      expect(events).toEqual([]);
    });

    it(`presence(${factory.name}) - entries not refreshed within their ttl go by themselves, with their leave`, async () => {
      const { store, broker, events } = await start();
      const topic = fresh('ttl');
      await broker.subscribe(topic);
      await store.update(topic, 'dead-node', [{ sub: 'carol', connections: 1, info: undefined }], 300, true);
      await store.update(topic, 'live-node', [{ sub: 'dave', connections: 1, info: undefined }], TTL, true);
      expect((await store.count(topic, true)).users).toBe(2);
      await sleep(450);
      expect(await store.list(topic, true)).toEqual([{ sub: 'dave', connections: 1, info: undefined }]);
      await waitUntil(() => events.some((e) => e.event.event === 'leave'), 'the expired user\'s leave');
      expect(events.filter((e) => e.event.event === 'leave').map((e) => e.event.sub)).toEqual(['carol']);
    });

    it(`presence(${factory.name}) - a topic nobody is in is empty`, async () => {
      const { store } = await start();
      const topic = fresh('empty');
      expect(await store.list(topic, false)).toEqual([]);
      expect(await store.count(topic, false)).toEqual({ users: 0, connections: 0 });
    });
  });
}
