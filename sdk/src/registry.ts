/**
 * The live subscriptions of one client, by topic. It outlives connections:
 * what is in it is subscribed on every connection as soon as it is up.
 */
import type { MessageFrame, PresenceEventFrame, UnsubscribedFrame } from './codec.js';
import type { Subscription } from './subscription.js';

export class Registry {
  private readonly byTopic = new Map<string, Subscription>();

  get(topic: string): Subscription | undefined {
    return this.byTopic.get(topic);
  }

  add(subscription: Subscription): void {
    this.byTopic.set(subscription.topic, subscription);
  }

  remove(subscription: Subscription): boolean {
    return this.byTopic.get(subscription.topic) === subscription && this.byTopic.delete(subscription.topic);
  }

  all(): Subscription[] {
    return [...this.byTopic.values()];
  }

  /** Every subscribe frame goes out at once: a reconnect never waits for one ack before sending the next subscribe. */
  restore(): void {
    for (const subscription of this.all()) subscription.send();
  }

  interrupted(): void {
    for (const subscription of this.all()) subscription.interrupted();
  }

  route(frame: MessageFrame | UnsubscribedFrame | PresenceEventFrame): void {
    const subscription = this.byTopic.get(frame.topic);
    if (frame.type === 'message') subscription?.deliver(frame);
    else if (frame.type === 'unsubscribed') subscription?.dropped(frame.reason);
    else subscription?.presenceEvent(frame);
  }
}
