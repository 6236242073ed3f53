/**
 * The HTTP API on the client port: publish, liveness, readiness.
 * Request bodies are read with a hard cap and parsed inside this boundary;
 * every failure is an error body with a catalogue code.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { ApiKeys } from '../auth/api-keys.js';
import { EPOCH, type BrokerMessage } from '../broker/broker.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { History, HistoryPolicies } from '../history/history.js';
import type { Logger } from '../log.js';
import type { PresencePolicies, PresenceStore } from '../presence/presence.js';
import type { Metrics } from '../metrics.js';
import { encodePresenceUsers } from '../protocol/frames.js';
import { MAX_DATA_DEPTH, parseBoundedJson } from '../protocol/json.js';
import { isValidTopic } from '../protocol/topics.js';
import type { Publisher } from '../publisher.js';

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_BATCH = 1000;
/** Most messages one GET /v1/history returns. */
export const MAX_HISTORY_LIMIT = 1000;
const DEFAULT_HISTORY_LIMIT = 100;
/** Printable ASCII without spaces, as HTTP header values allow; long enough for a UUID or a hash. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
/** `data` sits one level into a single-message body, three into a batch (`{"messages":[{"data":…}]}`). */
const SINGLE_DEPTH = MAX_DATA_DEPTH + 1;
const BATCH_DEPTH = MAX_DATA_DEPTH + 3;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: '200 OK', 202: '202 Accepted', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden',
  404: '404 Not Found', 405: '405 Method Not Allowed', 413: '413 Payload Too Large', 503: '503 Service Unavailable',
};

/** Writes a JSON response; `close` ends the connection too, for requests whose body was not read. */
export function sendJson(res: HttpResponse, status: number, body: unknown, close = false): void {
  res.cork(() => {
    res.writeStatus(STATUS_TEXT[status] ?? String(status)).writeHeader('content-type', 'application/json').end(JSON.stringify(body), close);
  });
}

export function sendError(res: HttpResponse, code: ErrorCode, message: string, close = false): void {
  sendJson(res, ERRORS[code].status, { error: { code, message } }, close);
}

/** A body Herald does not want is still read (and dropped) up to this, so that its answer can reach the client. */
const DISCARD_LIMIT = 16 * 1024 * 1024;
const DISCARD_MS = 5000;

/**
 * Answers a request with an error and closes the connection, after reading
 * and dropping its body: closing while the client is still sending makes the
 * client's kernel reset the connection, and the answer (a 413, a 401) never
 * reaches it. Bounded: a body over DISCARD_LIMIT, or one that takes longer
 * than DISCARD_MS, is cut off without waiting.
 */
export function refuse(res: HttpResponse, req: HttpRequest, code: ErrorCode, message: string): void {
  const length = req.getHeader('content-length');
  const chunked = /chunked/i.test(req.getHeader('transfer-encoding'));
  if ((!chunked && (length === '' || length === '0')) || Number(length) > DISCARD_LIMIT) return sendError(res, code, message, true);
  drainThen(res, { aborted: false }, 0, () => sendError(res, code, message, true));
}

/** Reads and drops the rest of a body (at most DISCARD_LIMIT in all, within DISCARD_MS), then answers with `respond`. */
function drainThen(res: HttpResponse, state: RequestState, alreadyRead: number, respond: () => void, onData = true): void {
  let received = alreadyRead;
  let done = false;
  const finish = (): void => {
    if (done || state.aborted) return;
    done = true;
    clearTimeout(timer);
    respond();
  };
  const timer = setTimeout(finish, DISCARD_MS);
  timer.unref();
  if (!onData) {
    // The caller's onData handler feeds drain() below.
    state.drain = (bytes, isLast) => {
      received += bytes;
      if (isLast || received > DISCARD_LIMIT) finish();
    };
    return;
  }
  res.onAborted(() => {
    state.aborted = true;
    clearTimeout(timer);
  });
  res.onData((chunk, isLast) => {
    received += chunk.byteLength;
    if (isLast || received > DISCARD_LIMIT) finish();
  });
}

interface RequestState {
  aborted: boolean;
  /** Set while the rest of a refused body is being read and dropped. */
  drain?: (bytes: number, isLast: boolean) => void;
}

