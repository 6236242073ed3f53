/**
 * Token bucket for client frames: `rate` frames per second on average, bursts
 * of up to `burst`. The state lives in three numbers on the connection, so an
 * idle connection costs no timer and no extra object.
 */
export interface BucketState {
  tokens: number;
  refilledAt: number;
}

export function takeToken(state: BucketState, nowMs: number, rate: number, burst: number): boolean {
  if (rate === 0) return true;
  const elapsed = nowMs - state.refilledAt;
  if (elapsed > 0) {
    state.tokens = Math.min(burst, state.tokens + (elapsed * rate) / 1000);
    state.refilledAt = nowMs;
  }
  if (state.tokens < 1) return false;
  state.tokens -= 1;
  return true;
}

/** How long refused frames are remembered when deciding to close a flooding connection. */
export const STRIKE_WINDOW_MS = 10_000;
/** At most one `rate_limited` error frame per this interval: a flood must not be answered frame for frame. */
export const REFUSAL_REPLY_INTERVAL_MS = 1000;

/** Counts of refused frames, kept on the connection (flat numbers, like the bucket). */
export interface StrikeState {
  strikes: number;
  /** When the current strike window began. */
  strikesSince: number;
  /** When the last `rate_limited` error frame was sent. */
  repliedAt: number;
}

export type Refusal = 'close' | 'reply' | 'silent';

/**
 * What to do with a frame the bucket refused. A connection whose refusals
 * reach `closeAfter` within STRIKE_WINDOW_MS is closed (4029): a sustained
 * flood always gets there, however evenly it is paced, because refill never
 * resets the count; a bursty client that is refused now and then starts a
 * fresh window and is never cut off. Otherwise the first refusal of each
 * second is answered and the rest are dropped silently.
 */
export function refuse(state: StrikeState, nowMs: number, closeAfter: number): Refusal {
  if (nowMs - state.strikesSince >= STRIKE_WINDOW_MS) {
    state.strikesSince = nowMs;
    state.strikes = 0;
  }
  if (++state.strikes >= closeAfter) return 'close';
  if (nowMs - state.repliedAt < REFUSAL_REPLY_INTERVAL_MS) return 'silent';
  state.repliedAt = nowMs;
  return 'reply';
}
