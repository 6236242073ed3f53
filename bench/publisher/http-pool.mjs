/**
 * A minimal keep-alive HTTP/1.1 client for the publisher: one request at a
 * time per connection (no pipelining: uWebSockets.js drops a connection that
 * pipelines a request behind one answered asynchronously, and ordinary HTTP
 * clients do not pipeline either), connections opened as needed up to a cap.
 * It reads only the status and the body length; what it costs per request is
 * a string and a write, so the publisher does not become the bottleneck it
 * measures.
 */
import { connect } from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

class Connection {
  /**
   * @param {string} host
   * @param {number} port
   */
  constructor(host, port) {
    this.host = host;
    this.port = port;
    /** @type {((status: number) => void)[]} */
    this.waiting = [];
    /** @type {Buffer | null} */
    this.pending = null;
    this.socket = this.#open();
  }

  #open() {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk) => this.#data(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.pending = null;
      // Requests written but not answered: the server closed the connection (it does after some errors).
      for (const done of this.waiting.splice(0)) done(0);
    });
    this.closed = false;
    return socket;
  }

  /** @param {string} head request line and headers without the final blank line @param {string} body */
  send(head, body, done) {
    this.waiting.push(done);
    this.socket.write(`${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  /** @param {Buffer} chunk */
  #data(chunk) {
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    for (;;) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) break;
      const status = Number(buf.toString('latin1', 9, 12));
      const head = buf.toString('latin1', 0, end).toLowerCase();
      const m = /\r\ncontent-length:\s*(\d+)/.exec(head);
      let total;
      if (m) {
        total = end + 4 + Number(m[1]);
      } else if (head.includes('transfer-encoding: chunked')) {
        const last = buf.indexOf(CHUNKED_END, end + 2);
        if (last < 0) break;
        total = last + CHUNKED_END.length;
      } else {
        total = end + 4;
      }
      if (buf.length < total) break;
      this.waiting.shift()?.(status);
      buf = buf.subarray(total);
      if (buf.length === 0) break;
    }
    if (buf.length > 0) this.pending = Buffer.from(buf);
  }
}

export class HttpPool {
  /**
   * @param {string} host
   * @param {number[]} ports  new connections go round-robin over the ports (several nodes)
   * @param {number} max      connections at most, i.e. requests in flight at most
   */
  constructor(host, ports, max) {
    this.host = host;
    this.ports = ports;
    this.max = max;
    /** @type {Connection[]} */
    this.idle = [];
    /** @type {Set<Connection>} */
    this.all = new Set();
    this.opened = 0;
  }

  /** Requests that can be sent right now. */
  get available() {
    return this.idle.length + (this.max - this.all.size);
  }

  /** Sends one request on an idle connection (or a new one); `done(status)` gets 0 when the connection closed first. */
  post(path, headers, body, done) {
    let conn = this.idle.pop();
    // A connection the server closed while it was idle is forgotten.
    while (conn !== undefined && conn.closed) {
      this.all.delete(conn);
      conn = this.idle.pop();
    }
    if (conn === undefined) {
      conn = new Connection(this.host, this.ports[this.opened++ % this.ports.length]);
      this.all.add(conn);
    }
    const c = conn;
    c.send(`POST ${path} HTTP/1.1\r\nHost: ${c.host}:${c.port}\r\n${headers}`, body, (status) => {
      if (c.closed) this.all.delete(c);
      else this.idle.push(c);
      done(status);
    });
  }

  close() {
    for (const c of this.all) c.socket.destroy();
  }
}
