/**
 * In-process broker for a single node: what `npm start` uses with nothing
 * configured, and the reference implementation of the Broker contract.
 *
 * Publishes are queued and delivered together once per event-loop turn
 * (setImmediate), as messages from Redis arrive in batches: uWebSockets.js
 * then writes all of a turn's messages for one socket in one send instead of
 * one send per message, which is what makes fan-out fast under load. Order is
 * kept: the queue is delivered in publish order.
 */
import { HeraldError } from '../errors.js';
import { isPresenceEvent } from './envelope.js';
import { IDEMPOTENCY_WINDOW_MS, type Broker, type BrokerMessage, type EventHandler, type MessageHandler, type PresenceEvent, type PublishOptions, type ShardHealth } from './broker.js';

/** A publish that needs an answer at delivery time (it may be cancelled, or carries an idempotency key). */
interface Watched {
  readonly options: PublishOptions;
  readonly resolve: (published: boolean) => void;
  readonly reject: (error: HeraldError) => void;
}

const IDEMPOTENCY_SWEEP_MS = 10_000;

export class MemoryBroker implements Broker {
  readonly kind = 'memory';
  private readonly topics = new Set<string>();
  private onMessage: MessageHandler | undefined;
  private onEvent: EventHandler | undefined;
  private closed = false;
  private queuedTopics: string[] = [];
  /** Messages, and presence events in order with them. */
  private queuedMessages: (BrokerMessage | PresenceEvent)[] = [];
  /** Publishes of the queue that need an answer at delivery, by queue index. */
  private watched = new Map<number, Watched>();
  private flushScheduled = false;
  /** Idempotency keys seen, with when they are forgotten. */
  private readonly seen = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  async start(onMessage: MessageHandler, _onStatus?: unknown, onEvent?: EventHandler): Promise<void> {
    if (this.onMessage !== undefined) throw new Error('MemoryBroker.start called twice');
    this.onMessage = onMessage;
    this.onEvent = onEvent;
    this.sweeper = setInterval(() => {
      const now = this.now();
      for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key);
    }, IDEMPOTENCY_SWEEP_MS);
    this.sweeper.unref();
  }

  isUp(): boolean {
    return this.onMessage !== undefined && !this.closed;
  }

  shards(): readonly ShardHealth[] {
    return [{ index: 0, up: this.isUp() }];
  }

  async subscribe(topic: string): Promise<void> {
    if (!this.isUp()) throw new HeraldError('unavailable', 'broker is closed');
    this.topics.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
  }

  publish(topic: string, message: BrokerMessage, options?: PublishOptions): Promise<boolean> {
    if (!this.isUp()) return Promise.reject(new HeraldError('unavailable', 'broker is closed'));
    const index = this.enqueue(topic, message);
    if (options?.cancelled === undefined && options?.idempotencyKey === undefined) return PUBLISHED;
    return new Promise((resolve, reject) => this.watched.set(index, { options, resolve, reject }));
  }

  /** A presence event for the topic's subscribers, delivered in order with its messages. */
  publishEvent(topic: string, event: PresenceEvent): void {
    if (this.isUp()) this.enqueue(topic, event);
  }

  private enqueue(topic: string, item: BrokerMessage | PresenceEvent): number {
    const index = this.queuedTopics.length;
    this.queuedTopics.push(topic);
    this.queuedMessages.push(item);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return index;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.topics.clear();
    this.queuedTopics = [];
    this.queuedMessages = [];
    for (const entry of this.watched.values()) entry.reject(new HeraldError('unavailable', 'broker is closed'));
    this.watched.clear();
  }

  /** Delivers the turn's messages; a topic's subscription is checked at delivery, as Redis would. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const topics = this.queuedTopics;
    const messages = this.queuedMessages;
    const watched = this.watched;
    this.queuedTopics = [];
    this.queuedMessages = [];
    this.watched = new Map();
    if (this.closed) return;
    const now = this.now();
    for (let i = 0; i < topics.length; i++) {
      const topic = topics[i]!;
      const entry = watched.get(i);
      if (entry !== undefined) {
        if (entry.options.cancelled?.() === true) {
          entry.reject(new HeraldError('unavailable', 'the request went away before the message was sent; not published'));
          continue;
        }
        const key = entry.options.idempotencyKey;
        if (key !== undefined) {
          const scoped = `${topic}\u0000${key}`;
          if ((this.seen.get(scoped) ?? 0) > now) {
            entry.resolve(false);
            continue;
          }
          this.seen.set(scoped, now + IDEMPOTENCY_WINDOW_MS);
        }
        entry.resolve(true);
      }
      if (!this.topics.has(topic)) continue;
      const item = messages[i]!;
      if (isPresenceEvent(item)) this.onEvent?.(topic, item);
      else this.onMessage!(topic, item);
    }
  };
}

const PUBLISHED = Promise.resolve(true);
