/** The peers Herald is measured against: bare uWebSockets.js, Socket.IO 4, Nchan. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOnFreePort } from '../lib/net.mjs';
import { startRedis } from '../lib/redis.mjs';
import { nchanConf } from './nchan-conf.mjs';

const UWS_BARE = fileURLToPath(new URL('../peers/uws-bare.mjs', import.meta.url));
const SOCKETIO = fileURLToPath(new URL('../peers/socketio.mjs', import.meta.url));

/**
 * Starts a Node.js peer (stdin kept open: the peer exits when it closes).
 * @param {import('./index.mjs').StartContext} ctx
 */
async function startNodePeer(ctx, name, module, env) {
  return startOnFreePort(ctx.procs, name, (port) =>
    ctx.procs.spawn('server', name, process.execPath, [module], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', PORT: String(port), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** @param {import('./index.mjs').StartContext} ctx @returns {Promise<import('./index.mjs').Instance>} */
export async function startUwsBare(ctx) {
  const { port, proc } = await startNodePeer(ctx, 'uws-bare', UWS_BARE, {});
  return {
    dialect: 'uws',
    ports: [port],
    servers: [proc],
    publish: { kind: 'path', ports: [port], pathPrefix: '/publish?topic=', headers: 'Content-Type: application/json\r\n' },
    stop: () => ctx.procs.stop(proc),
  };
}

/**
 * @param {import('./index.mjs').StartContext} ctx
 * @param {{ redis: boolean, nodes: number }} shape
 * @returns {Promise<import('./index.mjs').Instance>}
 */
export async function startSocketIo(ctx, shape) {
  const redis = shape.redis ? await startRedis(ctx.procs) : undefined;
  const servers = [];
  const ports = [];
  for (let node = 0; node < shape.nodes; node++) {
    const { port, proc } = await startNodePeer(ctx, `socketio-${node}`, SOCKETIO, redis ? { REDIS_URL: redis.url } : {});
    servers.push(proc);
    ports.push(port);
  }
  return {
    dialect: 'socketio',
    ports,
    servers,
    redis: redis?.proc,
    // With Redis, backends publish through the emitter; in memory, through the peer's HTTP endpoint.
    publish: redis
      ? { kind: 'sio-emitter', redisUrl: redis.url }
      : { kind: 'path', ports, pathPrefix: '/publish?topic=', headers: 'Content-Type: application/json\r\n' },
    async stop() {
      await Promise.all(servers.map((s) => ctx.procs.stop(s)));
      if (redis) await ctx.procs.stop(redis.proc);
    },
  };
}

const NCHAN_MODULES = ['/usr/lib/nginx/modules/ngx_nchan_module.so', '/usr/share/nginx/modules/ngx_nchan_module.so'];

export function nchanModule() {
  return NCHAN_MODULES.find((m) => existsSync(m));
}

function nginxBinary() {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  return spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim() || undefined;
}

/**
 * Makes sure nginx and the Nchan module are there: installs them with apt-get
 * only when allowed (CI=true or --install-peers).
 * @returns {string | undefined} why Nchan cannot run, or undefined when it can
 */
export function ensureNchan(allowInstall, log) {
  if (nginxBinary() && nchanModule()) return undefined;
  if (!allowInstall) return 'nginx and/or libnginx-mod-nchan are not installed (run with --install-peers, or CI=true, to apt-get install them)';
  log('installing nginx and libnginx-mod-nchan (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'nginx', 'libnginx-mod-nchan'], { stdio: 'inherit', env }) : update;
  // The package starts a system nginx on port 80; the benchmark runs its own.
  spawnSync('sh', ['-c', 'service nginx stop || true'], { stdio: 'ignore' });
  if (install.status !== 0) return 'apt-get install nginx libnginx-mod-nchan failed';
  return nginxBinary() && nchanModule() ? undefined : 'nginx/Nchan still missing after apt-get install';
}

/**
 * @param {import('./index.mjs').StartContext} ctx
 * @param {{ redis: boolean, nodes: number }} shape
 * @returns {Promise<import('./index.mjs').Instance>}
 */
export async function startNchan(ctx, shape) {
  const nginx = nginxBinary();
  const module = nchanModule();
  if (!nginx || !module) throw new Error('nginx/Nchan not installed');
  const redis = shape.redis ? await startRedis(ctx.procs) : undefined;
  const servers = [];
  const ports = [];
  for (let node = 0; node < shape.nodes; node++) {
    const { port, proc } = await startOnFreePort(ctx.procs, `nginx/nchan node ${node}`, (port) => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-bench-nchan-'));
      for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
      writeFileSync(join(dir, 'nginx.conf'), nchanConf({ dir, port, module, redisPort: redis?.port, maxConnections: ctx.maxConnections }));
      const started = ctx.procs.spawn('server', `nchan-${node}`, nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { tree: true });
      ctx.procs.ownDir(started, dir);
      return started;
    });
    servers.push(proc);
    ports.push(port);
  }
  return {
    dialect: 'nchan',
    ports,
    servers,
    redis: redis?.proc,
    publish: { kind: 'path', ports, pathPrefix: '/pub/', headers: 'Content-Type: application/json\r\n' },
    async stop() {
      await Promise.all(servers.map((s) => ctx.procs.stop(s)));
      if (redis) await ctx.procs.stop(redis.proc);
    },
  };
}

/** Versions for the report. */
export function nginxVersions() {
  const v = spawnSync(nginxBinary() ?? 'nginx', ['-v'], { encoding: 'utf8' });
  const nginx = (v.stderr || v.stdout || '').trim().replace(/^nginx version: /, '') || undefined;
  const d = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libnginx-mod-nchan'], { encoding: 'utf8' });
  return { nginx, nchan: d.status === 0 ? d.stdout.trim() : undefined };
}
