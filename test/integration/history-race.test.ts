/**
 * The recovery race of docs/protocol.md ("History and recovery"): a client
 * that resubscribes with `since` receives the missed messages "then live
 * messages … with no gap and no duplicate, also while others publish to the
 * topic at full speed". Two Herald processes over one Redis, a publisher
 * keeping several HTTP publishes in flight on one history topic, and 200
 * clients that drop their connection and resubscribe on the other node over
 * and over. Every client must end up with every offset after its first ack,
 * exactly once, in order, carrying what was published at that offset.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Follower, HttpPublisher, gapsOf } from '../helpers/history.js';
import { spawnHerald, type HeraldProcess } from '../helpers/process.js';
import { API_KEY, SECRET, hs256 } from '../helpers/tokens.js';

const CLIENTS = 200;
const CHURN_MS = 8000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('history race - 200 clients bouncing between two nodes while a publisher runs at full speed', () => {
  const prefix = `hrace-${randomBytes(3).toString('hex')}`;
  const topic = `race.${randomBytes(3).toString('hex')}`;
  const token = hs256({ topics: ['race.*'] });
  let nodes: HeraldProcess[] = [];
  beforeAll(async () => {
    const env = {
      NODE_ENV: 'production',
      HERALD_JWT_SECRET: SECRET,
      HERALD_API_KEYS: API_KEY,
      HERALD_LOG_LEVEL: 'info', // spawnHerald waits for the info line "herald listening"
      HERALD_DRAIN_SECONDS: '0',
      HERALD_REDIS_URL: inject('redisUrl'),
      HERALD_REDIS_PREFIX: prefix,
      // Far more than one reconnect can miss, so that every recovery is possible and must succeed.
      HERALD_HISTORY: 'race.*=10000:300',
      HERALD_HISTORY_MAX_RECOVERY: '5000',
    };
    nodes = await Promise.all([spawnHerald({ ...env, HERALD_NODE_ID: 'race-a' }), spawnHerald({ ...env, HERALD_NODE_ID: 'race-b' })]);
  }, 30_000);
  afterAll(async () => {
    for (const node of nodes) node.kill();
    await Promise.all(nodes.map((node) => node.exited));
  });

  it('history race - every client receives every offset after its first ack exactly once, in order, with the published data', async () => {
    const wsUrls = nodes.map((node) => `ws://127.0.0.1:${node.port}/ws`);
    const httpUrls = nodes.map((node) => `http://127.0.0.1:${node.port}`);
    const publisher = new HttpPublisher(httpUrls, [topic], { concurrency: 8, batch: 4, pauseMs: 0 });
    const followers = Array.from({ length: CLIENTS }, (_, i) => new Follower(wsUrls, token, topic, { first: i % 2 }));
    try {
      // Publishing first: the first subscribes race with it too.
      publisher.start();
      await Promise.all(followers.map((follower) => follower.start()));
      const churnEnd = Date.now() + CHURN_MS;
      await Promise.all(
        followers.map(async (follower, i) => {
          for (let abrupt = i % 2 === 0; Date.now() < churnEnd; abrupt = !abrupt) {
            await sleep(20 + Math.random() * 150);
            await follower.waitSubscribed(10_000);
            follower.bounce(abrupt);
          }
        }),
      );
      await publisher.stop();
      const top = publisher.top(topic);
      await Promise.all(followers.map((follower) => follower.waitFor(top, 15_000)));

      expect(publisher.failures.slice(0, 5)).toEqual([]);
      expect(publisher.holes(topic)).toEqual([]);
      const published = publisher.published.get(topic)!;
      const problems = followers.flatMap((follower, i) => [...follower.problems, ...gapsOf(follower, published, top)].map((p) => `client ${i}: ${p}`));
      expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);

      // It cannot pass by doing nothing: much was published, every client moved between the nodes many times, and
      // many recoveries had something to replay while the publisher went on.
      const recoveries = followers.reduce((sum, f) => sum + f.recoveries, 0);
      const nonEmpty = followers.reduce((sum, f) => sum + f.nonEmptyRecoveries, 0);
      const replayed = followers.reduce((sum, f) => sum + f.replayed, 0);
      console.log(`[history race] published ${publisher.count} (top ${top}), ${recoveries} recoveries, ${nonEmpty} non-empty, ${replayed} messages replayed`);
      // The bounds hold with a wide margin on a loaded 2-core machine (see the log line for what a run did).
      expect(publisher.count).toBeGreaterThanOrEqual(800);
      expect(Math.min(...followers.map((f) => f.recoveries))).toBeGreaterThanOrEqual(5);
      expect(followers.every((f) => new Set(f.nodes).size === 2)).toBe(true);
      expect(nonEmpty).toBeGreaterThanOrEqual(CLIENTS * 3);
      expect(replayed).toBeGreaterThanOrEqual(CLIENTS * 20);
      expect(Math.min(...followers.map((f) => f.received.length))).toBeGreaterThanOrEqual(400);
    } finally {
      for (const follower of followers) follower.stop();
      await publisher.stop();
    }
  }, 45_000);
});
