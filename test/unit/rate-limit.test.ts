import { describe, it, expect } from 'vitest';
import { refuse, REFUSAL_REPLY_INTERVAL_MS, STRIKE_WINDOW_MS, takeToken, type BucketState, type StrikeState } from '../../src/lifecycle/rate-limit.js';

const T0 = 1_700_000_000_000;

function full(burst: number, at = T0): BucketState {
  return { tokens: burst, refilledAt: at };
}

/** Takes tokens at one instant until refused; returns how many were granted (bounded). */
function drain(state: BucketState, now: number, rate: number, burst: number): number {
  let n = 0;
  while (n < 10_000 && takeToken(state, now, rate, burst)) n++;
  return n;
}

describe('takeToken', () => {
  it('rate-limit - a full bucket allows a burst of exactly `burst`', () => {
    const state = full(5);
    for (let i = 0; i < 5; i++) expect(takeToken(state, T0, 10, 5), `frame ${i + 1}`).toBe(true);
    expect(takeToken(state, T0, 10, 5)).toBe(false);
    expect(takeToken(state, T0, 10, 5)).toBe(false);
  });

  it('rate-limit - a refused frame costs nothing', () => {
    const state = full(1);
    expect(takeToken(state, T0, 10, 1)).toBe(true);
    expect(takeToken(state, T0, 10, 1)).toBe(false);
    expect(takeToken(state, T0 + 50, 10, 1)).toBe(false);
    // 100 ms at 10/s is one token, regardless of the refusals in between.
    expect(takeToken(state, T0 + 100, 10, 1)).toBe(true);
  });

  it('rate-limit - tokens refill at `rate` per second of the passed clock', () => {
    const state = full(10);
    expect(drain(state, T0, 10, 10)).toBe(10);
    expect(takeToken(state, T0 + 99, 10, 10)).toBe(false);
    expect(takeToken(state, T0 + 100, 10, 10)).toBe(true);
    expect(takeToken(state, T0 + 100, 10, 10)).toBe(false);
    expect(drain(state, T0 + 600, 10, 10)).toBe(5);
  });

  it('rate-limit - partial tokens accumulate across calls', () => {
    const state = full(3);
    expect(drain(state, T0, 3, 3)).toBe(3);
    // 3 per second: one token takes 333.33 ms.
    expect(takeToken(state, T0 + 200, 3, 3)).toBe(false);
    expect(takeToken(state, T0 + 333, 3, 3)).toBe(false);
    expect(takeToken(state, T0 + 334, 3, 3)).toBe(true);
  });

  it('rate-limit - a sustained rate at exactly `rate` is allowed', () => {
    const state = full(1);
    // One frame every 100 ms at 10/s for 5 seconds.
    for (let i = 0; i < 50; i++) expect(takeToken(state, T0 + i * 100, 10, 1), `frame ${i}`).toBe(true);
  });

  it('rate-limit - a sustained rate above `rate` is refused after the burst', () => {
    const state = full(5);
    let granted = 0;
    // 100 frames over one second (one every 10 ms) at 20/s, burst 5.
    for (let i = 0; i < 100; i++) if (takeToken(state, T0 + i * 10, 20, 5)) granted++;
    // Burst 5 plus 990 ms of refill at 20/s (19.8 tokens).
    expect(granted).toBe(24);
  });

  it('rate-limit - tokens cap at `burst` after a long idle', () => {
    const state = full(5);
    expect(drain(state, T0, 10, 5)).toBe(5);
    expect(drain(state, T0 + 3_600_000, 10, 5)).toBe(5);
    expect(state.tokens).toBeLessThan(1);
  });

  it('rate-limit - an initially over-full bucket is capped at `burst` once time passes', () => {
    const state: BucketState = { tokens: 1000, refilledAt: T0 };
    expect(drain(state, T0 + 1, 10, 4)).toBe(4);
  });

  it('rate-limit - the state records the refill time', () => {
    const state = full(2);
    takeToken(state, T0 + 250, 10, 2);
    expect(state.refilledAt).toBe(T0 + 250);
    expect(state.tokens).toBe(1);
  });

  it('rate-limit - a clock that goes backwards adds no tokens', () => {
    const state = full(2);
    expect(drain(state, T0, 10, 2)).toBe(2);
    expect(takeToken(state, T0 - 10_000, 10, 2)).toBe(false);
    expect(state.refilledAt).toBe(T0);
    expect(takeToken(state, T0 + 100, 10, 2)).toBe(true);
  });

  it('rate-limit - rate 0 is unlimited and leaves the state alone', () => {
    const state: BucketState = { tokens: 0, refilledAt: T0 };
    for (let i = 0; i < 1000; i++) expect(takeToken(state, T0, 0, 1)).toBe(true);
    expect(state).toEqual({ tokens: 0, refilledAt: T0 });
  });

  it('rate-limit - an empty bucket refuses at once', () => {
    const state: BucketState = { tokens: 0, refilledAt: T0 };
    expect(takeToken(state, T0, 100, 200)).toBe(false);
  });
});

