/**
 * Grants: what a token allows, compiled from its `topics` and `publish`
 * claims. Grants do not embed the `sub` (it is passed at match time), so every
 * connection whose token carries the same claim lists shares one compiled
 * object: less memory per connection and no recompilation per connect.
 */
import { compilePattern, matchPattern, type Pattern } from '../protocol/topics.js';

export interface Grants {
  canSubscribe(topic: string, sub: string): boolean;
  canPublish(topic: string, sub: string): boolean;
}

class PatternGrants implements Grants {
  constructor(
    private readonly subscribe: readonly Pattern[],
    private readonly publish: readonly Pattern[],
  ) {}

  canSubscribe(topic: string, sub: string): boolean {
    return matchesAny(this.subscribe, topic, sub);
  }

  canPublish(topic: string, sub: string): boolean {
    return matchesAny(this.publish, topic, sub);
  }
}

function matchesAny(patterns: readonly Pattern[], topic: string, sub: string): boolean {
  for (const pattern of patterns) if (matchPattern(pattern, topic, sub)) return true;
  return false;
}

function compileClaim(name: string, value: unknown): Pattern[] | string {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return `claim "${name}" is not an array of patterns`;
  const patterns: Pattern[] = [];
  for (let i = 0; i < value.length; i++) {
    const compiled = compilePattern(value[i]);
    if (typeof compiled === 'string') return `claim "${name}"[${i}] is not a valid pattern: ${compiled}`;
    patterns.push(compiled);
  }
  return patterns;
}

const CACHE_LIMIT = 10_000;

/** Compiles and interns grants; bounded so that tokens with ever-new claim lists cannot grow it without limit. */
export class GrantsCache {
  private readonly cache = new Map<string, Grants>();

  /** Returns the grants for the claims, or a description of what is wrong with them. */
  fromClaims(topics: unknown, publish: unknown): Grants | string {
    // JSON keeps null and drops undefined properties, so an absent claim and a null one get different keys.
    let key: string;
    try {
      key = JSON.stringify({ topics, publish });
    } catch {
      return 'claims "topics"/"publish" cannot be serialised';
    }
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const subscribePatterns = compileClaim('topics', topics);
    if (typeof subscribePatterns === 'string') return subscribePatterns;
    const publishPatterns = compileClaim('publish', publish);
    if (typeof publishPatterns === 'string') return publishPatterns;
    const grants = new PatternGrants(subscribePatterns, publishPatterns);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, grants);
    return grants;
  }
}
