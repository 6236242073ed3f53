/**
 * The Redis message contract (docs/protocol.md, "Publishing through Redis"):
 * channel `<prefix>:<topic>`, message a JSON object
 *
 *   {"data": <any JSON>, "ts": <ms since epoch, optional>}
 *
 * Messages of history topics, published by Herald's Redis Function, also
 * carry `"offset":<n>,"epoch":"<e>"`. Unknown fields are ignored, so fields
 * can be added without breaking publishers or older nodes.
 */
import { MAX_DATA_DEPTH, parseBoundedJson } from '../protocol/json.js';
import { EPOCH, type BrokerMessage, type PresenceEvent } from './broker.js';

/** The envelope is an object around `data`. */
const MAX_ENVELOPE_DEPTH = MAX_DATA_DEPTH + 1;

export function channelFor(prefix: string, topic: string): string {
  return `${prefix}:${topic}`;
}

/** Herald's own envelope: `data` is already JSON text, so this is concatenation. */
export function encodeEnvelope(message: BrokerMessage): string {
  return `{"ts":${message.ts},"data":${message.data}}`;
}

/**
 * Decodes an envelope from Redis: one parse and one serialisation of `data`.
 * A missing or unusable `ts` becomes `receivedAt`, the receiving node's clock.
 * Returns a description of the problem for anything that is not an envelope,
 * including `data` nested deeper than the message contract allows (which
 * could not be re-serialised safely).
 */
export function decodeEnvelope(raw: string, receivedAt: number): BrokerMessage | PresenceEvent | string {
  const json = parseBoundedJson(raw, MAX_ENVELOPE_DEPTH);
  if (!json.ok) return json.problem;
  const parsed = json.value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  const envelope = parsed as { data?: unknown; ts?: unknown; offset?: unknown; epoch?: unknown; event?: unknown; sub?: unknown; info?: unknown };
  if (envelope.event !== undefined) return decodeEvent(envelope);
  if (envelope.data === undefined) return 'no "data" field';
  const ts = typeof envelope.ts === 'number' && Number.isFinite(envelope.ts) && envelope.ts > 0 ? Math.floor(envelope.ts) : receivedAt;
  const data = JSON.stringify(envelope.data);
  // A history topic's message (published by herald_1_history_publish) carries both; a plain PUBLISH neither.
  if (envelope.offset === undefined && envelope.epoch === undefined) return { data, ts };
  if (!Number.isSafeInteger(envelope.offset) || (envelope.offset as number) < 1) return '"offset" is not a positive integer';
  if (typeof envelope.epoch !== 'string' || !EPOCH.test(envelope.epoch)) return '"epoch" is not 1 to 64 characters from A-Z a-z 0-9 _ -';
  return { data, ts, offset: envelope.offset as number, epoch: envelope.epoch };
}

/** Whether a decoded envelope is a presence event (herald_1_presence publishes them) rather than a message. */
export function isPresenceEvent(decoded: BrokerMessage | PresenceEvent): decoded is PresenceEvent {
  return 'event' in decoded;
}

/** `{"event":"join"|"leave","sub":"<sub>","info":<JSON>}`: what herald.lua publishes for presence. */
function decodeEvent(envelope: { event?: unknown; sub?: unknown; info?: unknown }): PresenceEvent | string {
  if (envelope.event !== 'join' && envelope.event !== 'leave') return '"event" is neither "join" nor "leave"';
  if (typeof envelope.sub !== 'string' || envelope.sub === '') return 'a presence event without "sub"';
  if (envelope.info !== undefined && (typeof envelope.info !== 'object' || envelope.info === null || Array.isArray(envelope.info))) return '"info" is not an object';
  return { event: envelope.event, sub: envelope.sub, info: envelope.info === undefined ? undefined : JSON.stringify(envelope.info) };
}