describe('refuse', () => {
  const fresh = (): StrikeState => ({ strikes: 0, strikesSince: 0, repliedAt: 0 });

  it('rate-limit - the first refusal is answered, the next ones within a second are silent, then one more answer', () => {
    const state = fresh();
    expect(refuse(state, T0, 100)).toBe('reply');
    expect(refuse(state, T0 + 1, 100)).toBe('silent');
    expect(refuse(state, T0 + REFUSAL_REPLY_INTERVAL_MS - 1, 100)).toBe('silent');
    expect(refuse(state, T0 + REFUSAL_REPLY_INTERVAL_MS, 100)).toBe('reply');
  });

  it('rate-limit - closeAfter refusals within the window close the connection', () => {
    const state = fresh();
    const verdicts = Array.from({ length: 5 }, (_, i) => refuse(state, T0 + i * 100, 5));
    expect(verdicts).toEqual(['reply', 'silent', 'silent', 'silent', 'close']);
  });

  it('rate-limit - a sustained flood is closed however evenly it is paced (frames accepted in between do not reset the count)', () => {
    // 1,000 frames/s against 100/s: nine of every ten refused. Accepted frames do not touch the strike state.
    const bucket = full(200);
    const strikes = fresh();
    let closedAt: number | undefined;
    for (let i = 0; i < 6000 && closedAt === undefined; i++) {
      const now = T0 + i;
      if (!takeToken(bucket, now, 100, 200) && refuse(strikes, now, 20) === 'close') closedAt = now;
    }
    expect(closedAt).toBeDefined();
    // The burst of 200 lasts ~222 ms at this pace; 20 refusals take ~22 ms more.
    expect(closedAt! - T0).toBeLessThan(300);
  });

  it('rate-limit - a bursty client refused a few times per window is never cut off, however long it runs', () => {
    const state = fresh();
    // 19 refusals in every window (one under the limit of 20), for ten minutes.
    for (let window = 0; window < 60; window++) {
      const start = T0 + window * STRIKE_WINDOW_MS;
      for (let i = 0; i < 19; i++) expect(refuse(state, start + i * 10, 20), `window ${window}, refusal ${i}`).not.toBe('close');
    }
  });

  it('rate-limit - refusals older than the window are forgotten, recent ones are not', () => {
    const state = fresh();
    for (let i = 0; i < 19; i++) refuse(state, T0, 20);
    // Just inside the window: the 20th refusal closes.
    const inside = { ...state };
    expect(refuse(inside, T0 + STRIKE_WINDOW_MS - 1, 20)).toBe('close');
    // At the window's end the count starts over.
    expect(refuse(state, T0 + STRIKE_WINDOW_MS, 20)).not.toBe('close');
    expect(state.strikes).toBe(1);
  });
});
