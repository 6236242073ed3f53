/**
 * Herald's JWS verifier against jsonwebtoken, token by token: on every token
 * here, valid or hostile, both must accept or both reject (and agree on
 * "expired"). jsonwebtoken is the reference; Herald's verifier exists only
 * because it is about three times cheaper per connect.
 */
import { createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { JwtAuthenticator, type AuthOutcome } from '../../src/auth/authenticator.js';
import type { Algorithm, JwtConfig } from '../../src/config.js';
import { decodeJws } from '../../src/auth/jws.js';

const SECRET = 'differential-secret-0123456789abcdef0123';
const now = () => Math.floor(Date.now() / 1000);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaSmall = generateKeyPairSync('rsa', { modulusLength: 1024 });
const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'alice', topics: ['a.*'], exp: now() + 600, ...extra });

interface Setup {
  name: string;
  config: JwtConfig;
  /** The same key and options, as jsonwebtoken takes them. */
  key: KeyObject | string;
  options: jwt.VerifyOptions;
}

const base = { secret: undefined, publicKey: undefined, jwksUrl: undefined, issuer: undefined, audience: undefined, requireExp: false, jwksRefetchIntervalMs: 5000 } satisfies Partial<JwtConfig>;
const SETUPS: Setup[] = [
  { name: 'HS*', config: { ...base, secret: SECRET, algorithms: ['HS256', 'HS384', 'HS512'] }, key: SECRET, options: { algorithms: ['HS256', 'HS384', 'HS512'] } },
  { name: 'HS256 with iss and aud', config: { ...base, secret: SECRET, algorithms: ['HS256'], issuer: 'https://issuer', audience: ['herald', 'other'] }, key: SECRET, options: { algorithms: ['HS256'], issuer: 'https://issuer', audience: ['herald', 'other'] } },
  { name: 'RSA', config: { ...base, publicKey: rsa.publicKey, algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] }, key: rsa.publicKey, options: { algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] } },
  { name: 'EC P-256', config: { ...base, publicKey: ec256.publicKey, algorithms: ['ES256'] }, key: ec256.publicKey, options: { algorithms: ['ES256'] } },
];

function sign(payload: unknown, key: KeyObject | string, algorithm: jwt.Algorithm, header: Record<string, unknown> = {}): string {
  return jwt.sign(payload as object, key, { algorithm, noTimestamp: true, header: { alg: algorithm, ...header } as jwt.JwtHeader });
}

