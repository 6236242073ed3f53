/** The fuzz suite's only coupling to src/broker/envelope.ts. */
import { decodeEnvelope, encodeEnvelope } from '../../../src/broker/envelope.js';

export type EnvelopeOutcome = { ok: true; data: string; ts: number } | { ok: false; reason: unknown };

export function decode(raw: string, receivedAt: number): EnvelopeOutcome {
  const decoded = decodeEnvelope(raw, receivedAt);
  return typeof decoded === 'string' ? { ok: false, reason: decoded } : { ok: true, data: decoded.data, ts: decoded.ts };
}

/** `dataJson` is the message's data as JSON text, as the broker carries it. */
export const encode = (dataJson: string, ts: number): string => encodeEnvelope({ data: dataJson, ts });
