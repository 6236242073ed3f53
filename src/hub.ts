/**
 * The Hub joins local subscriptions to the broker.
 *
 * uWebSockets.js keeps the sockets of each topic (its TopicTree, in C++) and
 * reports when a topic gains its first or loses its last local subscriber;
 * the Hub turns those edges into broker subscriptions, with a linger so that
 * a topic whose last subscriber reconnects at once is not unsubscribed and
 * resubscribed. Messages from the broker are encoded once and handed to
 * uWebSockets.js, which copies the same bytes to every subscriber: nothing
 * here loops over subscribers.
 *
 * History topics (HERALD_HISTORY) get a TopicStream (history/streams.ts)
 * beside their state: it sequences their live messages by offset and serves
 * sockets that recover; the Hub only routes to it. A topic is held while
 * uWebSockets.js has subscribers for it or its stream is serving sockets that
 * have not joined yet.
 */
import type { Broker, BrokerMessage, PresenceEvent } from './broker/broker.js';
import type { History, HistoryPolicies } from './history/history.js';
import type { Since } from './history/recovery.js';
import { TopicStream, type JoinedSocket, type StreamHost, type Subscriber } from './history/streams.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { encodeMessage, encodePresenceEvent } from './protocol/frames.js';

/** The part of uWebSockets.js's app the Hub needs: its C++ fan-out. */
export interface Fanout {
  /** Sends `frame` as a text frame to every local socket subscribed to `topic`. */
  publish(topic: string, frame: string): unknown;
  numSubscribers(topic: string): number;
}

/** History, for the Hub's history topics. */
export interface HubHistory {
  readonly history: History;
  readonly policies: HistoryPolicies;
  /** Visits every local socket joined to a topic (resets only: rare, so walking sockets is fine). */
  readonly forEachJoined: (topic: string, visit: (socket: JoinedSocket) => void) => void;
}

interface TopicState {
  /** Pending broker subscription; undefined once it has succeeded. */
  pending: Promise<void> | undefined;
  linger: NodeJS.Timeout | undefined;
  readonly stream: TopicStream | undefined;
}

/** How often streams forget gone sockets and cool their windows. */
const STREAM_TICK_MS = 1000;

