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
import type { Broker, BrokerMessage, MessageHandler, PublishOptions, StatusListener } from '../broker.js';
import { channelFor, decodeEnvelope, encodeEnvelope } from '../envelope.js';
import { RedisLink, type ShardState } from './connections.js';

type RedisBrokerConfig = Exclude<BrokerConfig, { kind: 'memory' }>;

/** At most one log line per this interval for undecodable messages. */
const INVALID_LOG_INTERVAL_MS = 10_000;

export interface RedisBrokerEvents {
  /** Called for each message that is not a valid envelope (already logged, rate-limited). */
  readonly onInvalid?: () => void;
}

interface Outgoing {
  readonly channel: string;
  readonly payload: string;
  readonly options: PublishOptions | undefined;
  readonly resolve: () => void;
  readonly reject: (error: HeraldError) => void;
}

export class RedisBroker implements Broker {
  readonly kind: string;
  private readonly prefix: string;
  private readonly prefixLength: number;
  private readonly link: RedisLink;
  private onMessage: MessageHandler | undefined;
  private lastInvalidLog = 0;
  /** Publishes of the current event-loop turn, sent together (see publish). */
  private outbox: Outgoing[] = [];
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
  async start(onMessage: MessageHandler, onStatus: StatusListener, waitMs = 5000): Promise<void> {
    if (this.onMessage !== undefined) throw new Error('RedisBroker.start called twice');
    this.onMessage = onMessage;
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
   * Queues the message and sends the turn's queue at setImmediate: every HTTP
   * request arrives in its own uWebSockets.js callback, so without this each
   * publish would be its own write; with it (and auto-pipelining) a turn's
   * publishes share one write and one round trip. Order is kept. A publish
   * whose requester went away before the turn's queue was sent is dropped.
   */
  publish(topic: string, message: BrokerMessage, options?: PublishOptions): Promise<void> {
    if (this.closed) return Promise.reject(new HeraldError('unavailable', 'broker is closed'));
    return new Promise((resolve, reject) => {
      if (this.outbox.length === 0) setImmediate(this.sendOutbox);
      this.outbox.push({ channel: channelFor(this.prefix, topic), payload: encodeEnvelope(message), options, resolve, reject });
    });
  }

  private readonly sendOutbox = (): void => {
    const batch = this.outbox;
    this.outbox = [];
    for (const entry of batch) {
      if (this.closed) {
        entry.reject(new HeraldError('unavailable', 'broker is closed'));
        continue;
      }
      if (entry.options?.cancelled?.() === true) {
        entry.reject(new HeraldError('unavailable', 'the request went away before the message was sent; not published'));
        continue;
      }
      this.link.publish(entry.channel, entry.payload).then(
        (published) => {
          if (published) entry.resolve();
          else entry.reject(new HeraldError('unavailable', 'Redis refused the publish: its deadline had passed; not published'));
        },
        (error: unknown) => entry.reject(new HeraldError('unavailable', `Redis publish failed: ${(error as Error).message}; not published`, { cause: error })),
      );
    }
  };

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
    this.onMessage!(topic, message);
  };
}
