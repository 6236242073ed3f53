/**
 * jws.ts piece by piece: what decodeJws, keyMismatch, signatureValid and
 * decodePayload answer, reason by reason. jws.test.ts compares whole verdicts
 * with jsonwebtoken, where one check standing in for another (an empty
 * signature failing as a bad signature instead of as an empty part) goes
 * unseen; the reasons are what a client is told when its token is refused
 * ("new token rejected: …") and what the log says.
 */
import { createHmac, createSecretKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeJws, decodePayload, keyMismatch, signatureValid, type DecodedJws } from '../../src/auth/jws.js';

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const SECRET = createSecretKey(Buffer.from('unit-secret-0123456789abcdef0123456789'));
const HEADER = b64({ alg: 'HS256', typ: 'JWT' });
const PAYLOAD = b64({ sub: 'alice' });
const hmac = (input: string): string => createHmac('sha256', SECRET).update(input).digest('base64url');
const SIGNATURE = hmac(`${HEADER}.${PAYLOAD}`);
const TOKEN = `${HEADER}.${PAYLOAD}.${SIGNATURE}`;
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });

function decoded(token: string): DecodedJws {
  const result = decodeJws(token);
  if (typeof result === 'string') throw new Error(`expected ${token} to decode, got: ${result}`);
  return result;
}

describe('jws - decodeJws: the shape of a token', () => {
  it('jws - a well-formed token decodes into header, signing input, payload segment and signature bytes', () => {
    expect(decodeJws(TOKEN)).toEqual({
      header: { alg: 'HS256', kid: undefined },
      signingInput: `${HEADER}.${PAYLOAD}`,
      payloadSegment: PAYLOAD,
      signature: Buffer.from(SIGNATURE, 'base64url'),
    });
  });

  it.each([
    ['no dot', 'abc'],
    ['one dot', `${HEADER}.${PAYLOAD}`],
    ['four parts', `${TOKEN}.${SIGNATURE}`],
    ['a trailing dot after three parts', `${TOKEN}.`],
  ])('jws - %s is not a compact JWS', (_label, token) => {
    expect(decodeJws(token)).toBe('not a compact JWS (three dot-separated parts)');
  });

  it.each([
    ['header', `.${PAYLOAD}.${SIGNATURE}`],
    ['payload', `${HEADER}..${SIGNATURE}`],
    ['signature', `${HEADER}.${PAYLOAD}.`],
    ['every part', '..'],
  ])('jws - an empty %s is an empty token part', (_label, token) => {
    expect(decodeJws(token)).toBe('empty token part (an unsigned token?)');
  });

  it.each([
    ['payload', `${HEADER}.${PAYLOAD}*.${SIGNATURE}`],
    ['payload (bad character first)', `${HEADER}.*${PAYLOAD}.${SIGNATURE}`],
    ['signature', `${HEADER}.${PAYLOAD}.${SIGNATURE}=`],
    ['signature (bad character first)', `${HEADER}.${PAYLOAD}.+${SIGNATURE}`],
  ])('jws - a %s outside the base64url alphabet is refused', (_label, token) => {
    expect(decodeJws(token)).toBe('token part is not base64url');
  });

  it('jws - a signature with spare bits set in its last character is not canonical', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(SIGNATURE.at(-1)!);
    expect(decodeJws(`${HEADER}.${PAYLOAD}.${SIGNATURE.slice(0, -1)}${alphabet[last ^ 1]}`)).toBe('signature is not canonical base64url');
  });
});

describe('jws - decodeJws: the header', () => {
  const withHeader = (header: string): string | DecodedJws => decodeJws(`${header}.${PAYLOAD}.${SIGNATURE}`);

  it.each([
    ['not JSON', b64('not json')],
    ['not base64url', `${HEADER.slice(0, 4)}*${HEADER.slice(4)}`],
    ['not base64url at the end', `${HEADER}*`],
  ])('jws - a header %s is not base64url-encoded JSON', (_label, header) => {
    expect(withHeader(header)).toBe('header is not base64url-encoded JSON');
  });

  it('jws - a header nested deeper than 32 levels says so', () => {
    expect(withHeader(b64({ alg: 'HS256', x: nested(32) }))).toBe('header is not base64url-encoded JSON (nested deeper than 32 levels)');
    expect(withHeader(b64({ alg: 'HS256', x: nested(30) }))).toMatchObject({ header: { alg: 'HS256' } });
  });

  it.each([
    ['a number', 7],
    ['a string', 'HS256'],
    ['null', null],
    ['an array', [{ alg: 'HS256' }]],
  ])('jws - a header that is %s is not a JSON object', (_label, header) => {
    expect(withHeader(b64(JSON.stringify(header)))).toBe('header is not a JSON object');
  });

  it('jws - alg must be a string; crit is refused; kid must be a string of at most 256 characters', () => {
    expect(withHeader(b64({ typ: 'JWT' }))).toBe('header has no "alg"');
    expect(withHeader(b64({ alg: 256 }))).toBe('header has no "alg"');
    expect(withHeader(b64({ alg: 'HS256', crit: [] }))).toBe('header has "crit" extensions, which Herald does not support');
    expect(withHeader(b64({ alg: 'HS256', kid: 7 }))).toBe('header "kid" is not a string');
    expect(withHeader(b64({ alg: 'HS256', kid: null }))).toBe('header "kid" is not a string');
    expect(withHeader(b64({ alg: 'HS256', kid: 'k'.repeat(257) }))).toBe('header "kid" is longer than 256 characters');
    expect(withHeader(b64({ alg: 'HS256', kid: 'k'.repeat(256) }))).toMatchObject({ header: { alg: 'HS256', kid: 'k'.repeat(256) } });
    expect(withHeader(b64({ alg: 'ES384', kid: '' }))).toMatchObject({ header: { alg: 'ES384', kid: '' } });
  });

  it('jws - the same header segment gives the same answer every time (it is cached), good or bad', () => {
    const bad = b64({ alg: 'HS256', crit: ['b64'] });
    for (let i = 0; i < 3; i++) {
      expect(withHeader(bad)).toBe('header has "crit" extensions, which Herald does not support');
      expect(withHeader(HEADER)).toMatchObject({ header: { alg: 'HS256' } });
    }
    // More distinct headers than the cache holds: every one still decodes to its own alg and kid.
    for (let i = 0; i < 600; i++) expect(withHeader(b64({ alg: 'HS256', kid: `k${i}` }))).toMatchObject({ header: { kid: `k${i}` } });
  });
});

