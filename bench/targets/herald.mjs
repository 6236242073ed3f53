/**
 * Herald under test: `node dist/main.js` (built by `npm run bench`), one node
 * or several over one private Redis. Production mode, warn-level logs, no
 * client rate limit (the load generator's own clients must not be limited)
 * and no connection cap. With --profile each node runs under
 * `node --cpu-prof` (profiles in bench/results/profiles, written when the node
 * exits after SIGTERM) and answers SIGUSR2 with a heap snapshot.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startOnFreePort } from '../lib/net.mjs';
import { startRedis } from '../lib/redis.mjs';

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
export const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123456789';
export const API_KEY = 'bench-api-key-0123456789abcdef';
/**
 * Node's flags for Herald, the same as the image (Dockerfile NODE_OPTIONS) and
 * `npm start` run it with: a young generation of 2 MiB semi-spaces, which a
 * connect storm would otherwise grow to 16 MiB and keep (README, "Runtime and uWebSockets.js").
 * test/deploy/dockerfile.test.ts keeps the four (image, npm start, npm run demo, this) in step.
 */
export const NODE_FLAGS = ['--max-semi-space-size=2'];

/**
 * @param {import('./index.mjs').StartContext} ctx
 * @param {{ redis: boolean, nodes: number, history?: string }} shape  history: HERALD_HISTORY
 * @returns {Promise<import('./index.mjs').Instance>}
 */
export async function startHerald(ctx, shape) {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run bench does)`);
  const redis = shape.redis ? await startRedis(ctx.procs) : undefined;
  const servers = [];
  const ports = [];
  const metricsPorts = [];
  for (let node = 0; node < shape.nodes; node++) {
    const execArgv = [...NODE_FLAGS];
    let cwd;
    if (ctx.profileDir) {
      mkdirSync(ctx.profileDir, { recursive: true });
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=${ctx.runName}-node${node}.cpuprofile`, '--heapsnapshot-signal=SIGUSR2');
      cwd = ctx.profileDir;
    }
    let metricsPort = 0;
    const { port, proc } = await startOnFreePort(ctx.procs, `herald node ${node}`, async (port) => {
      // A fresh one on every attempt: the port may have been taken since, like the client port.
      metricsPort = await freePort();
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'production',
        HERALD_HOST: '127.0.0.1',
        HERALD_PORT: String(port),
        HERALD_METRICS_PORT: String(metricsPort),
        HERALD_NODE_ID: `bench-${node}`,
        HERALD_JWT_SECRET: JWT_SECRET,
        HERALD_API_KEYS: API_KEY,
        HERALD_LOG_LEVEL: 'warn',
        HERALD_CLIENT_RATE: '0',
        HERALD_MAX_CONNECTIONS: '0',
        HERALD_DRAIN_SECONDS: '0',
        ...(redis ? { HERALD_REDIS_URL: redis.url } : { HERALD_BROKER: 'memory' }),
        ...(shape.history ? { HERALD_HISTORY: shape.history } : {}),
      };
      return ctx.procs.spawn('server', `herald-${node}`, process.execPath, [...execArgv, MAIN], { env, cwd });
    });
    servers.push(proc);
    ports.push(port);
    metricsPorts.push(metricsPort);
  }
  return {
    dialect: 'herald',
    ports,
    metricsPorts,
    secret: JWT_SECRET,
    servers,
    redis: redis?.proc,
    redisUrl: redis?.url,
    publish: {
      kind: 'herald',
      ports,
      headers: `Authorization: Bearer ${API_KEY}\r\nContent-Type: application/json\r\n`,
    },
    async stop() {
      // Profiles are written at a clean exit: SIGTERM (drain of 0 s), not SIGKILL.
      const signal = ctx.profileDir ? 'SIGTERM' : 'SIGKILL';
      await Promise.all(servers.map((s) => ctx.procs.stop(s, signal, 20_000)));
      if (redis) await ctx.procs.stop(redis.proc);
    },
  };
}
