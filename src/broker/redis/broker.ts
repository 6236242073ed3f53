/**
 * Redis pub/sub broker: standalone, Sentinel, or Cluster with sharded pub/sub
 * (SSUBSCRIBE/SPUBLISH, so a message travels only to the shard owning its
 * channel instead of across the whole cluster bus).
 *
 * Each node subscribes only to the channels of topics its own clients hold
 * (the Hub decides which); there is never a pattern subscription, so a node
 * receives no traffic for topics nobody on it wants. Connections, health
 * probes and restoring subscriptions after a reconnect are the link's
 * business (connections.ts); this module speaks topics and envelopes.
 *
 * Faults: publishes fail fast while the topic's shard cannot take commands
 * (no offline queue), which the callers turn into 503/`unavailable`; a publish
 * Redis does not acknowledge in time is answered the same and refused by Redis
 * after its deadline, so it is never delivered later.
 */
import type { BrokerConfig } from '../../config.js';
import { HeraldError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { IDEMPOTENCY_WINDOW_MS, type Broker, type BrokerMessage, type EventHandler, type MessageHandler, type PublishOptions, type StatusListener } from '../broker.js';
import { channelFor, decodeEnvelope, encodeEnvelope, isPresenceEvent } from '../envelope.js';
import { CancelledError, RedisLink, routingKeyOf, type ShardState } from './connections.js';
import { FUNCTIONS } from './library.js';

/** The idempotency record of a publish: in the channel's slot, beside the topic's other keys. */
export function idempotencyKeyOf(channel: string, key: string): string {
  return `${routingKeyOf(channel)}:i:${key}`;
}

type RedisBrokerConfig = Exclude<BrokerConfig, { kind: 'memory' }>;

/** At most one log line per this interval for undecodable messages. */
const INVALID_LOG_INTERVAL_MS = 10_000;

export interface RedisBrokerEvents {
  /** Called for each message that is not a valid envelope (already logged, rate-limited). */
  readonly onInvalid?: () => void;
}

export class RedisBroker implements Broker {
  readonly kind: string;
  private readonly prefix: string;
  private readonly prefixLength: number;
  private readonly link: RedisLink;
  private onMessage: MessageHandler | undefined;
  private onEvent: EventHandler | undefined;
  private lastInvalidLog = 0;
  private closed = false;

  constructor(
    config: RedisBrokerConfig,
    private readonly log: Logger,
    private readonly events: RedisBrokerEvents = {},
    connectionName = 'herald',
  ) {
    this.kind = config.kind === 'cluster' ? 'redis-cluster' : config.kind === 'sentinel' ? 'redis-sentinel' : 'redis';
    this.prefix = config.prefix;
    this.prefixLength = config.prefix.length + 1;
    this.link = new RedisLink(config, log, connectionName);
  }

  /**
   * Connects. Resolves once up, or after `waitMs` with the broker still down
   * and retrying in the background: an unreachable Redis makes the node
   * unready, not dead, so that it recovers by itself when Redis comes back.
   * Rejects only for a Redis Herald cannot use (older than 7.0).
   */
  async start(onMessage: MessageHandler, onStatus: StatusListener, onEvent?: EventHandler, waitMs = 5000): Promise<void> {
    if (this.onMessage !== undefined) throw new Error('RedisBroker.start called twice');
    this.onMessage = onMessage;
    this.onEvent = onEvent;
    await this.link.start({ onMessage: this.receive, onStatus }, waitMs);
  }

  isUp(): boolean {
    return !this.closed && this.link.isUp();
  }

  /** Each shard's state, for the per-shard metric. */
  shards(): ShardState[] {
    return this.link.shardStates();
  }

  /**
   * Subscriptions of one event-loop turn go out together (one SUBSCRIBE with
   * many channels): when a drained node's clients reconnect here at once,
   * thousands of topics arrive within a few turns.
   */
  subscribe(topic: string): Promise<void> {
    if (this.closed) return Promise.reject(new HeraldError('unavailable', 'broker is closed'));
    return this.link.subscribe(channelFor(this.prefix, topic)).catch((error: unknown) => {
      throw new HeraldError('unavailable', `Redis subscribe failed: ${(error as Error).message}`, { cause: error });
    });
  }

  unsubscribe(topic: string): Promise<void> {
    return this.link.unsubscribe(channelFor(this.prefix, topic));
  }

  /**
   * One call of herald_1_publish (herald.lua), sent with the other publishes
   * of this event-loop turn (see RedisLink.enqueue). Order is kept.
   */
  publish(topic: string, message: BrokerMessage, options?: PublishOptions): Promise<boolean> {
    if (this.closed) return Promise.reject(new HeraldError('unavailable', 'broker is closed'));
    const channel = channelFor(this.prefix, topic);
    const keys = options?.idempotencyKey === undefined ? [routingKeyOf(channel)] : [routingKeyOf(channel), idempotencyKeyOf(channel, options.idempotencyKey)];
    return this.link.enqueue(channel, FUNCTIONS.publish, keys, [channel, encodeEnvelope(message), this.link.publishKind, IDEMPOTENCY_WINDOW_MS], options?.cancelled).then(
      (result) => {
        if (result === 0) throw new HeraldError('unavailable', 'Redis refused the publish: its deadline had passed; not published');
        return result !== 2;
      },
      (error: unknown) => {
        throw new HeraldError('unavailable', error instanceof CancelledError ? error.message : `Redis publish failed: ${(error as Error).message}; not published`, { cause: error });
      },
    );
  }

  /** The connections, for the history that lives beside this broker (src/history/redis.ts). */
  get connections(): RedisLink {
    return this.link;
  }

  get channelPrefix(): string {
    return this.prefix;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.link.close();
  }

  /** The message path: one envelope decode, then the Hub's single encode and fan-out. */
  private readonly receive = (channel: string, raw: string): void => {
    if (channel.length <= this.prefixLength || !channel.startsWith(this.prefix) || channel.charCodeAt(this.prefix.length) !== 58 /* : */) return;
    const topic = channel.slice(this.prefixLength);
    const message = decodeEnvelope(raw, Date.now());
    if (typeof message === 'string') {
      this.events.onInvalid?.();
      const now = Date.now();
      if (now - this.lastInvalidLog > INVALID_LOG_INTERVAL_MS) {
        this.lastInvalidLog = now;
        this.log.warn({ channel: channel.slice(0, 300), problem: message, sample: raw.slice(0, 200) }, 'dropped a Redis message that is not a Herald envelope (logged at most every 10 s)');
      }
      return;
    }
    if (isPresenceEvent(message)) this.onEvent?.(topic, message);
    else this.onMessage!(topic, message);
  };
}
