import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory.js';
import { RedisBroker } from '../../src/broker/redis/broker.js';
import { createLogger } from '../../src/log.js';
import { brokerContract } from '../contract/broker.js';

const log = createLogger('silent');
const prefix = `contract-${randomBytes(3).toString('hex')}`;
const hostPorts = (list: string) => list.split(',').map((item) => ({ host: item.split(':')[0]!, port: Number(item.split(':')[1]) }));

brokerContract({ name: 'memory', shared: false, create: () => new MemoryBroker() });

brokerContract({
  name: 'redis',
  shared: true,
  create: () => new RedisBroker({ kind: 'redis', url: inject('redisUrl'), prefix, publishTimeoutMs: 2000 }, log),
});

brokerContract({
  name: 'redis-cluster',
  shared: true,
  create: () => new RedisBroker({ kind: 'cluster', nodes: hostPorts(inject('redisClusterNodes')), prefix, publishTimeoutMs: 2000, username: undefined, password: undefined, tls: false }, log),
});