describe('jws - keyMismatch: a key only verifies the algorithms it was made for', () => {
  it('jws - HS* need an HMAC secret', () => {
    expect(keyMismatch('HS256', SECRET)).toBeUndefined();
    expect(keyMismatch('HS512', rsa2048.publicKey)).toBe('HS512 needs an HMAC secret');
  });

  it('jws - asymmetric algorithms need a public key, not a secret or a private key', () => {
    expect(keyMismatch('RS256', SECRET)).toBe('RS256 needs a public key');
    expect(keyMismatch('ES256', SECRET)).toBe('ES256 needs a public key');
    expect(keyMismatch('PS256', rsa2048.privateKey)).toBe('PS256 needs a public key');
  });

  it('jws - RS* and PS* need an RSA key of at least 2048 bits', () => {
    for (const alg of ['RS256', 'RS512', 'PS256', 'PS384'] as const) {
      expect(keyMismatch(alg, rsa2048.publicKey), alg).toBeUndefined();
      expect(keyMismatch(alg, p256.publicKey), alg).toBe(`${alg} needs an RSA key`);
      expect(keyMismatch(alg, rsa1024.publicKey), alg).toBe('RSA key of 1024 bits; at least 2048 required');
    }
  });

  it('jws - ES* need an EC key on the algorithm\'s own curve', () => {
    expect(keyMismatch('ES256', p256.publicKey)).toBeUndefined();
    expect(keyMismatch('ES384', p384.publicKey)).toBeUndefined();
    expect(keyMismatch('ES512', p521.publicKey)).toBeUndefined();
    expect(keyMismatch('ES256', rsa2048.publicKey)).toBe('ES256 needs an EC key');
    expect(keyMismatch('ES256', p384.publicKey)).toBe('ES256 needs an EC key on prime256v1');
    expect(keyMismatch('ES384', p256.publicKey)).toBe('ES384 needs an EC key on secp384r1');
    expect(keyMismatch('ES512', p384.publicKey)).toBe('ES512 needs an EC key on secp521r1');
  });
});

describe('jws - signatureValid', () => {
  it('jws - an HS256 signature of the wrong length is invalid, not an exception', () => {
    const short = decoded(`${HEADER}.${PAYLOAD}.${SIGNATURE.slice(0, 40)}`);
    expect(signatureValid('HS256', short, SECRET)).toBe(false);
    expect(signatureValid('HS256', decoded(TOKEN), SECRET)).toBe(true);
  });

  it('jws - an ES256 signature must be r||s (64 bytes); the DER form of the same signature is invalid', () => {
    const header = b64({ alg: 'ES256' });
    const input = `${header}.${PAYLOAD}`;
    const raw = cryptoSign('sha256', Buffer.from(input), { key: p256.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const der = cryptoSign('sha256', Buffer.from(input), p256.privateKey).toString('base64url');
    expect(signatureValid('ES256', decoded(`${input}.${raw}`), p256.publicKey)).toBe(true);
    expect(signatureValid('ES256', decoded(`${input}.${der}`), p256.publicKey)).toBe(false);
  });
});

describe('jws - decodePayload', () => {
  const payloadOf = (segment: string): Record<string, unknown> | string => decodePayload(decoded(`${HEADER}.${segment}.${SIGNATURE}`));

  it('jws - a JSON object payload is returned as it is', () => {
    expect(payloadOf(b64({ sub: 'alice', exp: 5 }))).toEqual({ sub: 'alice', exp: 5 });
  });

  it('jws - a payload that is not JSON, or nested deeper than 32 levels, says which', () => {
    expect(payloadOf(b64('{"sub":'))).toBe('payload is not base64url-encoded JSON');
    expect(payloadOf(b64({ sub: 'a', x: nested(32) }))).toBe('payload is nested deeper than 32 levels');
  });

  it.each([
    ['a string', '"alice"'],
    ['a number', '7'],
    ['null', 'null'],
    ['an array', '[{"sub":"alice"}]'],
  ])('jws - a payload that is %s is not a JSON object', (_label, json) => {
    expect(payloadOf(b64(json))).toBe('payload is not a JSON object');
  });
});
