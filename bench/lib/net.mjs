/** Ports and readiness on loopback. */
import { request } from 'node:http';
import { createServer } from 'node:net';

export const HOST = '127.0.0.1';

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** @returns {Promise<number>} the HTTP status of GET path, or 0 when nothing answers */
export function httpStatus(port, path, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Polls GET path until it answers 200.
 * @param {{ exited?: Promise<unknown>, output?: () => string }} [proc] fail early when it exits
 */
export async function waitReady(port, path, timeoutMs, what, proc) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc?.exited?.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${what} exited before it was ready:\n${proc?.output?.() ?? ''}`);
    if ((await httpStatus(port, path)) === 200) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready on :${port}${path} within ${timeoutMs} ms:\n${proc?.output?.() ?? ''}`);
    await sleep(50);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a server on a free port and waits for GET /readyz. The port can be
 * taken between freePort() and the server's bind (other programs run here
 * too), so a failed start is stopped and retried on a new port, three times.
 * @template P
 * @param {{ stop: (proc: P) => Promise<unknown> }} procs
 * @param {string} what
 * @param {(port: number) => P | Promise<P>} spawn
 * @returns {Promise<{ port: number, proc: P }>}
 */
export async function startOnFreePort(procs, what, spawn) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = await spawn(port);
    try {
      await waitReady(port, '/readyz', 15_000, what, /** @type {any} */ (proc));
      return { port, proc };
    } catch (error) {
      await procs.stop(proc);
      if (attempt >= 3) throw error;
    }
  }
}
