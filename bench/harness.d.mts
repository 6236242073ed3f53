/** Types of harness.mjs for TypeScript callers (test/bench/smoke.test.ts). */
import type { Options } from './options.mjs';
import type { ProcessSet } from './lib/processes.mjs';

export declare const RESULTS_VERSION: 2;

export interface Latency {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  samples: number;
}

export interface Cpu {
  wallSeconds: number;
  byRole: Record<string, number>;
  coresByRole: Record<string, number>;
  byProcess: Record<string, number>;
}

/** Frames that are no delivery of their step (bench/lib/identity.mjs). */
export interface Stray {
  earlierStep: number;
  untagged: number;
  neverSent: number;
  refused: number;
  unconfirmed: number;
}

/** History topics: frames carrying an offset, and those that skipped, went backwards or had none (identity.mjs). */
export interface Offsets {
  frames: number;
  gaps: number;
  backwards: number;
  missing: number;
}

export interface Step {
  mode: 'paced' | 'burst' | 'recovery';
  rate: number;
  step: number;
  publish: { offered: number; sent: number; accepted: number; rejected: number; failed: number; unanswered: number; statuses: Record<string, number>; maxBehind: number; acceptedPerSec: number | null };
  subscribers: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  wrongTopic: number;
  shed: { connections: number; lost: number };
  received: number;
  stray: Stray;
  offsets: Offsets;
  drainTimedOut: boolean;
  deliveryRatio: number | null;
  deliveriesPerSec: number | null;
  latencyMs: Latency;
  deliveriesPerRead: number | null;
  closes: Record<string, number>;
  cpu: Cpu;
  serverCpuUsPerMessage: number | null;
  serverCpuNsPerDelivery: number | null;
  serverRssBytes: number;
  pushback: string | null;
  saturated: string | null;
}

export interface Run {
  target: string;
  label: string;
  family: 'herald' | 'uws' | 'socketio' | 'nchan';
  broker: 'memory' | 'redis';
  nodes: number;
  connections: number;
  topics: number;
  connect?: { requested: number; ready: number; failed: number; failures: Record<string, number>; seconds: number; connectsPerSec: number | null; serverCpuUsPerConnect: number | null; cpu: Cpu };
  warmup?: { covered: number; ready: number; rounds: number };
  steps?: Step[];
  burst?: Step;
  bursts?: Step[];
  churn?: Record<string, unknown> & { verdict: { bounded: boolean; rssJudged: boolean; reasons: string[] } };
  idle?: { connections: number; serverRssBytes: number; baselineRssBytes: number; rssPerConnectionBytes: number | null };
  historyTopic?: boolean;
  topic?: string;
  recovery?: Recovery;
  error?: string;
  skipped?: string;
}

/** The recovery storm (bench/scenarios/recovery.mjs). */
export interface Recovery {
  clients: number;
  topics: number;
  nodes: number;
  missedPerClient: number;
  gone: number;
  released: { released: boolean; seconds: number };
  published: number;
  reconnect: { ready: number; failed: number; failures: Record<string, number>; seconds: number };
  acks: { recovered: number; notRecovered: number; none: number } | null;
  caughtUp: number;
  lastCaughtUpMs: number | null;
  ackMs: Latency | null;
  catchUpMs: Latency | null;
  herald: { readsPerNode: number[]; recoveredPerNode: number[]; replayedPerNode: number[]; brokerReconnectsPerNode: number[]; eventLoopLagMaxMs: (number | null)[] };
  redis: { fcallCalls: number; otherFunctionCalls: number; readsByCommandstats: number; readsSeen: number; readsPerTopic: { max: number; min: number; topicsRead: number } };
  readsPerTopicPerNode: { herald: number | null; redisMonitor: number | null; redisCommandstats: number | null };
}

export interface Results {
  version: 2;
  startedAt: string;
  finishedAt: string | null;
  command: string | null;
  options: Options;
  machine: Record<string, unknown>;
  limits: Record<string, unknown>;
  unavailable: Record<string, string>;
  scenarios: Record<string, { title: string; description: string; runs: Run[]; seconds?: number }>;
  budgets: { id: string; name: string; budget: string; measured: number | null; measuredText: string; met: boolean | null }[];
}

export declare function runSuite(
  options: Options,
  hooks?: { log?: (line: string) => void; procs?: ProcessSet; command?: string; onProgress?: (results: Results) => void },
): Promise<Results>;
