import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory.js';
import { RedisBroker } from '../../src/broker/redis/broker.js';
import { MemoryHistory } from '../../src/history/memory.js';
import { RedisHistory } from '../../src/history/redis.js';
import { createLogger } from '../../src/log.js';
import { historyContract } from '../contract/history.js';

const log = createLogger('silent');
const prefix = `hcontract-${randomBytes(3).toString('hex')}`;
const hostPorts = (list: string) => list.split(',').map((item) => ({ host: item.split(':')[0]!, port: Number(item.split(':')[1]) }));

historyContract({
  name: 'memory',
  create: () => {
    const broker = new MemoryBroker();
    return { broker, history: new MemoryHistory(broker) };
  },
});

historyContract({
  name: 'redis',
  create: () => {
    const broker = new RedisBroker({ kind: 'redis', url: inject('redisUrl'), prefix, publishTimeoutMs: 2000 }, log);
    return { broker, history: new RedisHistory(broker.connections, prefix) };
  },
});

historyContract({
  name: 'redis-cluster',
  create: () => {
    const broker = new RedisBroker({ kind: 'cluster', nodes: hostPorts(inject('redisClusterNodes')), prefix, publishTimeoutMs: 2000, username: undefined, password: undefined, tls: false }, log);
    return { broker, history: new RedisHistory(broker.connections, prefix) };
  },
});
