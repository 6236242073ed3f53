/**
 * The Broker carries messages between Herald nodes. Transports know nothing
 * of it and it knows nothing of clients: the Hub subscribes it to the topics
 * that local clients hold and hands whatever arrives to the local fan-out.
 *
 * Contract, checked for every implementation by test/contract/broker.ts:
 * - Delivery is at most once: a message published while a node is not
 *   subscribed to its topic, or while the broker is down, is not delivered to
 *   that node later.
 * - Messages published to one topic from one publisher arrive in publish order.
 * - A node receives messages only for topics it is subscribed to.
 * - `start` registers the message handler once; `subscribe` resolves only when
 *   messages published afterwards will be delivered.
 * - `subscribe`/`unsubscribe` are idempotent per topic (the Hub reference-counts
 *   local subscribers and calls them on the first and after the last).
 * - `publish` resolves when the broker has accepted the message and rejects
 *   with HeraldError('unavailable') when it cannot; a rejected message is
 *   never delivered, not even later.
 * - `close()` is idempotent and stops all delivery.
 */

/** A message as it travels between nodes. */
export interface BrokerMessage {
  /** The message's payload, already serialised as JSON text. */
  readonly data: string;
  /** Publish time in milliseconds since the epoch. */
  readonly ts: number;
  /** On history topics: the message's offset within its epoch (src/history/history.ts). */
  readonly offset?: number;
  readonly epoch?: string;
}

export type MessageHandler = (topic: string, message: BrokerMessage) => void;

/** A user's first connection to a presence topic arrived (join), or their last one left (leave), on any node. */
export interface PresenceEvent {
  readonly event: 'join' | 'leave';
  readonly sub: string;
  /** The user's `info` claim, JSON text, when their token had one. */
  readonly info: string | undefined;
}

export type EventHandler = (topic: string, event: PresenceEvent) => void;

export interface PublishOptions {
  /**
   * Checked just before the message leaves the node: true means the requester
   * went away (an HTTP connection closed) and the message must not be sent,
   * because nobody would learn that it was.
   */
  readonly cancelled?: () => boolean;
  /** A retried publish with the same key within the idempotency window (5 minutes) is not published again. */
  readonly idempotencyKey?: string;
}

/** What an epoch looks like, in an envelope or in a client's `since`. */
export const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;

/** How long an idempotency key is remembered. */
export const IDEMPOTENCY_WINDOW_MS = 5 * 60 * 1000;

/** One shard of the broker (a Redis master; the memory broker is one shard). */
export interface ShardHealth {
  /** 0, 1, …: a bounded label for metrics. */
  readonly index: number;
  readonly up: boolean;
}

/** Told whenever the broker's connection goes up or down. */
export type StatusListener = (up: boolean) => void;

export interface Broker {
  /** Short name for logs and metrics, such as "memory" or "redis". */
  readonly kind: string;
  /**
   * Registers the handlers and connects. A broker that cannot be reached yet
   * resolves anyway after a short wait, reports itself down and keeps
   * retrying: the node serves, unready, until it comes up.
   */
  start(onMessage: MessageHandler, onStatus: StatusListener, onEvent?: EventHandler): Promise<void>;
  /**
   * Whether messages flow: publishes and subscriptions can succeed on every
   * shard and subscribed messages actually arrive (what /readyz reports).
   */
  isUp(): boolean;
  /** Each shard's health, for herald_broker_shard_up. */
  shards(): readonly ShardHealth[];
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
  /** Resolves true when published, false when the idempotency key had been used (nothing published this time). */
  publish(topic: string, message: BrokerMessage, options?: PublishOptions): Promise<boolean>;
  close(): Promise<void>;
}
