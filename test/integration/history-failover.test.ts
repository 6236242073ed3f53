/**
 * Losing a node loses no message of a history topic (docs/protocol.md,
 * "History and recovery", Guarantee: "a client that always resubscribes with
 * `since` from the last message it received sees every offset exactly once,
 * in order"). Three Herald processes over one Redis, 300 clients on ten
 * history topics, a steady publisher; one node is SIGKILLed (its clients see
 * 1006) or drained with SIGTERM (1001), and its clients move to the other
 * nodes with `since`. The reconnect logic is the test's own (Follower), not
 * the SDK's.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Follower, HttpPublisher, gapsOf } from '../helpers/history.js';
import { spawnHerald, type HeraldProcess } from '../helpers/process.js';
import { API_KEY, SECRET, hs256 } from '../helpers/tokens.js';

const CLIENTS = 300;
const TOPICS = 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('history failover - three nodes over one Redis, one of them lost', () => {
  const prefix = `hfail-${randomBytes(3).toString('hex')}`;
  const token = hs256({ topics: ['feed.>'] });
  const env = {
    NODE_ENV: 'production',
    HERALD_JWT_SECRET: SECRET,
    HERALD_API_KEYS: API_KEY,
    HERALD_LOG_LEVEL: 'info',
    HERALD_DRAIN_SECONDS: '1',
    HERALD_REDIS_URL: inject('redisUrl'),
    HERALD_REDIS_PREFIX: prefix,
    HERALD_HISTORY: 'feed.>=2000:300',
  };
  const spawned: HeraldProcess[] = [];
  const spawnNode = async (name: string): Promise<HeraldProcess> => {
    const node = await spawnHerald({ ...env, HERALD_NODE_ID: name });
    spawned.push(node);
    return node;
  };
  let survivors: HeraldProcess[] = [];
  beforeAll(async () => {
    survivors = await Promise.all([spawnNode('keep-a'), spawnNode('keep-b')]);
  }, 30_000);
  afterAll(async () => {
    for (const node of spawned) node.kill();
    await Promise.all(spawned.map((node) => node.exited));
  });

  /**
   * 300 followers spread over the two survivors and `victim`, a publisher on
   * the survivors' HTTP APIs; `lose` takes the victim down while messages
   * flow. Afterwards every follower must hold every offset of its topic after
   * its first ack, once, in order, and the victim's followers must have come
   * back on the survivors with recovered:true.
   */
  async function loseANode(victim: HeraldProcess, lose: () => void, expectedClose: number): Promise<void> {
    const run = randomBytes(2).toString('hex');
    const topics = Array.from({ length: TOPICS }, (_, i) => `feed.${run}.t${i}`);
    const nodes = [...survivors, victim];
    const wsUrl = (node: HeraldProcess): string => `ws://127.0.0.1:${node.port}/ws`;
    // Each follower starts on its own node and, when that closes, tries the others in turn.
    const followers = Array.from({ length: CLIENTS }, (_, i) => {
      const home = i % nodes.length;
      const order = [home, (home + 1) % nodes.length, (home + 2) % nodes.length].map((n) => wsUrl(nodes[n]!));
      return { follower: new Follower(order, token, topics[Math.floor(i / nodes.length) % TOPICS]!), onVictim: home === nodes.length - 1 };
    });
    const publisher = new HttpPublisher(
      survivors.map((node) => `http://127.0.0.1:${node.port}`),
      topics,
      { concurrency: 2, batch: 1, pauseMs: 15 },
    );
    try {
      for (let i = 0; i < CLIENTS; i += 50) await Promise.all(followers.slice(i, i + 50).map(({ follower }) => follower.start()));
      publisher.start();
      await sleep(1000);
      const before = publisher.count;
      lose();
      // Keep publishing while the victim's clients find the other nodes, and a while after.
      const moved = followers.filter((f) => f.onVictim).map(({ follower }) => follower);
      const deadline = Date.now() + 8000;
      while (moved.some((f) => f.closes.length === 0 || !f.subscribed)) {
        if (Date.now() > deadline) throw new Error(`${moved.filter((f) => f.closes.length === 0 || !f.subscribed).length} clients of the lost node not resubscribed within 8 s`);
        await sleep(50);
      }
      await sleep(1000);
      await publisher.stop();
      const tops = new Map(topics.map((topic) => [topic, publisher.top(topic)]));
      await Promise.all(followers.map(({ follower }) => follower.waitFor(tops.get(follower.topic)!, 15_000)));

      expect(publisher.failures.slice(0, 5)).toEqual([]);
      for (const topic of topics) expect(publisher.holes(topic), topic).toEqual([]);
      const problems = followers.flatMap(({ follower }, i) =>
        [...follower.problems, ...gapsOf(follower, publisher.published.get(follower.topic)!, tops.get(follower.topic)!)].map((p) => `client ${i}: ${p}`),
      );
      expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);

      // The victim's clients were really cut off and really recovered on the survivors, with messages to replay;
      // the others were not disturbed.
      const survivorNames = new Set(['keep-a', 'keep-b']);
      for (const { follower, onVictim } of followers) {
        if (onVictim) {
          expect(follower.closes).toEqual([expectedClose]);
          expect(follower.recoveries).toBe(1);
          expect(survivorNames.has(follower.nodes[follower.nodes.length - 1]!)).toBe(true);
        } else {
          expect(follower.closes).toEqual([]);
        }
      }
      const replayed = moved.reduce((sum, f) => sum + f.replayed, 0);
      const nonEmpty = moved.filter((f) => f.nonEmptyRecoveries > 0).length;
      console.log(`[history failover] ${publisher.count} published (${before} before the loss), ${moved.length} clients moved, ${nonEmpty} of them with something to replay, ${replayed} messages replayed`);
      expect(moved).toHaveLength(CLIENTS / nodes.length);
      expect(publisher.count - before).toBeGreaterThanOrEqual(100);
      expect(nonEmpty).toBeGreaterThanOrEqual(50);
    } finally {
      for (const { follower } of followers) follower.stop();
      await publisher.stop();
    }
  }

  it('history failover - SIGKILL of a node: its clients resubscribe elsewhere with since, and no client loses or repeats a message', async () => {
    const victim = await spawnNode('victim-kill');
    await loseANode(victim, () => victim.child.kill('SIGKILL'), 1006);
    expect(await victim.exited).toBe('SIGKILL');
  }, 60_000);

  it('history failover - SIGTERM drain of a node: its clients get 1001, resubscribe elsewhere with since, and no client loses or repeats a message', async () => {
    const victim = await spawnNode('victim-drain');
    await loseANode(victim, () => victim.child.kill('SIGTERM'), 1001);
    expect(await victim.exited).toBe(0);
  }, 60_000);
});
