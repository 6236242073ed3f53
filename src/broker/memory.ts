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
import type { Broker, BrokerMessage, MessageHandler, PublishOptions, ShardHealth } from './broker.js';

export class MemoryBroker implements Broker {
  readonly kind = 'memory';
  private readonly topics = new Set<string>();
  private onMessage: MessageHandler | undefined;
  private closed = false;
  private queuedTopics: string[] = [];
  private queuedMessages: BrokerMessage[] = [];
  /** Publishes whose requester may go away before the flush (HTTP), with how to answer them. */
  private cancellable = new Map<number, { cancelled: () => boolean; resolve: () => void; reject: (error: HeraldError) => void }>();
  private flushScheduled = false;

  async start(onMessage: MessageHandler): Promise<void> {
    if (this.onMessage !== undefined) throw new Error('MemoryBroker.start called twice');
    this.onMessage = onMessage;
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

  publish(topic: string, message: BrokerMessage, options?: PublishOptions): Promise<void> {
    if (!this.isUp()) return Promise.reject(new HeraldError('unavailable', 'broker is closed'));
    const index = this.queuedTopics.length;
    this.queuedTopics.push(topic);
    this.queuedMessages.push(message);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    const cancelled = options?.cancelled;
    if (cancelled === undefined) return RESOLVED;
    return new Promise((resolve, reject) => this.cancellable.set(index, { cancelled, resolve, reject }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
    this.queuedTopics = [];
    this.queuedMessages = [];
    for (const entry of this.cancellable.values()) entry.reject(new HeraldError('unavailable', 'broker is closed'));
    this.cancellable.clear();
  }

  /** Delivers the turn's messages; a topic's subscription is checked at delivery, as Redis would. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const topics = this.queuedTopics;
    const messages = this.queuedMessages;
    const cancellable = this.cancellable;
    this.queuedTopics = [];
    this.queuedMessages = [];
    this.cancellable = new Map();
    if (this.closed) return;
    for (let i = 0; i < topics.length; i++) {
      const waiting = cancellable.get(i);
      if (waiting !== undefined) {
        if (waiting.cancelled()) {
          waiting.reject(new HeraldError('unavailable', 'the request went away before the message was sent; not published'));
          continue;
        }
        waiting.resolve();
      }
      const topic = topics[i]!;
      if (this.topics.has(topic)) this.onMessage!(topic, messages[i]!);
    }
  };
}

const RESOLVED = Promise.resolve();
