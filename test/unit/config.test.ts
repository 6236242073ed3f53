import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, VARIABLES, type Config, type Env } from '../../src/config.js';

const SECRET = 'a-jwt-secret-of-at-least-32-characters!';
const API_KEY = 'an-api-key-of-16-plus-chars';
const HMAC = ['HS256', 'HS384', 'HS512'];
const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/** A generator whose values are recognisable and distinct per call. */
function counter(): () => string {
  let n = 0;
  return () => `generated-${++n}`;
}

const REDIS_VARIABLES = ['HERALD_REDIS_URL', 'HERALD_REDIS_SENTINELS', 'HERALD_REDIS_CLUSTER_NODES'];

/**
 * Loads a configuration. Production needs a broker choice (test/unit/config-redis.test.ts checks that rule);
 * the tests here are about other variables, so a production env without one gets the in-memory broker.
 */
function load(env: Env): Config {
  const needsChoice = env.NODE_ENV === 'production' && env.HERALD_BROKER === undefined && !REDIS_VARIABLES.some((name) => env[name] !== undefined);
  return loadConfig(needsChoice ? { ...env, HERALD_BROKER: 'memory' } : env, { generateSecret: counter() });
}

/** Loads a configuration that must fail and returns its problems. */
function problemsOf(env: Env): readonly string[] {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(Object.keys(env))}`);
}

/** Loads a configuration that must fail with exactly one problem, and returns it. */
function problemOf(env: Env): string {
  const problems = problemsOf(env);
  expect(problems).toHaveLength(1);
  return problems[0]!;
}

function ecPem(namedCurve: string): string {
  return generateKeyPairSync('ec', {
    namedCurve,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).publicKey;
}

let rsaPem: string;
let ecP256Pem: string;
let ecP384Pem: string;
let ecP521Pem: string;
let ed25519Pem: string;
let dir: string;

beforeAll(() => {
  rsaPem = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).publicKey;
  ecP256Pem = ecPem('P-256');
  ecP384Pem = ecPem('P-384');
  ecP521Pem = ecPem('P-521');
  ed25519Pem = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).publicKey;
  dir = mkdtempSync(join(tmpdir(), 'herald-config-test-'));
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig defaults', () => {
  /** How each documented variable shows up on the returned configuration. */
  const READ: Readonly<Record<string, (c: Config) => unknown>> = {
    HERALD_HOST: (c) => c.host,
    HERALD_PORT: (c) => c.port,
    HERALD_METRICS_PORT: (c) => c.metricsPort,
    HERALD_LOG_LEVEL: (c) => c.logLevel,
    HERALD_NODE_ID: (c) => c.nodeId,
    HERALD_JWT_SECRET: (c) => c.jwt.secret,
    HERALD_JWT_PUBLIC_KEY: (c) => c.jwt.publicKey,
    HERALD_JWKS_URL: (c) => c.jwt.jwksUrl,
    HERALD_JWKS_REFETCH_INTERVAL: (c) => c.jwt.jwksRefetchIntervalMs / 1000,
    HERALD_JWT_ALGORITHMS: (c) => c.jwt.algorithms,
    HERALD_JWT_ISSUER: (c) => c.jwt.issuer,
    HERALD_JWT_AUDIENCE: (c) => c.jwt.audience,
    HERALD_JWT_REQUIRE_EXP: (c) => c.jwt.requireExp,
    HERALD_API_KEYS: (c) => c.apiKeys,
    HERALD_MAX_PAYLOAD: (c) => c.limits.maxPayload,
    HERALD_MAX_MESSAGE_SIZE: (c) => c.limits.maxMessageSize,
    HERALD_MAX_SUBSCRIPTIONS: (c) => c.limits.maxSubscriptions,
    HERALD_MAX_CONNECTIONS: (c) => c.limits.maxConnections,
    HERALD_IDLE_TIMEOUT: (c) => c.limits.idleTimeoutSeconds,
    HERALD_MAX_BACKPRESSURE: (c) => c.limits.maxBackpressure,
    HERALD_CLIENT_RATE: (c) => c.limits.clientRate,
    HERALD_CLIENT_BURST: (c) => c.limits.clientBurst,
    HERALD_CLIENT_RATE_CLOSE_AFTER: (c) => c.limits.rateLimitCloseAfter,
    HERALD_ALLOWED_ORIGINS: (c) => c.allowedOrigins,
    HERALD_DRAIN_SECONDS: (c) => c.drainSeconds,
    HERALD_BROKER: (c) => c.broker.kind,
    HERALD_REDIS_URL: (c) => (c.broker.kind === 'redis' ? c.broker.url : undefined),
    HERALD_REDIS_SENTINELS: (c) => (c.broker.kind === 'sentinel' ? c.broker.sentinels : undefined),
    HERALD_REDIS_SENTINEL_NAME: (c) => (c.broker.kind === 'sentinel' ? c.broker.name : undefined),
    HERALD_REDIS_CLUSTER_NODES: (c) => (c.broker.kind === 'cluster' ? c.broker.nodes : undefined),
    HERALD_REDIS_USERNAME: (c) => (c.broker.kind === 'cluster' || c.broker.kind === 'sentinel' ? c.broker.username : undefined),
    HERALD_REDIS_PASSWORD: (c) => (c.broker.kind === 'cluster' || c.broker.kind === 'sentinel' ? c.broker.password : undefined),
    HERALD_REDIS_TLS: (c) => (c.broker.kind === 'cluster' || c.broker.kind === 'sentinel' ? c.broker.tls : undefined),
    HERALD_REDIS_PREFIX: (c) => (c.broker.kind === 'memory' ? undefined : c.broker.prefix),
    HERALD_REDIS_PUBLISH_TIMEOUT_MS: (c) => (c.broker.kind === 'memory' ? undefined : c.broker.publishTimeoutMs),
    HERALD_SUBSCRIPTION_LINGER_MS: (c) => c.subscriptionLingerMs,
    HERALD_HISTORY: (c) => c.history.rules,
    HERALD_HISTORY_MAX_RECOVERY: (c) => c.history.maxRecovery,
    HERALD_HISTORY_META_TTL: (c) => c.history.metaTtlSeconds,
    HERALD_PRESENCE: (c) => c.presence.patterns,
    HERALD_PRESENCE_JOIN_LEAVE: (c) => c.presence.joinLeave,
    HERALD_PRESENCE_TTL: (c) => c.presence.ttlSeconds,
    HERALD_PRESENCE_LEAVE_GRACE: (c) => c.presence.leaveGraceSeconds,
    HERALD_DEMO: (c) => c.demo,
  };

  it('config - every documented variable is known to this test', () => {
    expect(VARIABLES.map((v) => v.name).sort()).toEqual(Object.keys(READ).sort());
    expect(new Set(VARIABLES.map((v) => v.name)).size).toBe(VARIABLES.length);
  });

  it('config - concrete documented defaults are the values used', () => {
    // Production with only a secret: nothing is generated, so every value is a true default.
    // A cluster node list is set so that the Redis options with defaults (prefix, TLS) exist on the config.
    const config = load({ NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET, HERALD_REDIS_CLUSTER_NODES: 'redis-0:6379' });
    let concrete = 0;
    for (const variable of VARIABLES) {
      if (/^[(<]/.test(variable.default)) continue;
      if (variable.name === 'HERALD_JWT_SECRET') continue;
      concrete++;
      expect(String(READ[variable.name]!(config)), variable.name).toBe(variable.default);
    }
    expect(concrete).toBeGreaterThanOrEqual(15);
  });

  it('config - documented defaults have the expected values', () => {
    const config = load({ NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET });
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(8080);
    expect(config.metricsPort).toBe(9091);
    expect(config.logLevel).toBe('info');
    expect(config.jwt.requireExp).toBe(true);
    expect(config.limits).toEqual({
      maxPayload: 65536,
      maxMessageSize: 65536,
      maxSubscriptions: 512,
      maxConnections: 0,
      idleTimeoutSeconds: 60,
      maxBackpressure: 1048576,
      clientRate: 100,
      clientBurst: 200,
      rateLimitCloseAfter: 20,
    });
    expect(config.drainSeconds).toBe(10);
  });

  it('config - non-concrete defaults mean what the documentation says', () => {
    const config = load({ NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET });
    const doc = Object.fromEntries(VARIABLES.map((v) => [v.name, v.default]));
    expect(doc.HERALD_NODE_ID).toBe('<hostname>-<4 random hex>');
    expect(config.nodeId).toMatch(new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{4}$`));
    expect(doc.HERALD_JWT_PUBLIC_KEY).toBe('(none)');
    expect(config.jwt.publicKey).toBeUndefined();
    expect(doc.HERALD_JWKS_URL).toBe('(none)');
    expect(config.jwt.jwksUrl).toBeUndefined();
    expect(doc.HERALD_JWT_ALGORITHMS).toBe('(derived from the configured keys)');
    expect(config.jwt.algorithms).toEqual(HMAC);
    expect(doc.HERALD_JWT_ISSUER).toBe('(not checked)');
    expect(config.jwt.issuer).toBeUndefined();
    expect(doc.HERALD_JWT_AUDIENCE).toBe('(not checked)');
    expect(config.jwt.audience).toBeUndefined();
    expect(doc.HERALD_API_KEYS).toBe('(none)');
    expect(config.apiKeys).toEqual([]);
    expect(doc.HERALD_ALLOWED_ORIGINS).toBe('(any)');
    expect(config.allowedOrigins).toEqual([]);
  });

  it('config - only the secret variables are marked secret', () => {
    // HERALD_REDIS_URL may carry a password, so its value is never echoed either.
    expect(VARIABLES.filter((v) => v.secret === true).map((v) => v.name).sort()).toEqual(['HERALD_API_KEYS', 'HERALD_JWT_SECRET', 'HERALD_REDIS_PASSWORD', 'HERALD_REDIS_URL']);
  });

  it('config - empty and whitespace-only values mean the default', () => {
    const config = load({ NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET, HERALD_PORT: '', HERALD_LOG_LEVEL: '   ', HERALD_ALLOWED_ORIGINS: ' ' });
    expect(config.port).toBe(8080);
    expect(config.logLevel).toBe('info');
    expect(config.allowedOrigins).toEqual([]);
  });

  it('config - values are trimmed', () => {
    const config = load({ HERALD_PORT: ' 8081 ', HERALD_HOST: ' 127.0.0.1\n', HERALD_JWT_SECRET: `  ${SECRET}  ` });
    expect(config.port).toBe(8081);
    expect(config.host).toBe('127.0.0.1');
    expect(config.jwt.secret).toBe(SECRET);
  });

  it('config - two defaulted node ids differ', () => {
    const ids = new Set(Array.from({ length: 8 }, () => load({}).nodeId));
    expect(ids.size).toBeGreaterThan(1);
  });

  it('config - the client burst defaults to twice the rate, at least 1', () => {
    expect(load({ HERALD_CLIENT_RATE: '50' }).limits.clientBurst).toBe(100);
    expect(load({ HERALD_CLIENT_RATE: '0' }).limits.clientBurst).toBe(1);
    expect(load({ HERALD_CLIENT_RATE: '50', HERALD_CLIENT_BURST: '7' }).limits.clientBurst).toBe(7);
  });
});

