/**
 * Latency histogram in microseconds: logarithmic buckets 2% wide, so any
 * percentile is within 2% of the truth, from 1 µs to over an hour, in 1,100
 * counters that add up across workers.
 */
const GROWTH = Math.log(1.02);
export const BUCKETS = 1100;

export class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.n = 0;
    this.max = 0;
  }

  /** @param {number} us */
  record(us) {
    const v = us < 1 ? 1 : us;
    let b = Math.floor(Math.log(v) / GROWTH);
    if (b >= BUCKETS) b = BUCKETS - 1;
    this.counts[b]++;
    this.n++;
    if (us > this.max) this.max = us;
  }

  reset() {
    this.counts.fill(0);
    this.n = 0;
    this.max = 0;
  }

  /** Sparse form for IPC: [[bucket, count], ...]. */
  toJSON() {
    const pairs = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) pairs.push([i, this.counts[i]]);
    return { pairs, n: this.n, max: this.max };
  }

  /** @param {{ pairs: number[][], n: number, max: number }} sparse */
  add(sparse) {
    for (const [b, c] of sparse.pairs) this.counts[b] += c;
    this.n += sparse.n;
    if (sparse.max > this.max) this.max = sparse.max;
  }

  /** @param {number} q in [0, 1] @returns {number} µs, the upper edge of the bucket holding the q-quantile */
  quantile(q) {
    if (this.n === 0) return NaN;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(Math.exp((i + 1) * GROWTH), this.max);
    }
    return this.max;
  }

  /** @returns {{ p50: number|null, p90: number|null, p99: number|null, max: number|null, samples: number }} milliseconds */
  summary() {
    const ms = (us) => (Number.isFinite(us) ? Math.round(us) / 1000 : null);
    return {
      p50: ms(this.quantile(0.5)),
      p90: ms(this.quantile(0.9)),
      p99: ms(this.quantile(0.99)),
      max: this.n === 0 ? null : ms(this.max),
      samples: this.n,
    };
  }
}

/** Microseconds on CLOCK_MONOTONIC: the same clock in every process of this machine. */
export function nowUs() {
  return Number(process.hrtime.bigint() / 1000n);
}
