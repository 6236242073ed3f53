import { describe, it, expect } from 'vitest';
import { GrantsCache, type Grants } from '../../src/auth/grants.js';

function grantsFor(topics: unknown, publish?: unknown, cache = new GrantsCache()): Grants {
  const grants = cache.fromClaims(topics, publish);
  if (typeof grants === 'string') throw new Error(`expected grants, got: ${grants}`);
  return grants;
}

describe('GrantsCache.fromClaims', () => {
  it('grants - topics allow subscribing to matching topics only', () => {
    const grants = grantsFor(['chat.*', 'news']);
    expect(grants.canSubscribe('chat.a', 'alice')).toBe(true);
    expect(grants.canSubscribe('news', 'alice')).toBe(true);
    expect(grants.canSubscribe('chat.a.b', 'alice')).toBe(false);
    expect(grants.canSubscribe('sports', 'alice')).toBe(false);
  });

  it('grants - publish allows publishing to matching topics only', () => {
    const grants = grantsFor(['chat.>'], ['chat.room']);
    expect(grants.canPublish('chat.room', 'alice')).toBe(true);
    expect(grants.canPublish('chat.other', 'alice')).toBe(false);
  });

  it('grants - topics and publish are independent', () => {
    const grants = grantsFor(['read.only'], ['write.only']);
    expect(grants.canSubscribe('read.only', 'alice')).toBe(true);
    expect(grants.canPublish('read.only', 'alice')).toBe(false);
    expect(grants.canPublish('write.only', 'alice')).toBe(true);
    expect(grants.canSubscribe('write.only', 'alice')).toBe(false);
  });

  it('grants - absent publish grants no publishing', () => {
    const grants = grantsFor(['>']);
    expect(grants.canSubscribe('anything', 'alice')).toBe(true);
    expect(grants.canPublish('anything', 'alice')).toBe(false);
    expect(grants.canPublish('a.b.c', 'alice')).toBe(false);
  });

  it('grants - absent topics grant no subscriptions', () => {
    const grants = grantsFor(undefined, ['>']);
    expect(grants.canSubscribe('anything', 'alice')).toBe(false);
    expect(grants.canPublish('anything', 'alice')).toBe(true);
  });

  it('grants - no claims at all grant nothing', () => {
    const grants = grantsFor(undefined, undefined);
    expect(grants.canSubscribe('a', 'alice')).toBe(false);
    expect(grants.canPublish('a', 'alice')).toBe(false);
  });

  it('grants - empty lists grant nothing', () => {
    const grants = grantsFor([], []);
    expect(grants.canSubscribe('a', 'alice')).toBe(false);
    expect(grants.canPublish('a', 'alice')).toBe(false);
  });

  it('grants - {sub} patterns depend on the sub passed at match time', () => {
    const grants = grantsFor(['user.{sub}.>'], ['user.{sub}.outbox']);
    expect(grants.canSubscribe('user.alice.inbox', 'alice')).toBe(true);
    expect(grants.canSubscribe('user.alice.inbox', 'bob')).toBe(false);
    expect(grants.canPublish('user.bob.outbox', 'bob')).toBe(true);
    expect(grants.canPublish('user.bob.outbox', 'alice')).toBe(false);
  });

  it('grants - an unsafe sub cannot widen a {sub} grant', () => {
    const grants = grantsFor(['user.{sub}'], ['user.{sub}']);
    expect(grants.canSubscribe('user.alice', '>')).toBe(false);
    expect(grants.canSubscribe('user.alice', '*')).toBe(false);
    expect(grants.canPublish('user.alice', '*')).toBe(false);
  });

  it('grants - a non-array topics claim is an error naming the claim', () => {
    for (const value of ['chat.*', 42, { 0: 'a' }, true, null]) {
      const result = new GrantsCache().fromClaims(value, undefined);
      expect(result, JSON.stringify(value)).toBe('claim "topics" is not an array of patterns');
    }
  });

  it('grants - a non-array publish claim is an error naming the claim', () => {
    for (const value of ['chat.*', 42, { 0: 'a' }, true, null]) {
      const result = new GrantsCache().fromClaims(['a'], value);
      expect(result, JSON.stringify(value)).toBe('claim "publish" is not an array of patterns');
    }
  });

  it('grants - an invalid pattern is an error naming the claim and index', () => {
    const topics = new GrantsCache().fromClaims(['ok', 'also.ok', 'a.>.b'], undefined);
    expect(typeof topics).toBe('string');
    expect(topics).toContain('claim "topics"[2] is not a valid pattern');
    expect(topics).toContain('">" is allowed only as the last segment');

    const publish = new GrantsCache().fromClaims(['ok'], ['bad topic']);
    expect(typeof publish).toBe('string');
    expect(publish).toContain('claim "publish"[0] is not a valid pattern');
  });

  it('grants - non-string entries are errors naming the index', () => {
    expect(new GrantsCache().fromClaims(['a', 7], undefined)).toContain('claim "topics"[1]');
    expect(new GrantsCache().fromClaims(['a', null], undefined)).toContain('claim "topics"[1]');
    expect(new GrantsCache().fromClaims(['a', ''], undefined)).toContain('claim "topics"[1]');
    expect(new GrantsCache().fromClaims(['a'], [['b']])).toContain('claim "publish"[0]');
  });

  it('grants - a bad topics claim is reported even when publish is also bad', () => {
    const result = new GrantsCache().fromClaims('x', 'y');
    expect(result).toBe('claim "topics" is not an array of patterns');
  });

  it('grants - claims that cannot be serialised are an error, not a throw', () => {
    const cyclic: unknown[] = ['a'];
    cyclic.push(cyclic);
    const result = new GrantsCache().fromClaims(cyclic, undefined);
    expect(typeof result).toBe('string');
    expect(result).toContain('cannot be serialised');
    expect(new GrantsCache().fromClaims(['a'], [10n])).toContain('cannot be serialised');
  });

  it('grants - equal claim lists are interned as one object', () => {
    const cache = new GrantsCache();
    const first = cache.fromClaims(['user.{sub}', 'chat.*'], ['chat.*']);
    const second = cache.fromClaims(['user.{sub}', 'chat.*'], ['chat.*']);
    expect(typeof first).toBe('object');
    expect(second).toBe(first);
  });

  it('grants - interned grants still match per sub', () => {
    const cache = new GrantsCache();
    // Two connections with different subs whose tokens carry the same lists.
    const forAlice = grantsFor(['user.{sub}'], ['user.{sub}'], cache);
    const forBob = grantsFor(['user.{sub}'], ['user.{sub}'], cache);
    expect(forBob).toBe(forAlice);
    expect(forAlice.canSubscribe('user.alice', 'alice')).toBe(true);
    expect(forBob.canSubscribe('user.bob', 'bob')).toBe(true);
    expect(forBob.canSubscribe('user.alice', 'bob')).toBe(false);
    expect(forAlice.canPublish('user.bob', 'alice')).toBe(false);
  });

  it('grants - different claim lists are different objects', () => {
    const cache = new GrantsCache();
    const a = cache.fromClaims(['a'], undefined);
    const b = cache.fromClaims(['b'], undefined);
    const swapped = cache.fromClaims(undefined, ['a']);
    const reordered = cache.fromClaims(['b', 'a'], undefined);
    const both = cache.fromClaims(['a', 'b'], undefined);
    expect(b).not.toBe(a);
    expect(swapped).not.toBe(a);
    expect(reordered).not.toBe(both);
    expect(grantsFor(undefined, ['a'], cache).canSubscribe('a', 'x')).toBe(false);
    expect(grantsFor(['a'], undefined, cache).canSubscribe('a', 'x')).toBe(true);
  });

  it('grants - separate caches do not share objects', () => {
    const one = new GrantsCache().fromClaims(['a'], undefined);
    const two = new GrantsCache().fromClaims(['a'], undefined);
    expect(two).not.toBe(one);
  });

  it('grants - invalid claims are rejected again on every call', () => {
    const cache = new GrantsCache();
    expect(typeof cache.fromClaims(['a..b'], undefined)).toBe('string');
    expect(typeof cache.fromClaims(['a..b'], undefined)).toBe('string');
  });

  it('grants - a null claim is rejected whether or not the absent claim was cached first', () => {
    // JWT payloads can carry "publish": null. It must not depend on cache state whether that is accepted.
    const cold = new GrantsCache();
    const coldResult = cold.fromClaims(['a'], null);

    const warm = new GrantsCache();
    grantsFor(['a'], undefined, warm);
    const warmResult = warm.fromClaims(['a'], null);

    expect(coldResult).toBe('claim "publish" is not an array of patterns');
    expect(warmResult).toBe(coldResult);
  });

  it('grants - a null topics claim is rejected whether or not the absent claim was cached first', () => {
    const warm = new GrantsCache();
    grantsFor(undefined, ['a'], warm);
    expect(warm.fromClaims(null, ['a'])).toBe('claim "topics" is not an array of patterns');
  });

  it('grants - the cache keeps working beyond its bound', () => {
    const cache = new GrantsCache();
    for (let i = 0; i < 10_050; i++) grantsFor([`t${i}`], undefined, cache);
    const early = grantsFor(['t0'], undefined, cache);
    const late = grantsFor(['t10049'], undefined, cache);
    expect(early.canSubscribe('t0', 'x')).toBe(true);
    expect(early.canSubscribe('t1', 'x')).toBe(false);
    expect(late.canSubscribe('t10049', 'x')).toBe(true);
    expect(grantsFor(['t10049'], undefined, cache)).toBe(late);
  });
});
