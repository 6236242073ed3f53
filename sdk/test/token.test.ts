import { describe, expect, it } from 'vitest';
import { refreshDelay, tokenExp } from '../src/token.js';
import { jwt } from './helpers/fake-socket.js';

describe('token - reading exp and scheduling the refresh', () => {
  it('token - exp is read from the payload of any JWT, whatever its length and padding', () => {
    for (let pad = 0; pad < 6; pad++) {
      expect(tokenExp(jwt({ exp: 1_900_000_000, name: 'é'.repeat(pad), topics: ['x'.repeat(pad)] }))).toBe(1_900_000_000);
    }
    expect(tokenExp(jwt({}))).toBeUndefined();
    expect(tokenExp(jwt({ exp: '123' }))).toBeUndefined();
    for (const garbage of ['', 'abc', 'a.b.c', '...', 'a.!!!!.c']) expect(tokenExp(garbage)).toBeUndefined();
  });

  it('token - refreshed the skew ahead of exp, or halfway for short tokens, never in the past', () => {
    const now = 1_000_000_000_000;
    expect(refreshDelay(now / 1000 + 3600, now, 30_000)).toBe(3_570_000);
    expect(refreshDelay(now / 1000 + 40, now, 30_000)).toBe(20_000);
    expect(refreshDelay(now / 1000 + 4, now, 30_000)).toBe(2000);
    expect(refreshDelay(now / 1000 - 10, now, 30_000)).toBe(0);
  });
});
