/**
 * Configuration: read once from the environment, validated as a whole, then
 * frozen. Every problem is collected so that one failed start lists them all.
 * The README's configuration table mirrors VARIABLES below; a test keeps the
 * two in step.
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { compilePattern, type Pattern } from './protocol/topics.js';

export type Algorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512';

const HMAC: readonly Algorithm[] = ['HS256', 'HS384', 'HS512'];
const RSA: readonly Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC: readonly Algorithm[] = ['ES256', 'ES384', 'ES512'];
const ALL_ALGORITHMS: readonly Algorithm[] = [...HMAC, ...RSA, ...EC];
const EC_CURVE_ALGORITHM: Readonly<Record<string, Algorithm>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface JwtConfig {
  readonly secret: string | undefined;
  readonly publicKey: KeyObject | undefined;
  readonly jwksUrl: string | undefined;
  readonly algorithms: readonly Algorithm[];
  readonly issuer: string | undefined;
  readonly audience: readonly string[] | undefined;
  readonly requireExp: boolean;
  /** Least time between two JWKS fetches (unknown `kid`s wait for the next one). */
  readonly jwksRefetchIntervalMs: number;
}

export interface Limits {
  /** Largest client frame in bytes; larger frames close the connection with 1009. */
  readonly maxPayload: number;
  /** Largest serialised `data` of one published message, from any source. */
  readonly maxMessageSize: number;
  readonly maxSubscriptions: number;
  /** 0 means unlimited. */
  readonly maxConnections: number;
  readonly idleTimeoutSeconds: number;
  readonly maxBackpressure: number;
  /** Client frames per second per connection; 0 disables the limit. */
  readonly clientRate: number;
  readonly clientBurst: number;
  /** Consecutive rate-limited frames after which the connection is closed with 4029. */
  readonly rateLimitCloseAfter: number;
}

/** Where messages between nodes travel. */
export type BrokerConfig =
  | { readonly kind: 'memory' }
  | (RedisCommon & { readonly kind: 'redis'; readonly url: string })
  | (RedisCommon & {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly name: string;
      readonly username: string | undefined;
      readonly password: string | undefined;
      readonly tls: boolean;
    })
  | (RedisCommon & {
      readonly kind: 'cluster';
      readonly nodes: readonly HostPort[];
      readonly username: string | undefined;
      readonly password: string | undefined;
      readonly tls: boolean;
    });

