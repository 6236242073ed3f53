/**
 * Churn client process (forked by the churn scenario, driven over IPC): runs
 * connect → authenticate → subscribe → ack → disconnect cycles against one
 * Herald node, `concurrency` cycles in flight. Each cycle varies what it
 * leaves behind on the server:
 *   topic  even cycles one of 100 shared topics, odd cycles a topic of their
 *          own (the node subscribes to the broker and, after the linger,
 *          unsubscribes again)
 *   close  cycle % 3: a WebSocket close handshake; a bare TCP FIN (a client
 *          that goes away); a TCP RST (a client whose network dropped)
 * Requests: run({ host, port, secret, prefix, count, concurrency, localAddresses }),
 * answered with the cycles completed and failed so far (over all runs).
 */
import jwt from 'jsonwebtoken';
import { serveRpc } from '../lib/rpc.mjs';
import { DIALECTS } from './dialects.mjs';
import { READY, WsConn } from './ws-conn.mjs';

/** One cycle may take this long before it counts as failed. */
const CYCLE_TIMEOUT_MS = 20_000;
const SHARED_TOPICS = 100;
/** Distinct identities (tokens) the cycles take turns with. */
const TOKENS = 256;

const dialect = DIALECTS.herald;
/** cycles started so far, over every run request: each cycle's number */
let started = 0;
let completed = 0;
let failed = 0;
/** @type {Record<string, number>} */
const failures = {};
/** @type {string[]} */
let tokens = [];

function tokenFor(secret, i) {
  if (tokens.length === 0) {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    tokens = Array.from({ length: TOKENS }, (_, k) => jwt.sign({ sub: `churn-${k}`, exp, topics: ['>'] }, secret, { algorithm: 'HS256', noTimestamp: true }));
  }
  return tokens[i % TOKENS];
}

/** @param {{ host: string, port: number, secret: string, prefix: string, count: number, concurrency: number, localAddresses?: string[] }} request */
function run(request) {
  const t0 = Date.now();
  const target = started + request.count;
  /** @type {Set<WsConn>} */
  const active = new Set();
  return new Promise((resolve) => {
    const sweep = setInterval(() => {
      const limit = Date.now() - CYCLE_TIMEOUT_MS;
      for (const conn of active) if (conn.startedAt < limit) finish(conn, 'timeout');
    }, 1000);
    const done = () => {
      clearInterval(sweep);
      resolve({ completed, failed, failures, ms: Date.now() - t0 });
    };
    const finish = (conn, failure) => {
      if (!active.delete(conn)) return;
      if (failure === undefined) completed++;
      else {
        failed++;
        failures[failure] = (failures[failure] ?? 0) + 1;
        conn.destroy();
      }
      if (started < target) next();
      else if (active.size === 0) done();
    };
    /** @type {import('./ws-conn.mjs').Sink} */
    const sink = {
      opened() {},
      ready(conn) {
        // Subscribed (the ack arrived): leave in this cycle's way.
        const style = conn.index % 3;
        if (style === 0) conn.sendClose(1000);
        else if (style === 1) conn.end();
        else {
          conn.destroy();
          finish(conn);
        }
      },
      failed(conn, reason) {
        finish(conn, reason);
      },
      closed(conn) {
        finish(conn);
      },
      read() {},
      text(conn, buf, start, end) {
        if (conn.state === READY) return; // closing: nothing more is expected
        dialect.text(conn, buf, start, end, { deliver() {}, other() {} }, conn.topicName);
      },
    };
    const next = () => {
      const i = started++;
      const conn = new WsConn(sink, i, 0);
      conn.topicName = i % 2 === 0 ? `${request.prefix}p${(i / 2) % SHARED_TOPICS}` : `${request.prefix}u${i}`;
      active.add(conn);
      const localAddress = request.localAddresses?.length ? request.localAddresses[i % request.localAddresses.length] : undefined;
      conn.open({ host: request.host, port: request.port, localAddress, path: dialect.path({ prefix: request.prefix, tokens: [tokenFor(request.secret, i)] }, 0, conn.topicName) });
    };
    if (request.count <= 0) {
      done();
      return;
    }
    for (let k = 0; k < request.concurrency && started < target; k++) next();
  });
}

serveRpc({ run });
