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
