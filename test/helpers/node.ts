/** Starts a real Herald node in this process on free ports, and stops it. */
import { Writable } from 'node:stream';
import { startHerald, type RunningHerald } from '../../src/app.js';
import type { Broker } from '../../src/broker/broker.js';
import { loadConfig, type Env } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { API_KEY, SECRET } from './tokens.js';

export interface TestNode {
  readonly herald: RunningHerald;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly metricsUrl: string;
  /** Every log line the node wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Raw log text, for checks that a secret never appears. */
  logText(): string;
  close(): Promise<void>;
}

export const BASE_ENV: Env = {
  NODE_ENV: 'production',
  HERALD_HOST: '127.0.0.1',
  HERALD_PORT: '0',
  HERALD_METRICS_PORT: '0',
  HERALD_LOG_LEVEL: 'debug',
  HERALD_NODE_ID: 'test-node',
  HERALD_JWT_SECRET: SECRET,
  HERALD_API_KEYS: API_KEY,
  HERALD_DRAIN_SECONDS: '0',
};

const REDIS_VARIABLES = ['HERALD_REDIS_URL', 'HERALD_REDIS_SENTINELS', 'HERALD_REDIS_CLUSTER_NODES'];

export async function startNode(env: Env = {}, broker?: Broker): Promise<TestNode> {
  // Production refuses to run without Redis unless the in-memory broker is chosen explicitly.
  const usesRedis = REDIS_VARIABLES.some((name) => env[name] !== undefined && env[name] !== '');
  const config = loadConfig({ ...BASE_ENV, ...(usesRedis || env.HERALD_BROKER !== undefined ? {} : { HERALD_BROKER: 'memory' }), ...env });
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const log = createLogger(config.logLevel, sink);
  const herald = await startHerald({ config, log, ...(broker === undefined ? {} : { broker }) });
  return {
    herald,
    port: herald.port,
    wsUrl: `ws://127.0.0.1:${herald.port}/ws`,
    httpUrl: `http://127.0.0.1:${herald.port}`,
    metricsUrl: `http://127.0.0.1:${herald.metricsPort}/metrics`,
    get logs() {
      return chunks.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => chunks.join(''),
    close: () => herald.close(),
  };
}