/** What every Redis mode has. */
export interface RedisCommon {
  /** Channels are `<prefix>:<topic>`; keys `{<prefix>:<topic>}:…`. */
  readonly prefix: string;
  /** A publish Redis has not acknowledged within this is answered 503, and Redis refuses it after this deadline. */
  readonly publishTimeoutMs: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The history policy of the topics matching `pattern` (HERALD_HISTORY). */
export interface HistoryRule {
  readonly source: string;
  readonly pattern: Pattern;
  /** Most messages kept per topic. */
  readonly size: number;
  /** How long a message is kept, in seconds. */
  readonly ttlSeconds: number;
}

export interface HistoryConfig {
  /** First match wins; empty: no topic has history. */
  readonly rules: readonly HistoryRule[];
  /** Most messages one recovery may replay. */
  readonly maxRecovery: number;
  /** How long a topic's position (epoch, top offset) outlives its last publish, in seconds. */
  readonly metaTtlSeconds: number;
}

export interface PresenceConfig {
  /** Topics with presence (HERALD_PRESENCE). */
  readonly patterns: readonly Pattern[];
  /** Presence topics whose subscribers also receive join and leave frames (HERALD_PRESENCE_JOIN_LEAVE). */
  readonly joinLeave: readonly Pattern[];
  /** How long an entry lives without being refreshed: a dead node's users are gone within this. */
  readonly ttlSeconds: number;
  /** How long a user's last connection is still counted after it left, so that a reload is not leave + join. */
  readonly leaveGraceSeconds: number;
}

/** Largest HERALD_HISTORY size per topic. */
export const MAX_HISTORY_SIZE = 100_000;
export const MAX_RECOVERY = 100_000;

export interface Config {
  readonly mode: 'production' | 'development';
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly logLevel: LogLevel;
  readonly jwt: JwtConfig;
  readonly apiKeys: readonly string[];
  readonly limits: Limits;
  readonly allowedOrigins: readonly string[];
  readonly drainSeconds: number;
  readonly broker: BrokerConfig;
  /** How long a node keeps a broker subscription after a topic's last local subscriber leaves. */
  readonly subscriptionLingerMs: number;
  readonly history: HistoryConfig;
  readonly presence: PresenceConfig;
  /** Serve the demo page and the SDK bundle (transport/demo.ts); in development mode also tick the demo topic. */
  readonly demo: boolean;
  /** What development mode generated because it was not configured (never set in production). */
  readonly generated: { readonly jwtSecret: boolean; readonly apiKey: boolean };
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** One documented variable: its default as shown in the README, and whether its value may be echoed in errors. */
export interface VariableDoc {
  readonly name: string;
  readonly default: string;
  readonly secret?: boolean;
}

/** Every variable Herald reads, in README order. */
export const VARIABLES: readonly VariableDoc[] = [
  { name: 'HERALD_HOST', default: '0.0.0.0' },
  { name: 'HERALD_PORT', default: '8080' },
  { name: 'HERALD_METRICS_PORT', default: '9091' },
  { name: 'HERALD_LOG_LEVEL', default: 'info' },
  { name: 'HERALD_NODE_ID', default: '<hostname>-<4 random hex>' },
  { name: 'HERALD_JWT_SECRET', default: '(none)', secret: true },
  { name: 'HERALD_JWT_PUBLIC_KEY', default: '(none)' },
  { name: 'HERALD_JWKS_URL', default: '(none)' },
  { name: 'HERALD_JWKS_REFETCH_INTERVAL', default: '5' },
  { name: 'HERALD_JWT_ALGORITHMS', default: '(derived from the configured keys)' },
  { name: 'HERALD_JWT_ISSUER', default: '(not checked)' },
  { name: 'HERALD_JWT_AUDIENCE', default: '(not checked)' },
  { name: 'HERALD_JWT_REQUIRE_EXP', default: 'true' },
  { name: 'HERALD_API_KEYS', default: '(none)', secret: true },
  { name: 'HERALD_MAX_PAYLOAD', default: '65536' },
  { name: 'HERALD_MAX_MESSAGE_SIZE', default: '65536' },
  { name: 'HERALD_MAX_SUBSCRIPTIONS', default: '512' },
  { name: 'HERALD_MAX_CONNECTIONS', default: '0' },
  { name: 'HERALD_IDLE_TIMEOUT', default: '60' },
  { name: 'HERALD_MAX_BACKPRESSURE', default: '1048576' },
  { name: 'HERALD_CLIENT_RATE', default: '100' },
  { name: 'HERALD_CLIENT_BURST', default: '200' },
  { name: 'HERALD_CLIENT_RATE_CLOSE_AFTER', default: '20' },
  { name: 'HERALD_ALLOWED_ORIGINS', default: '(any)' },
  { name: 'HERALD_DRAIN_SECONDS', default: '10' },
  { name: 'HERALD_BROKER', default: '(redis when a Redis is configured, else memory outside production)' },
  { name: 'HERALD_REDIS_URL', default: '(none)', secret: true },
  { name: 'HERALD_REDIS_SENTINELS', default: '(none)' },
  { name: 'HERALD_REDIS_SENTINEL_NAME', default: '(none)' },
  { name: 'HERALD_REDIS_CLUSTER_NODES', default: '(none)' },
  { name: 'HERALD_REDIS_USERNAME', default: '(none)' },
  { name: 'HERALD_REDIS_PASSWORD', default: '(none)', secret: true },
  { name: 'HERALD_REDIS_TLS', default: 'false' },
  { name: 'HERALD_REDIS_PREFIX', default: 'herald' },
  { name: 'HERALD_REDIS_PUBLISH_TIMEOUT_MS', default: '2000' },
  { name: 'HERALD_SUBSCRIPTION_LINGER_MS', default: '1000' },
  { name: 'HERALD_HISTORY', default: '(none)' },
  { name: 'HERALD_HISTORY_MAX_RECOVERY', default: '300' },
  { name: 'HERALD_HISTORY_META_TTL', default: '2592000' },
  { name: 'HERALD_PRESENCE', default: '(none)' },
  { name: 'HERALD_PRESENCE_JOIN_LEAVE', default: '(none)' },
  { name: 'HERALD_PRESENCE_TTL', default: '30' },
  { name: 'HERALD_PRESENCE_LEAVE_GRACE', default: '15' },
  { name: 'HERALD_DEMO', default: '(true in development, false in production)' },
];

const SECRET_NAMES = new Set(VARIABLES.filter((v) => v.secret).map((v) => v.name));

/**
 * Collects problems while reading variables, so that parsing never stops at
 * the first bad value.
 */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  problem(name: string, value: string | undefined, what: string, expected: string): void {
    const shown = value === undefined ? 'is not set' : SECRET_NAMES.has(name) ? '(value hidden)' : JSON.stringify(value);
    this.problems.push(`${name}=${shown}: ${what}; expected ${expected}`);
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  integer(name: string, fallback: number, min: number, max: number, extra?: (n: number) => string | undefined): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const expected = `an integer from ${min} to ${max}`;
    if (!/^-?\d+$/.test(value)) {
      this.problem(name, value, 'not an integer', expected);
      return fallback;
    }
    const n = Number(value);
    if (n < min || n > max) {
      this.problem(name, value, 'out of range', expected);
      return fallback;
    }
    const bad = extra?.(n);
    if (bad !== undefined) {
      this.problem(name, value, bad, expected);
      return fallback;
    }
    return n;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
    this.problem(name, value, 'not a boolean', 'true or false');
    return fallback;
  }

