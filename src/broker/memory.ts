/**
 * In-process broker for a single node: what `npm start` uses with nothing
 * configured, and the reference implementation of the Broker contract.
 * Delivery is synchronous, so per-topic order is publish order.
 */
import { HeraldError } from '../errors.js';
import type { Broker, BrokerMessage, MessageHandler } from './broker.js';

export class MemoryBroker implements Broker {
  readonly kind = 'memory';
  private readonly topics = new Set<string>();
  private onMessage: MessageHandler | undefined;
  private closed = false;

  async start(onMessage: MessageHandler): Promise<void> {
    if (this.onMessage !== undefined) throw new Error('MemoryBroker.start called twice');
    this.onMessage = onMessage;
  }

  isUp(): boolean {
    return this.onMessage !== undefined && !this.closed;
  }

  async subscribe(topic: string): Promise<void> {
    if (!this.isUp()) throw new HeraldError('unavailable', 'broker is closed');
    this.topics.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
  }

  publish(topic: string, message: BrokerMessage): Promise<void> {
    if (!this.isUp()) return Promise.reject(new HeraldError('unavailable', 'broker is closed'));
    if (this.topics.has(topic)) this.onMessage!(topic, message);
    return RESOLVED;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
  }
}

const RESOLVED = Promise.resolve();
