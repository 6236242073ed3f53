/**
 * Token expiry, bucketed by second: adding, moving and removing a connection
 * is O(1), and each tick touches only the seconds that have passed, not every
 * connection. A per-connection timer would cost a Timeout object per socket.
 */
export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** The first second not yet swept. */
  private cursor: number;

  constructor(nowSeconds: number) {
    this.cursor = Math.floor(nowSeconds);
  }

  /** Schedules `item` to expire at unix second `exp` (a token is expired once now >= exp). */
  add(item: T, exp: number): void {
    const second = this.bucketOf(exp);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(second, bucket);
    }
    bucket.add(item);
  }

  remove(item: T, exp: number): void {
    const second = this.bucketOf(exp);
    const bucket = this.buckets.get(second);
    if (bucket === undefined) return;
    bucket.delete(item);
    if (bucket.size === 0) this.buckets.delete(second);
  }

  /** A fractional exp belongs to the next whole second: it has not been reached before then. */
  private bucketOf(exp: number): number {
    return Math.max(Math.ceil(exp), this.cursor);
  }

  /** Removes and returns every item whose second has come (exp <= now). */
  expire(nowSeconds: number): T[] {
    const now = Math.floor(nowSeconds);
    const expired: T[] = [];
    // Buckets are only ever created at or after the cursor, so sweeping from it loses nothing.
    for (; this.cursor <= now; this.cursor++) {
      const bucket = this.buckets.get(this.cursor);
      if (bucket === undefined) continue;
      this.buckets.delete(this.cursor);
      for (const item of bucket) expired.push(item);
    }
    return expired;
  }

  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }
}
