/** The fuzz suite's only coupling to src/auth (JwtAuthenticator, decodeJws). */
import { JwtAuthenticator } from '../../../src/auth/authenticator.js';
import { decodeJws } from '../../../src/auth/jws.js';
import type { Algorithm } from '../../../src/config.js';

export type Verdict = { ok: true; sub: string; exp: number | null } | { ok: false; reason: string };

export interface AuthSetup {
  secret: string;
  algorithms: readonly string[];
  requireExp: boolean;
  issuer?: string;
  audience?: readonly string[];
}

/** An HMAC verifier as Herald configures one from HERALD_JWT_SECRET. */
export function authenticator(setup: AuthSetup): (token: string) => Promise<Verdict> {
  const auth = new JwtAuthenticator({
    secret: setup.secret,
    publicKey: undefined,
    jwksUrl: undefined,
    algorithms: setup.algorithms as Algorithm[],
    issuer: setup.issuer,
    audience: setup.audience,
    requireExp: setup.requireExp,
    jwksRefetchIntervalMs: 5000,
  });
  return async (token) => {
    const outcome = await auth.verify(token);
    return outcome.ok ? { ok: true, sub: outcome.identity.sub, exp: outcome.identity.exp } : { ok: false, reason: outcome.reason };
  };
}

/** Whether the JWS decoder accepted the token's shape (a string answer is its reason for refusing). */
export function decodeShape(token: string): { ok: true; alg: unknown } | { ok: false; reason: unknown } {
  const decoded = decodeJws(token);
  return typeof decoded === 'string' ? { ok: false, reason: decoded } : { ok: true, alg: decoded.header.alg };
}