describe('loadConfig modes', () => {
  it('config - NODE_ENV other than production is development', () => {
    expect(load({}).mode).toBe('development');
    expect(load({ NODE_ENV: 'test' }).mode).toBe('development');
    expect(load({ NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET }).mode).toBe('production');
  });

  it('config - development generates a JWT secret and an API key', () => {
    const config = load({});
    expect(config.generated).toEqual({ jwtSecret: true, apiKey: true });
    expect(config.jwt.secret).toBe('generated-1');
    expect(config.apiKeys).toEqual(['generated-2']);
    expect(config.jwt.algorithms).toEqual(HMAC);
  });

  it('config - development uses a random generator by default', () => {
    const a = loadConfig({});
    const b = loadConfig({});
    expect(a.jwt.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(a.apiKeys[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(a.jwt.secret).not.toBe(a.apiKeys[0]);
    expect(b.jwt.secret).not.toBe(a.jwt.secret);
  });

  it('config - development generates nothing that is configured', () => {
    const config = load({ HERALD_JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY });
    expect(config.generated).toEqual({ jwtSecret: false, apiKey: false });
    expect(config.jwt.secret).toBe(SECRET);
    expect(config.apiKeys).toEqual([API_KEY]);
  });

  it('config - development generates no secret when a public key or JWKS URL is configured', () => {
    const withKey = load({ HERALD_JWT_PUBLIC_KEY: ecP256Pem });
    expect(withKey.generated.jwtSecret).toBe(false);
    expect(withKey.jwt.secret).toBeUndefined();
    const withJwks = load({ HERALD_JWKS_URL: 'https://issuer.example.com/.well-known/jwks.json' });
    expect(withJwks.generated.jwtSecret).toBe(false);
    expect(withJwks.jwt.secret).toBeUndefined();
  });

  it('config - production without a JWT key throws ConfigError', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('no JWT key configured');
    expect(problems[0]).toContain('HERALD_JWT_SECRET');
    expect(() => loadConfig({ NODE_ENV: 'production', HERALD_BROKER: 'memory' })).toThrow(ConfigError);
  });

  it('config - production never generates anything', () => {
    let calls = 0;
    const config = loadConfig({ NODE_ENV: 'production', HERALD_BROKER: 'memory', HERALD_JWT_SECRET: SECRET }, { generateSecret: () => `g${++calls}` });
    expect(calls).toBe(0);
    expect(config.generated).toEqual({ jwtSecret: false, apiKey: false });
    expect(config.apiKeys).toEqual([]);
  });

  it('config - ConfigError lists every problem in its message', () => {
    try {
      load({ HERALD_PORT: 'x', HERALD_DRAIN_SECONDS: 'y' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const e = error as ConfigError;
      expect(e.name).toBe('ConfigError');
      expect(e.message).toContain('invalid configuration');
      for (const problem of e.problems) expect(e.message).toContain(problem);
    }
  });
});

describe('loadConfig problems', () => {
  it('config - all problems are listed at once', () => {
    const problems = problemsOf({ HERALD_PORT: 'eighty', HERALD_LOG_LEVEL: 'loud', HERALD_IDLE_TIMEOUT: '4' });
    expect(problems).toHaveLength(3);
    const port = problems.find((p) => p.startsWith('HERALD_PORT='));
    const level = problems.find((p) => p.startsWith('HERALD_LOG_LEVEL='));
    const idle = problems.find((p) => p.startsWith('HERALD_IDLE_TIMEOUT='));
    expect(port).toContain('"eighty"');
    expect(port).toContain('not an integer');
    expect(port).toContain('expected an integer from 0 to 65535');
    expect(level).toContain('"loud"');
    expect(level).toContain('unknown level');
    expect(level).toContain('expected trace, debug, info, warn, error, fatal, silent');
    expect(idle).toContain('"4"');
    expect(idle).toContain('0 or at least 8');
    expect(idle).toContain('expected an integer from 0 to 960');
  });

  it('config - a too-short JWT secret is reported without its value', () => {
    const secret = 'short-secret-value-xyz';
    const problem = problemOf({ HERALD_JWT_SECRET: secret });
    expect(problem).toContain('HERALD_JWT_SECRET');
    expect(problem).toContain('too short');
    expect(problem).toContain('(value hidden)');
    expect(problem).toContain('expected at least 32 characters');
    expect(problem).not.toContain(secret);
    expect(problem).not.toContain('short-secret');
  });

  it('config - a JWT secret of 32 characters is accepted, 31 is not', () => {
    expect(load({ HERALD_JWT_SECRET: 's'.repeat(32) }).jwt.secret).toBe('s'.repeat(32));
    expect(problemOf({ HERALD_JWT_SECRET: 's'.repeat(31) })).toContain('too short (31 characters)');
  });

  it('config - a too-short API key is reported without any key', () => {
    const short = 'tinykey1';
    const problem = problemOf({ HERALD_API_KEYS: `${API_KEY},${short}` });
    expect(problem).toContain('HERALD_API_KEYS');
    expect(problem).toContain('shorter than 16 characters');
    expect(problem).toContain('(value hidden)');
    expect(problem).toContain('expected');
    expect(problem).not.toContain(short);
    expect(problem).not.toContain(API_KEY);
  });

  it('config - secrets do not appear in the ConfigError message', () => {
    const secret = 'secret-in-message';
    const key = 'apikey';
    try {
      load({ HERALD_JWT_SECRET: secret, HERALD_API_KEYS: key, HERALD_PORT: 'bad' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect((error as ConfigError).problems).toHaveLength(3);
      expect(message).not.toContain(secret);
      expect(message).not.toContain(key);
    }
  });

  it('config - API keys are split on commas and trimmed', () => {
    const other = 'another-api-key-16+';
    expect(load({ HERALD_API_KEYS: ` ${API_KEY} , ${other},` }).apiKeys).toEqual([API_KEY, other]);
  });

  it('config - log level is case-insensitive', () => {
    expect(load({ HERALD_LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(load({ HERALD_LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
  });

  it('config - a node id with bad characters or over 128 characters is rejected', () => {
    expect(load({ HERALD_NODE_ID: 'node-1.eu_west:a' }).nodeId).toBe('node-1.eu_west:a');
    expect(load({ HERALD_NODE_ID: 'n'.repeat(128) }).nodeId).toBe('n'.repeat(128));
    expect(problemOf({ HERALD_NODE_ID: 'node 1' })).toMatch(/^HERALD_NODE_ID="node 1": /);
    expect(problemOf({ HERALD_NODE_ID: 'n'.repeat(129) })).toContain('HERALD_NODE_ID');
  });
});

describe('loadConfig JWT algorithms', () => {
  it('config - explicit algorithms are upper-cased and deduplicated', () => {
    const config = load({ HERALD_JWT_SECRET: SECRET, HERALD_JWT_ALGORITHMS: 'hs256, HS512,HS256' });
    expect(config.jwt.algorithms).toEqual(['HS256', 'HS512']);
  });

  it('config - "none" is rejected', () => {
    for (const none of ['none', 'NONE', 'None']) {
      const problem = problemOf({ HERALD_JWT_SECRET: SECRET, HERALD_JWT_ALGORITHMS: `HS256,${none}` });
      expect(problem).toContain('HERALD_JWT_ALGORITHMS');
      expect(problem).toContain('"none"');
      expect(problem).toContain('never accepted');
      expect(problem).toContain('expected a comma-separated subset of');
    }
  });

  it('config - an unknown algorithm is rejected', () => {
    const problem = problemOf({ HERALD_JWT_SECRET: SECRET, HERALD_JWT_ALGORITHMS: 'HS256,HS999' });
    expect(problem).toMatch(/^HERALD_JWT_ALGORITHMS="HS999": unknown algorithm; expected /);
    expect(problemOf({ HERALD_JWT_SECRET: SECRET, HERALD_JWT_ALGORITHMS: 'EdDSA' })).toContain('unknown algorithm');
  });

  it('config - an algorithm with no matching key is rejected', () => {
    const problem = problemOf({ HERALD_JWT_SECRET: SECRET, HERALD_JWT_ALGORITHMS: 'RS256' });
    expect(problem).toContain('HERALD_JWT_ALGORITHMS="RS256"');
    expect(problem).toContain('no configured key can verify RS256');
    expect(problem).toContain('HERALD_JWT_PUBLIC_KEY');
  });

  it('config - HS algorithms without a secret are rejected', () => {
    const problem = problemOf({ HERALD_JWT_PUBLIC_KEY: rsaPem, HERALD_JWT_ALGORITHMS: 'RS256,HS256' });
    expect(problem).toContain('no configured key can verify HS256');
    expect(problem).toContain('expected HERALD_JWT_SECRET');
  });

  it('config - an EC P-256 key cannot verify ES384 or RS256', () => {
    expect(problemOf({ HERALD_JWT_PUBLIC_KEY: ecP256Pem, HERALD_JWT_ALGORITHMS: 'ES384' })).toContain('no configured key can verify ES384');
    expect(problemOf({ HERALD_JWT_PUBLIC_KEY: ecP256Pem, HERALD_JWT_ALGORITHMS: 'RS256' })).toContain('no configured key can verify RS256');
  });

  it('config - a secret derives the HS algorithms', () => {
    expect(load({ HERALD_JWT_SECRET: SECRET }).jwt.algorithms).toEqual(HMAC);
  });

  it('config - an RSA public key derives RS and PS algorithms', () => {
    const config = load({ HERALD_JWT_PUBLIC_KEY: rsaPem });
    expect(config.jwt.algorithms).toEqual(RSA);
    expect(config.jwt.publicKey?.asymmetricKeyType).toBe('rsa');
    expect(config.jwt.secret).toBeUndefined();
  });

  it('config - an EC P-256 public key derives ES256 only', () => {
    const config = load({ HERALD_JWT_PUBLIC_KEY: ecP256Pem });
    expect(config.jwt.algorithms).toEqual(['ES256']);
    expect(config.jwt.publicKey?.asymmetricKeyType).toBe('ec');
  });

  it('config - EC P-384 and P-521 public keys derive ES384 and ES512', () => {
    expect(load({ HERALD_JWT_PUBLIC_KEY: ecP384Pem }).jwt.algorithms).toEqual(['ES384']);
    expect(load({ HERALD_JWT_PUBLIC_KEY: ecP521Pem }).jwt.algorithms).toEqual(['ES512']);
  });

  it('config - a secret and a public key derive both families', () => {
    expect(load({ HERALD_JWT_SECRET: SECRET, HERALD_JWT_PUBLIC_KEY: ecP256Pem }).jwt.algorithms).toEqual([...HMAC, 'ES256']);
  });

  it('config - a JWKS URL derives every asymmetric algorithm', () => {
    const config = load({ HERALD_JWKS_URL: 'https://issuer.example.com/.well-known/jwks.json' });
    expect(config.jwt.algorithms).toEqual([...RSA, 'ES256', 'ES384', 'ES512']);
    expect(config.jwt.jwksUrl).toBe('https://issuer.example.com/.well-known/jwks.json');
  });

  it('config - a JWKS URL that is not http(s) is rejected', () => {
    const problem = problemOf({ HERALD_JWKS_URL: 'ftp://issuer.example.com/jwks.json' });
    expect(problem).toContain('HERALD_JWKS_URL');
    expect(problem).toContain('not an http(s) URL');
  });

  it('config - a public key that no algorithm can verify is reported', () => {
    // secp256k1 is an EC curve without a supported JWT algorithm: accepting it would leave no algorithms, so every token would be rejected.
    const pem = ecPem('secp256k1');
    const problems = problemsOf({ NODE_ENV: 'production', HERALD_JWT_PUBLIC_KEY: pem });
    expect(problems.some((p) => p.includes('HERALD_JWT_PUBLIC_KEY'))).toBe(true);
  });

  it('config - issuer and audience are read', () => {
    const config = load({ HERALD_JWT_SECRET: SECRET, HERALD_JWT_ISSUER: 'https://issuer.example.com', HERALD_JWT_AUDIENCE: 'herald, other' });
    expect(config.jwt.issuer).toBe('https://issuer.example.com');
    expect(config.jwt.audience).toEqual(['herald', 'other']);
  });
});

describe('loadConfig public keys', () => {
  it('config - a PEM with escaped newlines is accepted', () => {
    const escaped = rsaPem.trim().replace(/\n/g, '\\n');
    expect(escaped).not.toContain('\n');
    const config = load({ HERALD_JWT_PUBLIC_KEY: escaped });
    expect(config.jwt.publicKey?.asymmetricKeyType).toBe('rsa');
    expect(config.jwt.algorithms).toEqual(RSA);
  });

  it('config - a PEM is read from a file path', () => {
    const path = join(dir, 'ec.pem');
    writeFileSync(path, ecP256Pem);
    const config = load({ HERALD_JWT_PUBLIC_KEY: path });
    expect(config.jwt.publicKey?.asymmetricKeyType).toBe('ec');
    expect(config.jwt.algorithms).toEqual(['ES256']);
  });

  it('config - a missing key file is reported', () => {
    const path = join(dir, 'missing.pem');
    const problem = problemOf({ HERALD_JWT_PUBLIC_KEY: path });
    expect(problem).toContain('HERALD_JWT_PUBLIC_KEY');
    expect(problem).toContain('neither a PEM key nor a readable file');
    expect(problem).toContain('expected a PEM public key');
  });

  it('config - an invalid PEM is reported', () => {
    const problem = problemOf({ HERALD_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----' });
    expect(problem).toContain('HERALD_JWT_PUBLIC_KEY');
    expect(problem).toContain('not a valid public key');
    expect(problem).toContain('expected a PEM public key');
  });

  it('config - a file that holds no valid key is reported', () => {
    const path = join(dir, 'garbage.pem');
    writeFileSync(path, 'this is not a key');
    expect(problemOf({ HERALD_JWT_PUBLIC_KEY: path })).toContain('not a valid public key');
  });

  it('config - an Ed25519 key is reported as unsupported', () => {
    const problem = problemOf({ HERALD_JWT_PUBLIC_KEY: ed25519Pem });
    expect(problem).toContain('unsupported key type ed25519');
    expect(problem).toContain('expected an RSA or EC public key');
  });
});

describe('loadConfig numbers', () => {
  it('config - HERALD_IDLE_TIMEOUT accepts 0 and 8, rejects 1 to 7', () => {
    expect(load({ HERALD_IDLE_TIMEOUT: '0' }).limits.idleTimeoutSeconds).toBe(0);
    expect(load({ HERALD_IDLE_TIMEOUT: '8' }).limits.idleTimeoutSeconds).toBe(8);
    expect(load({ HERALD_IDLE_TIMEOUT: '960' }).limits.idleTimeoutSeconds).toBe(960);
    for (const value of ['1', '4', '7']) {
      const problem = problemOf({ HERALD_IDLE_TIMEOUT: value });
      expect(problem).toContain(`HERALD_IDLE_TIMEOUT="${value}"`);
      expect(problem).toContain('uWebSockets.js needs 0 or at least 8');
    }
    expect(problemOf({ HERALD_IDLE_TIMEOUT: '961' })).toContain('out of range');
  });

  it('config - HERALD_PORT equal to HERALD_METRICS_PORT is rejected', () => {
    const problem = problemOf({ HERALD_PORT: '9000', HERALD_METRICS_PORT: '9000' });
    expect(problem).toContain('HERALD_METRICS_PORT="9000"');
    expect(problem).toContain('same as HERALD_PORT');
    expect(problemOf({ HERALD_PORT: '9091' })).toContain('same as HERALD_PORT');
  });

  it('config - both ports 0 (ephemeral) are allowed', () => {
    const config = load({ HERALD_PORT: '0', HERALD_METRICS_PORT: '0' });
    expect(config.port).toBe(0);
    expect(config.metricsPort).toBe(0);
  });

  it('config - ports accept 0 to 65535', () => {
    const config = load({ HERALD_PORT: '65535', HERALD_METRICS_PORT: '1' });
    expect(config.port).toBe(65535);
    expect(config.metricsPort).toBe(1);
  });

  it('config - ports out of range are rejected', () => {
    expect(problemOf({ HERALD_PORT: '65536' })).toBe('HERALD_PORT="65536": out of range; expected an integer from 0 to 65535');
    expect(problemOf({ HERALD_PORT: '-1' })).toContain('out of range');
    expect(problemOf({ HERALD_METRICS_PORT: '100000' })).toContain('HERALD_METRICS_PORT="100000": out of range');
  });

  it('config - non-integers are rejected', () => {
    for (const value of ['80.5', '8e3', '0x50', 'abc', '80 80', '+80']) {
      const problem = problemOf({ HERALD_PORT: value });
      expect(problem, value).toContain('not an integer');
      expect(problem, value).toContain(JSON.stringify(value));
    }
  });

  it('config - limits are read', () => {
    const limits = load({
      HERALD_MAX_PAYLOAD: '1024',
      HERALD_MAX_MESSAGE_SIZE: '2048',
      HERALD_MAX_SUBSCRIPTIONS: '3',
      HERALD_MAX_CONNECTIONS: '4',
      HERALD_IDLE_TIMEOUT: '30',
      HERALD_MAX_BACKPRESSURE: '4096',
      HERALD_CLIENT_RATE: '5',
      HERALD_CLIENT_BURST: '6',
      HERALD_CLIENT_RATE_CLOSE_AFTER: '7',
    }).limits;
    expect(limits).toEqual({
      maxPayload: 1024,
      maxMessageSize: 2048,
      maxSubscriptions: 3,
      maxConnections: 4,
      idleTimeoutSeconds: 30,
      maxBackpressure: 4096,
      clientRate: 5,
      clientBurst: 6,
      rateLimitCloseAfter: 7,
    });
  });

  it('config - limits below their minimum are rejected', () => {
    expect(problemOf({ HERALD_MAX_PAYLOAD: '511' })).toContain('HERALD_MAX_PAYLOAD');
    expect(problemOf({ HERALD_MAX_MESSAGE_SIZE: '0' })).toContain('HERALD_MAX_MESSAGE_SIZE');
    expect(problemOf({ HERALD_MAX_SUBSCRIPTIONS: '0' })).toContain('HERALD_MAX_SUBSCRIPTIONS');
    expect(problemOf({ HERALD_MAX_BACKPRESSURE: '1023' })).toContain('HERALD_MAX_BACKPRESSURE');
    expect(problemOf({ HERALD_CLIENT_BURST: '0' })).toContain('HERALD_CLIENT_BURST');
    expect(problemOf({ HERALD_CLIENT_RATE_CLOSE_AFTER: '0' })).toContain('HERALD_CLIENT_RATE_CLOSE_AFTER');
    expect(problemOf({ HERALD_DRAIN_SECONDS: '-1' })).toContain('HERALD_DRAIN_SECONDS');
    expect(problemOf({ HERALD_DRAIN_SECONDS: '3601' })).toContain('HERALD_DRAIN_SECONDS');
  });
});

describe('loadConfig booleans', () => {
  it('config - true, 1, yes and on are true in any case', () => {
    for (const value of ['true', '1', 'yes', 'on', 'TRUE', 'Yes', 'ON']) {
      expect(load({ HERALD_JWT_REQUIRE_EXP: value }).jwt.requireExp, value).toBe(true);
    }
  });

  it('config - false, 0, no and off are false in any case', () => {
    for (const value of ['false', '0', 'no', 'off', 'FALSE', 'No', 'Off']) {
      expect(load({ HERALD_JWT_REQUIRE_EXP: value }).jwt.requireExp, value).toBe(false);
    }
  });

  it('config - other boolean values are rejected', () => {
    const problem = problemOf({ HERALD_JWT_REQUIRE_EXP: 'maybe' });
    expect(problem).toBe('HERALD_JWT_REQUIRE_EXP="maybe": not a boolean; expected true or false');
    expect(problemOf({ HERALD_JWT_REQUIRE_EXP: '2' })).toContain('not a boolean');
  });
});

describe('loadConfig origins', () => {
  it('config - origins are split, trimmed and lower-cased', () => {
    const config = load({ HERALD_ALLOWED_ORIGINS: 'https://App.Example.COM, http://localhost:3000,,' });
    expect(config.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
  });

  it('config - entries that are not origins are rejected', () => {
    for (const value of ['app.example.com', 'https://app.example.com/', 'https://app.example.com/path', '*', 'ftp://a.example.com', 'https://']) {
      const problem = problemOf({ HERALD_ALLOWED_ORIGINS: `https://ok.example.com,${value}` });
      expect(problem, value).toContain(`HERALD_ALLOWED_ORIGINS=${JSON.stringify(value)}`);
      expect(problem, value).toContain('not an origin');
      expect(problem, value).toContain('expected comma-separated origins');
    }
  });

  it('config - every bad origin is its own problem', () => {
    expect(problemsOf({ HERALD_ALLOWED_ORIGINS: 'a.com,b.com,https://ok.com' })).toHaveLength(2);
  });
});

describe('loadConfig freezing', () => {
  it('config - the returned config and its parts are frozen', () => {
    const config = load({ HERALD_ALLOWED_ORIGINS: 'https://a.example.com' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
    expect(Object.isFrozen(config.apiKeys)).toBe(true);
    expect(Object.isFrozen(config.allowedOrigins)).toBe(true);
    expect(Object.isFrozen(config.generated)).toBe(true);
  });

  it('config - writing to the config throws', () => {
    const config = load({});
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.limits as { maxPayload: number }).maxPayload = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.apiKeys as string[]).push('x');
    }).toThrow(TypeError);
    expect(config.port).toBe(8080);
    expect(config.limits.maxPayload).toBe(65536);
  });

  it('config - the environment object is not modified', () => {
    const env = { HERALD_PORT: ' 8081 ' };
    load(env);
    expect(env).toEqual({ HERALD_PORT: ' 8081 ' });
  });
});
