/**
 * Live fuzzing of the Redis message path: hostile messages PUBLISHed straight
 * into the channels of topics a node's client holds. Valid envelopes reach the
 * client intact, everything else is dropped and counted, and the node stays up
 * with its memory and descriptors bounded.
 */
import { afterAll, describe, inject, it } from 'vitest';
import { hs256 } from '../helpers/tokens.js';
import { FULL, runs } from './lib/budget.js';
import { Live, Observer, scrape } from './lib/live.js';
import { REDIS_TOPICS, RedisLedger, describeRedis, redisCase, redisCorpus, redisProblems, runRedisCase } from './lib/redis-cases.js';

const DROPPED_INVALID = 'herald_messages_dropped_total{reason="invalid"}';

describe('live fuzz - hostile messages from Redis', () => {
  const live = new Live('live-redis', inject('redisUrl'));
  let observer: Observer | undefined;
  afterAll(async () => {
    observer?.close();
    await live.stop();
  });

  it(
    'live fuzz - messages PUBLISHed into a held topic\'s channel: valid ones delivered intact, the rest dropped and counted, the node stays up',
    async () => {
      // Room for bursts of large messages to one reader without shedding it (4008 is not what is tested here).
      const subscribe = async (): Promise<void> => {
        observer?.close();
        observer = await Observer.open(live.node.wsUrl, hs256({ sub: 'observer', topics: ['fz.r.*'] }));
        for (const topic of REDIS_TOPICS) await observer.subscribe(topic);
      };
      // The observed topics have presence with join/leave, so that hostile presence events reach a subscriber too.
      await live.start({ env: { HERALD_MAX_BACKPRESSURE: String(256 * 1024 * 1024), HERALD_PRESENCE: 'fz.r.*', HERALD_PRESENCE_JOIN_LEAVE: 'fz.r.*' }, onStart: subscribe });
      const metrics = `http://127.0.0.1:${live.node.metricsPort}/metrics`;
      const droppedBefore = (await scrape(metrics)).get(DROPPED_INVALID) ?? 0;
      const ledger = new RedisLedger();
      await live.run(runs(800, 20_000), 8, redisCase, (c, id) => runRedisCase(live, c, id, ledger), describeRedis, redisCorpus);
      const received = (): Record<string, unknown>[] => observer!.messages().filter((m) => REDIS_TOPICS.includes(String(m.topic)));
      const settled = (): boolean => received().length >= ledger.deliverCount && redisProblems(ledger, received()).length === 0;
      await observer!.until(settled, 15_000, 'every valid envelope at the subscriber').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const problem of redisProblems(ledger, received()).slice(0, 10)) live.violation('live-redis delivery', problem);
      for (const problem of observer!.problems.slice(0, 5)) live.violation('live-redis observer', problem);
      if (live.node.exit === undefined) {
        // Every message that was not delivered was counted as dropped (invalid), except presence events, which are
        // not messages (a hostile one may or may not count).
        const dropped = ((await scrape(metrics)).get(DROPPED_INVALID) ?? 0) - droppedBefore;
        const notDelivered = ledger.sent - received().length;
        if (dropped > notDelivered || dropped < notDelivered - ledger.events) live.violation('live-redis metrics', `${DROPPED_INVALID} rose by ${dropped}, but ${notDelivered} of ${ledger.sent} messages were not delivered (${ledger.events} of them presence events)`);
        live.tally.extra.presence_events = ledger.events;
        live.tally.extra.join_leave_frames = observer!.frames.filter((f) => f.type === 'join' || f.type === 'leave').length;
        live.tally.extra.dropped_invalid = dropped;
      }
      live.tally.extra.delivered = received().length;
      await live.finish();
    },
    FULL ? 1_800_000 : 120_000,
  );
});