  list(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  }
}

function readPublicKey(r: Reader): KeyObject | undefined {
  const name = 'HERALD_JWT_PUBLIC_KEY';
  const value = r.optional(name);
  if (value === undefined) return undefined;
  // Accept the PEM itself (with real or escaped newlines, as env files often
  // carry it) or a path to a file holding it (a mounted Kubernetes secret).
  let pem = value.replace(/\\n/g, '\n');
  if (!pem.includes('-----BEGIN')) {
    try {
      pem = readFileSync(value, 'utf8');
    } catch (error) {
      r.problem(name, value, `neither a PEM key nor a readable file (${(error as Error).message})`, 'a PEM public key (RSA or EC) or the path of a file holding one');
      return undefined;
    }
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec') {
      r.problem(name, value, `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`, 'an RSA or EC public key');
      return undefined;
    }
    return key;
  } catch (error) {
    r.problem(name, value.length > 60 ? `${value.slice(0, 60)}…` : value, `not a valid public key (${(error as Error).message})`, 'a PEM public key (RSA or EC) or the path of a file holding one');
    return undefined;
  }
}

function keyAlgorithms(key: KeyObject): readonly Algorithm[] {
  if (key.asymmetricKeyType === 'rsa') return RSA;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const algorithm = curve === undefined ? undefined : EC_CURVE_ALGORITHM[curve];
  return algorithm === undefined ? [] : [algorithm];
}

