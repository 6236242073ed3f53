/**
 * JWTs for the fuzzer, signed over raw header and payload *text* (so that a
 * claim can be `1e400`, a key can repeat, and nesting can go past any limit),
 * and the reference judgement of docs/protocol.md ("Tokens") and contract-8.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { hostileNumberText, jsonText, malformedPattern, nestedJsonText, prototypeObjectText, wellFormedPattern } from './arbitraries.js';
import { AUTH_FAILURES, LIMITS } from './contract.js';
import { hasOwn, isPlainObject, nestedText, textDepth, tryParse } from './json.js';

export const FUZZ_SECRET = 'fuzz-secret-0123456789abcdef-0123456789abcdef';
/** The issuer and audiences of the verifier that checks them. */
export const ISSUER = 'https://issuer.example';
export const AUDIENCE = ['herald', 'other'];
const HASH: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** `<header>.<payload>.<signature>` with an HMAC over the texts as given. */
export function signText(headerText: string, payloadText: string, secret = FUZZ_SECRET, alg = 'HS256'): string {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  const signature = createHmac(HASH[alg] ?? 'sha256', secret).update(input).digest('base64url');
  return `${input}.${signature}`;
}

export type TokenExpectation =
  | { verdict: 'accept'; sub: string; exp: number | null }
  /** Refused; `reasons` are the close reasons the contract allows for it. */
  | { verdict: 'reject'; reasons: ReadonlySet<string> }
  | { verdict: 'either' };

const INVALID = new Set(['token_invalid']);
const EXPIRED = new Set(['token_expired']);
const ANY_FAILURE = new Set([...AUTH_FAILURES].filter((reason) => reason !== 'token_missing'));

const validTimeClaim = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= LIMITS.timeClaimMax;

/** Pattern validity as documented, for the patterns the generators make; undefined when the reference does not judge. */
function patternsValid(value: unknown): boolean | undefined {
  if (!Array.isArray(value)) return false;
  let unsure = false;
  for (const p of value) {
    if (typeof p !== 'string') return false;
    if (p === '' || p.includes('..') || p.startsWith('.') || p.endsWith('.')) return false;
    const segments = p.split('.');
    if (segments.slice(0, -1).includes('>')) return false;
    for (const s of segments) {
      if (s === '*' || s === '>' || s === '{sub}') continue;
      if (!/^[A-Za-z0-9_\-:]+$/.test(s)) {
        if (/[{}*>]/.test(s) || /[^\x21-\x7e]/.test(s) || s.includes(' ') || s.includes('#')) return false;
        unsure = true;
      }
    }
  }
  return unsure ? undefined : true;
}

export interface TokenParts {
  headerText: string;
  payloadText: string;
  /** The algorithm the signature was made with, and the secret. */
  signAlg: string;
  secret: string;
}

/** HERALD_JWT_ISSUER / HERALD_JWT_AUDIENCE of a verifier, when set. */
export interface Expectations {
  issuer?: string;
  audience?: readonly string[];
}

/** What the contract says about a token made of these parts, for a verifier with FUZZ_SECRET, HS256/384/512, `requireExp` and maybe iss/aud. */
export function expectToken(parts: TokenParts, now: number, requireExp: boolean, checks: Expectations = {}): TokenExpectation {
  const invalid: string[] = [];
  let expired = false;
  let unsure = false;
  const header = textDepth(parts.headerText) > LIMITS.jwtDepth ? undefined : tryParse(parts.headerText);
  const payload = textDepth(parts.payloadText) > LIMITS.jwtDepth ? undefined : tryParse(parts.payloadText);
  if (header === undefined || !header.ok || !isPlainObject(header.value)) invalid.push('header');
  else {
    const alg = hasOwn(header.value, 'alg') ? header.value.alg : undefined;
    if (typeof alg !== 'string' || !(alg in HASH)) invalid.push('alg');
    else if (alg !== parts.signAlg || parts.secret !== FUZZ_SECRET) invalid.push('signature');
    if (hasOwn(header.value, 'crit')) invalid.push('crit');
    const kid = hasOwn(header.value, 'kid') ? header.value.kid : undefined;
    if (typeof kid === 'string' && [...kid].length > LIMITS.kidLength) invalid.push('kid');
    else if (kid !== undefined && typeof kid !== 'string') unsure = true;
  }
  let sub: string | undefined;
  let exp: number | null = null;
  if (payload === undefined || !payload.ok || !isPlainObject(payload.value)) invalid.push('payload');
  else {
    const claims = payload.value;
    const claim = (name: string): unknown => (hasOwn(claims, name) ? claims[name] : undefined);
    if (typeof claim('sub') !== 'string' || claim('sub') === '') invalid.push('sub');
    else sub = claim('sub') as string;
    for (const name of ['exp', 'nbf', 'iat']) if (hasOwn(claims, name) && !validTimeClaim(claims[name])) invalid.push(name);
    if (!hasOwn(claims, 'exp')) {
      if (requireExp) invalid.push('no exp');
    } else if (validTimeClaim(claims.exp)) {
      exp = claims.exp as number;
      if (exp <= now) expired = true;
    }
    if (hasOwn(claims, 'nbf') && validTimeClaim(claims.nbf) && (claims.nbf as number) > now + 1) unsure = true;
    if (hasOwn(claims, 'iat') && validTimeClaim(claims.iat) && (claims.iat as number) > now + 1) unsure = true;
    // docs/protocol.md: iss must equal HERALD_JWT_ISSUER, aud must contain one of HERALD_JWT_AUDIENCE, when set.
    if (checks.issuer !== undefined && claim('iss') !== checks.issuer) invalid.push('iss');
    if (checks.audience !== undefined) {
      const aud = claim('aud');
      const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (!values.some((v) => typeof v === 'string' && checks.audience!.includes(v))) invalid.push('aud');
      else if (Array.isArray(aud) && aud.some((v) => typeof v !== 'string')) unsure = true;
    }
    // docs/protocol.md, "Presence": `info`, when present, is a JSON object of at most 1024 bytes nested at most 8 levels.
    if (hasOwn(claims, 'info')) {
      const info = claims.info;
      const bytes = isPlainObject(info) ? Buffer.byteLength(JSON.stringify(info)) : 0;
      if (!isPlainObject(info) || textDepth(JSON.stringify(info)) > 8 || bytes > 1100) invalid.push('info');
      else if (bytes > 900) unsure = true;
    }
    for (const name of ['topics', 'publish']) {
      if (!hasOwn(claims, name)) continue;
      const valid = patternsValid(claims[name]);
      if (valid === false) invalid.push(name);
      if (valid === undefined) unsure = true;
    }
  }
  if (invalid.length > 0) return { verdict: 'reject', reasons: expired ? ANY_FAILURE : INVALID };
  if (expired) return { verdict: 'reject', reasons: unsure ? ANY_FAILURE : EXPIRED };
  // A future nbf must be refused; with which reason the contract does not say.
  if (unsure) return { verdict: 'either' };
  return { verdict: 'accept', sub: sub!, exp };
}

