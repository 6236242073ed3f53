/**
 * The HTTP API on the client port: publish, liveness, readiness.
 * Request bodies are read with a hard cap and parsed inside this boundary;
 * every failure is an error body with a catalogue code.
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { ApiKeys } from '../auth/api-keys.js';
import type { Broker, BrokerMessage } from '../broker/broker.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { MAX_DATA_DEPTH, parseBoundedJson } from '../protocol/json.js';
import { isValidTopic } from '../protocol/topics.js';

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_BATCH = 1000;
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

interface RequestState {
  aborted: boolean;
}

/** Reads the whole body, or answers 413 and returns nothing once it passes `limit` bytes. */
function readBody(res: HttpResponse, state: RequestState, limit: number, onBody: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  res.onData((chunk, isLast) => {
    if (done || state.aborted) return;
    size += chunk.byteLength;
    if (size > limit) {
      done = true;
      sendError(res, 'payload_too_large', `body over ${limit} bytes`, true);
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

type Parsed = { ok: true; messages: { topic: string; message: BrokerMessage }[] } | { ok: false; code: ErrorCode; message: string };

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
  return { ok: true, messages };
}

export interface HttpDeps {
  readonly apiKeys: ApiKeys;
  readonly broker: Broker;
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
    if (!deps.apiKeys.enabled) return sendError(res, 'unauthorized', 'HTTP publish is disabled: no HERALD_API_KEYS configured', true);
    if (!deps.apiKeys.accepts(req.getHeader('authorization'))) return sendError(res, 'unauthorized', 'missing or invalid API key (Authorization: Bearer <key>)', true);
    const declared = Number(req.getHeader('content-length') || '0');
    if (declared > MAX_BODY_BYTES) return sendError(res, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`, true);

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
      const options = { cancelled: () => state.aborted };
      Promise.all(parsed.messages.map(({ topic, message }) => deps.broker.publish(topic, message, options))).then(
        () => {
          if (!state.aborted) sendJson(res, 202, { accepted: parsed.messages.length });
        },
        (error: unknown) => {
          deps.log.warn({ err: error }, 'HTTP publish failed');
          if (!state.aborted) sendError(res, 'unavailable', 'broker unavailable; some or all messages were not published, retry later');
        },
      );
    });
  });

  app.any('/v1/publish', (res) => sendError(res, 'method_not_allowed', 'use POST /v1/publish', true));
  app.any('/*', (res) => sendError(res, 'not_found', 'no such route; see README for the HTTP API', true));
}
