/**
 * Client protocol v1 frames (docs/protocol.md is the contract): decoding of
 * what clients send, encoding of what Herald sends. Decoding never throws.
 */
import type { ErrorCode } from '../errors.js';
import { EPOCH, type BrokerMessage } from '../broker/broker.js';
import { MAX_DATA_DEPTH, parseBoundedJson } from './json.js';

export type FrameId = string | number | undefined;

/** A subscribe's `since`: resume after an offset of an epoch, or the last n stored messages. */
export type SinceField = { readonly offset: number; readonly epoch: string } | { readonly last: number };

export type ClientFrame =
  | { readonly type: 'subscribe'; readonly id: FrameId; readonly topic: string; readonly since: SinceField | undefined }
  | { readonly type: 'unsubscribe'; readonly id: FrameId; readonly topic: string }
  | { readonly type: 'publish'; readonly id: FrameId; readonly topic: string; readonly data: unknown }
  | { readonly type: 'ping'; readonly id: FrameId }
  | { readonly type: 'presence' | 'presence_count'; readonly id: FrameId; readonly topic: string }
  | { readonly type: 'auth'; readonly id: FrameId; readonly token: string };

export type Decoded =
  | { readonly ok: true; readonly frame: ClientFrame }
  | { readonly ok: false; readonly id: FrameId; readonly code: ErrorCode; readonly message: string };

/** An `id` string's limit, in Unicode code points (what docs/protocol.md calls characters). */
const MAX_ID_LENGTH = 128;
/** A frame is an object around the message's `data`: one level more than the data may have. */
const MAX_FRAME_DEPTH = MAX_DATA_DEPTH + 1;
/**
 * Frames up to this depth are still parsed (safe: JSON.parse is iterative and
 * nothing re-serialises them), so that a publish whose data is a little too
 * deep is answered with its own `id`; anything deeper is refused unread.
 */
const MAX_PARSED_DEPTH = MAX_DATA_DEPTH * 2;
const decoder = new TextDecoder('utf-8', { fatal: true });

function fail(id: FrameId, message: string): Decoded {
  return { ok: false, id, code: 'bad_request', message };
}

export function decodeClientFrame(bytes: ArrayBuffer, isBinary: boolean): Decoded {
  if (isBinary) return fail(undefined, 'binary frames are not supported; send JSON text');
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return fail(undefined, 'frame is not valid UTF-8 text');
  }
  const json = parseBoundedJson(text, MAX_PARSED_DEPTH);
  if (!json.ok) return fail(undefined, json.problem === 'not valid JSON' ? 'frame is not valid JSON text' : `frame is ${json.problem} (data may nest at most ${MAX_DATA_DEPTH})`);
  const parsed = json.value;
  const tooDeep = json.depth > MAX_FRAME_DEPTH;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail(undefined, 'frame is not a JSON object');
  const f = parsed as Record<string, unknown>;

  const rawId = f.id;
  let id: FrameId;
  if (rawId === undefined) id = undefined;
  else if ((typeof rawId === 'number' && Number.isFinite(rawId)) || (typeof rawId === 'string' && codePointsAtMost(rawId, MAX_ID_LENGTH))) id = rawId;
  else return fail(undefined, `"id" must be a finite number or a string of at most ${MAX_ID_LENGTH} characters`);
  if (tooDeep) return fail(id, `frame nests deeper than ${MAX_FRAME_DEPTH} levels (data may nest at most ${MAX_DATA_DEPTH})`);

  switch (f.type) {
    case 'subscribe': {
      if (typeof f.topic !== 'string') return fail(id, '"subscribe" needs a string "topic"');
      if (f.since === undefined) return { ok: true, frame: { type: 'subscribe', id, topic: f.topic, since: undefined } };
      const since = decodeSince(f.since);
      if (typeof since === 'string') return fail(id, since);
      return { ok: true, frame: { type: 'subscribe', id, topic: f.topic, since } };
    }
    case 'unsubscribe':
      if (typeof f.topic !== 'string') return fail(id, '"unsubscribe" needs a string "topic"');
      return { ok: true, frame: { type: 'unsubscribe', id, topic: f.topic } };
    case 'publish':
      if (typeof f.topic !== 'string') return fail(id, '"publish" needs a string "topic"');
      if (!('data' in f)) return fail(id, '"publish" needs a "data" field (any JSON value)');
      return { ok: true, frame: { type: 'publish', id, topic: f.topic, data: f.data } };
    case 'ping':
      return { ok: true, frame: { type: 'ping', id } };
    case 'presence':
    case 'presence_count':
      if (typeof f.topic !== 'string') return fail(id, `"${f.type}" needs a string "topic"`);
      return { ok: true, frame: { type: f.type, id, topic: f.topic } };
    case 'auth':
      if (typeof f.token !== 'string' || f.token.length === 0) return fail(id, '"auth" needs a non-empty string "token"');
      return { ok: true, frame: { type: 'auth', id, token: f.token } };
    case undefined:
      return fail(id, 'frame has no "type"');
    default:
      return fail(id, typeof f.type === 'string' ? `unknown frame type ${JSON.stringify(f.type.slice(0, 64))}` : '"type" must be a string');
  }
}

