/**
 * API keys for the HTTP publish API, compared in constant time: every key is
 * hashed to a fixed length, so neither the comparison nor the key count
 * leaks through timing how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export class ApiKeys {
  private readonly digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Checks an `Authorization` header value of the form `Bearer <key>`. */
  accepts(authorization: string): boolean {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match === null) return false;
    const candidate = digest(match[1]!);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(known, candidate) || ok;
    return ok;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
