/** A private redis-server per run: free port, loopback, no persistence. Never the shared one on 6379. */
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, HOST, sleep } from './net.mjs';

/** @returns {Promise<boolean>} whether a Redis on port answers PING */
function ping(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/**
 * @param {import('./processes.mjs').ProcessSet} procs
 * @param {string} name
 * @returns {Promise<{ url: string, port: number, proc: import('./processes.mjs').Tracked }>}
 */
export async function startRedis(procs, name = 'redis') {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'herald-bench-redis-'));
    const proc = procs.spawn('redis', name, 'redis-server', [
      '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, '--maxclients', '1000',
    ]);
    procs.ownDir(proc, dir);
    const deadline = Date.now() + 10_000;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    while (!exited && Date.now() < deadline) {
      if (await ping(port)) return { url: `redis://${HOST}:${port}`, port, proc };
      await sleep(50);
    }
    await procs.stop(proc);
    // Another process may have taken the port between freePort() and the bind: try another.
    if (attempt >= 3) throw new Error(`redis-server did not start:\n${proc.output()}`);
  }
}
