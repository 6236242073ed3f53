/**
 * Client protocol v1 frames (docs/protocol.md is the contract): decoding of
 * what clients send, encoding of what Herald sends. Decoding never throws.
 */
import type { ErrorCode } from '../errors.js';
import type { BrokerMessage } from '../broker/broker.js';
import { MAX_DATA_DEPTH, parseBoundedJson } from './json.js';

export type FrameId = string | number | undefined;

export type ClientFrame =
  | { readonly type: 'subscribe'; readonly id: FrameId; readonly topic: string }
  | { readonly type: 'unsubscribe'; readonly id: FrameId; readonly topic: string }
  | { readonly type: 'publish'; readonly id: FrameId; readonly topic: string; readonly data: unknown }
  | { readonly type: 'ping'; readonly id: FrameId }
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
    case 'subscribe':
    case 'unsubscribe':
      if (typeof f.topic !== 'string') return fail(id, `"${f.type}" needs a string "topic"`);
      return { ok: true, frame: { type: f.type, id, topic: f.topic } };
    case 'publish':
      if (typeof f.topic !== 'string') return fail(id, '"publish" needs a string "topic"');
      if (!('data' in f)) return fail(id, '"publish" needs a "data" field (any JSON value)');
      return { ok: true, frame: { type: 'publish', id, topic: f.topic, data: f.data } };
    case 'ping':
      return { ok: true, frame: { type: 'ping', id } };
    case 'auth':
      if (typeof f.token !== 'string' || f.token.length === 0) return fail(id, '"auth" needs a non-empty string "token"');
      return { ok: true, frame: { type: 'auth', id, token: f.token } };
    case undefined:
      return fail(id, 'frame has no "type"');
    default:
      return fail(id, typeof f.type === 'string' ? `unknown frame type ${JSON.stringify(f.type.slice(0, 64))}` : '"type" must be a string');
  }
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

export function encodeAck(id: FrameId): string {
  return `{"type":"ack"${idField(id)}}`;
}

export function encodePong(id: FrameId): string {
  return `{"type":"pong"${idField(id)}}`;
}

export function encodeError(id: FrameId, code: ErrorCode, message: string): string {
  return `{"type":"error"${idField(id)},"code":"${code}","message":${JSON.stringify(message)}}`;
}

export function encodeUnsubscribed(topic: string, reason: 'forbidden'): string {
  return `{"type":"unsubscribed","topic":"${topic}","reason":"${reason}"}`;
}

/**
 * The delivery frame, built once per message per node. `topic` is a valid
 * topic (no characters that need escaping) and `message.data` is already JSON
 * text, so this is plain concatenation.
 */
export function encodeMessage(topic: string, message: BrokerMessage): string {
  return `{"type":"message","topic":"${topic}","data":${message.data},"ts":${message.ts}}`;
}
