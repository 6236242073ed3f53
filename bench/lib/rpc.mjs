/** Request/response over a forked child's IPC channel, each request bounded in time. */

export class Rpc {
  #next = 1;
  /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }>} */
  #waiting = new Map();

  /**
   * @param {import('./processes.mjs').Tracked} proc
   */
  constructor(proc) {
    this.proc = proc;
    proc.child.on('message', (reply) => {
      const w = this.#waiting.get(reply.id);
      if (!w) return;
      this.#waiting.delete(reply.id);
      clearTimeout(w.timer);
      if (reply.ok) w.resolve(reply.value);
      else w.reject(new Error(`${proc.name}: ${reply.error}`));
    });
    void proc.exited.then((code) => {
      for (const [id, w] of this.#waiting) {
        clearTimeout(w.timer);
        w.reject(new Error(`${proc.name} exited (${code}) during a request:\n${proc.output()}`));
        this.#waiting.delete(id);
      }
    });
  }

  /**
   * @param {string} op
   * @param {Record<string, unknown>} [args]
   * @param {number} [timeoutMs]
   */
  call(op, args = {}, timeoutMs = 30_000) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`${this.proc.name}: ${op} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, { resolve, reject, timer });
      const fail = (error) => {
        if (!this.#waiting.delete(id)) return;
        clearTimeout(timer);
        reject(new Error(`${this.proc.name}: ${op}: ${error.message}`));
      };
      if (!this.proc.child.connected) {
        fail(new Error('process is gone'));
        return;
      }
      this.proc.child.send({ id, op, ...args }, (error) => {
        if (error) fail(error);
      });
    });
  }
}

/**
 * The child's side: answers the parent's Rpc calls with `handlers[op](request)`,
 * and exits when the parent goes away.
 * @param {Record<string, (request: any) => unknown>} handlers
 */
export function serveRpc(handlers) {
  process.on('message', async (request) => {
    let reply;
    try {
      reply = { id: request.id, ok: true, value: await handlers[request.op](request) };
    } catch (error) {
      reply = { id: request.id, ok: false, error: String(error?.stack ?? error) };
    }
    process.send?.(reply);
  });
  process.on('disconnect', () => process.exit(0));
}
