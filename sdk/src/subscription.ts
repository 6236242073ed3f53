/**
 * One subscription, as the application holds it: it outlives connections.
 * It keeps the position of the last message it delivered (offset and epoch, on
 * history topics), resumes from there after every reconnect, drops messages it
 * has already delivered, and says `gap` when the server could not fill a break.
 *
 * Presence (issue 12) will add `presence()` (a request through the link) and
 * `join`/`leave` events (frames routed here by topic) without changing this shape.
 */
import type { AckFrame, ClientFrame, MessageFrame, Since } from './codec.js';
import type { Done } from './requests.js';
import { Emitter } from './emitter.js';
import { HeraldError, RETRYABLE } from './errors.js';

export interface Message {
  readonly topic: string;
  readonly data: unknown;
  /** Publish time, milliseconds since the epoch. */
  readonly ts: number;
  /** Position in the topic's stream, on history topics only. */
  readonly offset?: number;
}

export interface SubscribedEvent {
  /** The server filled the break since the last message seen (or the `since` asked for): nothing was missed. */
  readonly recovered: boolean;
  /** The topic's current top offset and epoch, on history topics only. */
  readonly offset?: number;
  readonly epoch?: string;
}

export interface GapEvent {
  /** Where the subscription continues; messages between the last one seen and this were not delivered. */
  readonly offset?: number;
  readonly epoch?: string;
}

export interface UnsubscribedEvent {
  /** `client` (unsubscribe() was called), `forbidden` (the token no longer allows it), or the error code that ended it. */
  readonly reason: string;
}

export interface SubscriptionEvents {
  message: Message;
  subscribed: SubscribedEvent;
  gap: GapEvent;
  unsubscribed: UnsubscribedEvent;
  error: HeraldError;
}

export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

/** What a subscription needs from its client. */
export interface Link {
  readonly connected: boolean;
  request(frame: ClientFrame, done: Done): void;
  /** Removes the subscription from the registry; `tell` also unsubscribes on the server. */
  forget(subscription: Subscription, tell: boolean): void;
  retryDelay(attempt: number): number;
}

export class Subscription extends Emitter<SubscriptionEvents> {
  state: SubscriptionState = 'subscribing';
  /** Offset of the last message delivered, and its epoch (history topics). */
  offset: number | undefined;
  epoch: string | undefined;
  /** Set when the subscription was interrupted: an ack without `recovered` then means messages were missed. */
  private resuming: boolean;
  private sent = 0;
  private acknowledged = false;
  private retries = 0;
  private retryTimer: unknown;

  constructor(
    readonly topic: string,
    private readonly link: Link,
    private readonly since: Since | undefined,
  ) {
    super();
    this.resuming = since !== undefined && 'offset' in since;
  }

  unsubscribe(): void {
    if (this.state !== 'unsubscribed') this.end('client', true);
  }

  /** Sends the subscribe frame on the current connection; called for every live subscription as soon as one is up. */
  send(): void {
    clearTimeout(this.retryTimer);
    if (this.state === 'unsubscribed' || !this.link.connected) return;
    // Once the topic's epoch is known, resume from the last message seen; until the first ack, start where the application
    // asked; a topic whose ack had no epoch has no history, and `since` means nothing to it.
    const since: Since | undefined = this.epoch !== undefined ? { offset: this.offset ?? 0, epoch: this.epoch } : this.acknowledged ? undefined : this.since;
    const attempt = ++this.sent;
    this.link.request(since === undefined ? { type: 'subscribe', topic: this.topic } : { type: 'subscribe', topic: this.topic, since }, (error, ack) => {
      if (attempt !== this.sent || this.state === 'unsubscribed') return;
      if (error) this.failed(error);
      else this.acked(ack as AckFrame, since);
    });
  }

  /** The connection ended: the server forgot this subscription, the next connection resumes it. */
  interrupted(): void {
    if (this.state === 'subscribed') this.resuming = true;
    if (this.state !== 'unsubscribed') this.state = 'subscribing';
  }

  deliver(frame: MessageFrame): void {
    if (this.state === 'unsubscribed') return;
    if (frame.offset !== undefined) {
      // Duplicates can reach a client across a resume (a recovery overlapping what it already had): each offset is delivered once.
      if (this.offset !== undefined && frame.offset <= this.offset) return;
      this.offset = frame.offset;
    }
    this.emit('message', { topic: frame.topic, data: frame.data, ts: frame.ts, offset: frame.offset });
  }

  /** The server dropped the subscription: `reset` (the topic's stream was lost) is resumed and reported as a gap; anything else ends it. */
  dropped(reason: string): void {
    if (this.state === 'unsubscribed') return;
    if (reason !== 'reset') return this.end(reason, false);
    this.resuming = true;
    this.state = 'subscribing';
    this.send();
  }

  private acked(ack: AckFrame, since: Since | undefined): void {
    const recovered = ack.recovered === true;
    if (ack.offset !== undefined && ack.epoch !== undefined) {
      // Where live delivery continues: after the `since` offset when the break is filled (the replay follows), after the
      // replayed tail for `last`, else after the current top.
      const next = since && 'offset' in since && recovered ? since.offset : since && 'last' in since ? Math.max(0, ack.offset - since.last) : ack.offset;
      this.offset = ack.epoch === this.epoch && this.offset !== undefined ? Math.max(this.offset, next) : next;
      this.epoch = ack.epoch;
    }
    const missed = this.resuming && !recovered;
    this.acknowledged = true;
    this.resuming = false;
    this.retries = 0;
    this.state = 'subscribed';
    this.emit('subscribed', { recovered, offset: ack.offset, epoch: ack.epoch });
    if (missed) this.emit('gap', { offset: this.offset, epoch: this.epoch });
  }

  private failed(error: HeraldError): void {
    // A lost connection is resumed by the next one.
    if (error.code === 'connection_lost') return;
    this.emit('error', error);
    if (RETRYABLE.includes(error.code)) {
      this.retryTimer = setTimeout(() => this.send(), this.link.retryDelay(this.retries++));
    } else {
      this.end(error.code, false);
    }
  }

  /** Leaves the registry first, so that an `unsubscribed` listener may subscribe to the topic again. */
  private end(reason: string, tell: boolean): void {
    this.state = 'unsubscribed';
    clearTimeout(this.retryTimer);
    this.link.forget(this, tell);
    this.emit('unsubscribed', { reason });
  }
}
