/** PresenceTracker's timing against a store that records what it is told (pure logic: no Redis needed). */
import { describe, expect, it } from 'vitest';
import { PresenceTracker } from '../../src/presence/tracker.js';
import type { PresenceEntry, PresencePolicies, PresenceStore } from '../../src/presence/presence.js';
import type { Metrics } from '../../src/metrics.js';
import type { Logger } from '../../src/log.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function tracker(clock: { now: number }) {
  const writes: PresenceEntry[][] = [];
  const store = { update: async (_t: string, _n: string, entries: readonly PresenceEntry[]) => void writes.push([...entries]) } as unknown as PresenceStore;
  const policies = { has: () => true, announces: () => true } as unknown as PresencePolicies;
  const metrics = { presenceWrites: { inc: () => undefined } } as unknown as Metrics;
  const log = { warn: () => undefined } as unknown as Logger;
  // TTL 30 s: the periodic refresh (every 10 s) never runs within these tests.
  const t = new PresenceTracker(store, policies, { nodeId: 'n1', ttlMs: 30_000, graceMs: 50, now: () => clock.now }, metrics, log);
  return { t, writes };
}

describe('presence tracker - leave grace', () => {
  it('presence tracker - a grace timer that fires before the clock reaches the end of the grace still removes the user once it has', async () => {
    const clock = { now: 0 };
    const { t, writes } = tracker(clock);
    try {
      t.joined('room', 'ivy', undefined);
      await sleep(120);
      expect(writes).toEqual([[{ sub: 'ivy', connections: 1, info: undefined }]]);
      t.left('room', 'ivy'); // grace ends at clock 50
      clock.now = 40; // the timer fires (after 50 ms of real time) while the clock says 40
      await sleep(150);
      expect(writes).toHaveLength(1);
      clock.now = 60;
      await sleep(200);
      expect(writes.at(-1)).toEqual([{ sub: 'ivy', connections: 0, info: undefined }]);
      expect(t.entries).toBe(0);
    } finally {
      t.close();
    }
  });

  it('presence tracker - a user back within the grace is not removed', async () => {
    const clock = { now: 0 };
    const { t, writes } = tracker(clock);
    try {
      t.joined('room', 'ivy', undefined);
      t.left('room', 'ivy');
      t.joined('room', 'ivy', undefined);
      clock.now = 1000;
      await sleep(200);
      expect(writes.length).toBeGreaterThan(0);
      expect(writes.flat().every((e) => e.connections === 1)).toBe(true);
      expect(t.entries).toBe(1);
    } finally {
      t.close();
    }
  });
});
