/**
 * Publisher process (forked, driven over IPC by control.mjs). Publishes at a
 * fixed rate or as fast as the server accepts (a bounded burst), tagging
 * every payload with its send time, the step, the topic and the message's
 * sequence within that topic and step (../lib/identity.mjs):
 *
 *   {"t":<µs on CLOCK_MONOTONIC>,"e":<step>,"k":<topic index>,"s":<sequence>,"f":<floor>,"p":"<padding>"}
 *
 * where every sequence below the floor had been answered when the message was
 * sent: published before it, whatever the requests in flight (identity.mjs).
 *
 * Ways to publish (configure.kind):
 *   herald       POST /v1/publish {"topic":..,"data":<payload>} with the API key
 *   path         POST <pathPrefix><topic> with the payload as body (bare uWS, Socket.IO, Nchan)
 *   redis        PUBLISH herald:<topic> {"data":<payload>,"ts":<ms>} (Herald's Redis contract)
 *   sio-emitter  @socket.io/redis-emitter: to(topic).emit('m', payload), as Socket.IO backends do
 *
 * It counts what the server accepted (2xx), refused (503: push-back) and
 * failed otherwise, per topic, and how far it fell behind the requested rate
 * (slower acceptance is push-back too); and it names the sequences that were
 * refused or never answered, so that receivers can tell a delivery of an
 * accepted message from one of a message the publisher was told did not go out.
 */
import { serveRpc } from '../lib/rpc.mjs';
import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import { nowUs } from '../lib/histogram.mjs';
import { payload } from '../lib/identity.mjs';
import { HOST } from '../lib/net.mjs';
import { HttpPool } from './http-pool.mjs';

/** @type {any} */
let config;
/** @type {HttpPool | undefined} */
let pool;
/** @type {Redis | undefined} */
let redis;
/** @type {Emitter | undefined} */
let emitter;

function configure(request) {
  config = request.config;
  if (config.kind === 'herald' || config.kind === 'path') {
    pool = new HttpPool(HOST, config.ports, config.maxConnections ?? 128);
  } else {
    redis = new Redis(config.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
    if (config.kind === 'sio-emitter') {
      let last;
      // The emitter drops the PUBLISH promise; keep it to count acceptance like the other ways.
      emitter = new Emitter({ publish: (channel, message) => (last = redis.publish(channel, message)) });
      emitter.lastPublish = () => last;
    }
  }
  return {};
}

/**
 * Sends one message; `done(status)` with 202 for accepted, 503 for push-back,
 * 0 when the answer was lost (connection closed, Redis error), anything else a failure.
 */
function publishOne(topic, data, done) {
  switch (config.kind) {
    case 'herald':
      pool.post('/v1/publish', config.headers, `{"topic":"${topic}","data":${data}}`, done);
      return;
    case 'path':
      pool.post(config.pathPrefix + topic, config.headers ?? '', data, done);
      return;
    case 'redis':
      redis.publish(`herald:${topic}`, `{"data":${data},"ts":${Date.now()}}`).then(() => done(202), () => done(0));
      return;
    case 'sio-emitter':
      emitter.to(topic).emit('m', JSON.parse(data));
      emitter.lastPublish().then(() => done(202), () => done(0));
      return;
  }
}

/**
 * One paced run (rate > 0 for durationMs) or one burst (count messages as fast as the window allows, within maxMs),
 * tagged with `step`. Message i goes to topic i % topics as that topic's sequence ⌊i / topics⌋.
 */
function run(request) {
  const { rate, durationMs, count, maxMs, window, step } = request;
  const burst = rate === 0;
  const offered = burst ? count : Math.round((rate * durationMs) / 1000);
  const limitMs = burst ? maxMs : durationMs;
  const topics = config.topics;
  const acceptedByTopic = new Array(topics).fill(0);
  /** 0: no answer yet, 1: accepted, 2: answered otherwise (refused), 3: answer lost (status 0) */
  const answers = new Uint8Array(offered);
  /** per topic: every sequence below was answered (1 or 2); a lost answer stops it, as nobody knows when that one went out */
  const floor = new Array(topics).fill(0);
  /** @type {Record<string, number>} */
  const statuses = {};
  let sent = 0;
  let answered = 0;
  let accepted = 0;
  let inFlight = 0;
  let maxBehind = 0;
  let firstSendUs = 0;
  let lastSendUs = 0;
  let lastAnswerUs = 0;
  const start = Date.now();

  return new Promise((resolve) => {
    let stoppedAt = 0;
    let finished = false;
    let scheduled = false;
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(guard);
      const sentByTopic = acceptedByTopic.map((_, k) => Math.floor(sent / topics) + (k < sent % topics ? 1 : 0));
      const refused = [];
      const unconfirmed = [];
      for (let i = 0; i < sent; i++) {
        if (answers[i] === 2) refused.push(i % topics, Math.floor(i / topics));
        else if (answers[i] !== 1) unconfirmed.push(i % topics, Math.floor(i / topics));
      }
      resolve({
        offered, sent, accepted, statuses, acceptedByTopic, maxBehind, sentByTopic, refused, unconfirmed,
        rejected: statuses['503'] ?? 0,
        failed: sent - accepted - (statuses['503'] ?? 0) - (sent - answered),
        unanswered: sent - answered,
        firstSendUs, lastSendUs, lastAnswerUs,
        sendMs: (stoppedAt || Date.now()) - start,
      });
    };
    const stop = () => {
      if (stoppedAt > 0) return;
      stoppedAt = Date.now();
      clearTimeout(timer);
      if (inFlight === 0) finish();
      // Answers still missing after this are reported as unanswered.
      else timer = setTimeout(finish, 10_000);
    };
    // A server that stops answering must not hold the burst open: stop sending at the time limit whatever happens.
    const guard = setTimeout(stop, limitMs + 50);
    const answer = (i, topic) => (status) => {
      if (finished) return;
      answers[i] = status >= 200 && status < 300 ? 1 : status === 0 ? 3 : 2;
      for (let f = floor[topic], j = f * topics + topic; j < offered && (answers[j] === 1 || answers[j] === 2); j += topics) floor[topic] = ++f;
      answered++;
      inFlight--;
      lastAnswerUs = nowUs();
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) {
        accepted++;
        acceptedByTopic[topic]++;
      }
      if (stoppedAt > 0) {
        if (inFlight === 0) finish();
      } else if (burst && !scheduled) {
        scheduled = true;
        setImmediate(tick);
      }
    };
    const tick = () => {
      scheduled = false;
      if (stoppedAt > 0) return;
      const elapsed = Date.now() - start;
      const due = burst ? offered : Math.min(offered, Math.floor((elapsed * rate) / 1000) + 1);
      if (due - sent > maxBehind) maxBehind = due - sent;
      while (sent < due && inFlight < window && (pool === undefined || pool.available > 0)) {
        const i = sent;
        const topic = i % topics;
        const t = nowUs();
        if (firstSendUs === 0) firstSendUs = t;
        sent++;
        inFlight++;
        publishOne(`${config.prefix}${topic}`, payload(t, step, topic, Math.floor(i / topics), floor[topic], config.payloadBytes), answer(i, topic));
      }
      lastSendUs = nowUs();
      if (sent >= offered || elapsed >= limitMs) {
        stop();
        return;
      }
      if (!burst) timer = setTimeout(tick, 1);
    };
    tick();
  });
}

function close() {
  pool?.close();
  redis?.disconnect();
  return {};
}

serveRpc({ configure, run, close });
