/**
 * Redis for tests, from the first source that works:
 *   1. HERALD_TEST_REDIS_URL / HERALD_TEST_REDIS_CLUSTER_NODES (an existing deployment),
 *   2. testcontainers (`redis:7`) when a Docker engine answers,
 *   3. `redis-server` from PATH, started on a free port with persistence off.
 * Never the shared Redis on 127.0.0.1:6379.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export type RedisSource = 'environment' | 'testcontainers' | 'local redis-server';

export interface RedisInstance {
  readonly source: RedisSource;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Kills the server abruptly (SIGKILL / container kill), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterInstance {
  readonly source: RedisSource;
  /** Master addresses as host:port. */
  readonly nodes: readonly string[];
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function hasLocalRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

let dockerAnswer: Promise<boolean> | undefined;

/** Whether a Docker engine answers (asked once per process; fast when there is none). */
export function dockerAvailable(): Promise<boolean> {
  dockerAnswer ??= (async () => {
    if (process.env.HERALD_TEST_NO_DOCKER === '1') return false;
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
      return true;
    } catch {
      return false;
    }
  })();
  return dockerAnswer;
}

/** Waits until a Redis on host:port answers PING. */
export async function waitForRedis(host: string, port: number, timeoutMs = STARTUP_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({ host, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`Redis on ${host}:${port} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A redis-server process of our own. */
export interface LocalRedisInstance extends RedisInstance {
  readonly dir: string;
  /** Freezes the server (SIGSTOP): it keeps its connections and answers nothing, as a stalled VM would. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

export async function startLocalRedis(extraArgs: string[] = [], port?: number): Promise<LocalRedisInstance> {
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
      stdio: 'ignore',
    });
    await waitForRedis('127.0.0.1', chosen);
  };
  const killChild = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill(signal);
    });
  };
  await launch();
  return {
    source: 'local redis-server',
    host: '127.0.0.1',
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    dir,
    kill: () => killChild('SIGKILL'),
    restart: launch,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    stop: async () => {
      child?.kill('SIGCONT');
      await killChild('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A redis:7 container whose host port stays the same across kill/restart. */
async function startContainerRedis(hostPort?: number): Promise<RedisInstance> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const port = hostPort ?? (await freePort());
  const make = () =>
    new GenericContainer('redis:7')
      .withExposedPorts({ container: 6379, host: port })
      .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .start();
  let container = await make();
  const host = container.getHost();
  return {
    source: 'testcontainers',
    host,
    port,
    url: `redis://${host}:${port}`,
    kill: async () => {
      await container.stop({ timeout: 0 });
    },
    restart: async () => {
      container = await make();
    },
    stop: async () => {
      await container.stop({ timeout: 0 }).catch(() => undefined);
    },
  };
}

/** A private, killable Redis for one test file: testcontainers when an engine answers, else redis-server. */
export async function startRedis(port?: number): Promise<RedisInstance> {
  if (await dockerAvailable()) return startContainerRedis(port);
  if (hasLocalRedis()) return startLocalRedis([], port);
  throw new Error(NO_REDIS_HELP);
}

export const NO_REDIS_HELP =
  'no Redis for the tests: set HERALD_TEST_REDIS_URL=redis://host:port, or start a Docker engine (testcontainers runs redis:7), ' +
  'or install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)';

/** Three masters joined into a cluster with `redis-cli --cluster create`. */
/** A three-master cluster of local redis-server processes; the instances are exposed so a test can stop one. */
export async function startLocalCluster(): Promise<RedisClusterInstance & { readonly instances: readonly LocalRedisInstance[] }> {
  const instances: LocalRedisInstance[] = [];
  for (let i = 0; i < 3; i++) {
    instances.push(await startLocalRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']));
  }
  const nodes = instances.map((instance) => `127.0.0.1:${instance.port}`);
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: STARTUP_TIMEOUT_MS });
  if (created.status !== 0) {
    await Promise.all(instances.map((instance) => instance.stop()));
    throw new Error(`redis-cli --cluster create failed: ${created.stderr}${created.stdout}`);
  }
  await waitForClusterOk(nodes);
  return { source: 'local redis-server', nodes, instances, stop: async () => void (await Promise.all(instances.map((instance) => instance.stop()))) };
}

/** The same with redis:7 containers on the host network, so that the addresses the nodes announce are reachable. */
async function startContainerCluster(): Promise<RedisClusterInstance> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const ports = [await freePort(), await freePort(), await freePort()];
  const containers = await Promise.all(
    ports.map((port) =>
      new GenericContainer('redis:7')
        .withNetworkMode('host')
        .withCommand(['redis-server', '--port', String(port), '--cluster-enabled', 'yes', '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no'])
        .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
        .start(),
    ),
  );
  const nodes = ports.map((port) => `127.0.0.1:${port}`);
  const result = await containers[0]!.exec(['redis-cli', '--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
  if (result.exitCode !== 0) throw new Error(`cluster create failed: ${result.output}`);
  await waitForClusterOk(nodes);
  return { source: 'testcontainers', nodes, stop: async () => void (await Promise.all(containers.map((c) => c.stop({ timeout: 0 })))) };
}

async function waitForClusterOk(nodes: readonly string[]): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (const node of nodes) {
    const [host, port] = node.split(':');
    const client = new Redis({ host: host!, port: Number(port), maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      for (;;) {
        const info = await client.cluster('INFO').catch(() => '');
        if (typeof info === 'string' && info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${node} not ok within ${STARTUP_TIMEOUT_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      client.disconnect();
    }
  }
}

export async function startRedisCluster(): Promise<RedisClusterInstance> {
  if (await dockerAvailable()) return startContainerCluster();
  if (hasLocalRedis()) return startLocalCluster();
  throw new Error(NO_REDIS_HELP);
}
