/**
 * The Redis connections of one node, whatever the topology, and the truth
 * about whether messages flow through them.
 *
 * A *shard* is one Redis master with the channels it owns: standalone and
 * Sentinel have one, a Cluster one per master. Each shard has its own
 * subscriber connection (SUBSCRIBE, or SSUBSCRIBE for sharded pub/sub) owned by
 * Herald, so that it can be restored, and if need be replaced, on its own.
 * Commands (publishes, history reads) go over the publisher connection, or
 * over ioredis's Cluster, which routes them by key.
 *
 * A shard is *up* only when all of these hold, checked every second:
 * - its commands are answered: TIME within PROBE_TIMEOUT_MS (this also
 *   measures the Redis clock's offset, for publish deadlines);
 * - its subscriber is connected and every wanted channel is subscribed again
 *   after the last (re)connect;
 * - pub/sub really flows: the node publishes to a channel of its own on that
 *   shard and receives it back within PUBSUB_TIMEOUT_MS. When it does not
 *   (a subscriber wedged after a failover, a silently dropped subscription),
 *   the subscriber connection is replaced and the shard stays down until a
 *   probe comes back.
 * The node is up when every shard is (and, in a cluster, every slot has one).
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { BrokerConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import { FUNCTIONS, isFunctionMissing, loadLibrary, RedisTooOldError } from './library.js';

export type RedisBrokerConfig = Exclude<BrokerConfig, { kind: 'memory' }>;

/** How often every shard is probed. */
export const PROBE_INTERVAL_MS = 1000;
/** A TIME not answered within this marks the shard's commands down. */
export const PROBE_TIMEOUT_MS = 1000;
/** A pub/sub probe not received back within this marks the shard down and replaces its subscriber. */
export const PUBSUB_TIMEOUT_MS = 3000;
/** Beyond the publish deadline, how long to wait for Redis's answer before answering 503 (covers the reply's way back and clock-offset error). */
export const PUBLISH_REPLY_GRACE_MS = 500;
/** Any command without an answer by then is given up on. */
const COMMAND_BACKSTOP_MS = 10_000;
/** Channels per SUBSCRIBE when restoring a standalone subscriber. */
const RESUBSCRIBE_CHUNK = 500;

/** Reconnect quickly at first, then every second: the node stays up and not ready meanwhile. */
const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 5), 1000);

export interface LinkEvents {
  /** A message on a topic channel (never a probe). */
  readonly onMessage: (channel: string, raw: string) => void;
  /** The whole link went up or down. */
  readonly onStatus: (up: boolean) => void;
}

export interface ShardState {
  /** Position in slot order: a bounded label for metrics. */
  readonly index: number;
  readonly address: string;
  readonly up: boolean;
}

interface Shard {
  readonly key: string;
  readonly subscriber: Redis;
  /** Wanted channels this shard owns. */
  readonly channels: Set<string>;
  /** Every wanted channel is subscribed since the subscriber's last connect. */
  restored: boolean;
  restoredAt: number;
  commandsOk: boolean;
  commandsOkSince: number;
  probing: boolean;
  /** Redis clock minus local clock, in ms. */
  offsetMs: number;
  readonly probeChannel: string;
  readonly probeRoutingKey: string;
  probeSeq: number;
  /** Probes sent and not received back yet: sequence → send time. */
  readonly pendingProbes: Map<number, number>;
  /** Send time of the newest probe received back. */
  lastProbeBack: number;
  up: boolean;
  /** (S)SUBSCRIBEs of the current event-loop turn. */
  queue: { channel: string; resolve: () => void; reject: (error: Error) => void }[];
  closed: boolean;
}

