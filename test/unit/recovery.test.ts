import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstKept, planRecovery, sequence, type Window } from '../../src/history/recovery.js';

interface M {
  readonly offset: number;
  readonly ts: number;
}

/** A window holding offsets from..top, published at ts = offset * 1000. */
function window(from: number, top: number, epoch = 'e1'): Window<M> {
  const messages: M[] = [];
  for (let offset = from; offset <= top; offset++) messages.push({ offset, ts: offset * 1000 });
  return { epoch, top, messages };
}

const limits = { maxRecovery: 300, oldestTs: 0 };
const offsets = (ms: readonly M[]): number[] => ms.map((m) => m.offset);

describe('recovery - sequence', () => {
  it('recovery - the next offset is delivered, an old one dropped, a skipped one is a gap, another epoch a reset', () => {
    expect(sequence(41, 'e1', { offset: 42, epoch: 'e1' })).toBe('deliver');
    expect(sequence(41, 'e1', { offset: 41, epoch: 'e1' })).toBe('duplicate');
    expect(sequence(41, 'e1', { offset: 7, epoch: 'e1' })).toBe('duplicate');
    expect(sequence(41, 'e1', { offset: 43, epoch: 'e1' })).toBe('gap');
    expect(sequence(41, 'e1', { offset: 42, epoch: 'e2' })).toBe('reset');
    expect(sequence(41, 'e1', { offset: 1, epoch: 'e2' })).toBe('reset');
    expect(sequence(41, 'e1', {})).toBe('unsequenced');
    expect(sequence(0, 'e1', { offset: 1, epoch: 'e1' })).toBe('deliver');
  });

  it('recovery - delivering by sequence yields every offset exactly once, in order, whatever duplicates arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 300 }), (arrivals) => {
        let last = 0;
        const delivered: number[] = [];
        for (const offset of arrivals) {
          if (sequence(last, 'e', { offset, epoch: 'e' }) === 'deliver') {
            delivered.push(offset);
            last = offset;
          }
        }
        expect(delivered).toEqual(Array.from({ length: delivered.length }, (_, i) => i + 1));
      }),
    );
  });
});

