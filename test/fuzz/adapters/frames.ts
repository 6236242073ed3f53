/** The fuzz suite's only coupling to src/protocol/frames.ts: a signature change there costs a line here. */
import { decodeClientFrame, encodeMessage, encodeWelcome } from '../../../src/protocol/frames.js';

export type FrameOutcome =
  | { ok: true; frame: { type: string; id?: unknown; topic?: unknown; data?: unknown; token?: unknown; since?: unknown } }
  | { ok: false; id: unknown; code: string };

export function decodeFrame(bytes: Uint8Array, binary = false): FrameOutcome {
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  const decoded = decodeClientFrame(buffer, binary);
  return decoded.ok ? { ok: true, frame: decoded.frame } : { ok: false, id: decoded.id, code: decoded.code };
}

/** The `message` frame a subscriber receives for data published with a client frame (data serialised as the node does). */
export const deliveredFrame = (topic: string, data: unknown, ts: number): string => encodeMessage(topic, { data: JSON.stringify(data), ts });

export const welcomeFrame = (node: string, sub: string, exp: number | null): string => encodeWelcome(node, sub, exp);
