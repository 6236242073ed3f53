import { describe, it, expect } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.js';

const KEY_A = 'key-aaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'key-bbbbbbbbbbbbbbbbbbbb';

describe('ApiKeys', () => {
  const keys = new ApiKeys([KEY_A, KEY_B]);

  it('api-keys - enabled only when keys are configured', () => {
    expect(keys.enabled).toBe(true);
    expect(new ApiKeys([KEY_A]).enabled).toBe(true);
    expect(new ApiKeys([]).enabled).toBe(false);
  });

  it('api-keys - accepts "Bearer <known key>"', () => {
    expect(keys.accepts(`Bearer ${KEY_A}`)).toBe(true);
  });

  it('api-keys - accepts every configured key, not just the first', () => {
    expect(keys.accepts(`Bearer ${KEY_B}`)).toBe(true);
    expect(new ApiKeys([KEY_B, KEY_A]).accepts(`Bearer ${KEY_A}`)).toBe(true);
  });

  it('api-keys - the scheme is case-insensitive', () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      expect(keys.accepts(`${scheme} ${KEY_A}`), scheme).toBe(true);
    }
  });

  it('api-keys - tolerates extra whitespace after the scheme and at the end', () => {
    expect(keys.accepts(`Bearer   ${KEY_A}`)).toBe(true);
    expect(keys.accepts(`Bearer\t${KEY_A}`)).toBe(true);
    expect(keys.accepts(`Bearer ${KEY_A}  `)).toBe(true);
  });

  it('api-keys - the key itself is case-sensitive', () => {
    expect(keys.accepts(`Bearer ${KEY_A.toUpperCase()}`)).toBe(false);
  });

  it('api-keys - rejects unknown keys', () => {
    expect(keys.accepts('Bearer key-cccccccccccccccccccc')).toBe(false);
    expect(keys.accepts('Bearer x')).toBe(false);
  });

  it('api-keys - rejects prefixes and extensions of a known key', () => {
    expect(keys.accepts(`Bearer ${KEY_A.slice(0, -1)}`)).toBe(false);
    expect(keys.accepts(`Bearer ${KEY_A}x`)).toBe(false);
    expect(keys.accepts(`Bearer x${KEY_A}`)).toBe(false);
  });

  it('api-keys - rejects an empty header', () => {
    expect(keys.accepts('')).toBe(false);
    expect(keys.accepts('   ')).toBe(false);
  });

  it('api-keys - rejects the scheme without a key', () => {
    expect(keys.accepts('Bearer')).toBe(false);
    expect(keys.accepts('Bearer ')).toBe(false);
  });

  it('api-keys - rejects other schemes carrying a known key', () => {
    for (const scheme of ['Basic', 'Token', 'Bearerx', 'Digest', 'ApiKey']) {
      expect(keys.accepts(`${scheme} ${KEY_A}`), scheme).toBe(false);
    }
  });

  it('api-keys - rejects a bare key without a scheme', () => {
    expect(keys.accepts(KEY_A)).toBe(false);
  });

  it('api-keys - rejects a scheme without a separating space', () => {
    expect(keys.accepts(`Bearer${KEY_A}`)).toBe(false);
  });

  it('api-keys - rejects more than one token after the scheme', () => {
    expect(keys.accepts(`Bearer ${KEY_A} ${KEY_B}`)).toBe(false);
    expect(keys.accepts(`Bearer ${KEY_A},${KEY_B}`)).toBe(false);
    expect(keys.accepts(`Bearer ${KEY_A} extra`)).toBe(false);
  });

  it('api-keys - rejects everything when no keys are configured', () => {
    const none = new ApiKeys([]);
    expect(none.accepts(`Bearer ${KEY_A}`)).toBe(false);
    expect(none.accepts('Bearer ')).toBe(false);
    expect(none.accepts('')).toBe(false);
  });

  it('api-keys - keys with non-ASCII characters are compared exactly', () => {
    const unicode = new ApiKeys(['clé-secrète-日本-0123456789']);
    expect(unicode.accepts('Bearer clé-secrète-日本-0123456789')).toBe(true);
    expect(unicode.accepts('Bearer cle-secrete-日本-0123456789')).toBe(false);
  });
});