describe('recovery - planRecovery with an offset', () => {
  it('recovery - the gap is replayed exactly: offsets after since up to the top', () => {
    const plan = planRecovery({ offset: 41, epoch: 'e1' }, window(1, 57), limits);
    expect(plan.recovered).toBe(true);
    expect(offsets(plan.replay)).toEqual(Array.from({ length: 16 }, (_, i) => 42 + i));
  });

  it('recovery - since at the top recovers with nothing to replay', () => {
    expect(planRecovery({ offset: 57, epoch: 'e1' }, window(1, 57), limits)).toEqual({ recovered: true, replay: [] });
    expect(planRecovery({ offset: 0, epoch: 'e1' }, { epoch: 'e1', top: 0, messages: [] }, limits)).toEqual({ recovered: true, replay: [] });
  });

  it('recovery - offset 0 of an epoch replays from offset 1 while everything is stored', () => {
    expect(offsets(planRecovery({ offset: 0, epoch: 'e1' }, window(1, 5), limits).replay)).toEqual([1, 2, 3, 4, 5]);
  });

  it('recovery - another epoch is not recovered and replays nothing', () => {
    expect(planRecovery({ offset: 41, epoch: 'old' }, window(1, 57), limits)).toEqual({ recovered: false, replay: [] });
  });

  it('recovery - a since beyond the top (from the future, or another stream) is not recovered', () => {
    expect(planRecovery({ offset: 58, epoch: 'e1' }, window(1, 57), limits)).toEqual({ recovered: false, replay: [] });
  });

  it('recovery - messages trimmed from the window: not recovered, never a partial replay', () => {
    expect(planRecovery({ offset: 41, epoch: 'e1' }, window(43, 57), limits)).toEqual({ recovered: false, replay: [] });
    // Exactly the first missing one stored: recovered.
    expect(offsets(planRecovery({ offset: 41, epoch: 'e1' }, window(42, 57), limits).replay)).toHaveLength(16);
  });

  it('recovery - more missing than maxRecovery is not recovered', () => {
    const small = { maxRecovery: 10, oldestTs: 0 };
    expect(planRecovery({ offset: 46, epoch: 'e1' }, window(1, 57), small)).toEqual({ recovered: false, replay: [] });
    expect(offsets(planRecovery({ offset: 47, epoch: 'e1' }, window(1, 57), small).replay)).toEqual([48, 49, 50, 51, 52, 53, 54, 55, 56, 57]);
  });

  it('recovery - expired messages count as missing; expiry is a prefix', () => {
    // ts = offset * 1000: oldestTs 45,000 expires offsets 1..44.
    const expiring = { maxRecovery: 300, oldestTs: 45_000 };
    expect(planRecovery({ offset: 41, epoch: 'e1' }, window(1, 57), expiring)).toEqual({ recovered: false, replay: [] });
    expect(offsets(planRecovery({ offset: 44, epoch: 'e1' }, window(1, 57), expiring).replay)[0]).toBe(45);
    // A kept message older than a later one (clocks of two publishers disagreeing) does not punch a hole.
    const skewed: Window<M> = { epoch: 'e1', top: 4, messages: [{ offset: 1, ts: 10 }, { offset: 2, ts: 50 }, { offset: 3, ts: 40 }, { offset: 4, ts: 60 }] };
    expect(firstKept(skewed.messages, 45)).toBe(1);
    expect(offsets(planRecovery({ offset: 1, epoch: 'e1' }, skewed, { maxRecovery: 10, oldestTs: 45 }).replay)).toEqual([2, 3, 4]);
  });

  it('recovery - a window whose messages do not reach its top cannot recover', () => {
    const short: Window<M> = { epoch: 'e1', top: 60, messages: window(1, 57).messages };
    expect(planRecovery({ offset: 41, epoch: 'e1' }, short, limits).recovered).toBe(false);
  });

  it('recovery - whatever the inputs, a recovered plan replays exactly since+1..top and an unrecovered one nothing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 0, max: 80 }),
        fc.integer({ min: 0, max: 90 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 90_000 }),
        fc.boolean(),
        (from, length, since, maxRecovery, oldestTs, sameEpoch) => {
          const top = from + length - 1;
          const w = length === 0 ? { epoch: 'e1', top: Math.max(0, from - 1), messages: [] } : window(from, top);
          const plan = planRecovery({ offset: since, epoch: sameEpoch ? 'e1' : 'e2' }, w, { maxRecovery, oldestTs });
          if (!plan.recovered) {
            expect(plan.replay).toEqual([]);
            return;
          }
          expect(sameEpoch).toBe(true);
          expect(offsets(plan.replay)).toEqual(Array.from({ length: w.top - since }, (_, i) => since + 1 + i));
          expect(plan.replay.length).toBeLessThanOrEqual(maxRecovery);
          expect(plan.replay.every((m) => m.ts >= oldestTs)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('recovery - planRecovery with last', () => {
  it('recovery - last n replays the newest n and is recovered when that many are stored', () => {
    const plan = planRecovery({ last: 5 }, window(1, 57), limits);
    expect(plan.recovered).toBe(true);
    expect(offsets(plan.replay)).toEqual([53, 54, 55, 56, 57]);
  });

  it('recovery - fewer stored than asked: all of them, recovered only when the whole stream is there', () => {
    expect(planRecovery({ last: 50 }, window(1, 5), limits)).toMatchObject({ recovered: true });
    expect(offsets(planRecovery({ last: 50 }, window(1, 5), limits).replay)).toEqual([1, 2, 3, 4, 5]);
    const trimmed = planRecovery({ last: 50 }, window(10, 20), limits);
    expect(trimmed.recovered).toBe(false);
    expect(offsets(trimmed.replay)).toEqual(Array.from({ length: 11 }, (_, i) => 10 + i));
    expect(planRecovery({ last: 3 }, { epoch: 'e1', top: 0, messages: [] }, limits)).toEqual({ recovered: true, replay: [] });
  });

  it('recovery - last beyond maxRecovery replays maxRecovery and is not recovered', () => {
    const plan = planRecovery({ last: 20 }, window(1, 57), { maxRecovery: 10, oldestTs: 0 });
    expect(plan.recovered).toBe(false);
    expect(offsets(plan.replay)).toEqual([48, 49, 50, 51, 52, 53, 54, 55, 56, 57]);
  });

  it('recovery - expired messages are not replayed by last', () => {
    const plan = planRecovery({ last: 10 }, window(1, 57), { maxRecovery: 300, oldestTs: 55_000 });
    expect(offsets(plan.replay)).toEqual([55, 56, 57]);
    expect(plan.recovered).toBe(false);
  });

  it('recovery - last n with fewer stored than n replays every stored one, not fewer', () => {
    expect(offsets(planRecovery({ last: 5 }, window(1, 3), limits).replay)).toEqual([1, 2, 3]);
  });

  it('recovery - last n when every stored message expired: nothing, not recovered, no exception', () => {
    expect(planRecovery({ last: 3 }, window(1, 5), { maxRecovery: 300, oldestTs: 1e12 })).toEqual({ recovered: false, replay: [] });
  });

  it('recovery - last exactly maxRecovery is recovered when that many are stored', () => {
    const plan = planRecovery({ last: 10 }, window(1, 57), { maxRecovery: 10, oldestTs: 0 });
    expect(plan.recovered).toBe(true);
    expect(plan.replay).toHaveLength(10);
  });

  it('recovery - exactly n stored in a window that does not start at offset 1 is recovered', () => {
    const plan = planRecovery({ last: 11 }, window(10, 20), limits);
    expect(plan.recovered).toBe(true);
    expect(offsets(plan.replay)).toEqual(Array.from({ length: 11 }, (_, i) => 10 + i));
    expect(planRecovery({ last: 12 }, window(10, 20), limits).recovered).toBe(false);
  });
});
