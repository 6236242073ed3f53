import { describe, it, expect } from 'vitest';
import { ExpiryWheel } from '../../src/lifecycle/expiry.js';

const T0 = 1_700_000_000;

describe('ExpiryWheel', () => {
  it('expiry - an item expires once now reaches exp', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 5);
    expect(wheel.expire(T0 + 5)).toEqual(['a']);
    expect(wheel.size).toBe(0);
  });

  it('expiry - nothing expires early', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 5);
    expect(wheel.expire(T0)).toEqual([]);
    expect(wheel.expire(T0 + 4)).toEqual([]);
    expect(wheel.expire(T0 + 4.999)).toEqual([]);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 5)).toEqual(['a']);
  });

  it('expiry - an item is returned only once', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 1);
    expect(wheel.expire(T0 + 1)).toEqual(['a']);
    expect(wheel.expire(T0 + 1)).toEqual([]);
    expect(wheel.expire(T0 + 100)).toEqual([]);
  });

  it('expiry - a late sweep returns everything that has come due, and nothing more', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 1);
    wheel.add('b', T0 + 3);
    wheel.add('c', T0 + 10);
    wheel.add('d', T0 + 11);
    expect(wheel.expire(T0 + 10).sort()).toEqual(['a', 'b', 'c']);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 11)).toEqual(['d']);
  });

  it('expiry - items sharing a second expire together', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 2);
    wheel.add('b', T0 + 2);
    expect(wheel.size).toBe(2);
    expect(wheel.expire(T0 + 2).sort()).toEqual(['a', 'b']);
  });

  it('expiry - an item with exp in the past expires at the next sweep', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 - 100);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0)).toEqual(['a']);
  });

  it('expiry - an item with exp before an already swept second still expires', () => {
    const wheel = new ExpiryWheel<string>(T0);
    expect(wheel.expire(T0 + 10)).toEqual([]);
    // The cursor is now past T0 + 10; an item due at T0 + 5 must not be lost behind it.
    wheel.add('a', T0 + 5);
    expect(wheel.expire(T0 + 11)).toEqual(['a']);
  });

  it('expiry - an item with exp equal to an already swept second expires at the next sweep', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.expire(T0 + 10);
    wheel.add('a', T0 + 10);
    expect(wheel.expire(T0 + 11)).toEqual(['a']);
  });

  it('expiry - a fractional exp does not expire before it is reached', () => {
    // JWT exp is a NumericDate and may carry a fraction; the contract is now >= exp.
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 5.5);
    expect(wheel.expire(T0 + 5.2)).toEqual([]);
    expect(wheel.expire(T0 + 6)).toEqual(['a']);
  });

  it('expiry - a removed item never expires', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 5);
    wheel.add('b', T0 + 5);
    wheel.remove('a', T0 + 5);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 100)).toEqual(['b']);
  });

  it('expiry - removing an item added with exp in the past works', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 - 50);
    wheel.remove('a', T0 - 50);
    expect(wheel.size).toBe(0);
    expect(wheel.expire(T0 + 1)).toEqual([]);
  });

  it('expiry - removing with a different exp leaves the item in place', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 5);
    wheel.remove('a', T0 + 6);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 5)).toEqual(['a']);
  });

  it('expiry - removing an unknown item is a no-op', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 5);
    wheel.remove('b', T0 + 5);
    wheel.remove('b', T0 + 9);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 5)).toEqual(['a']);
  });

  it('expiry - removing an already expired item is a no-op', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 1);
    wheel.add('b', T0 + 3);
    expect(wheel.expire(T0 + 1)).toEqual(['a']);
    wheel.remove('a', T0 + 1);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 3)).toEqual(['b']);
  });

  it('expiry - moving an item (remove then add) expires it at the new time only', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 5);
    wheel.remove('a', T0 + 5);
    wheel.add('a', T0 + 20);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 19)).toEqual([]);
    expect(wheel.expire(T0 + 20)).toEqual(['a']);
  });

  it('expiry - moving an item to an earlier time expires it then', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 20);
    wheel.remove('a', T0 + 20);
    wheel.add('a', T0 + 2);
    expect(wheel.expire(T0 + 2)).toEqual(['a']);
    expect(wheel.expire(T0 + 30)).toEqual([]);
  });

  it('expiry - moving after some sweeps keeps the item', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 10);
    expect(wheel.expire(T0 + 5)).toEqual([]);
    wheel.remove('a', T0 + 10);
    wheel.add('a', T0 + 15);
    expect(wheel.expire(T0 + 14)).toEqual([]);
    expect(wheel.expire(T0 + 15)).toEqual(['a']);
  });

  it('expiry - size counts scheduled items across seconds', () => {
    const wheel = new ExpiryWheel<object>(T0);
    expect(wheel.size).toBe(0);
    const items = [{}, {}, {}];
    wheel.add(items[0]!, T0 + 1);
    wheel.add(items[1]!, T0 + 2);
    wheel.add(items[2]!, T0 + 2);
    expect(wheel.size).toBe(3);
    wheel.expire(T0 + 1);
    expect(wheel.size).toBe(2);
    wheel.remove(items[1]!, T0 + 2);
    expect(wheel.size).toBe(1);
  });

  it('expiry - adding the same item twice for the same second schedules it once', () => {
    const wheel = new ExpiryWheel<string>(T0);
    wheel.add('a', T0 + 3);
    wheel.add('a', T0 + 3);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 3)).toEqual(['a']);
  });

  it('expiry - items are compared by identity', () => {
    const wheel = new ExpiryWheel<{ id: number }>(T0);
    const a = { id: 1 };
    wheel.add(a, T0 + 3);
    wheel.remove({ id: 1 }, T0 + 3);
    expect(wheel.size).toBe(1);
    expect(wheel.expire(T0 + 3)).toEqual([a]);
    expect(wheel.size).toBe(0);
  });

  it('expiry - a fractional construction time is allowed', () => {
    const wheel = new ExpiryWheel<string>(T0 + 0.75);
    wheel.add('a', T0);
    expect(wheel.expire(T0 + 0.9)).toEqual(['a']);
  });
});
