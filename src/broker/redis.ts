/**
 * Redis pub/sub broker: standalone, Sentinel, or Cluster with sharded pub/sub
 * (SSUBSCRIBE/SPUBLISH, so a message travels only to the shard owning its
 * channel instead of across the whole cluster bus).
 *
 * Each node subscribes only to the channels of topics its own clients hold
 * (the Hub decides which); there is never a pattern subscription, so a node
 * receives no traffic for topics nobody on it wants.
 *
 * Faults: commands fail fast while a connection is down (no offline queue),
 * which the callers turn into 503/`unavailable`. On reconnection the node
 * subscribes again to everything it still wants, without client action.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { BrokerConfig, HostPort } from '../config.js';
import { HeraldError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Broker, BrokerMessage, MessageHandler, StatusListener } from './broker.js';
import { channelFor, decodeEnvelope, encodeEnvelope } from './envelope.js';

type RedisBrokerConfig = Exclude<BrokerConfig, { kind: 'memory' }>;

/** Fail a publish rather than let an HTTP request hang on a Redis that accepts connections but does not answer. */
const COMMAND_TIMEOUT_MS = 3000;
/** Channels per SUBSCRIBE command when restoring subscriptions after a reconnect. */
const RESUBSCRIBE_CHUNK = 500;
/** At most one log line per this interval for undecodable messages. */
const INVALID_LOG_INTERVAL_MS = 10_000;

/** Reconnect quickly at first, then every second: the node stays up and not ready meanwhile. */
const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 5), 1000);

/** What differs between topologies: how to publish, subscribe and listen. */
interface Topology {
  publish(channel: string, payload: string): Promise<unknown>;
  subscribe(channels: string[]): Promise<unknown>;
  unsubscribe(channels: string[]): Promise<unknown>;
  /** Starts connecting; rejects if the first attempt fails (retries continue in the background). */
  connect(): Promise<unknown>;
  close(): Promise<void>;
}

export interface RedisBrokerEvents {
  /** Called for each message that is not a valid envelope (already logged, rate-limited). */
  readonly onInvalid?: () => void;
}

export class RedisBroker implements Broker {
  readonly kind: string;
  private readonly prefix: string;
  private readonly prefixLength: number;
  /** Topics the Hub wants, whatever the connection state: the truth restored after a reconnect. */
  private readonly wanted = new Set<string>();
  private topology: Topology | undefined;
  private onMessage: MessageHandler | undefined;
  private onStatus: StatusListener | undefined;
  private up = false;
  private upWaiters: (() => void)[] = [];
  private closed = false;
  private lastInvalidLog = 0;
  /** Subscriptions of the current event-loop turn, sent together (see subscribe). */
  private subscribeQueue: { topic: string; resolve: () => void; reject: (error: HeraldError) => void }[] = [];
  /** Publishes of the current event-loop turn, sent together (see publish). */
  private outbox: { channel: string; payload: string; resolve: () => void; reject: (error: HeraldError) => void }[] = [];

  constructor(
    private readonly config: RedisBrokerConfig,
    private readonly log: Logger,
    private readonly events: RedisBrokerEvents = {},
    private readonly connectionName = 'herald',
  ) {
    this.kind = config.kind === 'cluster' ? 'redis-cluster' : config.kind === 'sentinel' ? 'redis-sentinel' : 'redis';
    this.prefix = config.prefix;
    this.prefixLength = config.prefix.length + 1;
  }