function readJwt(r: Reader, production: boolean, generateSecret: () => string): { jwt: JwtConfig; generated: boolean } {
  let secret = r.optional('HERALD_JWT_SECRET');
  if (secret !== undefined && secret.length < 32) {
    r.problem('HERALD_JWT_SECRET', secret, `too short (${secret.length} characters)`, 'at least 32 characters (256 bits for HS256)');
  }
  const publicKey = readPublicKey(r);
  const jwksUrl = r.optional('HERALD_JWKS_URL');
  if (jwksUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(jwksUrl)) {
    r.problem('HERALD_JWKS_URL', jwksUrl, 'not an http(s) URL', 'a URL such as https://issuer.example.com/.well-known/jwks.json');
  }

  let generated = false;
  const rawPublicKey = r.optional('HERALD_JWT_PUBLIC_KEY');
  if (secret === undefined && rawPublicKey === undefined && jwksUrl === undefined) {
    if (production) {
      r.problems.push('no JWT key configured: set HERALD_JWT_SECRET (HS*), HERALD_JWT_PUBLIC_KEY (RS*/PS*/ES*) or HERALD_JWKS_URL; NODE_ENV=production never generates one');
    } else {
      secret = generateSecret();
      generated = true;
    }
  }

  // Which algorithms each configured key source can verify.
  const available = new Set<Algorithm>();
  if (secret !== undefined) HMAC.forEach((a) => available.add(a));
  if (publicKey !== undefined) keyAlgorithms(publicKey).forEach((a) => available.add(a));
  if (jwksUrl !== undefined) [...RSA, ...EC].forEach((a) => available.add(a));

  if (publicKey !== undefined && keyAlgorithms(publicKey).length === 0) {
    r.problem('HERALD_JWT_PUBLIC_KEY', `(EC key on curve ${publicKey.asymmetricKeyDetails?.namedCurve ?? 'unknown'})`, 'no JWT algorithm uses this curve', 'an RSA key, or an EC key on P-256, P-384 or P-521');
  }

  let algorithms: Algorithm[];
  const requested = r.list('HERALD_JWT_ALGORITHMS');
  if (requested.length === 0) {
    algorithms = ALL_ALGORITHMS.filter((a) => available.has(a));
  } else {
    algorithms = [];
    for (const name of requested) {
      const upper = name.toUpperCase();
      if (upper === 'NONE') {
        r.problem('HERALD_JWT_ALGORITHMS', name, 'unsigned tokens ("none") are never accepted', `a comma-separated subset of ${ALL_ALGORITHMS.join(', ')}`);
      } else if (!(ALL_ALGORITHMS as readonly string[]).includes(upper)) {
        r.problem('HERALD_JWT_ALGORITHMS', name, 'unknown algorithm', `a comma-separated subset of ${ALL_ALGORITHMS.join(', ')}`);
      } else if (!available.has(upper as Algorithm)) {
        const needs = upper.startsWith('HS') ? 'HERALD_JWT_SECRET' : 'HERALD_JWT_PUBLIC_KEY of a matching type or HERALD_JWKS_URL';
        r.problem('HERALD_JWT_ALGORITHMS', name, `no configured key can verify ${upper}`, `${needs} to be set for it`);
      } else if (!algorithms.includes(upper as Algorithm)) {
        algorithms.push(upper as Algorithm);
      }
    }
  }

  const audience = r.list('HERALD_JWT_AUDIENCE');
  return {
    generated,
    jwt: {
      secret,
      publicKey,
      jwksUrl,
      algorithms,
      issuer: r.optional('HERALD_JWT_ISSUER'),
      audience: audience.length > 0 ? audience : undefined,
      requireExp: r.boolean('HERALD_JWT_REQUIRE_EXP', true),
      jwksRefetchIntervalMs: r.integer('HERALD_JWKS_REFETCH_INTERVAL', 5, 1, 3600) * 1000,
    },
  };
}

