/**
 * Per-topic history: what makes a reconnecting client receive exactly what
 * it missed (docs/protocol.md, "History and recovery").
 *
 * A topic that matches HERALD_HISTORY is a *history topic*. Every message on
 * it gets an *offset*, 1, 2, 3, … within an *epoch*, a short string naming one
 * incarnation of the topic's stored stream; the epoch changes only when that
 * stream is lost (Redis flushed, or restarted without persistence, or the
 * position expired after HERALD_HISTORY_META_TTL of silence). The last `size`
 * messages, each for `ttl` seconds, are kept.
 *
 * Contract, checked for every implementation by test/contract/history.ts:
 * - `publish` assigns the next offset, stores the message and publishes it to
 *   the topic's subscribers on every node (the envelope carries offset and
 *   epoch) as one atomic step; it resolves with the position assigned, and
 *   with the original position, without publishing again, when the same
 *   idempotency key was used within the idempotency window. It rejects with
 *   HeraldError('unavailable') when nothing was stored or published.
 * - Offsets are contiguous from 1 within an epoch; `position` of a topic with
 *   no message yet is offset 0 and fixes the epoch that its first message will
 *   carry.
 * - `read` returns stored messages oldest first, with the position at the
 *   moment of the read (consistent with the messages: nothing between them);
 *   trimmed (beyond `size`) and expired (older than `ttl`) messages are gone.
 * - Implementations beside the broker they belong to: memory.ts with the
 *   MemoryBroker, redis.ts with the RedisBroker's connections.
 */
import { randomBytes } from 'node:crypto';
import type { HistoryConfig } from '../config.js';
import type { BrokerMessage, PublishOptions } from '../broker/broker.js';
import { matchPattern } from '../protocol/topics.js';

export interface StreamPosition {
  /** The offset of the topic's newest message; 0 before the first. */
  readonly offset: number;
  readonly epoch: string;
}

export interface StoredMessage {
  readonly offset: number;
  /** The payload, JSON text. */
  readonly data: string;
  readonly ts: number;
}

export interface HistoryPolicy {
  readonly size: number;
  readonly ttlMs: number;
  /** How long the position (epoch, top offset) outlives the last publish. */
  readonly metaTtlMs: number;
}

/** Which stored messages to read. */
export type HistoryQuery =
  | { readonly after: number; readonly limit: number }
  | { readonly last: number };

export interface HistoryPage {
  /** The topic's position when it was read. */
  readonly position: StreamPosition;
  /** Oldest first; only messages not trimmed and not expired. */
  readonly messages: readonly StoredMessage[];
}

export interface PublishedPosition extends StreamPosition {
  /** True when the idempotency key had been used: nothing was published this time. */
  readonly duplicate: boolean;
}


export interface History {
  publish(topic: string, message: BrokerMessage, policy: HistoryPolicy, options?: PublishOptions): Promise<PublishedPosition>;
  position(topic: string, policy: HistoryPolicy): Promise<StreamPosition>;
  read(topic: string, policy: HistoryPolicy, query: HistoryQuery): Promise<HistoryPage>;
}

/** HERALD_HISTORY compiled: the policy of a topic, first matching rule wins. */
export class HistoryPolicies {
  private readonly cache = new Map<string, HistoryPolicy | null>();

  constructor(private readonly config: HistoryConfig) {}

  get enabled(): boolean {
    return this.config.rules.length > 0;
  }

  get maxRecovery(): number {
    return this.config.maxRecovery;
  }

  /** The topic's policy, or undefined when it has no history. */
  of(topic: string): HistoryPolicy | undefined {
    if (this.config.rules.length === 0) return undefined;
    const cached = this.cache.get(topic);
    if (cached !== undefined) return cached ?? undefined;
    let found: HistoryPolicy | null = null;
    for (const rule of this.config.rules) {
      if (matchPattern(rule.pattern, topic, '')) {
        found = { size: rule.size, ttlMs: rule.ttlSeconds * 1000, metaTtlMs: this.config.metaTtlSeconds * 1000 };
        break;
      }
    }
    // Bounded: topics are attacker-chosen strings.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(topic, found);
    return found ?? undefined;
  }
}

/** A new epoch: short, opaque, unlikely to repeat (48 random bits). */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

export { EPOCH } from '../broker/broker.js';
