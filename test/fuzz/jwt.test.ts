/** Property-based fuzzing of JWS parsing and JWT verification against "Tokens" in docs/protocol.md and contract-8. */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { welcomeFrame } from './adapters/frames.js';
import { authenticator, decodeShape, type Verdict } from './adapters/jwt.js';
import { Tally, property, seedFor, PROPERTY_TIMEOUT } from './lib/budget.js';
import { AUTH_FAILURES, LIMITS } from './lib/contract.js';
import { nestedText } from './lib/json.js';
import { AUDIENCE, FUZZ_SECRET, ISSUER, expectToken, mutatedToken, signText, tokenOf, tokenParts, type TokenParts } from './lib/token-model.js';

const tally = new Tally('unit-jwt', seedFor('unit-jwt'));
afterAll(() => tally.report());

const now = Math.floor(Date.now() / 1000);
const HS = ['HS256', 'HS384', 'HS512'];
type Setup = 'requireExp' | 'optionalExp' | 'issuerAudience';
const verifiers: Record<Setup, (token: string) => Promise<Verdict>> = {
  requireExp: authenticator({ secret: FUZZ_SECRET, algorithms: HS, requireExp: true }),
  optionalExp: authenticator({ secret: FUZZ_SECRET, algorithms: HS, requireExp: false }),
  issuerAudience: authenticator({ secret: FUZZ_SECRET, algorithms: HS, requireExp: true, issuer: ISSUER, audience: AUDIENCE }),
};

/** Verifies a token; the verifier must neither throw nor reject, and a refusal must name a documented reason. */
async function verify(token: string, setup: Setup = 'requireExp'): Promise<Verdict> {
  const verdict = await verifiers[setup](token);
  tally.count(verdict.ok ? 'accepted' : `refused ${verdict.reason}`);
  if (!verdict.ok) {
    expect(AUTH_FAILURES, 'the refusal reason is a documented 4001 reason').toContain(verdict.reason);
    expect(verdict.reason, 'a token that is present is never "missing"').not.toBe('token_missing');
  }
  return verdict;
}

/** The welcome frame built from an accepted identity is valid JSON carrying the same sub and exp. */
function welcomeIsJson(sub: string, exp: number | null): void {
  const text = welcomeFrame('node-1', sub, exp);
  let parsed: { sub?: unknown; exp?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`welcome frame is not JSON: ${text.slice(0, 200)}`);
  }
  expect(parsed.sub).toBe(sub);
  expect(parsed.exp).toBe(exp);
}

async function checkParts(parts: TokenParts, setup: Setup): Promise<void> {
  const token = tokenOf(parts);
  const expected = expectToken(parts, now, setup !== 'optionalExp', setup === 'issuerAudience' ? { issuer: ISSUER, audience: AUDIENCE } : {});
  const verdict = await verify(token, setup);
  const what = `header ${parts.headerText.slice(0, 120)} payload ${parts.payloadText.slice(0, 300)} (signed ${parts.signAlg}${parts.secret === FUZZ_SECRET ? '' : ', wrong secret'}; verifier ${setup})`;
  if (verdict.ok) {
    expect(Number.isFinite(verdict.exp ?? 0) && (verdict.exp ?? 0) >= 0 && (verdict.exp ?? 0) <= LIMITS.timeClaimMax, `an accepted exp is in the documented range: ${what}`).toBe(true);
    welcomeIsJson(verdict.sub, verdict.exp);
  }
  if (expected.verdict === 'either') return;
  if (expected.verdict === 'accept') {
    expect(verdict, `must be accepted: ${what}`).toEqual({ ok: true, sub: expected.sub, exp: expected.exp });
  } else {
    expect(verdict.ok, `must be refused: ${what}`).toBe(false);
    if (!verdict.ok) expect([...expected.reasons], `reason for ${what}`).toContain(verdict.reason);
  }
}

