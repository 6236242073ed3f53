/** The fuzz suite's only coupling to src/broker/envelope.ts. */
import { decodeEnvelope, encodeEnvelope } from '../../../src/broker/envelope.js';

export type EnvelopeOutcome = { ok: true; data: string; ts: number } | { ok: 'presence'; event: string; sub: string; info: string | undefined } | { ok: false; reason: unknown };

export function decode(raw: string, receivedAt: number): EnvelopeOutcome {
  const decoded = decodeEnvelope(raw, receivedAt);
  if (typeof decoded === 'string') return { ok: false, reason: decoded };
  return 'event' in decoded ? { ok: 'presence', event: decoded.event, sub: decoded.sub, info: decoded.info } : { ok: true, data: decoded.data, ts: decoded.ts };
}

/** `dataJson` is the message's data as JSON text, as the broker carries it. */
export const encode = (dataJson: string, ts: number): string => encodeEnvelope({ data: dataJson, ts });
