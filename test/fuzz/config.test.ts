/**
 * Property-based fuzzing of configuration loading: any environment either
 * loads or fails with a ConfigError whose every problem names a variable
 * (README, "Configuration"), never another exception, and never echoes a secret.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { load } from './adapters/config.js';
import { Tally, property, seedFor, PROPERTY_TIMEOUT } from './lib/budget.js';
import { CONFIG_VARIABLES } from './lib/contract.js';

const tally = new Tally('unit-config', seedFor('unit-config'));
afterAll(() => tally.report());

const BASES: Record<string, Record<string, string>> = {
  development: {},
  production: {
    NODE_ENV: 'production',
    HERALD_JWT_SECRET: 'a-jwt-secret-of-at-least-32-characters!',
    HERALD_API_KEYS: 'an-api-key-of-16-plus-chars',
    HERALD_REDIS_URL: 'redis://127.0.0.1:6390',
  },
};

const SECRET_VARIABLES = ['HERALD_JWT_SECRET', 'HERALD_API_KEYS', 'HERALD_REDIS_PASSWORD'];
const NAMES_A_VARIABLE = /HERALD_[A-Z_]+|NODE_ENV/;

const value: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.oneof(fc.integer().map(String), fc.double().map(String), fc.integer({ min: 0, max: 70_000 }).map(String)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '', ' ', '\u0000', '\ud800', '1e400', '-0', 'NaN', 'Infinity', '-1', '0', '0x10', '1_000', ' 80', '80 ', '٨٠', '８０', '1e3', '9007199254740993', '65536.5',
      'true', 'false', 'yes', 'TRUE', 'memory', 'redis', 'Memory', 'production', 'development', 'none', 'HS256', 'none,HS256', 'RS256,ES256', 'HS256,,',
      ',', 'a,b,,c', 'h:1,h:notaport', 'h:0', ':6379', '[::1]:6379', 'redis://', 'redis://{x}', 'redis://h:99999', 'rediss://u:p@h:6379/99', 'http://h', 'ftp://h/x', 'redis://h:6379/x',
      'herald{a}', 'a}', '{', 'https://issuer.example/', 'https://app.example.com,http://x', '*', '.', '/', '/etc/passwd', '/dev/null', '/nonexistent/key.pem', 'a\u0000b', '-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----',
      'x'.repeat(100_000),
    ),
  },
);

const variable = fc.constantFrom(...CONFIG_VARIABLES);

describe('config fuzz - loadConfig against the README', { timeout: PROPERTY_TIMEOUT }, () => {
  it('config fuzz - the base environments load', () => {
    for (const [name, env] of Object.entries(BASES)) expect(load(env), name).toEqual({ ok: true });
  });

  it('config fuzz - any values: loaded, or a ConfigError whose every problem names a variable; a single bad value names itself', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(BASES)), fc.uniqueArray(fc.tuple(variable, value), { minLength: 1, maxLength: 3, selector: ([name]) => name }), (base, changes) => {
        const env = { ...BASES[base], ...Object.fromEntries(changes) };
        const outcome = load(env);
        tally.count(outcome.ok ? 'loaded' : outcome.configError ? 'ConfigError' : 'other exception');
        const what = `${base} + ${JSON.stringify(changes.map(([n, v]) => [n, v.length > 60 ? `${v.slice(0, 60)}…` : v]))}`;
        if (outcome.ok) return;
        if (!outcome.configError) throw new Error(`not a ConfigError for ${what}: ${String(outcome.error)}`);
        expect(outcome.problems.length, what).toBeGreaterThan(0);
        for (const problem of outcome.problems) expect(problem, `a problem names its variable (${what})`).toMatch(NAMES_A_VARIABLE);
        if (changes.length === 1 && changes[0]![0] !== 'NODE_ENV') {
          const name = changes[0]![0];
          expect(outcome.problems.some((p) => p.includes(name)), `the problem names ${name}: ${JSON.stringify(outcome.problems)} (${what})`).toBe(true);
        }
      }),
      property(tally, 3000, 50_000),
    );
  });

  it('config fuzz - a ConfigError never echoes a secret', () => {
    const secretText = fc.stringMatching(/^[A-Za-z0-9]{12,40}$/);
    fc.assert(
      fc.property(fc.constantFrom(...SECRET_VARIABLES), secretText, fc.constantFrom(...Object.keys(BASES)), fc.tuple(variable, value), (name, secret, base, [otherName, otherValue]) => {
        // A secret too short to be valid, plus possibly another bad variable, so that errors are produced.
        const env = { ...BASES[base], [otherName]: otherValue, [name]: name === 'HERALD_REDIS_PASSWORD' ? secret : secret.slice(0, 8), HERALD_REDIS_URL: `redis://user:${secret}@127.0.0.1:99999` };
        const outcome = load(env);
        tally.count(outcome.ok ? 'secret loaded' : 'secret error');
        if (outcome.ok) return;
        if (!outcome.configError) throw new Error(`not a ConfigError: ${String(outcome.error)}`);
        expect(outcome.message, `the error must not contain the secret of ${name}`).not.toContain(secret);
        if (name !== 'HERALD_REDIS_PASSWORD') expect(outcome.message, `the error must not contain the value of ${name}`).not.toContain(secret.slice(0, 8));
      }),
      property(tally, 500, 10_000),
    );
  });

  it('config fuzz - HERALD_REDIS_PREFIX with { or } and HERALD_BROKER other than memory/redis are ConfigErrors that name the variable', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), fc.constantFrom('{', '}'), (before, after, brace) => {
        const outcome = load({ ...BASES.production, HERALD_REDIS_PREFIX: `${before}${brace}${after}` });
        tally.count(`prefix with ${brace}: ${outcome.ok ? 'loaded' : 'refused'}`);
        expect(outcome.ok, `prefix ${before}${brace}${after}`).toBe(false);
        if (!outcome.ok && outcome.configError) expect(outcome.problems.some((p) => p.includes('HERALD_REDIS_PREFIX'))).toBe(true);
      }),
      property(tally, 200, 2000),
    );
    fc.assert(
      // A blank value may stand for "unset" (the README does not say): only non-blank other values must be refused.
      fc.property(fc.string({ unit: 'binary', maxLength: 12 }).filter((v) => v !== 'memory' && v !== 'redis' && v.trim() !== ''), (broker) => {
        const outcome = load({ ...BASES.production, HERALD_BROKER: broker });
        tally.count(`HERALD_BROKER other: ${outcome.ok ? 'loaded' : 'refused'}`);
        expect(outcome.ok, `HERALD_BROKER=${JSON.stringify(broker)}`).toBe(false);
        if (!outcome.ok && outcome.configError) expect(outcome.problems.some((p) => p.includes('HERALD_BROKER'))).toBe(true);
      }),
      property(tally, 200, 2000),
    );
  });
});