function readHostPorts(r: Reader, name: string): HostPort[] {
  const result: HostPort[] = [];
  for (const item of r.list(name)) {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
    const port = match === null ? NaN : Number(match[2]);
    if (match === null || port < 1 || port > 65535) {
      r.problem(name, item, 'not host:port', 'comma-separated host:port pairs such as redis-0.redis:26379,redis-1.redis:26379');
      continue;
    }
    result.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return result;
}

function readBroker(r: Reader, production: boolean): BrokerConfig {
  const url = r.optional('HERALD_REDIS_URL');
  const sentinels = readHostPorts(r, 'HERALD_REDIS_SENTINELS');
  const clusterNodes = readHostPorts(r, 'HERALD_REDIS_CLUSTER_NODES');
  const prefix = r.string('HERALD_REDIS_PREFIX', 'herald');
  // No braces: keys are `{<prefix>:<topic>}:…` so that they hash like the channel `<prefix>:<topic>`.
  if (!/^[A-Za-z0-9_\-.:]{1,64}$/.test(prefix)) {
    r.problem('HERALD_REDIS_PREFIX', prefix, 'invalid prefix', '1 to 64 characters from A-Z a-z 0-9 _ - . : (no braces)');
  }
  const publishTimeoutMs = r.integer('HERALD_REDIS_PUBLISH_TIMEOUT_MS', 2000, 100, 60_000);
  const chosen = ['HERALD_REDIS_URL', 'HERALD_REDIS_SENTINELS', 'HERALD_REDIS_CLUSTER_NODES'].filter((name) => r.raw(name) !== undefined);
  if (chosen.length > 1) {
    r.problems.push(`${chosen.join(' and ')} are both set: choose one Redis mode (standalone URL, Sentinel, or Cluster)`);
  }
  const selected = r.optional('HERALD_BROKER')?.toLowerCase();
  if (selected !== undefined && selected !== 'memory' && selected !== 'redis') {
    r.problem('HERALD_BROKER', selected, 'unknown broker', 'memory (a single node, nothing shared) or redis');
  } else if (selected === 'memory' && chosen.length > 0) {
    r.problems.push(`HERALD_BROKER=memory but ${chosen.join(' and ')} is set: choose one (unset HERALD_BROKER to use Redis)`);
  } else if (selected === 'redis' && chosen.length === 0) {
    r.problems.push('HERALD_BROKER=redis needs HERALD_REDIS_URL, HERALD_REDIS_SENTINELS or HERALD_REDIS_CLUSTER_NODES');
  } else if (selected === undefined && chosen.length === 0 && production) {
    // Several replicas each on its own in-memory broker would look healthy and never deliver across pods.
    r.problems.push('no Redis configured in production: set HERALD_REDIS_URL, HERALD_REDIS_SENTINELS or HERALD_REDIS_CLUSTER_NODES, or HERALD_BROKER=memory for one isolated node');
  }
  const username = r.optional('HERALD_REDIS_USERNAME');
  const password = r.optional('HERALD_REDIS_PASSWORD');
  const tls = r.boolean('HERALD_REDIS_TLS', false);
  const sentinelName = r.optional('HERALD_REDIS_SENTINEL_NAME');
  const common: RedisCommon = { prefix, publishTimeoutMs };
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') {
      r.problem('HERALD_REDIS_URL', url, 'not a redis:// or rediss:// URL', 'redis://[user:password@]host[:port][/db] or rediss://... for TLS');
    }
    return { kind: 'redis', url, ...common };
  }
  if (r.raw('HERALD_REDIS_SENTINELS') !== undefined) {
    if (sentinelName === undefined) r.problem('HERALD_REDIS_SENTINEL_NAME', undefined, 'required with HERALD_REDIS_SENTINELS', 'the master name the sentinels monitor, e.g. mymaster');
    return { kind: 'sentinel', sentinels, name: sentinelName ?? '', username, password, tls, ...common };
  }
  if (r.raw('HERALD_REDIS_CLUSTER_NODES') !== undefined) {
    return { kind: 'cluster', nodes: clusterNodes, username, password, tls, ...common };
  }
  return { kind: 'memory' };
}