describe('jwt fuzz - verification against docs/protocol.md and contract-8', { timeout: PROPERTY_TIMEOUT }, () => {
  it('jwt fuzz - generated tokens (hostile claims, headers, algorithms, secrets): the verdict and reason follow the contract', async () => {
    await fc.assert(
      fc.asyncProperty(tokenParts(now), fc.constantFrom<Setup>('requireExp', 'optionalExp', 'issuerAudience'), (parts, setup) => checkParts(parts, setup)),
      property(tally, 1500, 30_000),
    );
  });

  it('jwt fuzz - exp, nbf and iat must be finite numbers from 0 to 253402300799: 1e400, -1, "123", 1e20 are token_invalid', async () => {
    const bad = ['1e400', '-1e400', '-1', '"123"', '1e20', String(LIMITS.timeClaimMax + 1), 'null', '[]', '{}', 'true', '1.7976931348623157e309'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('exp', 'nbf', 'iat'), fc.constantFrom(...bad), async (claim, value) => {
        const claims = { sub: 'alice', exp: now + 3600, nbf: now - 60, iat: now - 60 } as Record<string, unknown>;
        const text = `{${Object.entries(claims).map(([k, v]) => `"${k}":${k === claim ? value : JSON.stringify(v)}`).join(',')}}`;
        const verdict = await verify(signText('{"alg":"HS256"}', text));
        expect(verdict, `${claim}: ${value}`).toEqual({ ok: false, reason: 'token_invalid' });
      }),
      property(tally, 60, 600),
    );
    // Both ends of the range are valid.
    const atMax = await verify(signText('{"alg":"HS256"}', `{"sub":"alice","exp":${LIMITS.timeClaimMax},"nbf":0,"iat":0}`));
    expect(atMax).toEqual({ ok: true, sub: 'alice', exp: LIMITS.timeClaimMax });
    welcomeIsJson('alice', LIMITS.timeClaimMax);
  });

  it('jwt fuzz - a header or payload nested up to 32 levels is judged on its claims; 33 and far deeper is token_invalid', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('header', 'payload'), fc.constantFrom(LIMITS.jwtDepth - 1, LIMITS.jwtDepth, 1000, 50_000), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, async (where, depth, kind) => {
        // The outer object is one level: an extra member nested depth - 1 deep makes the whole `depth` deep.
        const member = `"x":${nestedText(depth - 1, kind)}`;
        const header = where === 'header' ? `{"alg":"HS256",${member}}` : '{"alg":"HS256"}';
        const payload = where === 'payload' ? `{"sub":"alice","exp":${now + 600},${member}}` : `{"sub":"alice","exp":${now + 600}}`;
        const verdict = await verify(signText(header, payload));
        if (depth <= LIMITS.jwtDepth) expect(verdict, `${where} ${depth} deep`).toEqual({ ok: true, sub: 'alice', exp: now + 600 });
        else expect(verdict, `${where} ${depth} deep`).toEqual({ ok: false, reason: 'token_invalid' });
      }),
      property(tally, 40, 400),
    );
  });

  it('jwt fuzz - any change to a valid token makes it refused; nothing throws', async () => {
    const valid = fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.constantFrom('HS256', 'HS384', 'HS512')).map(([sub, alg]) => signText(`{"alg":"${alg}","typ":"JWT"}`, `{"sub":"${sub}","exp":${now + 3600},"topics":["a.*"]}`, FUZZ_SECRET, alg));
    await fc.assert(
      fc.asyncProperty(valid.chain((token) => fc.tuple(fc.constant(token), mutatedToken(fc.constant(token)))), async ([original, changed]) => {
        expect((await verify(original)).ok, 'the unchanged token verifies').toBe(true);
        if (changed === original) return;
        const verdict = await verify(changed);
        expect(verdict.ok, `a changed token must be refused: ${changed}`).toBe(false);
      }),
      property(tally, 1500, 30_000),
    );
  });

  it('jwt fuzz - random strings, huge and empty tokens: the JWS decoder and the verifier never throw', async () => {
    const junk = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.array(fc.string({ unit: 'binary-ascii', maxLength: 20 }), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
      fc.constantFrom('', '.', '..', '...', 'a.b', 'a.b.c.d', `${'A'.repeat(1_000_000)}.${'B'.repeat(10)}.C`, `e30.${'e30'.repeat(1000)}.`),
      fc.tuple(fc.string({ maxLength: 50 }), fc.string({ maxLength: 50 })).map(([h, p]) => `${Buffer.from(h).toString('base64url')}.${Buffer.from(p).toString('base64url')}.`),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (token) => {
        const shape = decodeShape(token);
        tally.note(`jws shape ${shape.ok ? 'ok' : 'refused'}`);
        const verdict = await verify(token);
        expect(verdict.ok, `junk accepted: ${token.slice(0, 100)}`).toBe(false);
      }),
      property(tally, 1500, 30_000),
    );
  });
});
