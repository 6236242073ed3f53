/**
 * The decisions of recovery, as pure functions (no I/O, no clock, no
 * sockets), so that every edge case (duplicates, gaps, epochs, trimming,
 * expiry, limits) is a unit test (test/unit/recovery.test.ts). streams.ts does
 * what they decide.
 */

/** What a node does with a live message of a history topic, given the last offset it delivered. */
export type Arrival =
  /** The next offset: deliver it. */
  | 'deliver'
  /** Already delivered (a gap fill and the live stream overlapped): drop it. */
  | 'duplicate'
  /** Offsets were skipped (Redis pub/sub lost some): hold it and read the missing range first. */
  | 'gap'
  /** Another epoch: the stored stream was lost; the topic's subscribers must start over. */
  | 'reset'
  /** No offset (a plain PUBLISH by a backend): deliver live, outside the sequence. */
  | 'unsequenced';

export function sequence(last: number, epoch: string, message: { readonly offset?: number; readonly epoch?: string }): Arrival {
  if (message.offset === undefined) return 'unsequenced';
  if (message.epoch !== epoch) return 'reset';
  if (message.offset <= last) return 'duplicate';
  return message.offset === last + 1 ? 'deliver' : 'gap';
}

/** A client's `since`: resume after an offset of an epoch, or the last n stored messages. */
export type Since = { readonly offset: number; readonly epoch: string } | { readonly last: number };

/**
 * Recent messages of a topic the node holds: contiguous offsets ending at
 * `top` (the newest offset the node knows of, which may be ahead of what it
 * has delivered live), oldest first. `messages` may be empty (nothing stored).
 */
export interface Window<M extends { readonly offset: number; readonly ts: number }> {
  readonly epoch: string;
  readonly top: number;
  readonly messages: readonly M[];
}

export interface Plan<M> {
  readonly recovered: boolean;
  /** What to send after the ack, oldest first; empty when not recovered (never a partial replay of a gap). */
  readonly replay: readonly M[];
}

export interface Limits {
  /** HERALD_HISTORY_MAX_RECOVERY */
  readonly maxRecovery: number;
  /** Messages published before this (ms) are expired. */
  readonly oldestTs: number;
}

/**
 * Index of the first message still kept: expiry takes a prefix (as
 * herald_1_read does), so that what is kept is always contiguous even when
 * the clocks of the nodes that published disagree a little.
 */
export function firstKept<M extends { readonly ts: number }>(messages: readonly M[], oldestTs: number): number {
  let i = 0;
  while (i < messages.length && messages[i]!.ts < oldestTs) i++;
  return i;
}

export function planRecovery<M extends { readonly offset: number; readonly ts: number }>(since: Since, window: Window<M>, limits: Limits): Plan<M> {
  const kept = firstKept(window.messages, limits.oldestTs);
  const available = kept === 0 ? window.messages : window.messages.slice(kept);
  if ('last' in since) {
    const wanted = Math.min(since.last, limits.maxRecovery);
    const replay = available.length > wanted ? available.slice(available.length - wanted) : available;
    // Fewer than asked is still a full answer when the whole stream is there (it starts at offset 1).
    const whole = window.top === 0 || available[0]?.offset === 1;
    return { recovered: since.last <= limits.maxRecovery && (replay.length >= since.last || whole), replay };
  }
  const missing = window.top - since.offset;
  if (since.epoch !== window.epoch || missing < 0 || missing > limits.maxRecovery) return NOT_RECOVERED;
  if (missing === 0) return { recovered: true, replay: [] };
  const first = available[0]?.offset;
  // The message right after `since` must be there (not trimmed, not expired), and so every one up to top.
  if (first === undefined || first > since.offset + 1 || available[available.length - 1]!.offset !== window.top) return NOT_RECOVERED;
  return { recovered: true, replay: available.slice(since.offset + 1 - first) };
}

const NOT_RECOVERED: Plan<never> = Object.freeze({ recovered: false, replay: [] });