/** An HS256-signed token with any header at all. */
function hmacToken(header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

/** Every token, hostile ones included, that a client could send. */
function corpus(): [string, string][] {
  const tokens: [string, string][] = [];
  const add = (label: string, token: string) => tokens.push([label, token]);
  for (const alg of ['HS256', 'HS384', 'HS512'] as const) add(`${alg} valid`, sign(claims(), SECRET, alg));
  for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const) add(`${alg} valid`, sign(claims(), rsa.privateKey, alg));
  add('ES256 valid', sign(claims(), ec256.privateKey, 'ES256'));
  add('ES384 valid', sign(claims(), ec384.privateKey, 'ES384'));
  add('RS256 by a 1024-bit key', jwt.sign(claims(), rsaSmall.privateKey, { algorithm: 'RS256', allowInsecureKeySizes: true }));
  add('HS256 wrong secret', sign(claims(), 'another-secret-0123456789abcdef0123456', 'HS256'));
  add('HS256 keyed with the RSA public PEM (key confusion)', sign(claims(), pem(rsa.publicKey), 'HS256'));
  add('HS256 keyed with the EC public PEM (key confusion)', sign(claims(), pem(ec256.publicKey), 'HS256'));
  add('RS256 by another key', sign(claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256'));
  add('ES256 by another key', sign(claims(), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ES256'));
  const good = sign(claims(), SECRET, 'HS256');
  const [h, p, s] = good.split('.') as [string, string, string];
  add('alg none, no signature', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`);
  add('alg none with the HS signature kept', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.${s}`);
  add('alg NONE', `${b64({ alg: 'NONE' })}.${p}.`);
  add('payload swapped, signature kept', `${h}.${b64(claims({ topics: ['>'] }))}.${s}`);
  add('signature truncated', `${h}.${p}.${s.slice(0, -4)}`);
  const middle = s.length >> 1;
  add('signature one character off', `${h}.${p}.${s.slice(0, middle)}${s[middle] === 'A' ? 'B' : 'A'}${s.slice(middle + 1)}`);
  // The last of 43 characters holds 4 signature bits and 2 spare ones: flipping a spare bit decodes to the same bytes.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(s[s.length - 1]!);
  add('signature with a non-canonical last character', `${h}.${p}.${s.slice(0, -1)}${alphabet[last ^ 1]}`);
  add('signature empty', `${h}.${p}.`);
  add('four parts', `${good}.${s}`);
  add('two parts', `${h}.${p}`);
  add('not base64', `${h}.${p}.***`);
  add('empty', '');
  add('garbage', 'hello');
  add('header not JSON', `${b64('not json')}.${p}.${s}`);
  add('header an array', `${b64([1])}.${p}.${s}`);
  add('header without alg', `${b64({ typ: 'JWT' })}.${p}.${s}`);
  add('alg not a string', `${b64({ alg: 256 })}.${p}.${s}`);
  add('unknown alg', hmacToken({ alg: 'HS257', typ: 'JWT' }, claims()));
  add('crit header', hmacToken({ alg: 'HS256', crit: ['exp'], exp: 1 }, claims()));
  add('kid not a string', hmacToken({ alg: 'HS256', kid: 7 }, claims()));
  add('hand-made HS256', hmacToken({ alg: 'HS256' }, claims()));
  add('payload a string', hmacToken({ alg: 'HS256' }, 'just text'));
  add('payload an array', hmacToken({ alg: 'HS256' }, [1, 2]));
  add('expired', sign(claims({ exp: now() - 10 }), SECRET, 'HS256'));
  add('expires this second', sign(claims({ exp: now() }), SECRET, 'HS256'));
  add('exp not a number', hmacToken({ alg: 'HS256' }, claims({ exp: 'tomorrow' })));
  add('nbf in the future', sign(claims({ nbf: now() + 60 }), SECRET, 'HS256'));
  add('nbf now', sign(claims({ nbf: now() }), SECRET, 'HS256'));
  add('nbf not a number', hmacToken({ alg: 'HS256' }, claims({ nbf: 'now' })));
  add('fractional exp in the future', sign(claims({ exp: now() + 0.5 + 30 }), SECRET, 'HS256'));
  add('iss right, aud right', sign(claims({ iss: 'https://issuer', aud: 'herald' }), SECRET, 'HS256'));
  add('aud an array with a match', sign(claims({ iss: 'https://issuer', aud: ['x', 'other'] }), SECRET, 'HS256'));
  add('aud an array without a match', sign(claims({ iss: 'https://issuer', aud: ['x', 'y'] }), SECRET, 'HS256'));
  add('aud missing', sign(claims({ iss: 'https://issuer' }), SECRET, 'HS256'));
  add('iss wrong', sign(claims({ iss: 'https://evil', aud: 'herald' }), SECRET, 'HS256'));
  add('iss missing', sign(claims({ aud: 'herald' }), SECRET, 'HS256'));
  // An ES256 signature in DER form (what node:crypto produces by default) rather than JWS's r||s.
  const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(claims())}`;
  add('ES256 signature in DER', `${input}.${cryptoSign('sha256', Buffer.from(input), ec256.privateKey).toString('base64url')}`);
  add('ES256 signature r||s by hand', `${input}.${cryptoSign('sha256', Buffer.from(input), { key: ec256.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`);
  return tokens;
}

function reference(token: string, setup: Setup): 'ok' | 'expired' | 'invalid' {
  try {
    jwt.verify(token, setup.key, setup.options);
    return 'ok';
  } catch (error) {
    return (error as Error).name === 'TokenExpiredError' ? 'expired' : 'invalid';
  }
}

function herald(token: string, setup: Setup): 'ok' | 'expired' | 'invalid' {
  const outcome = new JwtAuthenticator(setup.config).verify(token);
  expect('then' in outcome, 'verification completes synchronously for PEM keys and secrets').toBe(false);
  const settled = outcome as AuthOutcome;
  return settled.ok ? 'ok' : settled.reason === 'token_expired' ? 'expired' : 'invalid';
}

/**
 * Where Herald is deliberately stricter than jsonwebtoken: a `crit` header it
 * does not understand (RFC 7515 4.1.11 requires refusing it; jsonwebtoken
 * ignores it), a non-string `kid`, and a payload that is not a JSON object
 * (claims are required to be one, RFC 7519 7.2).
 */
const STRICTER = new Set(['crit header', 'kid not a string', 'payload a string', 'payload an array']);

describe('jws - Herald agrees with jsonwebtoken', () => {
  const tokens = corpus();
  for (const setup of SETUPS) {
    it(`jws - ${setup.name}: every token of the corpus is accepted or rejected as jsonwebtoken does, except where Herald is stricter on purpose`, () => {
      const rows = tokens.map(([label, token]) => ({ label, herald: herald(token, setup), jsonwebtoken: reference(token, setup) }));
      // Never accept what the reference rejects.
      expect(rows.filter((row) => row.herald === 'ok' && row.jsonwebtoken !== 'ok')).toEqual([]);
      expect(rows.filter((row) => row.herald !== row.jsonwebtoken && !(STRICTER.has(row.label) && row.herald === 'invalid'))).toEqual([]);
    });
  }

  it('jws - the stricter cases really are refused by Herald', () => {
    const setup = SETUPS[0]!;
    for (const [label, token] of tokens.filter(([label]) => STRICTER.has(label))) expect(herald(token, setup), label).toBe('invalid');
  });

  it('jws - the corpus exercises both outcomes in every setup', () => {
    for (const setup of SETUPS) {
      const outcomes = new Set(tokens.map(([, token]) => reference(token, setup)));
      expect(outcomes.has('ok'), setup.name).toBe(true);
      expect(outcomes.has('invalid'), setup.name).toBe(true);
    }
    expect(tokens.length).toBeGreaterThan(40);
  });

  it('jws - decoding never throws, whatever the input', () => {
    for (const input of ['', '.', '..', '...', 'a.b.c', `${'x'.repeat(10_000)}.y.z`, '\u0000.\u0000.\u0000', 'é.é.é']) {
      expect(() => decodeJws(input)).not.toThrow();
    }
  });

  it('jws - an RSA public key shared as JWK works like its PEM', () => {
    const jwk = createPublicKey(pem(rsa.publicKey)).export({ format: 'jwk' });
    const setup: Setup = { ...SETUPS[2]!, config: { ...SETUPS[2]!.config, publicKey: createPublicKey({ key: jwk, format: 'jwk' }) } };
    expect(herald(sign(claims(), rsa.privateKey, 'RS256'), setup)).toBe('ok');
  });

  it('jws - algorithms outside the configured allow-list are refused even with the right key', () => {
    const setup: Setup = { name: 'HS256 only', config: { ...base, secret: SECRET, algorithms: ['HS256' as Algorithm] }, key: SECRET, options: { algorithms: ['HS256'] } };
    expect(herald(sign(claims(), SECRET, 'HS512'), setup)).toBe('invalid');
    expect(reference(sign(claims(), SECRET, 'HS512'), setup)).toBe('invalid');
  });
});
