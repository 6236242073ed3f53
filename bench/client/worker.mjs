/**
 * Load-generator worker process (forked by loadgen.mjs, driven over IPC).
 * Holds its share of the connections (fewer than 19,000: the open-file limit
 * is 20,000 per process), identifies every delivery by the step, topic and
 * sequence tagged in its payload (../lib/identity.mjs) and records
 * publish→receipt latency from the send time embedded there.
 *
 * Requests: prepare, connect, begin (a new step), expect (what the publisher
 * sent in it), stats, close; each answered with the request's id. The worker
 * exits when its parent goes away.
 */
import { serveRpc } from '../lib/rpc.mjs';
import jwt from 'jsonwebtoken';
import { Histogram, nowUs } from '../lib/histogram.mjs';
import { Ledger } from '../lib/identity.mjs';
import { DIALECTS } from './dialects.mjs';
import { CLOSED, READY, WsConn } from './ws-conn.mjs';

/** How long one connection may take from TCP connect to subscribed. */
const CONNECT_TIMEOUT_MS = 20_000;

/** @type {any} */
let spec;
/** @type {import('./dialects.mjs').Dialect} */
let dialect;
/** @type {WsConn[]} */
let conns = [];
/** @type {string[]} */
let topicNames = [];

const hist = new Histogram();
const ledger = new Ledger();
let firstUs = 0;
let lastUs = 0;
let frameNow = -1;
/** reads (socket data events) that carried at least one delivery */
let reads = 0;
let ready = 0;
let open = 0;
/** @type {Record<string, number>} */
let failures = {};
/** @type {Record<string, number>} */
let closes = {};
/** @type {Record<string, number>} */
let others = {};
/** @type {Int32Array} */
let readyByTopic = new Int32Array(0);
/** @type {(() => void) | null} */
let settledOne = null;

/** @type {import('./dialects.mjs').Deliverer} */
const deliverer = {
  deliver(conn, buf, start, end) {
    if (frameNow < 0) {
      frameNow = nowUs();
      reads++;
    }
    const t = ledger.deliver(conn, buf, start, end);
    if (t < 0) return;
    if (firstUs === 0) firstUs = frameNow;
    lastUs = frameNow;
    hist.record(frameNow - t);
  },
  other(_conn, what) {
    others[what] = (others[what] ?? 0) + 1;
  },
};

/** @type {import('./ws-conn.mjs').Sink} */
const sink = {
  opened(conn) {
    open++;
    dialect.opened(conn, topicNames[conn.topic]);
  },
  ready(conn) {
    ready++;
    readyByTopic[conn.topic]++;
    settledOne?.();
  },
  failed(conn, reason) {
    failures[reason] = (failures[reason] ?? 0) + 1;
    settledOne?.();
  },
  closed(conn, code) {
    ready--;
    readyByTopic[conn.topic]--;
    closes[code] = (closes[code] ?? 0) + 1;
    ledger.closed(conn, code);
  },
  read() {
    frameNow = -1;
  },
  text(conn, buf, start, end) {
    dialect.text(conn, buf, start, end, deliverer, topicNames[conn.topic]);
  },
};

function prepare(request) {
  spec = request.spec;
  dialect = DIALECTS[spec.dialect];
  if (!dialect) throw new Error(`unknown dialect ${spec.dialect}`);
  topicNames = Array.from({ length: spec.topics }, (_, i) => `${spec.prefix}${i}`);
  readyByTopic = new Int32Array(spec.topics);
  if (spec.dialect === 'herald') {
    const exp = Math.floor(Date.now() / 1000) + (spec.tokenTtlSeconds ?? 3600);
    spec.tokens = [];
    for (let i = 0; i < spec.count; i++) {
      spec.tokens[spec.first + i] = jwt.sign({ sub: `bench-${spec.first + i}`, exp, topics: ['>'] }, spec.secret, { algorithm: 'HS256', noTimestamp: true });
    }
  }
  return { prepared: spec.count };
}

/** Connections opened so far (by earlier connect requests). */
let opened = 0;

/**
 * Opens the next `count` connections (default: all the rest), at most
 * `concurrency` in progress at once; resolves when each is ready or failed,
 * with the totals so far.
 */
function connect(request) {
  const concurrency = request.concurrency ?? 256;
  const started = Date.now();
  const total = Math.min(request.count ?? spec.count, spec.count - opened);
  const failedBefore = conns.length - ready;
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    let settled = 0;
    const finish = () => {
      clearInterval(sweep);
      settledOne = null;
      resolve({ ready, failed: conns.length - ready, newlyFailed: conns.length - ready - failedBefore, failures, ms: Date.now() - started, readyByTopic: Array.from(readyByTopic) });
    };
    const pump = () => {
      while (inFlight < concurrency && next < total) {
        const index = spec.first + opened;
        const topic = index % spec.topics;
        const conn = new WsConn(sink, index, topic);
        conns.push(conn);
        const port = spec.ports[index % spec.ports.length];
        const localAddress = spec.localAddresses?.length ? spec.localAddresses[Math.floor(index / spec.ports.length) % spec.localAddresses.length] : undefined;
        conn.open({ host: spec.host, port, localAddress, path: dialect.path(spec, index, topicNames[topic]) });
        opened++;
        next++;
        inFlight++;
      }
    };
    settledOne = () => {
      inFlight--;
      settled++;
      if (settled >= total) finish();
      else pump();
    };
    // One timer for all connections instead of one each.
    const sweep = setInterval(() => {
      const limit = Date.now() - CONNECT_TIMEOUT_MS;
      for (const conn of conns) if (conn.state < READY && conn.startedAt < limit) conn.fail('timeout');
    }, 1000);
    if (total <= 0) finish();
    else pump();
  });
}

/** A new step: every count starts afresh, and frames tagged with any other step never count in it. */
function begin(request) {
  hist.reset();
  reads = 0;
  firstUs = 0;
  lastUs = 0;
  closes = {};
  others = {};
  ledger.begin(request.step, conns, (conn) => conn.state === READY);
  return {};
}

/** What the publisher sent in the step and how the server answered (identity.mjs Expectation). */
function expect(request) {
  ledger.expect(request.expectation);
  return {};
}

function stats() {
  return { ...ledger.account(conns), reads, ready, open, firstUs, lastUs, hist: hist.toJSON(), closes, others, failures };
}

function close() {
  for (const conn of conns) if (conn.state !== CLOSED) conn.destroy();
  conns = [];
  return {};
}

serveRpc({ prepare, connect, begin, expect, stats, close });
