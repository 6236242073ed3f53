/**
 * A minimal WebSocket client on a bare TCP socket, for the load generator:
 * the HTTP upgrade, then server frames parsed straight from the byte stream,
 * with no per-frame allocation and no UTF-8 decoding. What the text frames mean
 * is the dialect's business (dialects.mjs); the same code talks to Herald,
 * bare uWebSockets.js, Socket.IO and Nchan, so the client costs the same
 * whichever server it measures.
 *
 * Client frames are masked as RFC 6455 requires, with the all-zero key
 * (a valid key that leaves the payload unchanged): clients send only a few
 * small frames (subscribe, pong), so that is all the masking they need.
 */
import { connect } from 'node:net';
import { SeqTracker } from '../lib/identity.mjs';

const HEADER_END = Buffer.from('\r\n\r\n');
// A fixed key: the load generator does not check Sec-WebSocket-Accept, servers only echo its hash.
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export const CONNECTING = 0;
export const OPEN = 1;
export const READY = 2;
export const CLOSED = 3;

/**
 * @typedef {object} Sink  what a connection reports to (the worker)
 * @property {(conn: WsConn) => void} opened     upgrade accepted
 * @property {(conn: WsConn, reason: string) => void} failed  before it was ready
 * @property {(conn: WsConn, code: number) => void} closed   after it was ready
 * @property {(conn: WsConn, buf: Buffer, start: number, end: number) => void} text
 * @property {() => void} read  a chunk of bytes arrived (before its frames are reported)
 */

/** @param {number} opcode @param {Buffer} payload */
function clientFrame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? 6 : 8;
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  }
  frame.writeUInt32BE(0, head - 4); // masking key 0
  payload.copy(frame, head);
  return frame;
}

export class WsConn {
  /**
   * @param {Sink} sink
   * @param {number} index  global connection index
   * @param {number} topic  topic number
   */
  constructor(sink, index, topic) {
    this.sink = sink;
    this.index = index;
    this.topic = topic;
    this.state = CONNECTING;
    /** dialect progress before READY */
    this.phase = 0;
    /** received at least one delivery of the current step */
    this.got = false;
    /** the sequences of its topic seen in the current step (identity.mjs) */
    this.track = new SeqTracker();
    /** subscribed when the current step began */
    this.inStep = false;
    /** close code seen during the current step, 0 if none */
    this.closedWith = 0;
    /** history topics: the last offset of its topic this connection has (the ack's, then each frame's); -1 when none */
    this.offset = -1;
    /** history topics: the epoch its subscribe's ack named; '' when none */
    this.epoch = '';
    /** what the subscribe asks to recover from, or null for a plain subscribe */
    /** @type {{ offset: number, epoch: string } | null} */
    this.since = null;
    /** the ack's `recovered`: true, false, or undefined when it had none */
    /** @type {boolean | undefined} */
    this.recovered = undefined;
    /** µs (CLOCK_MONOTONIC) when it was opened and when it had every message of the current recovery, 0 until then */
    this.openedUs = 0;
    this.caughtUpUs = 0;
    this.startedAt = 0;
    /** @type {Buffer | null} */
    this.pending = null;
    /** @type {import('node:net').Socket | null} */
    this.socket = null;
  }

  /** @param {{ host: string, port: number, path: string, localAddress?: string }} to */
  open(to) {
    this.startedAt = Date.now();
    const socket = connect({ host: to.host, port: to.port, localAddress: to.localAddress, noDelay: true });
    this.socket = socket;
    socket.on('connect', () => {
      socket.write(
        `GET ${to.path} HTTP/1.1\r\nHost: ${to.host}:${to.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk) => this.#data(chunk));
    socket.on('error', (error) => this.#lost(/** @type {NodeJS.ErrnoException} */ (error).code ?? 'error', 1006));
    socket.on('close', () => this.#lost('closed before ready', 1006));
  }

  /** @param {string} text */
  sendText(text) {
    this.socket?.write(clientFrame(1, Buffer.from(text)));
  }

  /** Starts the closing handshake (RFC 6455 §5.5.1); the server's close frame or its FIN ends the connection. */
  sendClose(code = 1000) {
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code, 0);
    this.socket?.write(clientFrame(8, body));
  }

  /** Half-closes the TCP connection (FIN) without a WebSocket close frame: a client that just goes away. */
  end() {
    this.socket?.end();
  }

  /** Closes without a close handshake and without TIME_WAIT on this side (RST). */
  destroy() {
    const was = this.state;
    this.state = CLOSED;
    if (this.socket && !this.socket.destroyed) {
      if (was !== CLOSED) this.socket.resetAndDestroy();
      else this.socket.destroy();
    }
  }

  /** The dialect reports the connection subscribed. */
  ready() {
    if (this.state !== OPEN) return;
    this.state = READY;
    this.sink.ready(this);
  }

  /** The dialect gives up on the connection before it was ready. */
  fail(reason) {
    if (this.state === CLOSED) return;
    const was = this.state;
    this.state = CLOSED;
    this.socket?.destroy();
    if (was !== READY) this.sink.failed(this, reason);
    else this.sink.closed(this, 1006);
  }

  #lost(reason, code) {
    const was = this.state;
    if (was === CLOSED) return;
    this.state = CLOSED;
    this.socket?.destroy();
    if (was === READY) this.sink.closed(this, code);
    else this.sink.failed(this, reason);
  }

  /** @param {Buffer} chunk */
  #data(chunk) {
    this.sink.read();
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    if (this.state === CONNECTING) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        this.pending = buf;
        return;
      }
      const status = buf.toString('latin1', 9, 12);
      if (status !== '101') {
        this.#lost(`HTTP ${status}`, 1006);
        return;
      }
      this.state = OPEN;
      this.sink.opened(this);
      buf = buf.subarray(end + 4);
    }
    const len = buf.length;
    let off = 0;
    while (len - off >= 2) {
      const b0 = buf[off];
      const b1 = buf[off + 1];
      let size = b1 & 127;
      let head = 2;
      if (size === 126) {
        if (len - off < 4) break;
        size = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (size === 127) {
        if (len - off < 10) break;
        size = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        head = 10;
      }
      if (b1 & 128) head += 4; // servers do not mask; tolerate it without unmasking
      if (len - off < head + size) break;
      const start = off + head;
      const end = start + size;
      off = end;
      const opcode = b0 & 15;
      if (opcode === 1 || opcode === 2 || opcode === 0) {
        this.sink.text(this, buf, start, end);
      } else if (opcode === 9) {
        this.socket?.write(clientFrame(10, buf.subarray(start, end)));
      } else if (opcode === 8) {
        const code = size >= 2 ? buf.readUInt16BE(start) : 1005;
        const was = this.state;
        this.state = CLOSED;
        this.socket?.destroy();
        if (was === READY) this.sink.closed(this, code);
        else this.sink.failed(this, `close ${code}${size > 2 ? ' ' + buf.toString('utf8', start + 2, end) : ''}`);
        return;
      }
      if (this.state === CLOSED) return;
    }
    if (off < len) this.pending = Buffer.from(buf.subarray(off));
  }
}
