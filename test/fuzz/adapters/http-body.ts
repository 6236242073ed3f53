/** The fuzz suite's only coupling to src/transport/http.ts's body parser. */
import { parsePublishBody } from '../../../src/transport/http.js';

export type BodyOutcome = { ok: true; messages: { topic: string; data: string; ts: number }[] } | { ok: false; code: string };

export function parseBody(body: Uint8Array, maxMessageSize: number, now: number): BodyOutcome {
  const parsed = parsePublishBody(Buffer.from(body), maxMessageSize, now);
  return parsed.ok ? { ok: true, messages: parsed.messages.map(({ topic, message }) => ({ topic, data: message.data, ts: message.ts })) } : { ok: false, code: parsed.code };
}
