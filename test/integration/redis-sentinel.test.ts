import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, eventually, publishHttp, scrape } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { freePort, startLocalRedis, waitForRedis } from '../helpers/redis.js';
import { redisServerNeed, unless } from '../helpers/skip.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const MASTER_NAME = 'herald-test';

// Sentinel is redis-server in sentinel mode, so it exists wherever redis-server does; with only a Docker engine this file has nothing to run.
describe('redis - Sentinel', unless(redisServerNeed()), () => {
  const prefix = `rs-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'herald-sentinel-'));
  let master: Awaited<ReturnType<typeof startLocalRedis>>;
  let replica: Awaited<ReturnType<typeof startLocalRedis>>;
  let sentinel: ChildProcess;
  let sentinelPort: number;
  let sentinelClient: Redis;
  let nodes: TestNode[] = [];

  beforeAll(async () => {
    master = await startLocalRedis();
    replica = await startLocalRedis(['--replicaof', '127.0.0.1', String(master.port)]);
    sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        '',
      ].join('\n'),
    );
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    await waitForRedis('127.0.0.1', sentinelPort);
    sentinelClient = new Redis({ host: '127.0.0.1', port: sentinelPort, maxRetriesPerRequest: 0 });
    // The replica must be in sync and known to the sentinel before a failover can promote it.
    const replicaClient = new Redis(replica.url);
    await eventually(() => replicaClient.info('replication'), (info) => info.includes('master_link_status:up'), 'replica in sync');
    replicaClient.disconnect();
    await eventually(
      () => sentinelClient.call('SENTINEL', 'REPLICAS', MASTER_NAME) as Promise<unknown[]>,
      (replicas) => replicas.length === 1,
      'sentinel knows the replica',
    );
    const env = {
      HERALD_REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
      HERALD_REDIS_SENTINEL_NAME: MASTER_NAME,
      HERALD_REDIS_PREFIX: prefix,
      HERALD_LOG_LEVEL: 'info',
      HERALD_HISTORY: 'sentinel.h.*=100:300',
    };
    nodes = [await startNode({ ...env, HERALD_NODE_ID: 'sa' }), await startNode({ ...env, HERALD_NODE_ID: 'sb' })];
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes) await node.close();
    sentinelClient?.disconnect();
    sentinel?.kill('SIGKILL');
    await master?.stop();
    await replica?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sentinel - nodes find the master through Sentinel, and after a failover deliver again without clients resubscribing; history survives on the replica', async () => {
    const token = hs256({ topics: ['sentinel.*', 'sentinel.h.*'] });
    const clients = [await TestClient.open(nodes[0]!.wsUrl, token), await TestClient.open(nodes[1]!.wsUrl, token)];
    for (const client of clients) await client.subscribe('sentinel.t');
    expect((await publishHttp(nodes[0]!.httpUrl, { topic: 'sentinel.t', data: 'before' }, API_KEY)).status).toBe(202);
    for (const client of clients) expect(await client.next((f) => f.type === 'message')).toMatchObject({ data: 'before' });
    // History before the failover: offsets 1-3, replicated before the master dies.
    const { epoch } = await clients[0]!.subscribe('sentinel.h.a');
    for (let i = 1; i <= 3; i++) expect((await publishHttp(nodes[0]!.httpUrl, { topic: 'sentinel.h.a', data: i }, API_KEY)).body).toMatchObject({ messages: [{ offset: i, epoch }] });
    const masterClient = new Redis(master.url);
    expect(Number(await masterClient.call('WAIT', 1, 2000))).toBe(1);
    masterClient.disconnect();

    await master.kill();
    const promoted = await eventually(
      () => sentinelClient.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME) as Promise<[string, string]>,
      (address) => Number(address[1]) === replica.port,
      'sentinel promotes the replica',
      20_000,
    );
    expect(Number(promoted[1])).toBe(replica.port);

    for (const node of nodes) {
      await eventually(async () => (await fetch(`${node.httpUrl}/readyz`)).status, (status) => status === 200, `${node.herald.nodeId} ready on the new master`, 20_000);
      expect((await scrape(node.metricsUrl)).get('herald_broker_reconnects_total')).toBeGreaterThanOrEqual(1);
    }
    expect((await publishHttp(nodes[1]!.httpUrl, { topic: 'sentinel.t', data: 'after failover' }, API_KEY)).status).toBe(202);
    for (const client of clients) {
      expect(await client.next((f) => f.type === 'message' && f.topic === 'sentinel.t', 10_000)).toMatchObject({ data: 'after failover' });
    }
    // The promoted replica has the stream and its position: same epoch, offsets go on, recovery works.
    expect((await publishHttp(nodes[1]!.httpUrl, { topic: 'sentinel.h.a', data: 4 }, API_KEY)).body).toMatchObject({ messages: [{ offset: 4, epoch }] });
    const late = await TestClient.open(nodes[1]!.wsUrl, token);
    expect(await late.request({ type: 'subscribe', topic: 'sentinel.h.a', since: { offset: 2, epoch } })).toMatchObject({ offset: 4, epoch, recovered: true });
    await late.waitForCount('message', 2);
    expect(late.frames.filter((f) => f.type === 'message').map((f) => [f.offset, f.data])).toEqual([[3, 3], [4, 4]]);
    for (const client of [...clients, late]) client.close();
  }, 60_000);
});
