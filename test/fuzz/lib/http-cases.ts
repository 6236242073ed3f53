/**
 * HTTP requests for the live fuzzer: `POST /v1/publish` with hostile bodies,
 * keys, content types and framings (chunked, lengths that lie), other methods
 * and paths — and what "HTTP API" in docs/protocol.md says the node answers.
 * Every message the node accepts is expected at a subscriber, and nothing else.
 */
import fc from 'fast-check';
import { API_KEY } from '../../helpers/tokens.js';
import { invalidTopic, validTopic } from './arbitraries.js';
import { bodyText, expectBody, messagesIfReplaced } from './body-model.js';
import { HTTP_ERROR_STATUS, LIMITS } from './contract.js';
import { canonical, tryParse } from './json.js';
import type { Live } from './live.js';
import { RawConnection } from './raw.js';
import { encodeRequest, parseHttpResponses } from './wire.js';
import { preview } from './ws-cases.js';

export const OBSERVED_TOPICS = ['fz.h.0', 'fz.h.1', 'fz.h.2', 'fz.h.3'];
export const HTTP_MAX_MESSAGE = 4096;

export type Framing = 'length' | 'chunked' | 'chunked with a trailer' | 'chunk extensions' | 'expect 100-continue' | 'none' | 'length short' | 'length long' | 'length not a number' | 'length negative' | 'two lengths' | 'length and chunked' | 'bad chunk size';

/**
 * An `Idempotency-Key` header: none, a valid one (unique, or from a small pool shared by cases), or a malformed
 * one. A pool key always comes with the same body: cases that share it are retries of one request, which is what
 * docs/protocol.md promises for (the doc does not say what a key reused for another request does).
 */
export type IdempotencyKind = 'none' | 'fresh' | 'pool' | '128 characters' | 'empty' | '129 characters' | 'non-ASCII' | 'tab';
const VALID_KEYS: readonly IdempotencyKind[] = ['fresh', 'pool', '128 characters'];

/** A `GET /v1/history` query, part by part (undefined: the parameter is absent). */
export interface HistoryQuery {
  topic: { kind: 'valid' | 'invalid' | 'malformed percent' | 'missing' | 'twice'; value: string };
  limit: string | undefined;
  since: string | undefined;
  epoch: string | undefined;
}

export interface HttpCase {
  method: string;
  path: string;
  /** With path /v1/history: the query. */
  history: HistoryQuery | undefined;
  idempotency: IdempotencyKind;
  poolKey: number;
  auth: 'valid' | 'none' | 'wrong' | 'basic' | 'bearer without key' | 'lower-case scheme';
  contentType: 'application/json' | 'none' | 'text/plain' | 'application/json; charset=latin1';
  body: Uint8Array;
  framing: Framing;
  chunks: number;
}

const historyQuery: fc.Arbitrary<HistoryQuery> = fc.record({
  topic: fc.oneof(
    { weight: 5, arbitrary: validTopic.map((value) => ({ kind: 'valid' as const, value })) },
    { weight: 2, arbitrary: invalidTopic.map((value) => ({ kind: 'invalid' as const, value })) },
    { weight: 1, arbitrary: fc.constantFrom({ kind: 'malformed percent' as const, value: 'a%ZZb' }, { kind: 'missing' as const, value: '' }, { kind: 'twice' as const, value: 'a.b' }) },
  ),
  limit: fc.option(fc.constantFrom('1', '50', '1000', '0', '1001', '-1', 'x', '1.5', '1e400', '', '99999999999999999999'), { nil: undefined }),
  since: fc.option(fc.constantFrom('0', '41', '-1', 'x', '1.5', ''), { nil: undefined, freq: 3 }),
  epoch: fc.option(fc.constantFrom('k3f9x2', 'a b', '', 'x'.repeat(65)), { nil: undefined, freq: 3 }),
});