interface OutgoingCall {
  readonly channel: string;
  readonly fn: string;
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
  readonly cancelled: (() => boolean) | undefined;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The requester went away before the call was sent: nothing was published. */
export class CancelledError extends Error {
  constructor() {
    super('the request went away before the message was sent; not published');
    this.name = 'CancelledError';
  }
}

interface ClusterCall {
  readonly fn: string;
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** A command's routing key: hash-tagged like `channel`, so that a cluster runs it where the channel lives. */
export function routingKeyOf(channel: string): string {
  return `{${channel}}`;
}

export class RedisLink {
  private readonly cluster: Cluster | undefined;
  private readonly publisher: Redis | undefined;
  private readonly shards = new Map<string, Shard>();
  /** Every wanted channel, whatever the shards' state: what is restored after a reconnect or a topology change. */
  private readonly wanted = new Set<string>();
  private readonly probePrefix: string;
  private readonly subscribeCommand: 'subscribe' | 'ssubscribe';
  private readonly unsubscribeCommand: 'unsubscribe' | 'sunsubscribe';
  private readonly loaded = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private up = false;
  private closed = false;
  private fatal: Error | undefined;
  private events: LinkEvents | undefined;
  /** Publishing calls of the current turn (see enqueue). */
  private outbox: OutgoingCall[] = [];
  /** FCALLs of the current turn, in a cluster (see fcall). */
  private clusterCalls: ClusterCall[] = [];
  /** Ends start()'s wait: called when the link comes up or cannot work at all. */
  private startWaiter: (() => void) | undefined;

  constructor(
    private readonly config: RedisBrokerConfig,
    private readonly log: Logger,
    private readonly connectionName: string,
  ) {
    // `#` never appears in a topic, so probe channels can never collide with a topic's channel.
    this.probePrefix = `${config.prefix}#probe:${connectionName}:${randomBytes(3).toString('hex')}`;
    const sharded = config.kind === 'cluster';
    this.subscribeCommand = sharded ? 'ssubscribe' : 'subscribe';
    this.unsubscribeCommand = sharded ? 'sunsubscribe' : 'unsubscribe';
    if (config.kind === 'cluster') this.cluster = this.createCluster(config);
    else this.publisher = this.createPublisher(config);
  }

  /** Connects. Resolves once up, or after `waitMs` still down (retrying); rejects on a server Herald cannot use. */
  async start(events: LinkEvents, waitMs: number): Promise<void> {
    this.events = events;
    // Probed after the loop has read what arrived (see withTimeout): probe replies that came in during a
    // stall of this node's event loop are counted before anything is judged late.
    this.timer = setInterval(() => setImmediate(() => this.probeAll()), PROBE_INTERVAL_MS);
    this.timer.unref();
    const connecting = this.cluster !== undefined ? this.cluster.connect() : this.publisher!.connect();
    connecting.catch((error: unknown) => this.log.error({ err: error }, 'cannot connect to Redis yet; retrying in the background'));
    if (this.publisher !== undefined) this.addShard('main', this.createSubscriber());
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.startWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.startWaiter = undefined;
    if (this.fatal !== undefined) throw this.fatal;
    if (!this.up) this.log.warn({ waitedMs: waitMs }, 'Redis not reachable at startup: serving, not ready, retrying');
  }

  isUp(): boolean {
    return this.up && !this.closed;
  }

  shardStates(): ShardState[] {
    const shards = [...this.shards.values()];
    return shards.map((shard, index) => ({ index, address: shard.key, up: shard.up }));
  }

  /** Resolves once `channel` is subscribed on its shard; rejects at once when that shard is not up. */
  subscribe(channel: string): Promise<void> {
    const shard = this.shardOf(channel);
    if (shard === undefined || !shard.up || this.closed) return Promise.reject(new Error('Redis unavailable'));
    // Wanted from now on, so that a reconnect racing with this SUBSCRIBE restores it too.
    this.wanted.add(channel);
    shard.channels.add(channel);
    return new Promise((resolve, reject) => {
      if (shard.queue.length === 0) setImmediate(() => this.flushSubscribes(shard));
      shard.queue.push({ channel, resolve, reject });
    });
  }