/** Reads the whole body, or answers 413 and returns nothing once it passes `limit` bytes. */
function readBody(res: HttpResponse, state: RequestState, limit: number, onBody: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  res.onData((chunk, isLast) => {
    if (state.aborted) return;
    if (state.drain !== undefined) return state.drain(chunk.byteLength, isLast);
    if (done) return;
    size += chunk.byteLength;
    if (size > limit) {
      done = true;
      // The rest is read and dropped before the 413 goes out, so that the client sees it.
      const answer = (): void => sendError(res, 'payload_too_large', `body over ${limit} bytes`, true);
      if (isLast) return answer();
      drainThen(res, state, size, answer, false);
      return;
    }
    // uWebSockets.js reuses the chunk's memory after this callback: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) {
      done = true;
      onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    }
  });
}

type Parsed = { ok: true; batch: boolean; messages: { topic: string; message: BrokerMessage }[] } | { ok: false; code: ErrorCode; message: string };

/** Validates a publish body: `{topic, data}` or `{messages: [{topic, data}, ...]}`. */
export function parsePublishBody(body: Buffer, maxMessageSize: number, now: number): Parsed {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { ok: false, code: 'bad_request', message: 'body is not valid UTF-8' };
  }
  const json = parseBoundedJson(text, BATCH_DEPTH);
  if (!json.ok) return { ok: false, code: 'bad_request', message: json.problem === 'not valid JSON' ? 'body is not valid JSON' : `body is ${json.problem}; data may nest at most ${MAX_DATA_DEPTH}` };
  const parsed = json.value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, code: 'bad_request', message: 'body must be a JSON object: {"topic":...,"data":...} or {"messages":[...]}' };
  }
  const root = parsed as Record<string, unknown>;
  const batch = root.messages !== undefined;
  let items: unknown[];
  if (batch) {
    if (!Array.isArray(root.messages) || root.messages.length === 0) return { ok: false, code: 'bad_request', message: '"messages" must be a non-empty array' };
    if (root.messages.length > MAX_BATCH) return { ok: false, code: 'bad_request', message: `"messages" has ${root.messages.length} entries; at most ${MAX_BATCH}` };
    items = root.messages;
  } else {
    if (json.depth > SINGLE_DEPTH) return { ok: false, code: 'bad_request', message: `body nests deeper than ${SINGLE_DEPTH} levels; data may nest at most ${MAX_DATA_DEPTH}` };
    items = [root];
  }
  const messages: { topic: string; message: BrokerMessage }[] = [];
  for (let i = 0; i < items.length; i++) {
    const where = batch ? `messages[${i}]` : 'body';
    const item = items[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return { ok: false, code: 'bad_request', message: `${where} is not an object` };
    const { topic, data } = item as Record<string, unknown>;
    if (typeof topic !== 'string') return { ok: false, code: 'bad_request', message: `${where}.topic is missing or not a string` };
    if (!isValidTopic(topic)) return { ok: false, code: 'invalid_topic', message: `${where}.topic "${topic.slice(0, 300)}" is not a valid topic` };
    if (data === undefined) return { ok: false, code: 'bad_request', message: `${where}.data is missing` };
    const json = JSON.stringify(data);
    const size = Buffer.byteLength(json, 'utf8');
    if (size > maxMessageSize) return { ok: false, code: 'payload_too_large', message: `${where}.data is ${size} bytes; at most ${maxMessageSize}` };
    messages.push({ topic, message: { data: json, ts: now } });
  }
  return { ok: true, batch, messages };
}

type HistoryRequest =
  | { ok: true; topic: string; limit: number; since: { offset: number; epoch: string } | undefined }
  | { ok: false; code: ErrorCode; message: string };

/** The query of GET /v1/history: topic, limit (1 to MAX_HISTORY_LIMIT), and since with epoch, or neither. */
export function parseHistoryQuery(topic: string | undefined, limit: string | undefined, since: string | undefined, epoch: string | undefined): HistoryRequest {
  if (topic === undefined || topic === '') return { ok: false, code: 'bad_request', message: 'topic is missing' };
  if (!isValidTopic(topic)) return { ok: false, code: 'invalid_topic', message: `"${topic.slice(0, 300)}" is not a valid topic` };
  let n = DEFAULT_HISTORY_LIMIT;
  if (limit !== undefined && limit !== '') {
    if (!/^\d{1,7}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_HISTORY_LIMIT) return { ok: false, code: 'bad_request', message: `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}` };
    n = Number(limit);
  }
  const hasSince = since !== undefined && since !== '';
  const hasEpoch = epoch !== undefined && epoch !== '';
  if (hasSince !== hasEpoch) return { ok: false, code: 'bad_request', message: 'since and epoch go together' };
  if (!hasSince) return { ok: true, topic, limit: n, since: undefined };
  if (!/^\d{1,15}$/.test(since!)) return { ok: false, code: 'bad_request', message: 'since must be an offset (an integer from 0)' };
  if (!EPOCH.test(epoch!)) return { ok: false, code: 'bad_request', message: 'epoch must be 1 to 64 characters from A-Z a-z 0-9 _ -' };
  return { ok: true, topic, limit: n, since: { offset: Number(since), epoch: epoch! } };
}