/** `<pattern>=<size>:<ttl seconds>,…`: patterns as in token claims, without `{sub}`. */
function readHistory(r: Reader): HistoryConfig {
  const name = 'HERALD_HISTORY';
  const expected = `comma-separated <pattern>=<size>:<ttl seconds>, e.g. chat.>=100:300,prices.*=1:60 (size 1 to ${MAX_HISTORY_SIZE}, ttl at least 1 and at most HERALD_HISTORY_META_TTL)`;
  const metaTtlSeconds = r.integer('HERALD_HISTORY_META_TTL', 30 * 24 * 3600, 60, 10 * 365 * 24 * 3600);
  const rules: HistoryRule[] = [];
  for (const item of r.list(name)) {
    const match = /^([^=\s]+)=(\d+):(\d+)$/.exec(item);
    if (match === null) {
      r.problem(name, item, 'not <pattern>=<size>:<ttl seconds>', expected);
      continue;
    }
    const [, source, sizeText, ttlText] = match as unknown as [string, string, string, string];
    const pattern = compilePattern(source);
    const size = Number(sizeText);
    const ttlSeconds = Number(ttlText);
    if (typeof pattern === 'string') r.problem(name, item, `pattern ${JSON.stringify(source)} is not valid: ${pattern}`, expected);
    else if (pattern.usesSub) r.problem(name, item, 'patterns may not use {sub}: history is per topic, not per user', expected);
    else if (size < 1 || size > MAX_HISTORY_SIZE) r.problem(name, item, `size ${size} is out of range`, expected);
    else if (ttlSeconds < 1 || ttlSeconds > metaTtlSeconds) r.problem(name, item, `ttl ${ttlSeconds} is out of range`, expected);
    else rules.push(Object.freeze({ source, pattern, size, ttlSeconds }));
  }
  return Object.freeze({
    rules: Object.freeze(rules),
    maxRecovery: r.integer('HERALD_HISTORY_MAX_RECOVERY', 300, 1, MAX_RECOVERY),
    metaTtlSeconds,
  });
}

function readPatterns(r: Reader, name: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const source of r.list(name)) {
    const pattern = compilePattern(source);
    if (typeof pattern === 'string') r.problem(name, source, `not a valid pattern: ${pattern}`, 'comma-separated topic patterns such as chat.> or rooms.*');
    else if (pattern.usesSub) r.problem(name, source, 'patterns may not use {sub}', 'comma-separated topic patterns such as chat.> or rooms.*');
    else patterns.push(pattern);
  }
  return patterns;
}

function readPresence(r: Reader): PresenceConfig {
  const patterns = readPatterns(r, 'HERALD_PRESENCE');
  const joinLeave = readPatterns(r, 'HERALD_PRESENCE_JOIN_LEAVE');
  if (joinLeave.length > 0 && patterns.length === 0) {
    r.problems.push('HERALD_PRESENCE_JOIN_LEAVE is set but HERALD_PRESENCE is not: join/leave events need topics with presence');
  }
  return Object.freeze({
    patterns: Object.freeze(patterns),
    joinLeave: Object.freeze(joinLeave),
    ttlSeconds: r.integer('HERALD_PRESENCE_TTL', 30, 3, 3600),
    leaveGraceSeconds: r.integer('HERALD_PRESENCE_LEAVE_GRACE', 15, 0, 3600),
  });
}

function readOrigins(r: Reader): string[] {
  const origins = r.list('HERALD_ALLOWED_ORIGINS');
  for (const origin of origins) {
    if (!/^https?:\/\/[^\s/]+$/.test(origin)) {
      r.problem('HERALD_ALLOWED_ORIGINS', origin, 'not an origin', 'comma-separated origins such as https://app.example.com (scheme and host, optional port, no path)');
    }
  }
  return origins.map((o) => o.toLowerCase());
}

export interface LoadOptions {
  /** Source of development-mode secrets; tests pass a fixed one. */
  readonly generateSecret?: () => string;
}

