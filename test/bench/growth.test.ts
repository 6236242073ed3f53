/**
 * The churn soak's verdict (bench/lib/growth.mjs), as pure logic: a heap that
 * levels off is bounded; a leak per cycle, descriptors left open, gauges or
 * Redis channels not back to 0, or cycles Herald never saw are not.
 */
import { describe, expect, it } from 'vitest';
import { RSS_SLOPE_LIMIT, verdict, type Metrics, type Sample } from '../../bench/lib/growth.mjs';

const MIB = 2 ** 20;
const CYCLES = 100_000;

/** Ten samples of a soak whose RSS is `rss(cycles)`, and 21 descriptors throughout. */
function soak(rss: (cycles: number) => number, fds = 21) {
  const samples: Sample[] = Array.from({ length: 10 }, (_, k) => ({ cycles: (k + 1) * 10_000, rssBytes: rss((k + 1) * 10_000), openFds: fds }));
  return { before: { cycles: 0, rssBytes: 72 * MIB, openFds: 21 }, after: { cycles: CYCLES, rssBytes: rss(CYCLES), openFds: fds }, samples };
}

const clean: Metrics = { gauges: { herald_connections: 0, herald_subscriptions: 0, herald_topics: 0 }, opened: CYCLES, closed: CYCLES };
const plateau = (c: number) => (c < 20_000 ? 72 * MIB + c * 1500 : 100 * MIB + ((c / 10_000) % 2) * 0.7 * MIB);

describe('bench growth - churn verdict', () => {
  it('bench growth - a heap that grew early and levelled off is bounded', () => {
    const v = verdict({ ...soak(plateau), metrics: clean, redisChannels: 0, cycles: CYCLES, completed: CYCLES, failed: 0 });
    expect(v.reasons).toEqual([]);
    expect(v).toMatchObject({ bounded: true, rssJudged: true, fdGrowth: 0 });
  });

  it('bench growth - a leak of a few hundred bytes per cycle is not', () => {
    const v = verdict({ ...soak((c) => plateau(c) + c * 300), metrics: clean, redisChannels: 0, cycles: CYCLES, completed: CYCLES, failed: 0 });
    expect(v.bounded).toBe(false);
    expect(v.rssSlopeSecondHalfBytesPerCycle).toBeGreaterThan(RSS_SLOPE_LIMIT);
    expect(v.rssSlopeSecondHalfBytesPerCycle).toBeGreaterThan(250);
    expect(v.rssSlopeSecondHalfBytesPerCycle).toBeLessThan(350);
    expect(v.reasons).toEqual([`RSS grows ${v.rssSlopeSecondHalfBytesPerCycle} B per cycle over the second half (limit ${RSS_SLOPE_LIMIT})`]);
  });

  it('bench growth - descriptors, gauges, Redis channels and cycles Herald never counted each fail it', () => {
    const v = verdict({
      ...soak(plateau, 30),
      metrics: { gauges: { herald_connections: 0, herald_subscriptions: 3, herald_topics: 3 }, opened: CYCLES - 5, closed: CYCLES - 5 },
      redisChannels: 3,
      cycles: CYCLES,
      completed: CYCLES,
      failed: 2,
    });
    expect(v.bounded).toBe(false);
    expect(v.reasons).toEqual([
      '2 cycle(s) failed',
      '9 more open file descriptors than before (slack 4)',
      'herald_subscriptions is 3 after the soak, not 0',
      'herald_topics is 3 after the soak, not 0',
      `Herald counted ${CYCLES - 5} connections opened for ${CYCLES} cycles`,
      'the node is still subscribed to 3 topic channel(s) in Redis',
    ]);
    expect(verdict({ ...soak(plateau), metrics: null, redisChannels: null, cycles: CYCLES, completed: CYCLES, failed: 0 }).reasons).toEqual(['/metrics could not be read']);
  });

  it('bench growth - a short soak does not judge RSS, which is still in its early growth', () => {
    const short = soak((c) => 72 * MIB + c * 300 * 20);
    const v = verdict({ ...short, metrics: { ...clean, opened: 5000, closed: 5000 }, redisChannels: null, cycles: 5000, completed: 5000, failed: 0 });
    expect(v).toMatchObject({ bounded: true, rssJudged: false });
  });
});
