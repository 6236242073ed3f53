/**
 * Load-generator worker process (forked by loadgen.mjs, driven over IPC).
 * Holds its share of the connections (fewer than 19,000: the open-file limit
 * is 20,000 per process), identifies every delivery by the step, topic and
 * sequence tagged in its payload (../lib/identity.mjs) and records
 * publish→receipt latency from the send time embedded there.
 *
 * Requests: prepare, connect, begin (a new step), expect (what the publisher
 * sent in it), stats, disconnect (every connection at once), reconnect (every
 * connection again, resuming from what it had: the recovery storm), close;
 * each answered with the request's id. The worker exits when its parent goes
 * away.
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
/** connections that failed before they were ready, ever */
let failedTotal = 0;
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

/**
 * The recovery in progress (reconnect), null otherwise: its step, its acks by
 * `recovered`, and when each connection had every message of the step (caught up).
 * @type {{ step: number, startedUs: number, acks: { recovered: number, notRecovered: number, none: number }, caughtUp: number, lastCaughtUpUs: number, hist: Histogram, ackHist: Histogram } | null}
 */
let recovery = null;

/** A connection of the recovery is acknowledged: record how long after it opened. */
function acked(conn) {
  recovery.ackHist.record(nowUs() - conn.openedUs);
}

/** A connection of the recovery has every message of its step: record when. */
function caughtUp(conn, atUs) {
  conn.caughtUpUs = atUs;
  recovery.caughtUp++;
  if (atUs > recovery.lastCaughtUpUs) recovery.lastCaughtUpUs = atUs;
  recovery.hist.record(atUs - conn.openedUs);
}

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
    if (recovery !== null && conn.caughtUpUs === 0 && conn.track.unique >= (ledger.wanted(conn.topic) ?? Infinity)) caughtUp(conn, frameNow);
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
    if (recovery !== null && conn.since !== null) {
      const acks = recovery.acks;
      if (conn.recovered === true) acks.recovered++;
      else if (conn.recovered === false) acks.notRecovered++;
      else acks.none++;
      acked(conn);
      // Nothing to receive on its topic: caught up with the ack.
      if (conn.caughtUpUs === 0 && ledger.wanted(conn.topic) === 0) caughtUp(conn, nowUs());
    }
    settledOne?.();
  },
  failed(conn, reason) {
    failedTotal++;
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
  const total = Math.min(request.count ?? spec.count, spec.count - opened);
  const fresh = [];
  for (let k = 0; k < total; k++) {
    const index = spec.first + opened + k;
    fresh.push(new WsConn(sink, index, index % spec.topics));
  }
  opened += total;
  conns.push(...fresh);
  return openAll(fresh, request.concurrency ?? 256);
}

/**
 * Opens `list` (new connections, already in `conns`), at most `concurrency`
 * in progress at once; resolves when each is ready or failed, with the totals so far.
 * @param {WsConn[]} list
 * @param {number} concurrency
 */
function openAll(list, concurrency) {
  const started = Date.now();
  const failedBefore = failedTotal;
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    let settled = 0;
    const finish = () => {
      clearInterval(sweep);
      settledOne = null;
      resolve({ ready, failed: conns.length - ready, newlyFailed: failedTotal - failedBefore, failures, ms: Date.now() - started, readyByTopic: Array.from(readyByTopic) });
    };
    const pump = () => {
      while (inFlight < concurrency && next < list.length) {
        const conn = list[next];
        const index = conn.index;
        // Topic t's connections are t, t + topics, t + 2·topics, …: they take the nodes in turn, so that every
        // node holds every topic (index % nodes would put a topic on one node whenever nodes divides topics).
        const port = spec.ports[Math.floor(index / spec.topics) % spec.ports.length];
        const localAddress = spec.localAddresses?.length ? spec.localAddresses[Math.floor(index / spec.ports.length) % spec.localAddresses.length] : undefined;
        conn.openedUs = nowUs();
        conn.open({ host: spec.host, port, localAddress, path: dialect.path(spec, index, topicNames[conn.topic]) });
        next++;
        inFlight++;
      }
    };
    settledOne = () => {
      inFlight--;
      settled++;
      if (settled >= list.length) finish();
      else pump();
    };
    // One timer for all connections instead of one each.
    const sweep = setInterval(() => {
      const limit = Date.now() - CONNECT_TIMEOUT_MS;
      // startedAt 0: not opened yet (waiting for a place among the `concurrency` in progress).
      for (const conn of list) if (conn.state < READY && conn.startedAt > 0 && conn.startedAt < limit) conn.fail('timeout');
    }, 1000);
    if (list.length === 0) finish();
    else pump();
  });
}

/** A new step: every count starts afresh, and frames tagged with any other step never count in it. */
function begin(request) {
  recovery = null;
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
  const r = recovery === null ? null : { step: recovery.step, startedUs: recovery.startedUs, acks: recovery.acks, caughtUp: recovery.caughtUp, lastCaughtUpUs: recovery.lastCaughtUpUs, hist: recovery.hist.toJSON(), ackHist: recovery.ackHist.toJSON() };
  return { ...ledger.account(conns), reads, ready, open, firstUs, lastUs, hist: hist.toJSON(), closes, others, failures, recovery: r };
}

/** Every connection goes away at once (RST, as on a network blip): nothing is sent to the server first. */
function disconnect() {
  let closed = 0;
  for (const conn of conns) {
    if (conn.state === CLOSED) continue;
    if (conn.state === READY) {
      ready--;
      readyByTopic[conn.topic]--;
    }
    conn.destroy();
    closed++;
  }
  return { closed, ready };
}

/**
 * The recovery storm: every connection again, at once (`concurrency` in
 * progress), each subscribing with `since` = the position it had (its ack's,
 * then its last frame's offset, and the ack's epoch). The step `step` (whose
 * messages were published meanwhile) starts for all of them before they are
 * open, so that what is replayed before and after the ack counts in it, and a
 * connection that fails to come back counts its messages as lost.
 */
function reconnect(request) {
  const fresh = conns.map((old) => {
    if (old.state !== CLOSED) {
      if (old.state === READY) {
        ready--;
        readyByTopic[old.topic]--;
      }
      old.destroy();
    }
    const conn = new WsConn(sink, old.index, old.topic);
    conn.since = old.epoch !== '' && old.offset >= 0 ? { offset: old.offset, epoch: old.epoch } : null;
    return conn;
  });
  conns = fresh;
  ledger.begin(request.step, conns, () => true);
  ledger.expect(request.expectation);
  hist.reset();
  reads = 0;
  firstUs = 0;
  lastUs = 0;
  closes = {};
  others = {};
  recovery = { step: request.step, startedUs: nowUs(), acks: { recovered: 0, notRecovered: 0, none: 0 }, caughtUp: 0, lastCaughtUpUs: 0, hist: new Histogram(), ackHist: new Histogram() };
  return openAll(conns, request.concurrency ?? conns.length);
}

function close() {
  for (const conn of conns) if (conn.state !== CLOSED) conn.destroy();
  conns = [];
  return {};
}

serveRpc({ prepare, connect, begin, expect, stats, disconnect, reconnect, close });
