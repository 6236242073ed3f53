/**
 * JWT authentication: verifies a token against the configured keys and
 * algorithm allow-list (jws.ts) and turns its claims into an Identity.
 *
 * Verification completes synchronously for HMAC secrets, PEM public keys and
 * JWKS keys already cached, so the common connect path allocates no promise;
 * only a JWKS key not seen before waits for a fetch.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { Algorithm, JwtConfig } from '../config.js';
import type { AuthFailure } from '../errors.js';
import { GrantsCache, type Grants } from './grants.js';
import { jsonDepth } from '../protocol/json.js';
import { JwksKeys, type JwkLookup } from './jwks.js';
import { decodeJws, decodePayload, keyMismatch, signatureValid, type DecodedJws } from './jws.js';

export interface Identity {
  readonly sub: string;
  /** The token's `info` claim, JSON text: what presence shows of the user. */
  readonly info: string | undefined;
  /** Expiry in unix seconds, or null for a token without `exp` (allowed only when configured). */
  readonly exp: number | null;
  readonly grants: Grants;
}

export type AuthOutcome =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly reason: Exclude<AuthFailure, 'token_missing'>; readonly detail: string };

export interface Authenticator {
  /**
   * The outcome, directly whenever no key has to be fetched (secrets, PEM keys,
   * cached JWKS keys), else a promise of it. Never throws, never rejects.
   */
  verify(token: string): AuthOutcome | Promise<AuthOutcome>;
}

/** A key, or why there is none. */
type KeyLookup = KeyObject | string;

export class JwtAuthenticator implements Authenticator {
  private readonly secret: KeyObject | undefined;
  private readonly jwks: JwksKeys | undefined;
  private readonly grants = new GrantsCache();
  private readonly allowed: ReadonlySet<string>;
  private readonly audience: ReadonlySet<string> | undefined;

  constructor(private readonly config: JwtConfig) {
    this.secret = config.secret === undefined ? undefined : createSecretKey(Buffer.from(config.secret, 'utf8'));
    this.jwks = config.jwksUrl === undefined ? undefined : new JwksKeys({ url: config.jwksUrl, refetchIntervalMs: config.jwksRefetchIntervalMs });
    this.allowed = new Set(config.algorithms);
    this.audience = config.audience === undefined ? undefined : new Set(config.audience);
  }

  verify(token: string): AuthOutcome | Promise<AuthOutcome> {
    const jws = decodeJws(token);
    if (typeof jws === 'string') return invalid(jws);
    const alg = jws.header.alg;
    if (!this.allowed.has(alg)) return invalid(`algorithm ${alg.slice(0, 16)} is not allowed`);
    const key = this.keyFor(alg as Algorithm, jws.header.kid);
    return typeof key === 'object' && 'then' in key ? key.then((fetched) => this.checkSafely(alg as Algorithm, jws, fetched)) : this.checkSafely(alg as Algorithm, jws, key);
  }

  private checkSafely(alg: Algorithm, jws: DecodedJws, key: KeyLookup): AuthOutcome {
    if (typeof key === 'string') return invalid(key);
    try {
      return this.check(alg, jws, key);
    } catch (thrown) {
      // node:crypto may throw on a signature it cannot even parse: that is a bad token, not a server fault.
      return invalid(`signature check failed: ${(thrown as Error).message}`);
    }
  }

