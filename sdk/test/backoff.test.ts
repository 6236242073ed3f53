import { describe, expect, it } from 'vitest';
import { backoff, reconnectDelay, SOON_MS } from '../src/index.js';

const delays = { minMs: 500, maxMs: 20_000 };

describe('backoff - exponential with full jitter above a floor', () => {
  it('backoff - attempt n lies between the floor and min(max, floor·2^(n+1)), reaching both ends', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = Math.min(20_000, 500 * 2 ** (attempt + 1));
      expect(backoff(attempt, delays, () => 0)).toBe(500);
      expect(backoff(attempt, delays, () => 0.999999)).toBeCloseTo(cap, -1);
      expect(backoff(attempt, delays, () => 0.5)).toBeCloseTo(500 + (cap - 500) / 2, 5);
    }
    expect(backoff(50, delays, () => 0.999999)).toBeLessThanOrEqual(20_000);
  });

  it('backoff - delays are spread over the whole window, not clustered', () => {
    const samples = Array.from({ length: 2000 }, () => backoff(3, delays));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...samples)).toBeLessThanOrEqual(8000);
    // Ten buckets over [500, 8000]: each holds a fair share (uniform: 200 each).
    const buckets = new Array<number>(10).fill(0);
    for (const s of samples) buckets[Math.min(9, Math.floor(((s - 500) / 7500) * 10))]!++;
    for (const count of buckets) expect(count).toBeGreaterThan(120);
  });

  it('backoff - a floor above the ceiling is still the floor', () => {
    expect(backoff(0, { minMs: 1000, maxMs: 100 }, () => 0.7)).toBe(1000);
  });

  it('backoff - close actions: soon within a second, long in the upper half of the ceiling, token at once the first time', () => {
    for (const r of [0, 0.3, 0.999]) {
      expect(reconnectDelay('soon', 7, delays, () => r)).toBeLessThan(SOON_MS);
      const long = reconnectDelay('long', 0, delays, () => r);
      expect(long).toBeGreaterThanOrEqual(10_000);
      expect(long).toBeLessThanOrEqual(20_000);
    }
    expect(reconnectDelay('token', 0, delays, () => 0.5)).toBe(0);
    expect(reconnectDelay('token', 2, delays, () => 0.5)).toBe(backoff(2, delays, () => 0.5));
    expect(reconnectDelay('backoff', 4, delays, () => 0.25)).toBe(backoff(4, delays, () => 0.25));
  });
});
