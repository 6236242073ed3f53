/**
 * A JWKS endpoint's keys, by `kid`, for verifying tokens.
 *
 * The key set is fetched whole and kept; a token whose `kid` is known is
 * verified without waiting. A `kid` that is not known triggers a refetch (a
 * key rotation is the usual reason), but refetches are spaced at least
 * `refetchIntervalMs` apart and shared by everyone waiting: a stranger who
 * sends tokens with random `kid`s costs one fetch per interval, never one per
 * token, and can never use up a budget that a real rotation would need. A
 * token with an unknown `kid` waits for the next allowed refetch instead of
 * being refused, so a newly rotated key is accepted within one interval.
 *
 * Keys are refreshed in the background after `maxAgeMs`; while the endpoint is
 * unreachable, the keys already known stay in use.
 */
import { createPublicKey, type JsonWebKeyInput, type KeyObject } from 'node:crypto';
import { parseBoundedJson } from '../protocol/json.js';

export interface JwksOptions {
  readonly url: string;
  /** Least time between two fetches, whatever asks for them. */
  readonly refetchIntervalMs: number;
  /** Age after which the keys are refreshed in the background. */
  readonly maxAgeMs?: number;
  readonly timeoutMs?: number;
  /** Time source, for tests. */
  readonly now?: () => number;
}

export interface Jwk {
  readonly key: KeyObject;
  /** The key's `alg` when the JWKS states one: tokens must then use exactly that algorithm. */
  readonly alg: string | undefined;
}

/** A key, or why there is none. */
export type JwkLookup = Jwk | string;

const DEFAULT_MAX_AGE_MS = 10 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 5000;
/** A key set is a few kilobytes; anything this large is not one. */
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_KEYS = 100;
/** Tokens waiting for a refetch at once; beyond this they are refused rather than queued without bound. */
const MAX_WAITING = 10_000;

export class JwksKeys {
  private keys = new Map<string, Jwk>();
  /** Keys of the set that have no `kid`, for tokens that name none. */
  private unnamed: Jwk[] = [];
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private lastError: string | undefined;
  private pending: Promise<void> | undefined;
  private waiting = 0;
  private readonly now: () => number;

  constructor(private readonly options: JwksOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The key for `kid`, at once when known, else after the next allowed refetch. Never rejects. */
  lookup(kid: string | undefined): JwkLookup | Promise<JwkLookup> {
    const known = this.find(kid);
    if (known !== undefined) {
      if (this.now() - this.fetchedAt > (this.options.maxAgeMs ?? DEFAULT_MAX_AGE_MS)) void this.refresh();
      return known;
    }
    if (this.waiting >= MAX_WAITING) return 'too many tokens waiting for the JWKS; retry later';
    this.waiting++;
    return this.refresh().then(() => {
      this.waiting--;
      return this.find(kid) ?? this.missing(kid);
    });
  }

  private find(kid: string | undefined): Jwk | undefined {
    if (kid !== undefined) return this.keys.get(kid);
    // A token without `kid` can only mean the set's one key.
    return this.unnamed.length + this.keys.size === 1 ? (this.unnamed[0] ?? this.keys.values().next().value) : undefined;
  }

  private missing(kid: string | undefined): string {
    if (this.lastError !== undefined && this.fetchedAt === -Infinity) return `JWKS unavailable: ${this.lastError}`;
    return kid === undefined ? 'token has no "kid" and the JWKS has more than one key' : `no key with kid ${JSON.stringify(kid.slice(0, 64))} in the JWKS`;
  }

  /** The next fetch: the one in flight, or one at the earliest time the interval allows. */
  private refresh(): Promise<void> {
    if (this.pending !== undefined) return this.pending;
    const wait = Math.max(0, this.attemptedAt + this.options.refetchIntervalMs - this.now());
    const pending = (wait === 0 ? Promise.resolve() : new Promise<void>((resolve) => setTimeout(resolve, wait).unref()))
      .then(() => this.fetch())
      .finally(() => {
        if (this.pending === pending) this.pending = undefined;
      });
    this.pending = pending;
    return pending;
  }

  private async fetch(): Promise<void> {
    this.attemptedAt = this.now();
    try {
      const response = await fetch(this.options.url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS), headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const set = parseKeySet(await readLimited(response, MAX_BODY_BYTES));
      if (typeof set === 'string') throw new Error(set);
      this.keys = set.named;
      this.unnamed = set.unnamed;
      this.fetchedAt = this.now();
      this.lastError = undefined;
    } catch (error) {
      // The keys already known stay in use: an unreachable endpoint must not lock out every user.
      this.lastError = (error as Error).message;
    }
  }
}

async function readLimited(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > limit) throw new Error(`JWKS response of ${declared} bytes; at most ${limit}`);
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`JWKS response over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The signature keys of a JWKS document; keys that cannot be used (other `use`, bad parameters) are skipped. */
export function parseKeySet(text: string): { named: Map<string, Jwk>; unnamed: Jwk[] } | string {
  const json = parseBoundedJson(text, 8);
  if (!json.ok) return `JWKS is ${json.problem}`;
  const keys = (json.value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return 'JWKS has no "keys" array';
  const named = new Map<string, Jwk>();
  const unnamed: Jwk[] = [];
  for (const raw of keys.slice(0, MAX_KEYS)) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue;
    const jwk = raw as Record<string, unknown>;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') continue;
    if (jwk.alg !== undefined && typeof jwk.alg !== 'string') continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as JsonWebKeyInput['key'], format: 'jwk' });
    } catch {
      continue;
    }
    const entry: Jwk = { key, alg: jwk.alg as string | undefined };
    if (typeof jwk.kid === 'string') named.set(jwk.kid, entry);
    else unnamed.push(entry);
  }
  return { named, unnamed };
}