export const httpCase: fc.Arbitrary<HttpCase> = fc.record({
  method: fc.oneof({ weight: 12, arbitrary: fc.constant('POST') }, { weight: 2, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH') }, { weight: 1, arbitrary: fc.constantFrom('FOO', 'post', 'P0ST') }),
  path: fc.oneof(
    { weight: 12, arbitrary: fc.constant('/v1/publish') },
    { weight: 3, arbitrary: fc.constantFrom('/v1/history', '/v1/presence', '/v1/presence/count') },
    { weight: 4, arbitrary: fc.constantFrom('/v1/publish?x=1', '/healthz', '/readyz', '/', '/V1/PUBLISH', '/v1/publish/x', '/metrics', '/v1', '/%2e%2e/v1/publish', `/${'x'.repeat(2000)}`, '/v1/publish#frag') },
  ),
  history: historyQuery,
  idempotency: fc.constantFrom<IdempotencyKind>('none', 'none', 'none', 'fresh', 'pool', 'pool', '128 characters', 'empty', '129 characters', 'non-ASCII', 'tab'),
  poolKey: fc.nat(3),
  auth: fc.constantFrom('valid', 'valid', 'valid', 'valid', 'none', 'wrong', 'basic', 'bearer without key', 'lower-case scheme'),
  contentType: fc.constantFrom('application/json', 'application/json', 'none', 'text/plain', 'application/json; charset=latin1'),
  body: fc.oneof(
    { weight: 20, arbitrary: bodyText(HTTP_MAX_MESSAGE, fc.constantFrom(...OBSERVED_TOPICS)) },
    { weight: 1, arbitrary: fc.constant(Buffer.from(`{"topic":"fz.h.0","data":"${'x'.repeat(LIMITS.bodyBytes)}"}`) as Uint8Array) },
  ),
  framing: fc.oneof({ weight: 12, arbitrary: fc.constantFrom<Framing>('length', 'length', 'length', 'chunked', 'chunked with a trailer', 'expect 100-continue') }, { weight: 3, arbitrary: fc.constantFrom<Framing>('none', 'length short', 'length long', 'length not a number', 'length negative', 'two lengths', 'length and chunked', 'bad chunk size', 'chunk extensions') }),
  chunks: fc.integer({ min: 1, max: 6 }),
});

/**
 * Bodies over the 1 MiB limit, which docs/protocol.md answers with 413: a node that closes the connection while
 * such a body is still arriving makes the kernel answer the unread bytes with a reset, and the client never
 * sees the 413 (measured: 33 of 40 requests with a 4 MB body on a quiet machine, fewer under load: eight of them
 * make a run all but certain to catch it).
 */
export const httpCorpus: HttpCase[] = [1, 2, 3, 1, 2, 3, 1, 2].map((i, n) => ({
  method: 'POST',
  path: '/v1/publish',
  history: undefined,
  idempotency: 'none',
  poolKey: 0,
  auth: 'valid',
  contentType: 'application/json',
  body: Buffer.from(`{"topic":"fz.h.${i}","data":"${'x'.repeat(4 * LIMITS.bodyBytes)}"}`),
  framing: n % 3 === 2 ? 'chunked' : 'length',
  chunks: 4,
}));

/** Percent-encoding of the UTF-8 bytes (encodeURIComponent throws on a lone surrogate; its bytes are U+FFFD's). */
const percent = (value: string): string => [...Buffer.from(value, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

function queryOf(q: HistoryQuery): string {
  const params: string[] = [];
  if (q.topic.kind === 'valid' || q.topic.kind === 'invalid') params.push(`topic=${percent(q.topic.value)}`);
  if (q.topic.kind === 'malformed percent') params.push(`topic=${q.topic.value}`);
  if (q.topic.kind === 'twice') params.push('topic=a.b', 'topic=c.d');
  if (q.limit !== undefined) params.push(`limit=${q.limit}`);
  if (q.since !== undefined) params.push(`since=${q.since}`);
  if (q.epoch !== undefined) params.push(`epoch=${percent(q.epoch)}`);
  return params.length > 0 ? `?${params.join('&')}` : '';
}

/** The paths whose query a case builds: the history and presence APIs. */
const QUERY_PATHS = ['/v1/history', '/v1/presence', '/v1/presence/count'];

const POOL_BODIES = [
  '{"topic":"fz.h.0","data":{"pool":0}}',
  '{"messages":[{"topic":"fz.h.1","data":{"pool":1,"i":0}},{"topic":"fz.h.2","data":{"pool":1,"i":1}}]}',
  '{"topic":"fz.h.3","data":"pool-2"}',
  '{"messages":[{"topic":"fz.h.0","data":[3]},{"topic":"fz.h.0","data":[3]}]}',
];

/** The body a case sends: its own, or its pool key's. */
const bodyOf = (c: HttpCase): Uint8Array => (c.idempotency === 'pool' ? Buffer.from(POOL_BODIES[c.poolKey % POOL_BODIES.length]!) : c.body);

/** The Idempotency-Key a case sends, unique per case or shared through the pool (within one run: the prefix is the run's). */
export function idempotencyKey(c: HttpCase, caseId: string, runId: string): string | undefined {
  switch (c.idempotency) {
    case 'none':
      return undefined;
    case 'fresh':
      return `fz-${runId}-${caseId}`;
    case 'pool':
      return `fz-${runId}-pool-${c.poolKey}`;
    case '128 characters':
      return `fz-${runId}-${caseId}-`.padEnd(128, 'k').slice(-128);
    case 'empty':
      return '';
    case '129 characters':
      return 'k'.repeat(129);
    case 'non-ASCII':
      return 'clé';
    case 'tab':
      return 'a\tb';
  }
}

function encode(c: HttpCase, host: string, key: string | undefined): { bytes: Buffer; bodySeen: Uint8Array | undefined } {
  const headers: [string, string][] = [['Host', host]];
  if (key !== undefined) headers.push(['Idempotency-Key', key]);
  const auth = { valid: `Bearer ${API_KEY}`, none: undefined, wrong: `Bearer ${API_KEY}-wrong`, basic: `Basic ${Buffer.from(`k:${API_KEY}`).toString('base64')}`, 'bearer without key': 'Bearer', 'lower-case scheme': `bearer ${API_KEY}` }[c.auth];
  if (auth !== undefined) headers.push(['Authorization', auth]);
  if (c.contentType !== 'none') headers.push(['Content-Type', c.contentType]);
  const body = Buffer.from(bodyOf(c));
  let payload: Buffer = body;
  // What the server reads as this request's body when the framing is honest (undefined when it is not).
  let bodySeen: Uint8Array | undefined = body;
  switch (c.framing) {
    case 'length':
      headers.push(['Content-Length', String(body.length)]);
      break;
    case 'expect 100-continue':
      headers.push(['Content-Length', String(body.length)], ['Expect', '100-continue']);
      break;
    case 'chunked':
    case 'chunked with a trailer':
    case 'chunk extensions': {
      // RFC 9112, 7.1: the last chunk may be followed by trailer fields, and a chunk size may carry extensions
      // (";name=value"), which uWebSockets.js does not parse (such a request gets no answer): the latter counts
      // as a framing the node may not read.
      const ext = c.framing === 'chunk extensions' ? ';fuzz=1;q="a b"' : '';
      if (c.framing === 'chunk extensions') bodySeen = undefined;
      headers.push(['Transfer-Encoding', 'chunked']);
      const step = Math.max(1, Math.ceil(body.length / c.chunks));
      const parts: Buffer[] = [];
      for (let at = 0; at < body.length; at += step) {
        const chunk = body.subarray(at, at + step);
        parts.push(Buffer.from(`${chunk.length.toString(16)}${ext}\r\n`), chunk, Buffer.from('\r\n'));
      }
      parts.push(Buffer.from(c.framing === 'chunked' ? '0\r\n\r\n' : `0${ext}\r\nX-Trailer: t\r\n\r\n`));
      payload = Buffer.concat(parts);
      break;
    }
    case 'none':
      payload = Buffer.alloc(0);
      bodySeen = new Uint8Array(0);
      break;
    case 'length short':
      headers.push(['Content-Length', String(Math.floor(body.length / 2))]);
      bodySeen = undefined;
      break;
    case 'length long':
      headers.push(['Content-Length', String(body.length + 10)]);
      bodySeen = undefined;
      break;
    case 'length not a number':
      headers.push(['Content-Length', `${body.length}x`]);
      bodySeen = undefined;
      break;
    case 'length negative':
      headers.push(['Content-Length', '-1']);
      bodySeen = undefined;
      break;
    case 'two lengths':
      headers.push(['Content-Length', String(body.length)], ['Content-Length', String(body.length + 1)]);
      bodySeen = undefined;
      break;
    case 'length and chunked':
      headers.push(['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']);
      bodySeen = undefined;
      break;
    case 'bad chunk size':
      headers.push(['Transfer-Encoding', 'chunked']);
      payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]);
      bodySeen = undefined;
      break;
  }
  const target = QUERY_PATHS.includes(c.path) && c.history !== undefined ? `${c.path}${queryOf(c.history)}` : c.path;
  return { bytes: encodeRequest({ method: c.method, target, headers, body: payload }), bodySeen };
}

type Expected = { status: number; code?: string; codes?: ReadonlySet<string>; accepted?: number; messages?: { topic: string; data: unknown }[] } | 'any';

function expectHttp(c: HttpCase, bodySeen: Uint8Array | undefined): Expected {
  if (!['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'].includes(c.method)) return 'any';
  if (bodySeen === undefined) return 'any';
  const path = c.path.split('?')[0]!.split('#')[0]!;
  if (path === '/healthz' || path === '/readyz') return c.method === 'GET' ? { status: path === '/healthz' ? 200 : -200 } : 'any';
  if (c.path.includes('#') || c.path.startsWith('/%2e')) return 'any';
  if (path === '/v1/history') return c.method === 'GET' ? expectHistory(c) : 'any';
  if (path === '/v1/presence' || path === '/v1/presence/count') return c.method === 'GET' ? expectPresence(c) : 'any';
  if (c.idempotency !== 'none' && !VALID_KEYS.includes(c.idempotency)) return 'any';
  if (path !== '/v1/publish') return { status: 404, code: 'not_found' };
  if (c.method !== 'POST') return { status: 405, code: 'method_not_allowed' };
  if (c.auth === 'lower-case scheme') return 'any';
  if (c.auth !== 'valid') return { status: 401, code: 'unauthorized' };
  if (bodySeen.length > LIMITS.bodyBytes) return { status: 413, code: 'payload_too_large' };
  const verdict = expectBody(bodySeen, HTTP_MAX_MESSAGE);
  if (verdict.verdict === 'either') return 'any';
  if (verdict.verdict === 'reject') return { status: -1, codes: verdict.codes };
  return { status: 202, accepted: verdict.messages.length, messages: verdict.messages };
}

/** docs/protocol.md, "GET /v1/history", on a node where no topic has history. */
function expectHistory(c: HttpCase): Expected {
  const q = c.history!;
  if (c.auth === 'lower-case scheme' || q.topic.kind === 'twice' || q.limit === '') return 'any';
  if (c.auth !== 'valid') return { status: 401, code: 'unauthorized' };
  const topicOk = q.topic.kind === 'valid';
  const limitOk = q.limit === undefined || (/^[0-9]+$/.test(q.limit) && Number(q.limit) >= 1 && Number(q.limit) <= 1000);
  const sinceOk = (q.since === undefined) === (q.epoch === undefined) && (q.since === undefined || (/^[0-9]+$/.test(q.since) && /^[A-Za-z0-9_-]{1,64}$/.test(q.epoch!)));
  if (!topicOk) return { status: -1, codes: new Set(['bad_request', 'invalid_topic']) };
  // A topic without history, with a bad limit or since: which the node reports first the doc does not say.
  if (!limitOk || !sinceOk) return { status: -1, codes: new Set(['bad_request', 'no_history']) };
  return { status: 404, code: 'no_history' };
}

/** docs/protocol.md, "Presence" over HTTP, on a node where no topic has presence (the history parameters ride along). */
function expectPresence(c: HttpCase): Expected {
  const q = c.history!;
  if (c.auth === 'lower-case scheme' || q.topic.kind === 'twice') return 'any';
  if (c.auth !== 'valid') return { status: 401, code: 'unauthorized' };
  if (q.topic.kind !== 'valid') return { status: -1, codes: new Set(['bad_request', 'invalid_topic']) };
  // Parameters the presence API does not take: ignored, or refused; the doc does not say.
  if (q.limit !== undefined || q.since !== undefined || q.epoch !== undefined) return { status: -1, codes: new Set(['bad_request', 'no_presence']) };
  return { status: 404, code: 'no_presence' };
}

export function describeHttp(c: HttpCase): string {
  const path = QUERY_PATHS.includes(c.path) && c.history !== undefined ? `${c.path}${queryOf(c.history)}` : c.path;
  return `${c.method} ${path.length > 80 ? `${path.slice(0, 80)}…` : path}${c.idempotency === 'none' ? '' : `, Idempotency-Key ${c.idempotency}${c.idempotency === 'pool' ? ` #${c.poolKey}` : ''}`}, auth ${c.auth}, content-type ${c.contentType}, ${c.framing}${c.framing === 'chunked' ? ` in ${c.chunks}` : ''}, body ${preview(bodyOf(c), 200)}`;
}

/** Messages the node accepted for the observed topics, as `topic\ncanonical data` → count. */
export class Ledger {
  readonly expected = new Map<string, number>();
  /** Per `Idempotency-Key#index`: how many 202s published the message, and how many called it a duplicate. */
  readonly keyed = new Map<string, { published: number; duplicate: number }>();
  add(topic: string, data: unknown): void {
    if (!OBSERVED_TOPICS.includes(topic)) return;
    const key = `${topic}\n${canonical(data)}`;
    this.expected.set(key, (this.expected.get(key) ?? 0) + 1);
  }
}

export async function runHttpCase(live: Live, c: HttpCase, caseId: string, ledger: Ledger): Promise<string> {
  const conn = await RawConnection.open(live.node.port);
  try {
    const key = idempotencyKey(c, caseId, live.prefix);
    const { bytes, bodySeen } = encode(c, `127.0.0.1:${live.node.port}`, key);
    conn.write(bytes);
    if (c.framing === 'length long') conn.end();
    const expected = expectHttp(c, bodySeen);
    await conn.until(() => parseHttpResponses(conn.received).length > 0, expected === 'any' ? 2000 : 8000);
    const [res] = parseHttpResponses(conn.received);
    if (res === undefined) {
      if (expected !== 'any') live.violation(caseId, `no response within 8 s (${conn.closed ? `connection ${conn.closedBy === 'reset' ? 'reset' : 'closed'} by the node` : 'still open'}, ${conn.received.length} bytes received)`);
      return conn.closed ? 'no response, closed' : 'no response';
    }
    const text = res.body.toString('utf8');
    const parsed = tryParse(text);
    const body = parsed.ok && parsed.value !== null && typeof parsed.value === 'object' ? (parsed.value as Record<string, unknown>) : undefined;
    const code = (body?.error as { code?: unknown } | undefined)?.code;
    // Every answer is one of the documented ones.
    if (res.status >= 400) {
      if (typeof code !== 'string' || HTTP_ERROR_STATUS.get(code) !== res.status) live.violation(caseId, `HTTP ${res.status} with ${typeof code === 'string' ? `code ${code} (documented with ${HTTP_ERROR_STATUS.get(code)})` : `an undocumented body: ${text.slice(0, 160)}`}`);
    } else if (res.status === 202) {
      if (typeof body?.accepted !== 'number') live.violation(caseId, `202 without {"accepted":N}: ${text.slice(0, 160)}`);
    } else if (res.status === 200) {
      if (body?.status !== 'ok' && body?.status !== 'ready') live.violation(caseId, `200 with an undocumented body: ${text.slice(0, 160)}`);
    } else if (res.status !== 503) live.violation(caseId, `undocumented status ${res.status}: ${text.slice(0, 160)}`);
    if (res.status === 503 && !(code === 'unavailable' || (body?.status === 'not_ready' && ['draining', 'broker_unavailable'].includes(String(body.reason))))) live.violation(caseId, `503 with an undocumented body: ${text.slice(0, 160)}`);
    if (expected !== 'any') {
      if (expected.status === -200) {
        if (!(res.status === 200 && body?.status === 'ready') && !(res.status === 503 && body?.status === 'not_ready')) live.violation(caseId, `/readyz answered ${res.status} ${text.slice(0, 100)}`);
      } else if (expected.status === -1) {
        if (typeof code !== 'string' || !expected.codes!.has(code)) live.violation(caseId, `HTTP ${res.status} ${String(code)}; the contract says ${[...expected.codes!].join('|')}`);
      } else if (res.status !== expected.status || (expected.code !== undefined && code !== expected.code) || (expected.accepted !== undefined && key === undefined && body?.accepted !== expected.accepted)) {
        live.violation(caseId, `HTTP ${res.status} ${text.slice(0, 160)}; the contract says ${expected.status}${expected.code === undefined ? '' : ` ${expected.code}`}${expected.accepted === undefined ? '' : ` {"accepted":${expected.accepted}}`}`);
      }
    }
    // What the node accepted must reach the subscriber: judged from the body the node was given (or, when the
    // framing lied and the node answered 202 anyway, from the body as written).
    let label = `HTTP ${res.status}${typeof code === 'string' ? ` ${code}` : ''}`;
    if (res.status === 202) {
      let messages = expected !== 'any' ? expected.messages : undefined;
      if (messages === undefined) {
        const verdict = expectBody(bodySeen ?? bodyOf(c), HTTP_MAX_MESSAGE);
        messages = verdict.verdict === 'accept' ? verdict.messages : verdict.verdict === 'either' ? messagesIfReplaced(bodySeen ?? bodyOf(c), HTTP_MAX_MESSAGE) : undefined;
      }
      // A 202 the contract does not allow is reported above; its messages were published all the same.
      messages ??= messagesAsWritten(bodySeen ?? bodyOf(c));
      // With an Idempotency-Key, the 202 lists each message; a duplicate was not published again.
      const entries = Array.isArray(body?.messages) ? (body.messages as { duplicate?: unknown }[]) : undefined;
      if (entries !== undefined && entries.length !== messages.length) live.violation(caseId, `a 202 lists ${entries.length} messages for a request of ${messages.length}`);
      messages.forEach((m, i) => {
        const duplicate = entries?.[i]?.duplicate === true;
        if (duplicate && key === undefined) live.violation(caseId, 'a message without an Idempotency-Key was called a duplicate');
        if (key !== undefined && VALID_KEYS.includes(c.idempotency)) {
          const k = `${key}#${i}`;
          const seen = ledger.keyed.get(k) ?? { published: 0, duplicate: 0 };
          if (duplicate) seen.duplicate++;
          else seen.published++;
          ledger.keyed.set(k, seen);
        }
        if (!duplicate) ledger.add(m.topic, m.data);
      });
      if (entries?.some((e) => e.duplicate === true)) label += ' (duplicates)';
      if (bodySeen === undefined) label += ` despite ${c.framing}`;
    }
    return label;
  } finally {
    conn.destroy();
  }
}

/** Compares what the observer received on the observed topics with what the node accepted; returns the problems. */
export function ledgerProblems(ledger: Ledger, received: Record<string, unknown>[]): string[] {
  const got = new Map<string, number>();
  for (const m of received) {
    const key = `${String(m.topic)}\n${canonical(m.data)}`;
    got.set(key, (got.get(key) ?? 0) + 1);
  }
  const problems: string[] = [];
  for (const [key, n] of ledger.expected) {
    const have = got.get(key) ?? 0;
    if (have < n) problems.push(`accepted ${n}× but delivered ${have}×: ${key.replace('\n', ' ').slice(0, 200)}`);
  }
  for (const [key, n] of got) {
    const want = ledger.expected.get(key) ?? 0;
    if (n > want) problems.push(`delivered ${n}× but accepted ${want}× (published without a 202, or twice): ${key.replace('\n', ' ').slice(0, 200)}`);
  }
  // docs/protocol.md, "Idempotency": what went out under a key goes out once.
  for (const [key, seen] of ledger.keyed) {
    if (seen.published > 1) problems.push(`published ${seen.published}× under one Idempotency-Key and index: ${key}`);
    if (seen.published === 0 && seen.duplicate > 0) problems.push(`called a duplicate ${seen.duplicate}× but never published: ${key}`);
  }
  return problems;
}

export const ledgerComplete = (ledger: Ledger, received: Record<string, unknown>[]): boolean => ledgerProblems(ledger, received).every((p) => !p.startsWith('accepted'));

/** The messages of a body taken at face value (every item with a string topic and a data), for a 202 the contract would refuse. */
function messagesAsWritten(bytes: Uint8Array): { topic: string; data: unknown }[] {
  const parsed = tryParse(Buffer.from(bytes).toString('utf8'));
  if (!parsed.ok || parsed.value === null || typeof parsed.value !== 'object') return [];
  const body = parsed.value as Record<string, unknown>;
  const items = Array.isArray(body.messages) ? (body.messages as unknown[]) : [body];
  return items.flatMap((item) => {
    const m = item as { topic?: unknown; data?: unknown } | null;
    return m !== null && typeof m === 'object' && typeof m.topic === 'string' && 'data' in m ? [{ topic: m.topic, data: m.data }] : [];
  });
}
