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
 */
import type { Broker, BrokerMessage } from './broker/broker.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { encodeMessage } from './protocol/frames.js';

/** The part of uWebSockets.js's app the Hub needs: its C++ fan-out. */
export interface Fanout {
  /** Sends `frame` as a text frame to every local socket subscribed to `topic`. */
  publish(topic: string, frame: string): unknown;
  numSubscribers(topic: string): number;
}

interface TopicState {
  /** Pending broker subscription; undefined once it has succeeded. */
  pending: Promise<void> | undefined;
  linger: NodeJS.Timeout | undefined;
}

export class Hub {
  private readonly topics = new Map<string, TopicState>();
  /** Local topics with at least one subscriber (the Map above also holds lingering ones). */
  private localTopics = 0;
  private readonly publishedFromBroker;
  private readonly noSubscribers;

  constructor(
    private readonly broker: Broker,
    private readonly fanout: Fanout,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly lingerMs: number,
  ) {
    this.publishedFromBroker = metrics.published.labels({ source: 'broker' });
    this.noSubscribers = metrics.dropped.labels({ reason: 'no_subscribers' });
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
    const fresh: TopicState = { pending: undefined, linger: undefined };
    this.topics.set(topic, fresh);
    fresh.pending = this.broker.subscribe(topic).then(
      () => {
        fresh.pending = undefined;
      },
      (error: unknown) => {
        // Forget the topic so that the next subscriber tries again.
        if (this.topics.get(topic) === fresh) this.topics.delete(topic);
        throw error;
      },
    );
    // Waiters get the rejection; this handler only keeps it from being reported as unhandled.
    fresh.pending.catch(() => undefined);
    return fresh.pending;
  }

  /** The first local subscriber of `topic` arrived (uWebSockets.js subscription count 0 → 1). */
  topicGained(topic: string): void {
    this.localTopics++;
    void this.ensure(topic);
  }

  /** The last local subscriber of `topic` left (count 1 → 0). */
  topicLost(topic: string): void {
    this.localTopics--;
    const state = this.topics.get(topic);
    if (state === undefined) return;
    if (this.lingerMs === 0) {
      this.release(topic, state);
      return;
    }
    state.linger = setTimeout(() => this.release(topic, state), this.lingerMs);
    state.linger.unref();
  }

  private release(topic: string, state: TopicState): void {
    if (this.topics.get(topic) !== state) return;
    this.topics.delete(topic);
    this.broker.unsubscribe(topic).catch((error: unknown) => {
      this.log.warn({ topic, err: error }, 'broker unsubscribe failed');
    });
  }

  get localTopicCount(): number {
    return this.localTopics;
  }

  /** The broker's message handler: once per message per node, whatever the number of subscribers. */
  readonly deliver = (topic: string, message: BrokerMessage): void => {
    this.publishedFromBroker.inc();
    const subscribers = this.fanout.numSubscribers(topic);
    if (subscribers === 0) {
      this.noSubscribers.inc();
      return;
    }
    this.fanout.publish(topic, encodeMessage(topic, message));
    this.metrics.delivered.inc(subscribers);
    this.metrics.publishLatency.observe(Math.max(0, Date.now() - message.ts) / 1000);
  };

  close(): void {
    for (const state of this.topics.values()) if (state.linger !== undefined) clearTimeout(state.linger);
    this.topics.clear();
  }
}