  async unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    const shard = this.shardOf(channel);
    if (shard === undefined) return;
    shard.channels.delete(channel);
    // A SUBSCRIBE still queued for this turn would otherwise reach Redis after this UNSUBSCRIBE.
    const queued = shard.queue.findIndex((entry) => entry.channel === channel);
    if (queued >= 0) {
      shard.queue.splice(queued, 1)[0]!.resolve();
      return;
    }
    // While the subscriber is down there is nothing to do: the restore uses `channels`.
    if (!shard.restored) return;
    await shard.subscriber[this.unsubscribeCommand](channel);
  }

  /**
   * Queues a call of one of Herald's functions that publishes, to go out with
   * the other calls of this event-loop turn (every HTTP request arrives in its
   * own uWebSockets.js callback: without this each would be its own write).
   * At sending, each call gets a deadline: Redis refuses it once
   * `publishTimeoutMs` has passed by its own clock, so a call this node gave
   * up on (answered 503) can never take effect later. A call whose requester
   * went away before the turn's calls were sent (`cancelled`) is not sent.
   * Rejects when the channel's shard cannot take commands.
   */
  enqueue(channel: string, fn: string, keys: readonly string[], args: readonly (string | number)[], cancelled?: () => boolean): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('broker is closed'));
    return new Promise((resolve, reject) => {
      if (this.outbox.length === 0) setImmediate(this.sendOutbox);
      this.outbox.push({ channel, fn, keys, args, cancelled, resolve, reject });
    });
  }

  private readonly sendOutbox = (): void => {
    const batch = this.outbox;
    this.outbox = [];
    for (const call of batch) {
      if (this.closed) {
        call.reject(new Error('broker is closed'));
        continue;
      }
      if (call.cancelled?.() === true) {
        call.reject(new CancelledError());
        continue;
      }
      const shard = this.shardOf(call.channel);
      if (shard === undefined || !shard.commandsOk) {
        call.reject(new Error('Redis unavailable'));
        continue;
      }
      // herald.lua takes every deadline as ARGV[1]. Past the deadline plus a grace, Redis has refused the
      // call or its answer is lost: the caller answers 503, truthfully either way.
      const deadline = Math.ceil(Date.now() + shard.offsetMs + this.config.publishTimeoutMs);
      withTimeout(this.fcall(call.fn, call.keys, [deadline, ...call.args]), this.config.publishTimeoutMs + PUBLISH_REPLY_GRACE_MS).then(call.resolve, call.reject);
    }
  };

  /** Whether publishes use sharded pub/sub (SPUBLISH): the `kind` argument of herald.lua's publishing functions. */
  get publishKind(): 's' | 'p' {
    return this.cluster === undefined ? 'p' : 's';
  }

  /** A call of one of Herald's functions that does not publish (reads), routed by its first key. */
  read(fn: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('broker is closed'));
    return this.fcall(fn, keys, args);
  }

  private fcall(fn: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.cluster === undefined) return this.fcallDirect(this.publisher!, fn, keys, args);
    // ioredis's auto-pipelining groups cluster commands by their first argument, which for FCALL is the
    // function's name, not a key: so the calls of one turn are grouped per shard here instead.
    return new Promise((resolve, reject) => {
      if (this.clusterCalls.length === 0) process.nextTick(this.flushClusterCalls);
      this.clusterCalls.push({ fn, keys, args, resolve, reject });
    });
  }

  private readonly flushClusterCalls = (): void => {
    const calls = this.clusterCalls;
    this.clusterCalls = [];
    const cluster = this.cluster!;
    const groups = new Map<string, ClusterCall[]>();
    for (const call of calls) {
      const owner = cluster.slots[calculateSlot(call.keys[0] ?? '')]?.[0] ?? '';
      let group = groups.get(owner);
      if (group === undefined) groups.set(owner, (group = []));
      group.push(call);
    }
    for (const group of groups.values()) {
      const pipeline = cluster.pipeline();
      for (const call of group) pipeline.call('FCALL', call.fn, call.keys.length, ...call.keys, ...call.args);
      pipeline.exec().then(
        (results) => {
          group.forEach((call, i) => {
            const [error, result] = results?.[i] ?? [new Error('no reply'), undefined];
            if (error === null) call.resolve(result);
            else if (isFunctionMissing(error)) this.fcallDirect(cluster, call.fn, call.keys, call.args).then(call.resolve, call.reject);
            else call.reject(error);
          });
        },
        (error: unknown) => {
          for (const call of group) call.reject(error);
        },
      );
    }
  };

  private async fcallDirect(client: Redis | Cluster, fn: string, keys: readonly string[], args: readonly (string | number)[], retried = false): Promise<unknown> {
    try {
      return await client.call('FCALL', fn, keys.length, ...keys, ...args);
    } catch (error) {
      // A Redis restarted without persistence has lost the library: load it again once and retry.
      if (retried || !isFunctionMissing(error)) throw error;
      this.loaded.clear();
      await this.loadEverywhere();
      return this.fcallDirect(client, fn, keys, args, true);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.setUp(false);
    for (const call of this.outbox.splice(0)) call.reject(new Error('broker is closed'));
    const all: Redis[] = [...this.shards.values()].map((shard) => shard.subscriber);
    for (const shard of this.shards.values()) {
      shard.closed = true;
      for (const entry of shard.queue.splice(0)) entry.reject(new Error('broker is closed'));
    }
    await Promise.allSettled([...all.map((c) => c.quit()), this.cluster?.quit(), this.publisher?.quit()]);
    for (const client of all) client.disconnect();
    this.cluster?.disconnect();
    this.publisher?.disconnect();
  }

  // --- shards ----------------------------------------------------------------

  private shardOf(channel: string): Shard | undefined {
    if (this.cluster === undefined) return this.shards.get('main');
    const owner = this.cluster.slots[calculateSlot(channel)]?.[0];
    return owner === undefined ? undefined : this.shards.get(owner);
  }

  private addShard(key: string, subscriber: Redis): Shard {
    const tag = this.cluster === undefined ? '' : tagForShard(this.cluster, key);
    const probeChannel = this.cluster === undefined ? this.probePrefix : `${this.probePrefix}:{${tag}}`;
    const shard: Shard = {
      key,
      subscriber,
      channels: new Set(),
      restored: false,
      restoredAt: 0,
      commandsOk: false,
      commandsOkSince: 0,
      probing: false,
      offsetMs: 0,
      probeChannel,
      probeRoutingKey: this.cluster === undefined ? routingKeyOf(probeChannel) : `{${tag}}`,
      probeSeq: 0,
      pendingProbes: new Map(),
      lastProbeBack: -Infinity,
      up: false,
      queue: [],
      closed: false,
    };
    this.shards.set(key, shard);
    subscriber.on('error', (error: Error) => this.log.debug({ err: error.message, shard: key }, 'Redis subscriber error'));
    subscriber.on('close', () => {
      if (shard.restored && !shard.closed) this.log.warn({ shard: key }, 'Redis subscriber connection lost; reconnecting');
      shard.restored = false;
      this.evaluate();
    });
    subscriber.on('ready', () => this.restore(shard));
    const receive = (channel: string, raw: string): void => {
      if (channel === shard.probeChannel) this.probeReceived(shard, raw);
      else this.events?.onMessage(channel, raw);
    };
    subscriber.on(this.cluster === undefined ? 'message' : 'smessage', receive);
    subscriber.connect().catch(() => undefined);
    return shard;
  }

  private removeShard(shard: Shard): void {
    shard.closed = true;
    this.shards.delete(shard.key);
    for (const entry of shard.queue.splice(0)) entry.reject(new Error('the shard left the cluster'));
    shard.subscriber.disconnect();
  }

  /** After a (re)connect: subscribe every wanted channel of the shard again, then probe at once. */
  private restore(shard: Shard): void {
    const subscriber = shard.subscriber;
    this.resubscribe(shard).then(
      () => {
        if (subscriber.status !== 'ready' || shard.closed) return;
        if (shard.channels.size > 0) this.log.info({ shard: shard.key, channels: shard.channels.size }, 'Redis subscriptions restored');
        shard.restored = true;
        shard.restoredAt = Date.now();
        shard.pendingProbes.clear();
        this.probe(shard);
      },
      (error: unknown) => {
        this.log.warn({ err: error, shard: shard.key }, 'restoring Redis subscriptions failed; reconnecting the subscriber');
        if (!shard.closed && subscriber.status === 'ready') subscriber.disconnect(true);
      },
    );
  }

  /**
   * Subscribes the shard's wanted channels again, RESUBSCRIBE_CHUNK at a time,
   * each chunk after the last has been confirmed: every command's timeout then
   * measures its own round trip, so tens of thousands of channels over a slow
   * link restore instead of timing out behind each other. Channels given up
   * while the restore ran are unsubscribed at its end, so none is revived.
   */
  private async resubscribe(shard: Shard): Promise<void> {
    const subscriber = shard.subscriber;
    const channels = [shard.probeChannel, ...shard.channels];
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_CHUNK) {
      if (subscriber.status !== 'ready' || shard.closed) return;
      const chunk = channels.slice(i, i + RESUBSCRIBE_CHUNK);
      // Channels of one SSUBSCRIBE must share a slot: one command each, pipelined by the connection.
      if (this.cluster === undefined) await subscriber.subscribe(...chunk);
      else await Promise.all(chunk.map((channel) => subscriber.ssubscribe(channel)));
    }
    const abandoned = channels.filter((channel) => channel !== shard.probeChannel && !shard.channels.has(channel));
    for (let i = 0; i < abandoned.length; i += RESUBSCRIBE_CHUNK) {
      const chunk = abandoned.slice(i, i + RESUBSCRIBE_CHUNK);
      if (this.cluster === undefined) await subscriber.unsubscribe(...chunk);
      else await Promise.all(chunk.map((channel) => subscriber.sunsubscribe(channel)));
    }
  }

  private flushSubscribes(shard: Shard): void {
    const batch = shard.queue;
    shard.queue = [];
    if (batch.length === 0) return;
    const fail = (error: unknown): void => {
      for (const entry of batch) {
        // The Hub forgets a topic whose subscription failed; so does the link.
        this.wanted.delete(entry.channel);
        shard.channels.delete(entry.channel);
        entry.reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    if (shard.closed || !shard.restored) return fail(new Error('Redis subscriber not connected'));
    const channels = batch.map((entry) => entry.channel);
    const sent = this.cluster === undefined ? shard.subscriber.subscribe(...channels) : Promise.all(channels.map((channel) => shard.subscriber.ssubscribe(channel)));
    sent.then(() => {
      for (const entry of batch) entry.resolve();
    }, fail);
  }

  // --- probes ----------------------------------------------------------------

  private probeAll(): void {
    for (const shard of this.shards.values()) this.probe(shard);
    this.evaluate();
  }

  /** TIME on the shard's command connection, then (when its subscriber is restored) a pub/sub round trip. */
  private probe(shard: Shard): void {
    if (shard.probing || shard.closed) return;
    const client = this.commandClientOf(shard);
    // A cluster's connection to a master may still be lazily unconnected ('wait'); the TIME connects it.
    const usable = client !== undefined && (client.status === 'ready' || (this.cluster !== undefined && client.status === 'wait'));
    if (!usable || !this.loaded.has(shard.key)) {
      this.setCommandsOk(shard, false);
      return;
    }
    shard.probing = true;
    const sentAt = Date.now();
    withTimeout(client.call('TIME') as Promise<[string, string]>, PROBE_TIMEOUT_MS).then(
      ([seconds, micros]) => {
        shard.probing = false;
        const receivedAt = Date.now();
        shard.offsetMs = Number(seconds) * 1000 + Number(micros) / 1000 - (sentAt + receivedAt) / 2;
        this.setCommandsOk(shard, true);
        if (shard.restored) this.sendPubsubProbe(shard);
        this.evaluate();
      },
      () => {
        shard.probing = false;
        if (shard.commandsOk) this.log.warn({ shard: shard.key, timeoutMs: PROBE_TIMEOUT_MS }, 'Redis does not answer: not ready until it does');
        this.setCommandsOk(shard, false);
        this.evaluate();
      },
    );
  }

  private setCommandsOk(shard: Shard, ok: boolean): void {
    if (ok && !shard.commandsOk) {
      shard.commandsOkSince = Date.now();
      // Probes sent while commands were stuck say nothing about the subscriber.
      shard.pendingProbes.clear();
    }
    shard.commandsOk = ok;
  }

  private sendPubsubProbe(shard: Shard): void {
    const seq = ++shard.probeSeq;
    const sentAt = Date.now();
    shard.pendingProbes.set(seq, sentAt);
    const deadline = Math.ceil(sentAt + shard.offsetMs + PUBSUB_TIMEOUT_MS);
    const kind = this.cluster === undefined ? 'p' : 's';
    this.fcall(FUNCTIONS.publish, [shard.probeRoutingKey], [deadline, shard.probeChannel, `{"probe":${seq}}`, kind]).then(
      (published) => {
        // Refused as too late: the commands path was slow, not the subscriber.
        if (published !== 1) shard.pendingProbes.delete(seq);
      },
      () => shard.pendingProbes.delete(seq),
    );
  }

  private probeReceived(shard: Shard, raw: string): void {
    const seq = Number(/^\{"probe":(\d+)\}$/.exec(raw)?.[1]);
    const sentAt = shard.pendingProbes.get(seq);
    if (sentAt === undefined) return;
    for (const pending of shard.pendingProbes.keys()) if (pending <= seq) shard.pendingProbes.delete(pending);
    shard.lastProbeBack = Math.max(shard.lastProbeBack, sentAt);
    this.evaluate();
  }

  /** Recomputes every shard's state and the link's, and replaces wedged subscribers. */
  private evaluate(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const shard of this.shards.values()) {
      let oldestPending = Infinity;
      for (const sentAt of shard.pendingProbes.values()) oldestPending = Math.min(oldestPending, sentAt);
      const wedged = shard.restored && shard.commandsOk && now - oldestPending > PUBSUB_TIMEOUT_MS;
      if (wedged) {
        this.log.warn({ shard: shard.key, timeoutMs: PUBSUB_TIMEOUT_MS }, 'pub/sub probe not received back: replacing the subscriber connection; not ready meanwhile');
        shard.restored = false;
        shard.pendingProbes.clear();
        shard.subscriber.disconnect(true);
      }
      // At least one probe sent since the subscriber was restored and commands recovered has come back.
      const flowing = shard.restored && shard.lastProbeBack >= shard.restoredAt && shard.lastProbeBack >= shard.commandsOkSince;
      const up = shard.commandsOk && shard.restored && flowing && !wedged;
      if (up !== shard.up) {
        shard.up = up;
        if (this.cluster !== undefined) this.log[up ? 'info' : 'warn']({ shard: shard.key }, up ? 'Redis shard up' : 'Redis shard down');
      }
    }
    this.setUp(this.shards.size > 0 && [...this.shards.values()].every((shard) => shard.up) && this.slotsCovered());
  }

  private slotsCovered(): boolean {
    if (this.cluster === undefined) return true;
    const slots = this.cluster.slots;
    for (let slot = 0; slot < 16384; slot++) {
      const owner = slots[slot]?.[0];
      if (owner === undefined || !this.shards.has(owner)) return false;
    }
    return true;
  }

  private setUp(up: boolean): void {
    if (this.up === up || (up && this.closed)) return;
    this.up = up;
    if (up) this.startWaiter?.();
    // Closing on purpose is not an outage: nobody is told the broker went down.
    if (!this.closed) this.events?.onStatus(up);
  }

  // --- topology --------------------------------------------------------------

  private commandClientOf(shard: Shard): Redis | undefined {
    if (this.publisher !== undefined) return this.publisher;
    return this.cluster!.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === shard.key);
  }

  /** Loads the function library on every master that does not have it yet from this node. */
  private async loadEverywhere(): Promise<void> {
    const targets: [string, Redis][] = this.publisher !== undefined
      ? [['main', this.publisher]]
      : this.cluster!.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]);
    await Promise.all(
      targets
        .filter(([key]) => !this.loaded.has(key))
        .map(async ([key, client]) => {
          try {
            await loadLibrary(client);
            this.loaded.add(key);
          } catch (error) {
            if (error instanceof RedisTooOldError) {
              this.log.fatal({ shard: key }, error.message);
              this.fatal ??= error;
              this.startWaiter?.();
            } else {
              this.log.warn({ err: error, shard: key }, 'loading Herald\'s Redis functions failed; retrying');
            }
          }
        }),
    );
  }

  private redisOptions(): RedisOptions {
    const config = this.config;
    const credentials = config.kind === 'redis' ? {} : {
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(config.tls ? { tls: {} } : {}),
    };
    return {
      lazyConnect: true,
      enableOfflineQueue: false,
      // Herald restores subscriptions itself, so that channels abandoned while down are not revived.
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      // A backstop for commands nothing else bounds (subscribes, function loads, reads). Publishes have their
      // own, shorter timeout (see enqueue), which never takes a reply that arrived for a missing one.
      commandTimeout: COMMAND_BACKSTOP_MS,
      retryStrategy,
      ...credentials,
    };
  }

  private createPublisher(config: Extract<RedisBrokerConfig, { kind: 'redis' | 'sentinel' }>): Redis {
    const publisher = this.createSingle(config, 'pub', { enableAutoPipelining: true });
    publisher.on('error', (error: Error) => this.log.debug({ err: error.message }, 'Redis connection error'));
    publisher.on('ready', () => {
      this.loaded.clear();
      void this.loadEverywhere().then(() => {
        const shard = this.shards.get('main');
        if (shard !== undefined) this.probe(shard);
      });
    });
    publisher.on('close', () => {
      this.loaded.clear();
      const shard = this.shards.get('main');
      if (shard !== undefined) this.setCommandsOk(shard, false);
      this.evaluate();
    });
    return publisher;
  }

  private createSubscriber(): Redis {
    const config = this.config as Extract<RedisBrokerConfig, { kind: 'redis' | 'sentinel' }>;
    return this.createSingle(config, 'sub', {});
  }

  private createSingle(config: Extract<RedisBrokerConfig, { kind: 'redis' | 'sentinel' }>, role: string, extra: RedisOptions): Redis {
    const options: RedisOptions = { ...this.redisOptions(), ...extra, connectionName: `${this.connectionName}:${role}` };
    if (config.kind === 'redis') return new Redis(config.url, options);
    return new Redis({
      ...options,
      sentinels: config.sentinels.map(({ host, port }) => ({ host, port })),
      name: config.name,
      ...(config.password === undefined ? {} : { sentinelPassword: config.password }),
      ...(config.username === undefined ? {} : { sentinelUsername: config.username }),
      ...(config.tls ? { enableTLSForSentinelMode: true } : {}),
      sentinelRetryStrategy: retryStrategy,
      failoverDetector: true,
    });
  }

  private createCluster(config: Extract<RedisBrokerConfig, { kind: 'cluster' }>): Cluster {
    const { lazyConnect: _lazy, autoResubscribe: _auto, retryStrategy: _retry, enableOfflineQueue: _offline, ...nodeOptions } = this.redisOptions();
    const options: ClusterOptions = {
      lazyConnect: true,
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      // Failovers and resharding are noticed within this even when no command is redirected.
      slotsRefreshInterval: 5000,
      redisOptions: { ...nodeOptions, connectionName: this.connectionName },
    };
    const cluster = new Cluster(config.nodes.map(({ host, port }) => ({ host, port })), options);
    cluster.on('error', (error: Error) => this.log.debug({ err: error.message }, 'Redis cluster error'));
    cluster.on('ready', () => this.syncShards());
    cluster.on('refresh', () => this.syncShards());
    cluster.on('-node', (node: Redis) => {
      this.loaded.delete(`${node.options.host}:${node.options.port}`);
      this.evaluate();
    });
    cluster.on('close', () => {
      this.loaded.clear();
      for (const shard of this.shards.values()) this.setCommandsOk(shard, false);
      this.evaluate();
    });
    return cluster;
  }

  /** Cluster topology (re)read: one shard per master, wanted channels moved to their current owners. */
  private syncShards(): void {
    if (this.closed || this.cluster === undefined) return;
    const owners = new Set<string>();
    for (const entry of this.cluster.slots) if (entry?.[0] !== undefined) owners.add(entry[0]);
    for (const shard of [...this.shards.values()]) if (!owners.has(shard.key)) this.removeShard(shard);
    const config = this.config as Extract<RedisBrokerConfig, { kind: 'cluster' }>;
    // Slot order gives shards stable, bounded indexes for the metric.
    const ordered = [...owners].sort((a, b) => firstSlot(this.cluster!, a) - firstSlot(this.cluster!, b));
    for (const key of ordered) {
      if (this.shards.has(key)) continue;
      const [host, port] = splitHostPort(key);
      this.addShard(key, new Redis({ ...this.redisOptions(), host, port, connectionName: `${this.connectionName}:sub`, ...(config.tls ? { tls: {} } : {}) }));
    }
    // Keep the map in slot order.
    const shards = ordered.map((key) => this.shards.get(key)!);
    this.shards.clear();
    for (const shard of shards) this.shards.set(shard.key, shard);
    // Channels whose slot moved follow it.
    for (const channel of this.wanted) {
      const owner = this.shardOf(channel);
      for (const shard of this.shards.values()) {
        if (shard === owner || !shard.channels.delete(channel)) continue;
        if (shard.restored) shard.subscriber.sunsubscribe(channel).catch(() => undefined);
      }
      if (owner !== undefined && !owner.channels.has(channel)) {
        owner.channels.add(channel);
        if (owner.restored) owner.subscriber.ssubscribe(channel).catch(() => undefined);
      }
    }
    void this.loadEverywhere().then(() => this.probeAll());
  }
}

function firstSlot(cluster: Cluster, key: string): number {
  const index = cluster.slots.findIndex((entry) => entry?.[0] === key);
  return index < 0 ? Infinity : index;
}

function splitHostPort(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

/** A hash tag whose slot belongs to the shard `key`, so that its probe channel lives there. */
function tagForShard(cluster: Cluster, key: string): string {
  for (let i = 0; i < 100_000; i++) {
    const tag = `p${i}`;
    if (cluster.slots[calculateSlot(tag)]?.[0] === key) return tag;
  }
  return 'p0';
}

/**
 * Rejects when `promise` has not settled `ms` after the call. The verdict
 * waits until the event loop has read what arrived meanwhile (a setImmediate
 * runs after the poll phase): when this node's own event loop was blocked
 * (a reconnect storm), the timer fires first, and the answer that did arrive
 * in time must not be mistaken for a Redis that does not answer.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => setImmediate(() => {
      if (!settled) reject(new Error(`no answer within ${ms} ms`));
    }), ms);
    promise.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

