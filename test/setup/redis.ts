/**
 * Vitest global setup: one standalone Redis and one three-master Redis
 * Cluster shared by the test files (each test uses its own key prefix), from
 * the first source that works (see test/helpers/redis.ts). Tests that kill
 * Redis start a private one instead.
 */
import type { TestProject } from 'vitest/node';
import { dockerAvailable, hasLocalRedis, NO_REDIS_HELP, startRedis, startRedisCluster, waitForRedis, type RedisSource } from '../helpers/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    redisClusterNodes: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  let source: RedisSource;
  let url = process.env.HERALD_TEST_REDIS_URL;
  if (url !== undefined && url !== '') {
    const parsed = new URL(url);
    await waitForRedis(parsed.hostname, Number(parsed.port || 6379));
    source = 'environment';
  } else {
    if (!(await dockerAvailable()) && !hasLocalRedis()) throw new Error(NO_REDIS_HELP);
    const redis = await startRedis();
    stops.push(() => redis.stop());
    url = redis.url;
    source = redis.source;
  }

  let clusterSource: RedisSource;
  let clusterNodes = process.env.HERALD_TEST_REDIS_CLUSTER_NODES;
  if (clusterNodes !== undefined && clusterNodes !== '') {
    clusterSource = 'environment';
  } else {
    const cluster = await startRedisCluster();
    stops.push(() => cluster.stop());
    clusterNodes = cluster.nodes.join(',');
    clusterSource = cluster.source;
  }

  console.log(`[herald tests] Redis: ${url} (${source}); Redis Cluster: ${clusterNodes} (${clusterSource})`);
  project.provide('redisUrl', url);
  project.provide('redisClusterNodes', clusterNodes);
  return async () => {
    for (const stop of stops) await stop();
  };
}