export interface HttpDeps {
  readonly apiKeys: ApiKeys;
  readonly publisher: Publisher;
  /** Undefined when no topic has history (HERALD_HISTORY empty). */
  readonly history: History | undefined;
  readonly policies: HistoryPolicies;
  /** Undefined when no topic has presence. */
  readonly presence: { readonly store: PresenceStore; readonly policies: PresencePolicies } | undefined;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly maxMessageSize: number;
  /** Why the node is not ready, or undefined when it is. */
  readonly notReadyReason: () => string | undefined;
}

export function attachHttpRoutes(app: TemplatedApp, deps: HttpDeps): void {
  const publishedByHttp = deps.metrics.published.labels({ source: 'http' });

  app.get('/healthz', (res) => sendJson(res, 200, { status: 'ok' }));

  app.get('/readyz', (res) => {
    const reason = deps.notReadyReason();
    if (reason === undefined) sendJson(res, 200, { status: 'ready' });
    else sendJson(res, 503, { status: 'not_ready', reason });
  });

  app.post('/v1/publish', (res, req) => {
    if (!deps.apiKeys.enabled) return refuse(res, req, 'unauthorized', 'HTTP publish is disabled: no HERALD_API_KEYS configured');
    if (!deps.apiKeys.accepts(req.getHeader('authorization'))) return refuse(res, req, 'unauthorized', 'missing or invalid API key (Authorization: Bearer <key>)');
    const idempotencyKey = req.getHeader('idempotency-key');
    if (idempotencyKey !== '' && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      return refuse(res, req, 'bad_request', 'Idempotency-Key must be 1 to 128 printable ASCII characters without spaces');
    }
    // Two Content-Length headers could be read differently by a proxy in front: a smuggling risk, refused.
    let lengths = 0;
    req.forEach((name) => {
      if (name === 'content-length') lengths++;
    });
    if (lengths > 1) return sendError(res, 'bad_request', 'more than one Content-Length header', true);
    const declared = Number(req.getHeader('content-length') || '0');
    if (declared > MAX_BODY_BYTES) return refuse(res, req, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);

    // uWebSockets.js keeps one abort handler per response: this one serves both the body read and the publish.
    const state: RequestState = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    readBody(res, state, MAX_BODY_BYTES, (body) => {
      const parsed = parsePublishBody(body, deps.maxMessageSize, Date.now());
      if (!parsed.ok) return sendError(res, parsed.code, parsed.message);
      publishedByHttp.inc(parsed.messages.length);
      // A message still queued when the connection goes away (a pipelined request makes uWebSockets.js
      // close it) is not sent: nobody would learn whether it was published.
      const cancelled = (): boolean => state.aborted;
      // One key for the request; each message of a batch gets its own under it, so a retried batch
      // publishes exactly the messages that did not go out the first time.
      const keyOf = (i: number): string | undefined => (idempotencyKey === '' ? undefined : parsed.batch ? `${idempotencyKey}:${i}` : idempotencyKey);
      Promise.all(parsed.messages.map(({ topic, message }, i) => deps.publisher.publish(topic, message, { cancelled, idempotencyKey: keyOf(i) }))).then(
        (published) => {
          if (state.aborted) return;
          // Per-message details only when there are some: offsets of history topics, or idempotent replays.
          if (published.every((result) => result.offset === undefined && !result.duplicate)) return sendJson(res, 202, { accepted: parsed.messages.length });
          const messages = published.map((result, i) => ({
            topic: parsed.messages[i]!.topic,
            ...(result.offset === undefined ? {} : { offset: result.offset, epoch: result.epoch }),
            ...(result.duplicate ? { duplicate: true } : {}),
          }));
          sendJson(res, 202, { accepted: parsed.messages.length, messages });
        },
        (error: unknown) => {
          deps.log.warn({ err: error }, 'HTTP publish failed');
          if (!state.aborted) sendError(res, 'unavailable', 'broker unavailable; some or all messages were not published, retry later');
        },
      );
    });
  });

  app.any('/v1/publish', (res, req) => refuse(res, req, 'method_not_allowed', 'use POST /v1/publish'));

  app.get('/v1/history', (res, req) => {
    if (!deps.apiKeys.enabled) return refuse(res, req, 'unauthorized', 'the HTTP API is disabled: no HERALD_API_KEYS configured');
    if (!deps.apiKeys.accepts(req.getHeader('authorization'))) return refuse(res, req, 'unauthorized', 'missing or invalid API key (Authorization: Bearer <key>)');
    const query = parseHistoryQuery(req.getQuery('topic'), req.getQuery('limit'), req.getQuery('since'), req.getQuery('epoch'));
    if (!query.ok) return sendError(res, query.code, query.message);
    const policy = deps.history === undefined ? undefined : deps.policies.of(query.topic);
    if (policy === undefined) return sendError(res, 'no_history', `topic ${query.topic} has no history (see HERALD_HISTORY)`);
    const state: RequestState = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    const since = query.since;
    deps.history!.read(query.topic, policy, since === undefined ? { last: query.limit } : { after: since.offset, limit: query.limit }).then(
      (page) => {
        if (state.aborted) return;
        const sameEpoch = since === undefined || since.epoch === page.position.epoch;
        const messages = sameEpoch ? page.messages.map((m) => `{"offset":${m.offset},"data":${m.data},"ts":${m.ts}}`) : [];
        // Whether the messages follow `since` without a hole (nothing trimmed or expired in between, same epoch).
        const recovered = since === undefined ? '' : `,"recovered":${sameEpoch && (page.messages[0]?.offset === since.offset + 1 || (page.messages.length === 0 && since.offset === page.position.offset))}`;
        // Stored data is JSON text already: the body is assembled, not re-serialised.
        const body = `{"topic":"${query.topic}","epoch":"${page.position.epoch}","offset":${page.position.offset}${recovered},"messages":[${messages.join(',')}]}`;
        res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(body));
      },
      (error: unknown) => {
        deps.log.warn({ err: error }, 'HTTP history read failed');
        if (!state.aborted) sendError(res, 'unavailable', 'history unavailable; retry later');
      },
    );
  });
  app.any('/v1/history', (res, req) => refuse(res, req, 'method_not_allowed', 'use GET /v1/history'));

  const presenceRoute = (countOnly: boolean) => (res: HttpResponse, req: HttpRequest): void => {
    if (!deps.apiKeys.enabled) return refuse(res, req, 'unauthorized', 'the HTTP API is disabled: no HERALD_API_KEYS configured');
    if (!deps.apiKeys.accepts(req.getHeader('authorization'))) return refuse(res, req, 'unauthorized', 'missing or invalid API key (Authorization: Bearer <key>)');
    const topic = req.getQuery('topic') ?? '';
    if (topic === '') return sendError(res, 'bad_request', 'topic is missing');
    if (!isValidTopic(topic)) return sendError(res, 'invalid_topic', `"${topic.slice(0, 300)}" is not a valid topic`);
    const presence = deps.presence;
    if (presence === undefined || !presence.policies.has(topic)) return sendError(res, 'no_presence', `topic ${topic} has no presence (see HERALD_PRESENCE)`);
    const state: RequestState = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    const announce = presence.policies.announces(topic);
    const body = countOnly
      ? presence.store.count(topic, announce).then((count) => `{"topic":"${topic}","users":${count.users},"connections":${count.connections}}`)
      : presence.store.list(topic, announce).then((users) => `{"topic":"${topic}",${encodePresenceUsers(users)}}`);
    body.then(
      (text) => {
        if (!state.aborted) res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(text));
      },
      (error: unknown) => {
        deps.log.warn({ err: error }, 'HTTP presence read failed');
        if (!state.aborted) sendError(res, 'unavailable', 'presence unavailable; retry later');
      },
    );
  };
  app.get('/v1/presence', presenceRoute(false));
  app.get('/v1/presence/count', presenceRoute(true));
  app.any('/v1/presence', (res, req) => refuse(res, req, 'method_not_allowed', 'use GET /v1/presence'));
  app.any('/v1/presence/count', (res, req) => refuse(res, req, 'method_not_allowed', 'use GET /v1/presence/count'));
  app.any('/*', (res, req) => refuse(res, req, 'not_found', 'no such route; see README for the HTTP API'));
}
