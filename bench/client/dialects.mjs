/**
 * What each server says over the WebSocket, for the load generator: the
 * upgrade path, the steps until a connection is subscribed, and which text
 * frames are deliveries. Frames are recognised by a byte or two at a known
 * offset, never by JSON parsing; what a delivery carries (step, topic,
 * sequence, send time) is read by ../lib/identity.mjs.
 *
 *   herald    welcome → {"type":"subscribe"} (with `since` when the connection resumes) → ack, whose
 *             position (offset, epoch) and `recovered` the connection keeps; deliveries {"type":"message",...}
 *   uws       bare uWebSockets.js peer: subscribed on open, then ack; same delivery frame
 *   socketio  Engine.IO v4 / Socket.IO v5: 0{...} → "40" → 40{...} → 421["subscribe",t] → 431[...];
 *             deliveries 42["m",{...}]; ping "2" answered "3"
 *   nchan     subscribed once upgraded; every text frame is a delivery (the published body)
 */

/**
 * @typedef {object} Deliverer
 * @property {(conn: import('./ws-conn.mjs').WsConn, buf: Buffer, start: number, end: number) => void} deliver
 * @property {(conn: import('./ws-conn.mjs').WsConn, what: string) => void} other
 */
/**
 * @typedef {object} Dialect
 * @property {(spec: { prefix: string, tokens?: string[] }, index: number, topic: string) => string} path
 * @property {(conn: import('./ws-conn.mjs').WsConn, topic: string) => void} opened
 * @property {(conn: import('./ws-conn.mjs').WsConn, buf: Buffer, start: number, end: number, sink: Deliverer, topic: string) => void} text
 */

const M = 0x6d; // 'm' of {"type":"message"
const A = 0x61; // 'a' of {"type":"ack"
const W = 0x77; // 'w' of {"type":"welcome"
const E = 0x65; // 'e' of {"type":"error"
const TYPE_AT = 9; // {"type":" is 9 bytes
const ACK_OFFSET = Buffer.from('"offset":');
const ACK_EPOCH = Buffer.from('"epoch":"');
const RECOVERED_TRUE = Buffer.from('"recovered":true');
const RECOVERED_FALSE = Buffer.from('"recovered":false');

/**
 * What a history topic's ack says (docs/protocol.md, "History and recovery"):
 * the position and `recovered`. Acks are one per connection, so a plain scan is fine here.
 * @param {import('./ws-conn.mjs').WsConn} conn
 * @param {Buffer} buf
 */
function readAck(conn, buf, start, end) {
  const ack = buf.subarray(start, end);
  conn.recovered = ack.includes(RECOVERED_TRUE) ? true : ack.includes(RECOVERED_FALSE) ? false : undefined;
  const o = ack.indexOf(ACK_OFFSET);
  let offset = -1;
  if (o >= 0) {
    offset = 0;
    for (let i = o + ACK_OFFSET.length; i < ack.length && ack[i] >= 48 && ack[i] <= 57; i++) offset = offset * 10 + ack[i] - 48;
  }
  const e = ack.indexOf(ACK_EPOCH);
  conn.epoch = e >= 0 ? ack.toString('latin1', e + ACK_EPOCH.length, ack.indexOf(0x22, e + ACK_EPOCH.length)) : '';
  // Recovered: the replay follows from the offset after `since`, and the ack's offset is where it ends.
  conn.offset = conn.recovered === true && conn.since !== null ? conn.since.offset : offset;
}

/** @type {Record<string, Dialect>} */
export const DIALECTS = {
  herald: {
    path: (spec, index) => `/ws?token=${spec.tokens?.[index] ?? ''}`,
    opened() {},
    text(conn, buf, start, end, sink, topic) {
      const kind = end - start > TYPE_AT ? buf[start + TYPE_AT] : 0;
      if (conn.state === 2) {
        if (kind === M) sink.deliver(conn, buf, start, end);
        else sink.other(conn, kind === E ? 'error frame' : 'other frame');
        return;
      }
      if (kind === W && conn.phase === 0) {
        conn.phase = 1;
        const since = conn.since === null ? '' : `,"since":{"offset":${conn.since.offset},"epoch":"${conn.since.epoch}"}`;
        conn.sendText(`{"type":"subscribe","topic":"${topic}","id":1${since}}`);
      } else if (kind === A && conn.phase === 1) {
        readAck(conn, buf, start, end);
        conn.ready();
      } else if (kind === E) {
        conn.fail(`error frame: ${buf.toString('utf8', start, Math.min(end, start + 200))}`);
      }
    },
  },

  uws: {
    path: (_spec, _index, topic) => `/ws?topic=${topic}`,
    opened() {},
    text(conn, buf, start, end, sink) {
      const kind = end - start > TYPE_AT ? buf[start + TYPE_AT] : 0;
      if (conn.state === 2) {
        if (kind === M) sink.deliver(conn, buf, start, end);
        else sink.other(conn, 'other frame');
      } else if (kind === A) {
        conn.ready();
      }
    },
  },

  socketio: {
    path: () => '/socket.io/?EIO=4&transport=websocket',
    opened() {},
    text(conn, buf, start, end, sink, topic) {
      const c0 = buf[start];
      const c1 = end - start > 1 ? buf[start + 1] : 0;
      if (c0 === 0x34 /* 4 */ && c1 === 0x32 /* 2 */) {
        if (conn.state === 2) sink.deliver(conn, buf, start, end);
        else sink.other(conn, 'event before ready');
        return;
      }
      if (c0 === 0x32 /* 2: engine.io ping */ && end - start === 1) {
        conn.sendText('3');
        return;
      }
      if (c0 === 0x30 /* 0: engine.io open */) {
        conn.sendText('40');
      } else if (c0 === 0x34 && c1 === 0x30 /* 40: namespace connected */) {
        conn.sendText(`421["subscribe","${topic}"]`);
      } else if (c0 === 0x34 && c1 === 0x33 /* 43: ack */) {
        conn.ready();
      } else if (c0 === 0x34 && c1 === 0x34 /* 44: connect error */) {
        conn.fail(`socket.io connect error: ${buf.toString('utf8', start, Math.min(end, start + 200))}`);
      } else if (c0 === 0x31 /* 1: engine.io close */) {
        conn.fail('engine.io close');
      } else if (conn.state === 2) {
        sink.other(conn, 'other frame');
      }
    },
  },

  nchan: {
    path: (_spec, _index, topic) => `/sub/${topic}`,
    opened(conn) {
      conn.ready();
    },
    text(conn, buf, start, end, sink) {
      if (conn.state === 2 && end > start && buf[start] === 0x7b /* { */) sink.deliver(conn, buf, start, end);
      else sink.other(conn, 'other frame');
    },
  },
};
