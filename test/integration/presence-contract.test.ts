import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory.js';
import { RedisBroker } from '../../src/broker/redis/broker.js';
import { createLogger } from '../../src/log.js';
import { MemoryPresence } from '../../src/presence/memory.js';
import { RedisPresence } from '../../src/presence/redis.js';
import { presenceContract } from '../contract/presence.js';

const log = createLogger('silent');
const prefix = `pcontract-${randomBytes(3).toString('hex')}`;
const hostPorts = (list: string) => list.split(',').map((item) => ({ host: item.split(':')[0]!, port: Number(item.split(':')[1]) }));

presenceContract({
  name: 'memory',
  create: () => {
    const broker = new MemoryBroker();
    return { broker, store: new MemoryPresence(broker) };
  },
});

presenceContract({
  name: 'redis',
  create: () => {
    const broker = new RedisBroker({ kind: 'redis', url: inject('redisUrl'), prefix, publishTimeoutMs: 2000 }, log);
    return { broker, store: new RedisPresence(broker.connections, prefix) };
  },
});

presenceContract({
  name: 'redis-cluster',
  create: () => {
    const broker = new RedisBroker({ kind: 'cluster', nodes: hostPorts(inject('redisClusterNodes')), prefix, publishTimeoutMs: 2000, username: undefined, password: undefined, tls: false }, log);
    return { broker, store: new RedisPresence(broker.connections, prefix) };
  },
});
