/** What the numbers were measured on: CPU, memory, kernel, limits, versions. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { nginxVersions } from '../targets/peers.mjs';

const require = createRequire(import.meta.url);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout || r.stderr).trim() : undefined;
}

function read(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function version(pkg) {
  try {
    return require(`${pkg}/package.json`).version;
  } catch {
    return undefined;
  }
}

export function machine() {
  const cpuModel = /model name\s*:\s*(.+)/.exec(read('/proc/cpuinfo') ?? '')?.[1] ?? cpus()[0]?.model;
  const limits = /Max open files\s+(\S+)\s+(\S+)/.exec(read('/proc/self/limits') ?? '');
  return {
    cpu: cpuModel,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: run('uname', ['-sr']),
    os: /PRETTY_NAME="([^"]+)"/.exec(read('/etc/os-release') ?? '')?.[1],
    node: process.version,
    redis: /v=(\S+)/.exec(run('redis-server', ['--version']) ?? '')?.[1],
    ...nginxVersions(),
    uWebSockets: version('uWebSockets.js'),
    socketIo: version('socket.io'),
    socketIoRedisAdapter: version('@socket.io/redis-adapter'),
    socketIoRedisEmitter: version('@socket.io/redis-emitter'),
    ioredis: version('ioredis'),
    openFilesLimit: limits ? { soft: limits[1], hard: limits[2] } : undefined,
    ephemeralPorts: read('/proc/sys/net/ipv4/ip_local_port_range')?.replace(/\s+/, '–'),
    somaxconn: read('/proc/sys/net/core/somaxconn'),
    clockTicks: Number(run('getconf', ['CLK_TCK'])) || undefined,
  };
}