export class Hub implements StreamHost {
  private readonly topics = new Map<string, TopicState>();
  /** Local topics with at least one subscriber (the Map above also holds lingering ones). */
  private localTopics = 0;
  private readonly streams = new Set<TopicStream>();
  private readonly publishedFromBroker;
  private readonly noSubscribers;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly broker: Broker,
    private readonly fanout: Fanout,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly lingerMs: number,
    private readonly withHistory?: HubHistory & { readonly maxRecovery: number },
  ) {
    this.publishedFromBroker = metrics.published.labels({ source: 'broker' });
    this.noSubscribers = metrics.dropped.labels({ reason: 'no_subscribers' });
    if (withHistory?.policies.enabled === true) {
      this.timer = setInterval(() => {
        for (const stream of this.streams) stream.tick();
      }, STREAM_TICK_MS);
      this.timer.unref();
    }
  }

  /**
   * Makes sure the broker delivers `topic` to this node. Returns undefined when
   * it already does, else a promise that settles when the broker subscription
   * does; on failure the caller rolls its local subscription back.
   */
  ensure(topic: string): Promise<void> | undefined {
    const state = this.topics.get(topic);
    if (state !== undefined) {
      if (state.linger !== undefined) {
        clearTimeout(state.linger);
        state.linger = undefined;
      }
      return state.pending;
    }
    const policy = this.withHistory?.policies.of(topic);
    const stream = policy === undefined ? undefined : new TopicStream(topic, policy, { history: this.withHistory!.history, host: this, metrics: this.metrics, log: this.log, maxRecovery: this.withHistory!.maxRecovery });
    const fresh: TopicState = { pending: undefined, linger: undefined, stream };
    if (stream !== undefined) this.streams.add(stream);
    this.topics.set(topic, fresh);
    fresh.pending = this.broker.subscribe(topic).then(
      () => {
        fresh.pending = undefined;
        // Subscribed first, then the position: nothing published in between can be missed.
        fresh.stream?.sync();
      },
      (error: unknown) => {
        // Forget the topic so that the next subscriber tries again.
        if (this.topics.get(topic) === fresh) this.forget(topic, fresh);
        throw error;
      },
    );
    // Waiters get the rejection; this handler only keeps it from being reported as unhandled.
    fresh.pending.catch(() => undefined);
    return fresh.pending;
  }

  /** Whether `topic` is a history topic. */
  hasHistory(topic: string): boolean {
    return this.withHistory?.policies.of(topic) !== undefined;
  }

  /**
   * A socket subscribes to a history topic: its stream acknowledges it with
   * the position, recovers it from `since` when asked, and joins it to the
   * fan-out once it is level with the live stream.
   */
  subscribeHistory(topic: string, subscriber: Subscriber, since: Since | undefined): void {
    const pending = this.ensure(topic);
    const stream = this.topics.get(topic)?.stream;
    if (stream === undefined) {
      subscriber.fail('not a history topic');
      return;
    }
    // The stream waits for the broker subscription (its sync comes after it); if that fails, forget()
    // closes the stream, which fails its pending subscribers.
    void pending;
    stream.subscribe(subscriber, since);
  }

  /** The position a socket already joined to a history topic is at. */
  positionOf(topic: string): { offset: number; epoch: string } | undefined {
    return this.topics.get(topic)?.stream?.position();
  }

  /** The first local subscriber of `topic` arrived (uWebSockets.js subscription count 0 → 1). */
  topicGained(topic: string): void {
    this.localTopics++;
    void this.ensure(topic);
  }

  /** The last local subscriber of `topic` left (count 1 → 0). */
  topicLost(topic: string): void {
    this.localTopics--;
    this.maybeRelease(topic);
  }

  /** A stream has no socket in progress any more (StreamHost). */
  idle(topic: string): void {
    if (this.fanout.numSubscribers(topic) === 0) this.maybeRelease(topic);
  }

  private maybeRelease(topic: string): void {
    const state = this.topics.get(topic);
    if (state === undefined || state.linger !== undefined || state.stream?.busy === true) return;
    if (this.lingerMs === 0) {
      this.release(topic, state);
      return;
    }
    state.linger = setTimeout(() => {
      state.linger = undefined;
      if (this.fanout.numSubscribers(topic) === 0 && state.stream?.busy !== true) this.release(topic, state);
    }, this.lingerMs);
    state.linger.unref();
  }

  private release(topic: string, state: TopicState): void {
    if (this.topics.get(topic) !== state) return;
    this.forget(topic, state);
    this.broker.unsubscribe(topic).catch((error: unknown) => {
      this.log.warn({ topic, err: error }, 'broker unsubscribe failed');
    });
  }

  private forget(topic: string, state: TopicState): void {
    this.topics.delete(topic);
    if (state.stream !== undefined) {
      state.stream.close();
      this.streams.delete(state.stream);
    }
  }

  get localTopicCount(): number {
    return this.localTopics;
  }

  /** The broker came back after an outage: every history topic catches up on what pub/sub lost meanwhile. */
  resync(): void {
    for (const stream of this.streams) stream.resync();
  }

  /** The broker's message handler: once per message per node, whatever the number of subscribers. */
  readonly deliver = (topic: string, message: BrokerMessage): void => {
    this.publishedFromBroker.inc();
    if (this.streams.size > 0) {
      const stream = this.topics.get(topic)?.stream;
      if (stream !== undefined) {
        stream.accept(message);
        return;
      }
    }
    const subscribers = this.fanout.numSubscribers(topic);
    if (subscribers === 0) {
      this.noSubscribers.inc();
      return;
    }
    this.fanout.publish(topic, encodeMessage(topic, message));
    this.metrics.delivered.inc(subscribers);
    this.metrics.publishLatency.observe(Math.max(0, Date.now() - message.ts) / 1000);
  };

  /** The broker's handler for presence events: encoded once, fanned out like a message. */
  readonly deliverEvent = (topic: string, event: PresenceEvent): void => {
    const subscribers = this.fanout.numSubscribers(topic);
    if (subscribers === 0) return;
    this.metrics.presenceEvents.inc({ event: event.event });
    this.fanout.publish(topic, encodePresenceEvent(topic, event.event, event.sub, event.info));
  };

  /** StreamHost: one encode, one hand-off to the fan-out, for a message of a history topic. */
  emit(topic: string, message: BrokerMessage): string {
    const frame = encodeMessage(topic, message);
    const subscribers = this.fanout.numSubscribers(topic);
    if (subscribers > 0) {
      this.fanout.publish(topic, frame);
      this.metrics.delivered.inc(subscribers);
      this.metrics.publishLatency.observe(Math.max(0, Date.now() - message.ts) / 1000);
    }
    return frame;
  }

  encodeMessage(topic: string, message: BrokerMessage): string {
    return encodeMessage(topic, message);
  }

  forEachJoined(topic: string, visit: (socket: JoinedSocket) => void): void {
    this.withHistory?.forEachJoined(topic, visit);
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const [topic, state] of this.topics) {
      if (state.linger !== undefined) clearTimeout(state.linger);
      this.forget(topic, state);
    }
    this.topics.clear();
  }
}