/** `{"offset":<integer ≥ 0>,"epoch":"<epoch>"}` or `{"last":<integer ≥ 1>}`, and nothing else. */
function decodeSince(raw: unknown): SinceField | string {
  const expected = '"since" must be {"offset":<integer >= 0>,"epoch":"<epoch>"} or {"last":<integer >= 1>}';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return expected;
  const since = raw as Record<string, unknown>;
  const keys = Object.keys(since);
  if (keys.length === 1 && keys[0] === 'last') {
    return Number.isSafeInteger(since.last) && (since.last as number) >= 1 ? { last: since.last as number } : expected;
  }
  if (keys.length === 2 && 'offset' in since && 'epoch' in since) {
    if (!Number.isSafeInteger(since.offset) || (since.offset as number) < 0) return expected;
    if (typeof since.epoch !== 'string' || !EPOCH.test(since.epoch)) return expected;
    return { offset: since.offset as number, epoch: since.epoch };
  }
  return expected;
}

/** Whether `s` has at most `max` code points; a surrogate pair counts once. */
function codePointsAtMost(s: string, max: number): boolean {
  if (s.length <= max) return true;
  if (s.length > max * 2) return false;
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    if (++count > max) return false;
  }
  return true;
}

function idField(id: FrameId): string {
  return id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
}

export function encodeWelcome(node: string, sub: string, exp: number | null): string {
  return `{"type":"welcome","node":${JSON.stringify(node)},"sub":${JSON.stringify(sub)},"exp":${exp === null ? 'null' : exp}}`;
}

/** What an ack may say besides its id: a history topic's position, and whether a `since` was recovered. */
export interface AckFields {
  readonly offset?: number;
  readonly epoch?: string;
  readonly recovered?: boolean;
}

export function encodeAck(id: FrameId, fields?: AckFields): string {
  if (fields === undefined) return `{"type":"ack"${idField(id)}}`;
  const offset = fields.offset === undefined ? '' : `,"offset":${fields.offset}`;
  // Epochs are checked against EPOCH (no character that needs escaping) wherever they enter.
  const epoch = fields.epoch === undefined ? '' : `,"epoch":"${fields.epoch}"`;
  const recovered = fields.recovered === undefined ? '' : `,"recovered":${fields.recovered}`;
  return `{"type":"ack"${idField(id)}${offset}${epoch}${recovered}}`;
}

export function encodePong(id: FrameId): string {
  return `{"type":"pong"${idField(id)}}`;
}

export function encodeError(id: FrameId, code: ErrorCode, message: string): string {
  return `{"type":"error"${idField(id)},"code":"${code}","message":${JSON.stringify(message)}}`;
}

/** forbidden: an `auth` narrowed the grants; reset: the topic's history was lost (see docs/protocol.md). */
export function encodeUnsubscribed(topic: string, reason: 'forbidden' | 'reset'): string {
  return `{"type":"unsubscribed","topic":"${topic}","reason":"${reason}"}`;
}

/** A user as presence frames show them; `info` is JSON text (the token's claim), included as it is. */
export interface PresenceUserFields {
  readonly sub: string;
  readonly connections: number;
  readonly info: string | undefined;
}

/** `"users":[…],"count":N`: the same in the presence frame and GET /v1/presence. */
export function encodePresenceUsers(users: readonly PresenceUserFields[]): string {
  const list = users.map((u) => `{"sub":${JSON.stringify(u.sub)},"connections":${u.connections}${u.info === undefined ? '' : `,"info":${u.info}`}}`);
  return `"users":[${list.join(',')}],"count":${users.length}`;
}

export function encodePresence(id: FrameId, topic: string, users: readonly PresenceUserFields[]): string {
  return `{"type":"presence"${idField(id)},"topic":"${topic}",${encodePresenceUsers(users)}}`;
}

export function encodePresenceCount(id: FrameId, topic: string, users: number, connections: number): string {
  return `{"type":"presence_count"${idField(id)},"topic":"${topic}","users":${users},"connections":${connections}}`;
}

/** A join or leave, built once per event per node and fanned out like a message. */
export function encodePresenceEvent(topic: string, event: 'join' | 'leave', sub: string, info: string | undefined): string {
  return `{"type":"${event}","topic":"${topic}","sub":${JSON.stringify(sub)}${info === undefined ? '' : `,"info":${info}`}}`;
}

/**
 * The delivery frame, built once per message per node. `topic` is a valid
 * topic (no characters that need escaping) and `message.data` is already JSON
 * text, so this is plain concatenation.
 */
export function encodeMessage(topic: string, message: BrokerMessage): string {
  if (message.offset === undefined) return `{"type":"message","topic":"${topic}","data":${message.data},"ts":${message.ts}}`;
  return `{"type":"message","topic":"${topic}","data":${message.data},"ts":${message.ts},"offset":${message.offset}}`;
}