// ---- generators ----

/** A time claim: valid (past, future, both ends of the range), or out of the documented range / not a number. */
export function timeClaimText(now: number): fc.Arbitrary<{ text: string; kind: 'past' | 'future' | 'bad' }> {
  return fc.oneof(
    fc.integer({ min: now + 60, max: LIMITS.timeClaimMax }).map((v) => ({ text: String(v), kind: 'future' as const })),
    fc.constantFrom(String(LIMITS.timeClaimMax), `${now + 3600}.5`).map((text) => ({ text, kind: 'future' as const })),
    fc.integer({ min: 0, max: now - 5 }).map((v) => ({ text: String(v), kind: 'past' as const })),
    fc.constantFrom('0', '0.5').map((text) => ({ text, kind: 'past' as const })),
    fc.oneof(
      hostileNumberText.filter((t) => !['-0', '0.0', '4.9e-324', '1e-400'].includes(t)),
      fc.constantFrom('-1', '"123"', '1e20', String(LIMITS.timeClaimMax + 1), '253402300799.5', 'null', 'true', '[]', '{}', '"1e400"', '-1e-9'),
    ).map((text) => ({ text, kind: 'bad' as const })),
  );
}

const patternsText = fc.oneof(
  { weight: 4, arbitrary: fc.array(wellFormedPattern, { maxLength: 4 }).map((ps) => JSON.stringify(ps)) },
  { weight: 1, arbitrary: fc.tuple(fc.array(wellFormedPattern, { maxLength: 2 }), malformedPattern).map(([ps, bad]) => JSON.stringify([...ps, bad])) },
  { weight: 1, arbitrary: fc.constantFrom('"a.*"', '{}', 'null', '[1]', '[["a"]]', '[null]') },
);

const subText = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z0-9_-]{1,12}$/).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.constantFrom('""', '1', 'null', '["a"]', '{"a":1}', '"a.b"', '">"', '"\\ud800"', JSON.stringify('x'.repeat(5000))) },
);