  /** Signature, then the registered claims, then Herald's own. */
  private check(alg: Algorithm, jws: DecodedJws, key: KeyObject): AuthOutcome {
    const mismatch = keyMismatch(alg, key);
    if (mismatch !== undefined) return invalid(mismatch);
    if (!signatureValid(alg, jws, key)) return invalid('invalid signature');
    const claims = decodePayload(jws);
    if (typeof claims === 'string') return invalid(claims);

    const now = Math.floor(Date.now() / 1000);
    const { nbf, exp, iat } = claims;
    for (const [name, value] of [['exp', exp], ['nbf', nbf], ['iat', iat]] as const) {
      if (value !== undefined && !isTimestamp(value)) return invalid(`claim "${name}" is not a time from 0 to ${MAX_TIMESTAMP} (unix seconds)`);
    }
    if (nbf !== undefined && (nbf as number) > now) return invalid('token not active yet (nbf)');
    if (exp !== undefined) {
      if (now >= (exp as number)) return { ok: false, reason: 'token_expired', detail: 'token expired' };
    } else if (this.config.requireExp) {
      return invalid('claim "exp" is required');
    }
    if (this.audience !== undefined) {
      const aud = claims.aud;
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.some((a) => typeof a === 'string' && this.audience!.has(a))) return invalid('audience not accepted');
    }
    if (this.config.issuer !== undefined && claims.iss !== this.config.issuer) return invalid('issuer not accepted');

    const sub = claims.sub;
    if (typeof sub !== 'string' || sub.length === 0) return invalid('claim "sub" is missing or not a non-empty string');
    const grants = this.grants.fromClaims(claims.topics, claims.publish);
    if (typeof grants === 'string') return invalid(grants);
    const info = infoOf(claims.info);
    if (info !== undefined && !info.ok) return invalid(info.problem);
    return { ok: true, identity: { sub, exp: exp === undefined ? null : (exp as number), grants, info: info?.json } };
  }

  /** Chooses the key by the token's algorithm family, so that an HMAC secret can never verify an RS/ES token or the reverse. */
  private keyFor(alg: Algorithm, kid: string | undefined): KeyLookup | Promise<KeyLookup> {
    if (alg.startsWith('HS')) return this.secret ?? 'no secret for HMAC tokens';
    if (this.jwks !== undefined && (kid !== undefined || this.config.publicKey === undefined)) return this.jwksKey(alg, kid);
    return this.config.publicKey ?? `no public key for ${alg}`;
  }

  private jwksKey(alg: Algorithm, kid: string | undefined): KeyLookup | Promise<KeyLookup> {
    const found = this.jwks!.lookup(kid);
    return found instanceof Promise ? found.then((settled) => fitsAlgorithm(alg, settled)) : fitsAlgorithm(alg, found);
  }
}

/** A JWK that states its `alg` verifies only tokens of exactly that algorithm (RFC 7517 4.4). */
function fitsAlgorithm(alg: Algorithm, found: JwkLookup): KeyLookup {
  if (typeof found === 'string') return found;
  if (found.alg !== undefined && found.alg !== alg) return `the JWKS key is for ${found.alg.slice(0, 16)}, not ${alg}`;
  return found.key;
}

/** The `info` claim: a JSON object of at most MAX_INFO_BYTES, nested at most MAX_INFO_DEPTH. */
export const MAX_INFO_BYTES = 1024;
export const MAX_INFO_DEPTH = 8;

function infoOf(value: unknown): { ok: true; json: string } | { ok: false; problem: string } | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: 'claim "info" is not a JSON object' };
  // The payload was parsed within 32 levels (jws.ts), so this serialisation is safe.
  const json = JSON.stringify(value);
  if (Buffer.byteLength(json, 'utf8') > MAX_INFO_BYTES) return { ok: false, problem: `claim "info" is over ${MAX_INFO_BYTES} bytes` };
  if (jsonDepth(json, MAX_INFO_DEPTH) > MAX_INFO_DEPTH) return { ok: false, problem: `claim "info" nests deeper than ${MAX_INFO_DEPTH} levels` };
  return { ok: true, json };
}

/**
 * The latest time a token claim may name: 9999-12-31T23:59:59Z. Beyond it (or
 * not finite: `1e400` parses to Infinity) a time is nonsense, and an Infinity
 * would even turn the welcome frame into invalid JSON.
 */
export const MAX_TIMESTAMP = 253402300799;

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_TIMESTAMP;
}

function invalid(detail: string): AuthOutcome {
  return { ok: false, reason: 'token_invalid', detail };
}
