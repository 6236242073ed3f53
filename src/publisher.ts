/**
 * Where a published message goes in, whoever published it (a client frame or
 * the HTTP API): a history topic's message through its history (which assigns
 * the offset, stores and publishes in one step), any other through the broker.
 */
import type { Broker, BrokerMessage, PublishOptions } from './broker/broker.js';
import type { History, HistoryPolicies } from './history/history.js';

export interface Published {
  /** The offset and epoch assigned, on history topics. */
  readonly offset?: number;
  readonly epoch?: string;
  /** The idempotency key had been used within its window: nothing was published this time. */
  readonly duplicate: boolean;
}

export class Publisher {
  constructor(
    private readonly broker: Broker,
    private readonly history: History | undefined,
    private readonly policies: HistoryPolicies,
  ) {}

  /** Rejects with HeraldError('unavailable') when the message was not published. */
  publish(topic: string, message: BrokerMessage, options?: PublishOptions): Promise<Published> {
    const policy = this.history === undefined ? undefined : this.policies.of(topic);
    if (policy !== undefined) {
      return this.history!.publish(topic, message, policy, options).then((position) => ({ offset: position.offset, epoch: position.epoch, duplicate: position.duplicate }));
    }
    return this.broker.publish(topic, message, options).then((published) => (published ? PUBLISHED : DUPLICATE));
  }
}

const PUBLISHED: Published = Object.freeze({ duplicate: false });
const DUPLICATE: Published = Object.freeze({ duplicate: true });