/** Payload text: claims with hostile values, prototype keys, and extra claims nested around the 32-level limit. */
export function payloadText(now: number): fc.Arbitrary<string> {
  const claim = (name: string, value: fc.Arbitrary<string>) => fc.option(value.map((v) => `"${name}":${v}`), { nil: undefined, freq: 3 });
  return fc
    .tuple(
      fc.option(subText, { nil: undefined, freq: 10 }),
      fc.option(timeClaimText(now).map((c) => c.text), { nil: undefined, freq: 8 }),
      claim('nbf', timeClaimText(now).map((c) => c.text)),
      claim('iat', timeClaimText(now).map((c) => c.text)),
      claim('topics', patternsText),
      claim('publish', patternsText),
      fc.option(fc.oneof(jsonText, nestedJsonText, prototypeObjectText, fc.constantFrom(LIMITS.jwtDepth - 2, LIMITS.jwtDepth - 1, LIMITS.jwtDepth).map((d) => nestedText(d))), { nil: undefined, freq: 3 }),
      fc.option(fc.constantFrom('"__proto__":{"sub":"root"}', '"constructor":{"prototype":{"exp":1}}', '"sub":"shadow"'), { nil: undefined, freq: 6 }),
      claim('iss', fc.constantFrom(`"${ISSUER}"`, `"${ISSUER}"`, '"https://other.example"', '1', 'null', `["${ISSUER}"]`)),
      claim('aud', fc.constantFrom('"herald"', '["x","other"]', '["x"]', '"nope"', '5', '[]', '["herald",1]', '{"herald":1}')),
      claim(
        'info',
        fc.constantFrom('{"name":"Alice"}', '{}', nestedText(8, 'object'), nestedText(9, 'object'), '"Alice"', '[1]', 'null', '1e400', `{"bio":"${'b'.repeat(800)}"}`, `{"bio":"${'b'.repeat(1200)}"}`, '{"__proto__":{"admin":true}}', nestedText(5000, 'object')),
      ),
    )
    .map(([sub, exp, nbf, iat, topics, publish, extra, proto, iss, aud, info]) => {
      const entries = [sub === undefined ? undefined : `"sub":${sub}`, exp === undefined ? undefined : `"exp":${exp}`, nbf, iat, topics, publish, extra === undefined ? undefined : `"x":${extra}`, proto, iss, aud, info];
      return `{${entries.filter((e) => e !== undefined).join(',')}}`;
    });
}

export const headerText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('{"alg":"HS256","typ":"JWT"}', '{"alg":"HS384"}', '{"typ":"JWT","alg":"HS512"}', '{"alg":"HS256","kid":"k1"}') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '{"alg":"none"}', '{"alg":"RS256"}', '{"alg":"hs256"}', '{}', '[]', '"HS256"', '{"alg":["HS256"]}', '{"alg":"HS256","crit":["exp"]}',
      '{"alg":"HS256","alg":"none"}', '{"__proto__":{"alg":"HS256"}}', '{"alg":"HS256","x":1e400}',
      `{"alg":"HS256","kid":"${'k'.repeat(LIMITS.kidLength)}"}`, `{"alg":"HS256","kid":"${'k'.repeat(LIMITS.kidLength + 1)}"}`, '{"alg":"HS256","kid":123}',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(LIMITS.jwtDepth - 2, LIMITS.jwtDepth - 1, LIMITS.jwtDepth, 5000).map((d) => `{"alg":"HS256","x":${nestedText(d)}}`) },
);

/** Token parts: mostly signed correctly with the header's own algorithm, sometimes with another one or a wrong secret. */
export function tokenParts(now: number): fc.Arbitrary<TokenParts> {
  return fc.tuple(headerText, payloadText(now), fc.nat(19)).map(([h, p, roll]) => {
    const alg = /"alg":"(HS\d{3})"/.exec(h)?.[1] ?? 'HS256';
    return { headerText: h, payloadText: p, signAlg: roll === 0 ? (alg === 'HS256' ? 'HS512' : 'HS256') : alg, secret: roll === 1 ? `${FUZZ_SECRET}-other` : FUZZ_SECRET };
  });
}

export const tokenOf = (parts: TokenParts): string => signText(parts.headerText, parts.payloadText, parts.secret, parts.signAlg);

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A changed copy of `token`: characters replaced, removed, inserted, segments swapped or padded. */
export function mutatedToken(token: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const op = fc.oneof(
    fc.tuple(fc.constant('replace' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...B64URL, '.', '=', '+', '/', ' ', '%')),
    fc.tuple(fc.constant('insert' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...B64URL.slice(0, 8), '.', '=', '\u0000', 'é')),
    fc.tuple(fc.constant('delete' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.constant('')),
    fc.tuple(fc.constant('swap' as const), fc.constant(0), fc.constant('')),
    fc.tuple(fc.constant('pad' as const), fc.constant(0), fc.constantFrom('=', '==', '.', '..x')),
    // The last signature character carries unused bits: changing only those is a non-canonical encoding.
    fc.tuple(fc.constant('lastbits' as const), fc.constant(0), fc.constant('')),
  );
  return fc.tuple(token, fc.array(op, { minLength: 1, maxLength: 3 })).map(([t, ops]) => {
    let s = t;
    for (const [kind, where, ch] of ops) {
      const at = Math.floor(where * s.length);
      if (kind === 'replace') s = s.slice(0, at) + ch + s.slice(at + 1);
      else if (kind === 'insert') s = s.slice(0, at) + ch + s.slice(at);
      else if (kind === 'delete') s = s.slice(0, at) + s.slice(at + 1);
      else if (kind === 'swap') {
        const [a, b, c] = s.split('.');
        s = [b, a, c].filter((x) => x !== undefined).join('.');
      } else if (kind === 'pad') s += ch;
      else {
        const last = s.at(-1);
        const i = last === undefined ? -1 : B64URL.indexOf(last);
        if (i >= 0) s = s.slice(0, -1) + B64URL[i ^ 1];
      }
    }
    return s;
  });
}