/** Reads, validates and freezes the configuration, or throws a ConfigError listing every problem. */
export function loadConfig(env: Env, options: LoadOptions = {}): Config {
  const r = new Reader(env);
  const generateSecret = options.generateSecret ?? (() => randomBytes(32).toString('hex'));
  const production = env.NODE_ENV === 'production';

  const port = r.integer('HERALD_PORT', 8080, 0, 65535);
  const metricsPort = r.integer('HERALD_METRICS_PORT', 9091, 0, 65535);
  if (port !== 0 && port === metricsPort) {
    r.problem('HERALD_METRICS_PORT', String(metricsPort), 'same as HERALD_PORT', 'a port of its own, so that /metrics is never exposed with the client port');
  }
  const logLevelRaw = r.string('HERALD_LOG_LEVEL', 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    r.problem('HERALD_LOG_LEVEL', logLevelRaw, 'unknown level', LOG_LEVELS.join(', '));
  }
  const nodeId = r.string('HERALD_NODE_ID', `${hostname()}-${randomBytes(2).toString('hex')}`);
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(nodeId)) {
    r.problem('HERALD_NODE_ID', nodeId, 'contains characters outside A-Z a-z 0-9 _ . : - or is too long', '1 to 128 of those characters');
  }

  const { jwt, generated: generatedSecret } = readJwt(r, production, generateSecret);

  let apiKeys = r.list('HERALD_API_KEYS');
  for (const key of apiKeys) {
    if (key.length < 16) r.problem('HERALD_API_KEYS', key, 'a key is shorter than 16 characters', 'comma-separated keys of at least 16 characters each');
  }
  let generatedApiKey = false;
  if (apiKeys.length === 0 && !production) {
    apiKeys = [generateSecret()];
    generatedApiKey = true;
  }

  const maxPayload = r.integer('HERALD_MAX_PAYLOAD', 65536, 512, 16 * 1024 * 1024);
  const clientRate = r.integer('HERALD_CLIENT_RATE', 100, 0, 1_000_000);
  const limits: Limits = {
    maxPayload,
    maxMessageSize: r.integer('HERALD_MAX_MESSAGE_SIZE', 65536, 1, 1024 * 1024),
    maxSubscriptions: r.integer('HERALD_MAX_SUBSCRIPTIONS', 512, 1, 1_000_000),
    maxConnections: r.integer('HERALD_MAX_CONNECTIONS', 0, 0, 10_000_000),
    // uWebSockets.js accepts 0 (off) or at least 8 seconds; its timer granularity is 4 s.
    idleTimeoutSeconds: r.integer('HERALD_IDLE_TIMEOUT', 60, 0, 960, (n) => (n !== 0 && n < 8 ? 'uWebSockets.js needs 0 or at least 8' : undefined)),
    maxBackpressure: r.integer('HERALD_MAX_BACKPRESSURE', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    clientRate,
    clientBurst: r.integer('HERALD_CLIENT_BURST', Math.max(clientRate * 2, 1), 1, 10_000_000),
    rateLimitCloseAfter: r.integer('HERALD_CLIENT_RATE_CLOSE_AFTER', 20, 1, 1_000_000),
  };

  const config: Config = {
    mode: production ? 'production' : 'development',
    nodeId,
    host: r.string('HERALD_HOST', '0.0.0.0'),
    port,
    metricsPort,
    logLevel: logLevelRaw as LogLevel,
    jwt: Object.freeze(jwt),
    apiKeys: Object.freeze(apiKeys),
    limits: Object.freeze(limits),
    allowedOrigins: Object.freeze(readOrigins(r)),
    drainSeconds: r.integer('HERALD_DRAIN_SECONDS', 10, 0, 3600),
    broker: Object.freeze(readBroker(r, production)),
    subscriptionLingerMs: r.integer('HERALD_SUBSCRIPTION_LINGER_MS', 1000, 0, 600_000),
    history: readHistory(r),
    presence: readPresence(r),
    demo: r.boolean('HERALD_DEMO', !production),
    generated: Object.freeze({ jwtSecret: generatedSecret, apiKey: generatedApiKey }),
  };

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return Object.freeze(config);
}
