/**
 * One subscription, as the application holds it: it outlives connections.
 * It keeps the position of the last message it delivered (offset and epoch, on
 * history topics), resumes from there after every reconnect, drops messages it
 * has already delivered, and says `gap` when the server could not fill a break.
 * On presence topics it asks who is in the topic, passes on `join`/`leave`,
 * and with the `presence` option keeps the list of members up to date itself.
 */
import type { AckFrame, ClientFrame, MessageFrame, PresenceCountFrame, PresenceEventFrame, PresenceFrame, PresenceUser, Since } from './codec.js';
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

/** Who is in a presence topic: every user (a token's `sub`) once, with their number of connections. */
export interface Presence {
  readonly users: readonly PresenceUser[];
  readonly count: number;
}

export interface PresenceCount {
  readonly users: number;
  readonly connections: number;
}

/** A user as `join`, `leave` and the tracked members show them: the `sub`, and the token's `info` claim when it has one. */
export interface Member {
  readonly sub: string;
  readonly info?: Record<string, unknown>;
}

export interface SubscriptionEvents {
  message: Message;
  subscribed: SubscribedEvent;
  gap: GapEvent;
  unsubscribed: UnsubscribedEvent;
  error: HeraldError;
  /** A user's first connection subscribed (join/leave topics only). */
  join: Member;
  /** A user's last connection left, after the server's leave grace. */
  leave: Member;
  /** With the `presence` option: the members changed (or were read again after a resubscribe). */
  members: readonly Member[];
}

export interface SubscribeOptions {
  /** Where to start: `{ last: 50 }` replays the 50 latest stored messages, `{ offset, epoch }` resumes after a saved position. */
  readonly since?: Since;
  /** Keep `members` (who is in the topic) up to date: read after every ack, then changed by each join and leave. */
  readonly presence?: boolean;
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
  private readonly since: Since | undefined;
  private readonly tracking: boolean;
  private roster: Map<string, Member> | undefined;
  /** Joins and leaves that arrived while the members were being read: they go on top of the list read. */
  private heard: PresenceEventFrame[] | undefined;
  private listing = 0;
  private listTimer: unknown;

  constructor(
    readonly topic: string,
    private readonly link: Link,
    options: SubscribeOptions,
  ) {
    super();
    this.since = options.since;
    this.tracking = options.presence === true;
    this.resuming = this.since !== undefined && 'offset' in this.since;
  }

  /**
   * With the `presence` option: who is in the topic, each user once; undefined until first read. Kept while
   * disconnected, read again after every resubscribe. For connection counts, call presence().
   */
  get members(): Member[] | undefined {
    return this.roster && [...this.roster.values()];
  }

  /** Who is in the topic now. Rejects with `no_presence` on a topic without presence, `forbidden`, `not_connected`, ... */
  presence(): Promise<Presence> {
    return this.ask<PresenceFrame>('presence').then(({ users, count }) => ({ users, count }));
  }

  /** How many users and connections are in the topic, without the list. */
  presenceCount(): Promise<PresenceCount> {
    return this.ask<PresenceCountFrame>('presence_count').then(({ users, connections }) => ({ users, connections }));
  }

  private ask<T>(type: 'presence' | 'presence_count'): Promise<T> {
    return new Promise((resolve, reject) => this.link.request({ type, topic: this.topic }, (error, reply) => (error ? reject(error) : resolve(reply as T))));
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

  presenceEvent(frame: PresenceEventFrame): void {
    if (this.state === 'unsubscribed') return;
    if (this.heard) this.heard.push(frame);
    else if (this.roster) apply(this.roster, frame);
    this.emit(frame.type, member(frame));
    if (this.roster && !this.heard) this.emit('members', this.members!);
  }

  /** Reads the members, then applies what was heard meanwhile: the last event of a user is newer than, or agrees with, the list. */
  private list(): void {
    clearTimeout(this.listTimer);
    if (this.state !== 'subscribed') return;
    const attempt = ++this.listing;
    this.heard = [];
    this.link.request({ type: 'presence', topic: this.topic }, (error, reply) => {
      if (attempt !== this.listing) return;
      const heard = this.heard!;
      this.heard = undefined;
      if (this.state !== 'subscribed' || error?.code === 'connection_lost') return;
      if (error) {
        this.emit('error', error);
        if (RETRYABLE.includes(error.code)) this.listTimer = setTimeout(() => this.list(), this.link.retryDelay(this.retries++));
        return;
      }
      this.roster = new Map((reply as PresenceFrame).users.map((user) => [user.sub, member(user)]));
      for (const frame of heard) apply(this.roster, frame);
      this.emit('members', this.members!);
    });
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
    if (this.tracking) this.list();
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
    this.roster = undefined;
    clearTimeout(this.retryTimer);
    clearTimeout(this.listTimer);
    this.link.forget(this, tell);
    this.emit('unsubscribed', { reason });
  }
}

const member = ({ sub, info }: Member): Member => (info === undefined ? { sub } : { sub, info });

function apply(roster: Map<string, Member>, frame: PresenceEventFrame): void {
  if (frame.type === 'join') roster.set(frame.sub, member(frame));
  else roster.delete(frame.sub);
}
