/**
 * Configuration checks at their edges, and the startup messages they produce
 * (README: an invalid value stops the node with a message that names the
 * variable, the problem and the expected form). config.test.ts and
 * config-redis.test.ts cover the rules; these pin the boundaries and wording.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config, type Env } from '../../src/config.js';

const BASE: Env = { NODE_ENV: 'production', HERALD_JWT_SECRET: 'a-jwt-secret-of-at-least-32-characters!', HERALD_BROKER: 'memory' };
const REDIS: Env = { NODE_ENV: 'production', HERALD_JWT_SECRET: 'a-jwt-secret-of-at-least-32-characters!' };

function problemsOf(env: Env): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

const load = (env: Env): Config => loadConfig(env);

describe('config - host:port lists (Sentinel, Cluster)', () => {
  const sentinels = (list: string): Env => ({ ...REDIS, HERALD_REDIS_SENTINELS: list, HERALD_REDIS_SENTINEL_NAME: 'mymaster' });

  it('config - ports 1 and 65535 are accepted, IPv6 addresses in brackets lose the brackets', () => {
    const config = load(sentinels('a:1,b:65535,[::1]:26379,[fe80::1]:2'));
    expect(config.broker).toMatchObject({
      kind: 'sentinel',
      sentinels: [
        { host: 'a', port: 1 },
        { host: 'b', port: 65535 },
        { host: '::1', port: 26379 },
        { host: 'fe80::1', port: 2 },
      ],
    });
  });

  it.each(['a:0', 'a:65536', 'a:123456', 'a:6379x', 'x a:6379', 'a:b:6379', 'a', ':6379', '[::1]'])('config - %s is not host:port', (item) => {
    expect(problemsOf(sentinels(item))).toEqual([
      `HERALD_REDIS_SENTINELS=${JSON.stringify(item)}: not host:port; expected comma-separated host:port pairs such as redis-0.redis:26379,redis-1.redis:26379`,
    ]);
  });

  it('config - Sentinel without a master name says it is not set', () => {
    expect(problemsOf({ ...REDIS, HERALD_REDIS_SENTINELS: 'a:26379' })).toEqual([
      'HERALD_REDIS_SENTINEL_NAME=is not set: required with HERALD_REDIS_SENTINELS; expected the master name the sentinels monitor, e.g. mymaster',
    ]);
  });
});

describe('config - URLs and origins', () => {
  it.each(['not a url', 'redis:///0', 'redis://', 'http://redis:6379'])('config - HERALD_REDIS_URL=%s is refused as not a redis:// URL (the value hidden: it may hold a password)', (url) => {
    expect(problemsOf({ ...REDIS, HERALD_REDIS_URL: url })).toEqual([
      'HERALD_REDIS_URL=(value hidden): not a redis:// or rediss:// URL; expected redis://[user:password@]host[:port][/db] or rediss://... for TLS',
    ]);
  });

  it('config - JWKS URLs must start with http:// or https:// and a host', () => {
    expect(load({ ...BASE, HERALD_JWT_SECRET: undefined, HERALD_JWKS_URL: 'http://issuer/jwks.json' }).jwt.jwksUrl).toBe('http://issuer/jwks.json');
    expect(load({ ...BASE, HERALD_JWT_SECRET: undefined, HERALD_JWKS_URL: 'https://issuer.example.com/.well-known/jwks.json' }).jwt.jwksUrl).toBe('https://issuer.example.com/.well-known/jwks.json');
    for (const url of ['see https://issuer/jwks.json', 'ftp://issuer/jwks.json', 'https:///jwks.json']) {
      expect(problemsOf({ ...BASE, HERALD_JWKS_URL: url }), url).toEqual([
        `HERALD_JWKS_URL=${JSON.stringify(url)}: not an http(s) URL; expected a URL such as https://issuer.example.com/.well-known/jwks.json`,
      ]);
    }
  });

  it('config - an origin is a scheme and a host, nothing before or after', () => {
    expect(load({ ...BASE, HERALD_ALLOWED_ORIGINS: 'https://App.example.com,http://localhost:3000' }).allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    for (const origin of ['xhttps://app.example.com', 'https://app.example.com/', 'app.example.com']) {
      expect(problemsOf({ ...BASE, HERALD_ALLOWED_ORIGINS: origin }), origin).toHaveLength(1);
    }
  });
});

describe('config - keys, names and their messages', () => {
  it('config - an API key of exactly 16 characters is accepted; 15 is refused, with the rule in the message', () => {
    expect(load({ ...BASE, HERALD_API_KEYS: 'k'.repeat(16) }).apiKeys).toEqual(['k'.repeat(16)]);
    const [problem] = problemsOf({ ...BASE, HERALD_API_KEYS: 'k'.repeat(15) });
    expect(problem).toMatch(/^HERALD_API_KEYS=.*: a key is shorter than 16 characters; expected comma-separated keys of at least 16 characters each$/);
  });

  it('config - a public key that is not one is quoted, cut at 60 characters', () => {
    const long = `not-a-key-${'x'.repeat(100)}`;
    const [cut] = problemsOf({ ...BASE, HERALD_JWT_SECRET: undefined, HERALD_JWT_PUBLIC_KEY: `-----BEGIN ${long}` });
    expect(cut).toContain(`HERALD_JWT_PUBLIC_KEY=${JSON.stringify(`-----BEGIN ${long}`.slice(0, 60) + '…')}: not a valid public key (`);
    const sixty = `-----BEGIN ${'y'.repeat(49)}`;
    expect(sixty).toHaveLength(60);
    const [whole] = problemsOf({ ...BASE, HERALD_JWT_SECRET: undefined, HERALD_JWT_PUBLIC_KEY: sixty });
    expect(whole).toContain(`HERALD_JWT_PUBLIC_KEY=${JSON.stringify(sixty)}: not a valid public key (`);
  });

  it('config - an EC key on a curve no JWT algorithm uses is refused, naming the curve', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(problemsOf({ ...BASE, HERALD_JWT_SECRET: undefined, HERALD_JWT_PUBLIC_KEY: pem })).toEqual([
      'HERALD_JWT_PUBLIC_KEY="(EC key on curve secp256k1)": no JWT algorithm uses this curve; expected an RSA key, or an EC key on P-256, P-384 or P-521',
    ]);
  });

  it('config - "none" and unknown algorithms are refused, listing the ones there are', () => {
    const all = 'HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512';
    expect(problemsOf({ ...BASE, HERALD_JWT_ALGORITHMS: 'none,HS999' })).toEqual([
      `HERALD_JWT_ALGORITHMS="none": unsigned tokens ("none") are never accepted; expected a comma-separated subset of ${all}`,
      `HERALD_JWT_ALGORITHMS="HS999": unknown algorithm; expected a comma-separated subset of ${all}`,
    ]);
  });

  it('config - HERALD_JWKS_REFETCH_INTERVAL is read in seconds', () => {
    expect(load({ ...BASE, HERALD_JWKS_REFETCH_INTERVAL: '7' }).jwt.jwksRefetchIntervalMs).toBe(7000);
  });

  it('config - prefix, broker, node id and metrics port problems say what is expected', () => {
    expect(problemsOf({ ...REDIS, HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_PREFIX: '{herald}' })).toEqual([
      'HERALD_REDIS_PREFIX="{herald}": invalid prefix; expected 1 to 64 characters from A-Z a-z 0-9 _ - . : (no braces)',
    ]);
    expect(problemsOf({ ...BASE, HERALD_BROKER: 'kafka' })).toEqual(['HERALD_BROKER="kafka": unknown broker; expected memory (a single node, nothing shared) or redis']);
    expect(problemsOf({ ...REDIS, HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_CLUSTER_NODES: 'a:1' })).toEqual([
      'HERALD_REDIS_URL and HERALD_REDIS_CLUSTER_NODES are both set: choose one Redis mode (standalone URL, Sentinel, or Cluster)',
    ]);
    expect(problemsOf({ ...REDIS, HERALD_BROKER: 'memory', HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_CLUSTER_NODES: 'a:1' })).toContain(
      'HERALD_BROKER=memory but HERALD_REDIS_URL and HERALD_REDIS_CLUSTER_NODES is set: choose one (unset HERALD_BROKER to use Redis)',
    );
    expect(problemsOf({ ...BASE, HERALD_NODE_ID: 'a b' })).toEqual([
      'HERALD_NODE_ID="a b": contains characters outside A-Z a-z 0-9 _ . : - or is too long; expected 1 to 128 of those characters',
    ]);
    expect(problemsOf({ ...BASE, HERALD_PORT: '9000', HERALD_METRICS_PORT: '9000' })).toEqual([
      'HERALD_METRICS_PORT="9000": same as HERALD_PORT; expected a port of its own, so that /metrics is never exposed with the client port',
    ]);
  });

  it('config - a ConfigError lists every problem, one per line', () => {
    try {
      loadConfig({ ...BASE, HERALD_BROKER: 'kafka', HERALD_NODE_ID: 'a b' });
      expect.unreachable('the configuration is invalid');
    } catch (error) {
      expect((error as Error).message).toBe(
        'invalid configuration:\n' +
          '  - HERALD_NODE_ID="a b": contains characters outside A-Z a-z 0-9 _ . : - or is too long; expected 1 to 128 of those characters\n' +
          '  - HERALD_BROKER="kafka": unknown broker; expected memory (a single node, nothing shared) or redis',
      );
    }
  });
});

describe('config - history and presence settings', () => {
  const EXPECTED_HISTORY = 'comma-separated <pattern>=<size>:<ttl seconds>, e.g. chat.>=100:300,prices.*=1:60 (size 1 to 100000, ttl at least 1 and at most HERALD_HISTORY_META_TTL)';

  it('config - nothing configured: no history rules, no presence patterns, the documented defaults', () => {
    const config = load(BASE);
    expect(config.history).toEqual({ rules: [], maxRecovery: 300, metaTtlSeconds: 30 * 24 * 3600 });
    expect(config.presence).toEqual({ patterns: [], joinLeave: [], ttlSeconds: 30, leaveGraceSeconds: 15 });
  });

  it('config - HERALD_HISTORY rules are read with their pattern, size and ttl; the other history variables are read too', () => {
    const config = load({ ...BASE, HERALD_HISTORY: 'chat.>=100:300,prices.*=1:60', HERALD_HISTORY_MAX_RECOVERY: '50', HERALD_HISTORY_META_TTL: '600' });
    expect(config.history.rules.map(({ source, size, ttlSeconds, pattern }) => ({ source, size, ttlSeconds, pattern: pattern.source }))).toEqual([
      { source: 'chat.>', size: 100, ttlSeconds: 300, pattern: 'chat.>' },
      { source: 'prices.*', size: 1, ttlSeconds: 60, pattern: 'prices.*' },
    ]);
    expect(config.history.maxRecovery).toBe(50);
    expect(config.history.metaTtlSeconds).toBe(600);
  });

  it('config - history sizes run from 1 to 100,000 and ttls from 1 to HERALD_HISTORY_META_TTL', () => {
    expect(load({ ...BASE, HERALD_HISTORY: 'a=100000:1,b=1:100', HERALD_HISTORY_META_TTL: '100' }).history.rules.map((r) => [r.size, r.ttlSeconds])).toEqual([[100000, 1], [1, 100]]);
    expect(problemsOf({ ...BASE, HERALD_HISTORY: 'a=0:60,b=100001:60,c=1:0,d=1:101', HERALD_HISTORY_META_TTL: '100' })).toEqual([
      `HERALD_HISTORY="a=0:60": size 0 is out of range; expected ${EXPECTED_HISTORY}`,
      `HERALD_HISTORY="b=100001:60": size 100001 is out of range; expected ${EXPECTED_HISTORY}`,
      `HERALD_HISTORY="c=1:0": ttl 0 is out of range; expected ${EXPECTED_HISTORY}`,
      `HERALD_HISTORY="d=1:101": ttl 101 is out of range; expected ${EXPECTED_HISTORY}`,
    ]);
  });

  it('config - HERALD_HISTORY_META_TTL may be up to ten years', () => {
    expect(load({ ...BASE, HERALD_HISTORY_META_TTL: String(10 * 365 * 24 * 3600) }).history.metaTtlSeconds).toBe(315_360_000);
    expect(problemsOf({ ...BASE, HERALD_HISTORY_META_TTL: String(10 * 365 * 24 * 3600 + 1) })).toHaveLength(1);
  });

  it.each(['chat.>', 'chat.>=100', 'chat.>=100:', '=1:60', 'a b=1:60', 'chat.>=1:60x', 'chat.>=x:60'])('config - HERALD_HISTORY item %s is not <pattern>=<size>:<ttl seconds>', (item) => {
    expect(problemsOf({ ...BASE, HERALD_HISTORY: item })).toEqual([`HERALD_HISTORY=${JSON.stringify(item)}: not <pattern>=<size>:<ttl seconds>; expected ${EXPECTED_HISTORY}`]);
  });

  it('config - a history pattern must be a valid pattern without {sub}', () => {
    expect(problemsOf({ ...BASE, HERALD_HISTORY: 'a..b=1:60,user.{sub}=1:60' })).toEqual([
      `HERALD_HISTORY="a..b=1:60": pattern "a..b" is not valid: segment 2 ("") is empty or has characters outside A-Z a-z 0-9 _ - : {sub}; expected ${EXPECTED_HISTORY}`,
      `HERALD_HISTORY="user.{sub}=1:60": patterns may not use {sub}: history is per topic, not per user; expected ${EXPECTED_HISTORY}`,
    ]);
  });

  it('config - presence patterns, join/leave patterns, ttl and leave grace are read', () => {
    const config = load({ ...BASE, HERALD_PRESENCE: 'rooms.*,docs.>', HERALD_PRESENCE_JOIN_LEAVE: 'rooms.*', HERALD_PRESENCE_TTL: '10', HERALD_PRESENCE_LEAVE_GRACE: '0' });
    expect(config.presence.patterns.map((p) => p.source)).toEqual(['rooms.*', 'docs.>']);
    expect(config.presence.joinLeave.map((p) => p.source)).toEqual(['rooms.*']);
    expect(config.presence.ttlSeconds).toBe(10);
    expect(config.presence.leaveGraceSeconds).toBe(0);
  });

  it('config - presence patterns must be valid and without {sub}; join/leave needs presence', () => {
    const expected = 'comma-separated topic patterns such as chat.> or rooms.*';
    expect(problemsOf({ ...BASE, HERALD_PRESENCE: 'a..b,user.{sub}' })).toEqual([
      `HERALD_PRESENCE="a..b": not a valid pattern: segment 2 ("") is empty or has characters outside A-Z a-z 0-9 _ - : {sub}; expected ${expected}`,
      `HERALD_PRESENCE="user.{sub}": patterns may not use {sub}; expected ${expected}`,
    ]);
    expect(problemsOf({ ...BASE, HERALD_PRESENCE_JOIN_LEAVE: 'rooms.*' })).toEqual([
      'HERALD_PRESENCE_JOIN_LEAVE is set but HERALD_PRESENCE is not: join/leave events need topics with presence',
    ]);
  });

  it('config - HERALD_DEMO defaults to on outside production and off in production, and can be set either way', () => {
    expect(load(BASE).demo).toBe(false);
    expect(load({ ...BASE, HERALD_DEMO: 'true' }).demo).toBe(true);
    expect(loadConfig({ HERALD_JWT_SECRET: BASE.HERALD_JWT_SECRET, HERALD_API_KEYS: 'k'.repeat(16) }).demo).toBe(true);
    expect(loadConfig({ HERALD_JWT_SECRET: BASE.HERALD_JWT_SECRET, HERALD_API_KEYS: 'k'.repeat(16), HERALD_DEMO: 'false' }).demo).toBe(false);
  });
});
