/**
 * Reconnect delays. Exponential backoff with full jitter above a floor:
 * attempt n (0 for the first retry) waits a uniformly random time between
 * `minMs` and min(`maxMs`, `minMs`·2^(n+1)), so that clients cut off together
 * (a node drain, a network blip) do not come back together.
 */
import type { CloseAction } from './close-codes.js';

export interface Delays {
  readonly minMs: number;
  readonly maxMs: number;
}

/** A drained node's clients come back spread over this window. */
export const SOON_MS = 1000;

export function backoff(attempt: number, { minMs, maxMs }: Delays, random: () => number = Math.random): number {
  const cap = Math.max(minMs, Math.min(maxMs, minMs * 2 ** (attempt + 1)));
  return minMs + random() * (cap - minMs);
}

/** How long to wait before reconnecting after a close that calls for `action`. */
export function reconnectDelay(action: CloseAction, attempt: number, delays: Delays, random: () => number = Math.random): number {
  switch (action) {
    case 'soon':
      return random() * SOON_MS;
    case 'long':
      return (delays.maxMs / 2) * (1 + random());
    case 'token':
      // A first 4001 after a good connection is an expired token: a fresh one is fetched at once. A repeated one backs off.
      return attempt === 0 ? 0 : backoff(attempt, delays, random);
    default:
      return backoff(attempt, delays, random);
  }
}
