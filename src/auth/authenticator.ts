/**
 * JWT authentication: verifies a token against the configured keys and
 * algorithm allow-list and turns its claims into an Identity.
 *
 * Verification completes synchronously for HMAC secrets, PEM public keys and
 * JWKS keys already cached, so the common connect path allocates no promise;
 * only a JWKS key not seen before waits for a fetch.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import type { Algorithm, JwtConfig } from '../config.js';
import type { AuthFailure } from '../errors.js';
import { GrantsCache, type Grants } from './grants.js';

export interface Identity {
  readonly sub: string;
  /** Expiry in unix seconds, or null for a token without `exp` (allowed only when configured). */
  readonly exp: number | null;
  readonly grants: Grants;
}

export type AuthOutcome =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly reason: Exclude<AuthFailure, 'token_missing'>; readonly detail: string };

export interface Authenticator {
  /** Calls `done` exactly once, synchronously whenever no key has to be fetched. Never throws. */
  verify(token: string, done: (outcome: AuthOutcome) => void): void;
}

const JWKS_KEY_TTL_MS = 10 * 60 * 1000;

export class JwtAuthenticator implements Authenticator {
  private readonly secret: KeyObject | undefined;
  private readonly jwks: JwksClient | undefined;
  private readonly jwksKeys = new Map<string, { key: KeyObject; fetchedAt: number }>();
  private readonly grants = new GrantsCache();
  private readonly options: jwt.VerifyOptions & { complete?: false };
  private readonly getKey: jwt.GetPublicKeyOrSecret;

  constructor(private readonly config: JwtConfig) {
    this.secret = config.secret === undefined ? undefined : createSecretKey(Buffer.from(config.secret, 'utf8'));
    this.jwks = config.jwksUrl === undefined
      ? undefined
      : new JwksClient({ jwksUri: config.jwksUrl, cache: true, rateLimit: true, jwksRequestsPerMinute: 10, timeout: 5000 });
    this.options = {
      algorithms: [...config.algorithms] as jwt.Algorithm[],
      ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
      ...(config.audience === undefined ? {} : { audience: [...config.audience] as [string, ...string[]] }),
    };
    this.getKey = (header, callback) => this.keyFor(header, callback);
  }

  verify(token: string, done: (outcome: AuthOutcome) => void): void {
    let called = false;
    const finish = (outcome: AuthOutcome): void => {
      if (called) return;
      called = true;
      done(outcome);
    };
    try {
      jwt.verify(token, this.getKey, this.options, (error, payload) => {
        if (error) {
          finish({ ok: false, reason: error.name === 'TokenExpiredError' ? 'token_expired' : 'token_invalid', detail: error.message });
          return;
        }
        finish(this.identityFrom(payload));
      });
    } catch (error) {
      finish({ ok: false, reason: 'token_invalid', detail: (error as Error).message });
    }
  }

  private identityFrom(payload: unknown): AuthOutcome {
    if (typeof payload !== 'object' || payload === null) return invalid('payload is not a JSON object');
    const claims = payload as Record<string, unknown>;
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub.length === 0) return invalid('claim "sub" is missing or not a non-empty string');
    const exp = claims.exp;
    if (exp === undefined) {
      if (this.config.requireExp) return invalid('claim "exp" is required');
    } else if (typeof exp !== 'number') {
      return invalid('claim "exp" is not a number');
    }
    const grants = this.grants.fromClaims(claims.topics, claims.publish);
    if (typeof grants === 'string') return invalid(grants);
    return { ok: true, identity: { sub, exp: typeof exp === 'number' ? exp : null, grants } };
  }

  /** Chooses the key by the token's algorithm family, so that an HMAC secret can never verify an RS/ES token or the reverse. */
  private keyFor(header: jwt.JwtHeader, callback: jwt.SigningKeyCallback): void {
    const alg = header.alg as Algorithm | 'none';
    if (!this.config.algorithms.includes(alg as Algorithm)) {
      callback(new Error(`algorithm ${String(alg)} is not allowed`));
      return;
    }
    if (alg.startsWith('HS')) {
      callback(this.secret === undefined ? new Error('no secret for HMAC tokens') : null, this.secret as unknown as jwt.Secret);
      return;
    }
    if (this.jwks !== undefined && (header.kid !== undefined || this.config.publicKey === undefined)) {
      this.jwksKey(header.kid, callback);
      return;
    }
    callback(this.config.publicKey === undefined ? new Error(`no public key for ${alg}`) : null, this.config.publicKey as unknown as jwt.Secret);
  }

  private jwksKey(kid: string | undefined, callback: jwt.SigningKeyCallback): void {
    const cacheKey = kid ?? '';
    const cached = this.jwksKeys.get(cacheKey);
    if (cached !== undefined && Date.now() - cached.fetchedAt < JWKS_KEY_TTL_MS) {
      callback(null, cached.key as unknown as jwt.Secret);
      return;
    }
    this.jwks!.getSigningKey(kid).then(
      (signingKey) => {
        const key = createPublicKey(signingKey.getPublicKey());
        if (this.jwksKeys.size > 1000) this.jwksKeys.clear();
        this.jwksKeys.set(cacheKey, { key, fetchedAt: Date.now() });
        callback(null, key as unknown as jwt.Secret);
      },
      (error: Error) => callback(new Error(`JWKS key ${kid ?? '(no kid)'} unavailable: ${error.message}`)),
    );
  }
}

function invalid(detail: string): AuthOutcome {
  return { ok: false, reason: 'token_invalid', detail };
}
