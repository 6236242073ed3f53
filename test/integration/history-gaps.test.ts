/**
 * The ways a recovery cannot be filled (docs/protocol.md, "History and
 * recovery"), on Redis and on a Redis Cluster, across two nodes (published on
 * one, recovered on the other): a gap of more than HERALD_HISTORY_MAX_RECOVERY,
 * messages trimmed by `size`, an expired stream, a foreign epoch. Each is
 * answered `recovered:false` with the current offset and epoch, "no message of
 * the gap is sent (never a partial replay), and live messages follow"; one
 * message less and it is recovered whole. test/integration/history.test.ts
 * covers the same on the memory broker.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestClient, eventually, publishHttp, type Frame } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const token = hs256({ topics: ['chat.>', 'small.*', 'short.*'] });
const MAX_RECOVERY = 20;
const HISTORY = 'chat.>=100:300,small.*=5:300,short.*=100:1';

type Since = { offset: number; epoch: string } | { last: number };

const messagesIn = (client: TestClient, topic: string): Frame[] => client.frames.filter((f) => f.type === 'message' && f.topic === topic);

interface Setup {
  readonly name: string;
  readonly env: () => Record<string, string>;
  readonly admin: () => Redis | Cluster;
}

const hostPorts = (list: string): { host: string; port: number }[] => list.split(',').map((item) => ({ host: item.split(':')[0]!, port: Number(item.split(':')[1]) }));

const setups: Setup[] = [
  { name: 'Redis', env: () => ({ HERALD_REDIS_URL: inject('redisUrl') }), admin: () => new Redis(inject('redisUrl')) },
  { name: 'Redis Cluster', env: () => ({ HERALD_REDIS_CLUSTER_NODES: inject('redisClusterNodes') }), admin: () => new Cluster(hostPorts(inject('redisClusterNodes'))) },
];

for (const setup of setups) {
  describe(`history gaps (${setup.name}) - what cannot be recovered is not replayed at all`, () => {
    const prefix = `hgaps-${randomBytes(3).toString('hex')}`;
    let publisherNode: TestNode;
    let recoveryNode: TestNode;
    let admin: Redis | Cluster;
    beforeAll(async () => {
      const env = { ...setup.env(), HERALD_REDIS_PREFIX: prefix, HERALD_HISTORY: HISTORY, HERALD_HISTORY_MAX_RECOVERY: String(MAX_RECOVERY), HERALD_LOG_LEVEL: 'info' };
      publisherNode = await startNode({ ...env, HERALD_NODE_ID: 'pub' });
      recoveryNode = await startNode({ ...env, HERALD_NODE_ID: 'rec' });
      admin = setup.admin();
    }, 30_000);
    afterAll(async () => {
      admin?.disconnect();
      await publisherNode?.close();
      await recoveryNode?.close();
    });

    /** Publishes `count` messages on the publishing node; returns the epoch and the last offset. */
    async function publish(topic: string, count: number): Promise<{ epoch: string; top: number }> {
      let last = { epoch: '', top: 0 };
      for (let i = 0; i < count; i++) {
        const res = await publishHttp(publisherNode.httpUrl, { topic, data: { i } }, API_KEY);
        expect(res.status).toBe(202);
        const entry = (res.body.messages as { offset: number; epoch: string }[])[0]!;
        last = { epoch: entry.epoch, top: entry.offset };
      }
      return last;
    }

    /**
     * Subscribes on the recovery node with `since`, checks the ack, then
     * publishes one live message: the messages the client holds must be
     * `replay` followed by that live one, nothing else.
     */
    async function resubscribe(topic: string, since: Since, expected: { offset: number; epoch: string; recovered: boolean }, replay: number[]): Promise<void> {
      const client = await TestClient.open(recoveryNode.wsUrl, token);
      try {
        const ack = await client.request({ type: 'subscribe', topic, since });
        expect(ack, JSON.stringify(since)).toEqual({ type: 'ack', id: ack.id, ...expected });
        const { top } = await publish(topic, 1);
        expect(top).toBe(expected.offset + 1);
        await client.next((f) => f.type === 'message' && f.offset === top, 5000);
        expect(messagesIn(client, topic).map((f) => f.offset), JSON.stringify(since)).toEqual([...replay, top]);
      } finally {
        client.close();
      }
    }

    const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

    it(`history gaps (${setup.name}) - exactly HERALD_HISTORY_MAX_RECOVERY missing is recovered whole; one more is recovered:false with nothing replayed`, async () => {
      const topic = `chat.${randomBytes(3).toString('hex')}`;
      const { epoch, top } = await publish(topic, 41);
      expect(top).toBe(41);
      await resubscribe(topic, { offset: 41 - MAX_RECOVERY, epoch }, { offset: 41, epoch, recovered: true }, range(22, 41));
      // The live message of that check moved the top to 42: 21 missing from offset 21.
      await resubscribe(topic, { offset: 42 - MAX_RECOVERY - 1, epoch }, { offset: 42, epoch, recovered: false }, []);
    });

    it(`history gaps (${setup.name}) - messages trimmed by size: a gap the stream still holds is recovered, one reaching past it is not`, async () => {
      const topic = `small.${randomBytes(3).toString('hex')}`;
      const { epoch } = await publish(topic, 9);
      // size 5: offsets 5…9 are stored, 4 is gone.
      await resubscribe(topic, { offset: 3, epoch }, { offset: 9, epoch, recovered: false }, []);
      // The live message of that check is 10: 6…10 are stored.
      await resubscribe(topic, { offset: 5, epoch }, { offset: 10, epoch, recovered: true }, range(6, 10));
      const res = await fetch(`${recoveryNode.httpUrl}/v1/history?topic=${topic}&since=3&epoch=${epoch}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ topic, epoch, offset: 11, recovered: false });
    });

    it(`history gaps (${setup.name}) - messages trimmed by size are not recovered either right after another recovery of the topic on the same node`, async () => {
      const topic = `small.${randomBytes(3).toString('hex')}`;
      const { epoch } = await publish(topic, 8);
      // size 5: offsets 4…8 are stored; this recovery reads them (the node shares such reads between recoveries).
      await resubscribe(topic, { offset: 3, epoch }, { offset: 8, epoch, recovered: true }, range(4, 8));
      // Its live message, 9, trimmed offset 4 from the stream: the same since can no longer be recovered.
      const stored = await admin.xrange(`{${prefix}:${topic}}:s`, '-', '+');
      expect(stored.map(([id]) => id)).toEqual(['5-0', '6-0', '7-0', '8-0', '9-0']);
      await resubscribe(topic, { offset: 3, epoch }, { offset: 9, epoch, recovered: false }, []);
    });

    it(`history gaps (${setup.name}) - a since of a foreign epoch is recovered:false with the current epoch, nothing replayed`, async () => {
      const topic = `chat.${randomBytes(3).toString('hex')}`;
      const { epoch } = await publish(topic, 5);
      const foreign = epoch === 'foreign-epoch-1' ? 'foreign-epoch-2' : 'foreign-epoch-1';
      await resubscribe(topic, { offset: 4, epoch: foreign }, { offset: 5, epoch, recovered: false }, []);
      await resubscribe(topic, { offset: 0, epoch: foreign }, { offset: 6, epoch, recovered: false }, []);
    });

    it(`history gaps (${setup.name}) - an expired stream (ttl 1 s): the epoch and the offsets go on, nothing is replayed, since at the top still recovers`, async () => {
      const topic = `short.${randomBytes(3).toString('hex')}`;
      const { epoch } = await publish(topic, 3);
      // Recovered while stored (and read by the recovery node, which may keep what it read for later recoveries).
      await resubscribe(topic, { offset: 0, epoch }, { offset: 3, epoch, recovered: true }, [1, 2, 3]);
      // Redis expires the stream key by itself (1 s after the last publish, the live message 4); the position outlives it.
      const expired = (what: string): Promise<number> => eventually(() => admin.exists(`{${prefix}:${topic}}:s`), (n) => n === 0, what, 5000);
      await expired('stream expired');
      await resubscribe(topic, { offset: 0, epoch }, { offset: 4, epoch, recovered: false }, []);
      await expired('stream expired again');
      await resubscribe(topic, { offset: 5, epoch }, { offset: 5, epoch, recovered: true }, []);
      await expired('stream expired a third time');
      // The history holds neither 2 messages nor the whole stream from offset 1.
      await resubscribe(topic, { last: 2 }, { offset: 6, epoch, recovered: false }, []);
    });
  });
}