  /**
   * Connects. Resolves once connected, or after `waitMs` with the broker still
   * down and retrying in the background: an unreachable Redis makes the node
   * unready, not dead, so that it recovers by itself when Redis comes back.
   */
  async start(onMessage: MessageHandler, onStatus: StatusListener, waitMs = 5000): Promise<void> {
    if (this.onMessage !== undefined) throw new Error('RedisBroker.start called twice');
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.topology = this.config.kind === 'cluster' ? this.clusterTopology(this.config) : this.singleTopology(this.config);
    this.topology.connect().catch((error: unknown) => {
      this.log.error({ err: error }, 'cannot connect to Redis yet; retrying in the background');
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.upWaiters.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (!this.up) this.log.warn({ waitedMs: waitMs }, 'Redis not reachable at startup: serving, not ready, retrying');
  }

  isUp(): boolean {
    return this.up && !this.closed;
  }

  /**
   * Subscriptions of one event-loop turn go out as one SUBSCRIBE with many
   * channels: when a drained node's clients reconnect here at once, thousands
   * of topics arrive within a few turns.
   */
  subscribe(topic: string): Promise<void> {
    if (!this.isUp()) return Promise.reject(new HeraldError('unavailable', 'Redis unavailable'));
    // Wanted from now on, so that a reconnect racing with this SUBSCRIBE restores it too.
    this.wanted.add(topic);
    return new Promise((resolve, reject) => {
      if (this.subscribeQueue.length === 0) setImmediate(this.sendSubscribes);
      this.subscribeQueue.push({ topic, resolve, reject });
    });
  }

  private readonly sendSubscribes = (): void => {
    const batch = this.subscribeQueue;
    this.subscribeQueue = [];
    const fail = (error: unknown): void => {
      for (const entry of batch) {
        // The Hub forgets a topic whose subscription failed; so does the broker.
        this.wanted.delete(entry.topic);
        entry.reject(new HeraldError('unavailable', `Redis subscribe failed: ${(error as Error).message}`, { cause: error }));
      }
    };
    if (this.closed) return fail(new Error('broker is closed'));
    this.topology!.subscribe(batch.map((entry) => channelFor(this.prefix, entry.topic))).then(() => {
      for (const entry of batch) entry.resolve();
    }, fail);
  };

  async unsubscribe(topic: string): Promise<void> {
    this.wanted.delete(topic);
    // A SUBSCRIBE still queued for this turn would otherwise reach Redis after this UNSUBSCRIBE.
    const queued = this.subscribeQueue.findIndex((entry) => entry.topic === topic);
    if (queued >= 0) {
      this.subscribeQueue.splice(queued, 1)[0]!.resolve();
      return;
    }
    // While down there is nothing to do: the resubscription after reconnect uses `wanted`.
    if (!this.isUp()) return;
    await this.topology!.unsubscribe([channelFor(this.prefix, topic)]);
  }

  /**
   * Queues the message and sends the turn's queue at setImmediate: every HTTP
   * request arrives in its own uWebSockets.js callback, so without this each
   * PUBLISH would be its own write; with it (and auto-pipelining) a turn's
   * publishes share one write and one round trip. Order is kept.
   */
  publish(topic: string, message: BrokerMessage): Promise<void> {
    if (!this.isUp()) return Promise.reject(new HeraldError('unavailable', 'Redis unavailable'));
    return new Promise((resolve, reject) => {
      if (this.outbox.length === 0) setImmediate(this.sendOutbox);
      this.outbox.push({ channel: channelFor(this.prefix, topic), payload: encodeEnvelope(message), resolve, reject });
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
      this.topology!.publish(entry.channel, entry.payload).then(entry.resolve, (error: unknown) =>
        entry.reject(new HeraldError('unavailable', `Redis publish failed: ${(error as Error).message}`, { cause: error })),
      );
    }
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.setUp(false);
    await this.topology?.close();
  }


  private setUp(up: boolean): void {
    if (this.up === up || (up && this.closed)) return;
    this.up = up;
    // Closing on purpose is not an outage: nobody is told the broker went down.
    if (!this.closed) this.onStatus?.(up);
    if (up) {
      for (const resolve of this.upWaiters.splice(0)) resolve();
    }
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
        this.log.warn({ channel, problem: message, sample: raw.slice(0, 200) }, 'dropped a Redis message that is not a Herald envelope (logged at most every 10 s)');
      }
      return;
    }
    this.onMessage!(topic, message);
  };

  /** Standalone and Sentinel: one connection publishes, one subscribes. */
  private singleTopology(config: Extract<RedisBrokerConfig, { kind: 'redis' | 'sentinel' }>): Topology {
    const common: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      // Herald restores subscriptions itself from `wanted`, so that topics abandoned while down are not revived.
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy,
    };
    const options: RedisOptions =
      config.kind === 'sentinel'
        ? {
            ...common,
            sentinels: config.sentinels.map(({ host, port }) => ({ host, port })),
            name: config.name,
            ...credentials(config),
            ...(config.password === undefined ? {} : { sentinelPassword: config.password }),
            ...(config.username === undefined ? {} : { sentinelUsername: config.username }),
            ...(config.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
            sentinelRetryStrategy: retryStrategy,
            failoverDetector: true,
          }
        : common;
    const make = (role: string, extra: RedisOptions = {}): Redis => {
      const named = { ...options, ...extra, connectionName: `${this.connectionName}:${role}` };
      return config.kind === 'redis' ? new Redis(config.url, named) : new Redis(named);
    };
    // Publishes issued in the same tick (an HTTP batch, a burst) share one write and one round trip; order is kept.
    const publisher = make('pub', { enableAutoPipelining: true });
    const subscriber = make('sub');
    // Subscriptions may only count as restored once SUBSCRIBE succeeded again, so the subscriber's readiness is ours to set.
    let subscriberReady = false;
    const refresh = (): void => this.setUp(publisher.status === 'ready' && subscriberReady);
    for (const client of [publisher, subscriber]) {
      client.on('error', (error: Error) => this.log.debug({ err: error.message }, 'Redis connection error'));
      client.on('close', () => {
        if (client === subscriber) subscriberReady = false;
        refresh();
      });
    }
    publisher.on('ready', refresh);
    subscriber.on('ready', () => {
      const topics = [...this.wanted];
      const chunks: Promise<unknown>[] = [];
      for (let i = 0; i < topics.length; i += RESUBSCRIBE_CHUNK) {
        chunks.push(subscriber.subscribe(...topics.slice(i, i + RESUBSCRIBE_CHUNK).map((topic) => channelFor(this.prefix, topic))));
      }
      Promise.all(chunks).then(
        () => {
          if (subscriber.status !== 'ready') return;
          if (topics.length > 0) this.log.info({ topics: topics.length }, 'Redis subscriptions restored');
          subscriberReady = true;
          refresh();
        },
        (error: unknown) => this.log.warn({ err: error }, 'restoring Redis subscriptions failed; will retry on the next reconnect'),
      );
    });
    subscriber.on('message', this.receive);

    return {
      publish: (channel, payload) => publisher.publish(channel, payload),
      subscribe: (channels) => subscriber.subscribe(...channels),
      unsubscribe: (channels) => subscriber.unsubscribe(...channels),
      connect: () => Promise.all([publisher.connect(), subscriber.connect()]),
      close: async () => {
        await Promise.allSettled([publisher.quit(), subscriber.quit()]);
        publisher.disconnect();
        subscriber.disconnect();
      },
    };
  }

  /** Cluster: ioredis keeps one subscriber connection per master and routes SSUBSCRIBE by hash slot. */
  private clusterTopology(config: Extract<RedisBrokerConfig, { kind: 'cluster' }>): Topology {
    const options: ClusterOptions = {
      lazyConnect: true,
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      shardedSubscribers: true,
      clusterRetryStrategy: retryStrategy,
      redisOptions: {
        ...credentials(config),
        ...(config.tls ? { tls: {} } : {}),
        connectionName: this.connectionName,
        commandTimeout: COMMAND_TIMEOUT_MS,
        maxRetriesPerRequest: 0,
      },
    };
    const cluster = new Cluster(
      config.nodes.map(({ host, port }: HostPort) => ({ host, port })),
      options,
    );
    cluster.on('error', (error: Error) => this.log.debug({ err: error.message }, 'Redis cluster error'));
    cluster.on('ready', () => this.setUp(true));
    cluster.on('close', () => this.setUp(false));
    cluster.on('end', () => this.setUp(false));
    cluster.on('smessage', this.receive);
    return {
      publish: (channel, payload) => cluster.spublish(channel, payload),
      // Channels of one SSUBSCRIBE must share a hash slot: one command per channel.
      subscribe: (channels) => Promise.all(channels.map((channel) => cluster.ssubscribe(channel))),
      unsubscribe: (channels) => Promise.all(channels.map((channel) => cluster.sunsubscribe(channel))),
      connect: () => cluster.connect(),
      close: async () => {
        await Promise.allSettled([cluster.quit()]);
        cluster.disconnect();
      },
    };
  }
}

function credentials(config: { username: string | undefined; password: string | undefined }): Pick<RedisOptions, 'username' | 'password'> {
  return {
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password }),
  };
}
