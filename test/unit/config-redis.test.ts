import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../src/config.js';

const base: Env = { NODE_ENV: 'production', HERALD_JWT_SECRET: 's'.repeat(40), HERALD_API_KEYS: 'k'.repeat(20) };

function problems(env: Env): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('config - broker selection', () => {
  it('config - production without any Redis is a startup error unless the in-memory broker is chosen explicitly', () => {
    const found = problems({});
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('no Redis configured in production');
    expect(found[0]).toContain('HERALD_BROKER=memory');
    const config = loadConfig({ ...base, HERALD_BROKER: 'memory' });
    expect(config.broker).toEqual({ kind: 'memory' });
    expect(config.subscriptionLingerMs).toBe(1000);
  });

  it('config - development without Redis uses the in-memory broker', () => {
    expect(loadConfig({ HERALD_JWT_SECRET: 's'.repeat(40) }).broker).toEqual({ kind: 'memory' });
  });

  it('config - HERALD_BROKER=redis without a Redis, memory with one, or an unknown broker are errors', () => {
    expect(problems({ HERALD_BROKER: 'redis' })).toEqual(['HERALD_BROKER=redis needs HERALD_REDIS_URL, HERALD_REDIS_SENTINELS or HERALD_REDIS_CLUSTER_NODES']);
    expect(problems({ HERALD_BROKER: 'memory', HERALD_REDIS_URL: 'redis://r:6379' })[0]).toContain('HERALD_BROKER=memory but HERALD_REDIS_URL is set');
    expect(problems({ HERALD_BROKER: 'nats' })[0]).toMatch(/^HERALD_BROKER="nats": unknown broker/);
    expect(loadConfig({ ...base, HERALD_BROKER: 'REDIS', HERALD_REDIS_URL: 'redis://r:6379' }).broker.kind).toBe('redis');
  });

  it('config - a prefix with braces is refused: keys hash-tag the whole channel name', () => {
    expect(problems({ HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_PREFIX: '{app}' })[0]).toContain('no braces');
  });

  it('config - HERALD_REDIS_PUBLISH_TIMEOUT_MS defaults to 2000 and is bounded', () => {
    expect(loadConfig({ ...base, HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_PUBLISH_TIMEOUT_MS: '500' }).broker).toMatchObject({ publishTimeoutMs: 500 });
    expect(problems({ HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_PUBLISH_TIMEOUT_MS: '10' })[0]).toContain('HERALD_REDIS_PUBLISH_TIMEOUT_MS');
  });

  it('config - HERALD_REDIS_URL selects standalone Redis with the default prefix', () => {
    expect(loadConfig({ ...base, HERALD_REDIS_URL: 'rediss://user:pw@redis.example.com:6380/2' }).broker).toEqual({
      kind: 'redis',
      url: 'rediss://user:pw@redis.example.com:6380/2',
      prefix: 'herald',
      publishTimeoutMs: 2000,
    });
  });

  it('config - HERALD_REDIS_SENTINELS with a name selects Sentinel, with credentials and TLS', () => {
    const config = loadConfig({
      ...base,
      HERALD_REDIS_SENTINELS: 'sentinel-0:26379, sentinel-1:26379,[::1]:26380',
      HERALD_REDIS_SENTINEL_NAME: 'mymaster',
      HERALD_REDIS_USERNAME: 'herald',
      HERALD_REDIS_PASSWORD: 'pw',
      HERALD_REDIS_TLS: 'true',
      HERALD_REDIS_PREFIX: 'app1',
    });
    expect(config.broker).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 'sentinel-0', port: 26379 }, { host: 'sentinel-1', port: 26379 }, { host: '::1', port: 26380 }],
      name: 'mymaster',
      prefix: 'app1',
      username: 'herald',
      password: 'pw',
      tls: true,
      publishTimeoutMs: 2000,
    });
  });

  it('config - HERALD_REDIS_CLUSTER_NODES selects Cluster', () => {
    const config = loadConfig({ ...base, HERALD_REDIS_CLUSTER_NODES: 'a:7000,b:7001' });
    expect(config.broker).toMatchObject({ kind: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }], tls: false });
  });

  it('config - two Redis modes at once are one problem naming both', () => {
    const found = problems({ HERALD_REDIS_URL: 'redis://r:6379', HERALD_REDIS_CLUSTER_NODES: 'a:7000' });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('HERALD_REDIS_URL and HERALD_REDIS_CLUSTER_NODES');
  });

  it('config - Sentinel without a master name, bad host:port pairs and a bad prefix are all reported', () => {
    const found = problems({ HERALD_REDIS_SENTINELS: 'sentinel-0,host:99999', HERALD_REDIS_PREFIX: 'has space' });
    expect(found.some((p) => p.startsWith('HERALD_REDIS_SENTINEL_NAME'))).toBe(true);
    expect(found.filter((p) => p.startsWith('HERALD_REDIS_SENTINELS'))).toHaveLength(2);
    expect(found.some((p) => p.startsWith('HERALD_REDIS_PREFIX'))).toBe(true);
  });

  it('config - a bad HERALD_REDIS_URL is reported without echoing it (it may hold a password)', () => {
    const found = problems({ HERALD_REDIS_URL: 'http://user:hunter2@redis:6379' });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('HERALD_REDIS_URL');
    expect(found[0]).not.toContain('hunter2');
  });

  it('config - HERALD_SUBSCRIPTION_LINGER_MS is an integer from 0', () => {
    expect(loadConfig({ ...base, HERALD_BROKER: 'memory', HERALD_SUBSCRIPTION_LINGER_MS: '0' }).subscriptionLingerMs).toBe(0);
    expect(problems({ HERALD_BROKER: 'memory', HERALD_SUBSCRIPTION_LINGER_MS: '-1' })[0]).toContain('HERALD_SUBSCRIPTION_LINGER_MS');
  });
});
