/** Types of growth.mjs for TypeScript callers (test/bench/growth.test.ts). */
export declare const FD_SLACK: number;
export declare const RSS_SLOPE_LIMIT: number;
export declare const RSS_MIN_CYCLES: number;

export interface Sample {
  cycles: number;
  rssBytes: number;
  openFds: number | null;
}

export interface Metrics {
  gauges: Record<string, number>;
  opened: number;
  closed: number;
}

export interface Verdict {
  bounded: boolean;
  rssJudged: boolean;
  reasons: string[];
  fdGrowth: number | null;
  rssGrowthBytes: number;
  rssSlopeSecondHalfBytesPerCycle: number | null;
}

export declare function verdict(r: {
  before: Sample;
  after: Sample;
  samples: Sample[];
  metrics: Metrics | null;
  redisChannels: number | null;
  cycles: number;
  completed: number;
  failed: number;
}): Verdict;
