/**
 * One local history topic as this node sees it: the offsets it has delivered,
 * the sockets catching up, and the recent messages that serve them.
 *
 * The hot path stays as it is for every socket that is up to date: a live
 * message is checked against the last offset delivered (one comparison),
 * encoded once and handed to uWebSockets.js's fan-out. Work per socket happens
 * only for sockets that are recovering, and only until they have caught up:
 *
 * - A subscribe with `since` is answered from a *window* of the topic's recent
 *   messages (read from the history once, with {last: maxRecovery}, then kept
 *   warm by appending what arrives live). Every recovery of the topic while
 *   the window is warm, however many clients reconnect at once, is served
 *   from it: one history read per topic, not one per client.
 * - The recovering socket gets its ack, the missing messages from the window,
 *   and then joins the uWebSockets.js topic at the moment it has everything
 *   the node has delivered: from then on it is one of the fan-out's sockets.
 *   When the window is ahead of the live stream (the read saw messages that
 *   have not arrived through pub/sub yet), the socket waits, unjoined, and
 *   the live messages it already has are skipped for it until it is level.
 * - Offsets that skip on the live stream (Redis pub/sub dropped some) are
 *   filled by the node itself from the history, once for the topic, before
 *   delivery continues; what cannot be filled, or a new epoch, resets the
 *   topic's subscribers (`unsubscribed`, reason `reset`).
 *
 * All of it runs on one event loop: no locks, and every step that awaits a
 * read re-checks the state it left.
 */
import type { BrokerMessage } from '../broker/broker.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { History, HistoryPolicy, StoredMessage } from './history.js';
import { planRecovery, sequence, type Plan, type Since } from './recovery.js';

/** What the hub does for a stream. */
export interface StreamHost {
  /** Encodes `message` once and hands it to the fan-out (the joined sockets); returns the frame. */
  emit(topic: string, message: BrokerMessage): string;
  /** Every local socket joined to `topic` (rare: resets only). */
  forEachJoined(topic: string, visit: (socket: JoinedSocket) => void): void;
  /** The stream holds no recovering socket any more: the hub may release the topic if nobody else holds it. */
  idle(topic: string): void;
  encodeMessage(topic: string, message: BrokerMessage): string;
}

/** A socket already in the topic's fan-out, as a reset needs it. */
export interface JoinedSocket {
  /** Sends `unsubscribed` with reason `reset` and leaves the topic. */
  reset(): void;
}

/** A socket subscribing to a history topic, for as long as its subscribe is being carried out. */
export interface Subscriber {
  /** True once the connection closed or the client unsubscribed: nothing more is sent. */
  readonly gone: boolean;
  /** Sends frames in one corked write. */
  send(frames: readonly string[]): void;
  /** Joins the topic's fan-out (uWebSockets.js subscribe). */
  join(): void;
  /** The subscribe failed (history unavailable): answers the error and rolls the subscription back. */
  fail(message: string): void;
  /** The topic reset while this socket was catching up: `unsubscribed` with reason `reset`, subscription rolled back. */
  reset(): void;
  /** Frames answering the subscribe, with the position. */
  ack(position: { offset: number; epoch: string }, recovered: boolean | undefined): string;
  /** Bytes that can still be queued for the socket before it counts as a slow consumer. */
  capacity(): number;
}

interface Entry extends StoredMessage {
  readonly frame: string;
}

interface Pending {
  readonly subscriber: Subscriber;
  readonly since: Since | undefined;
  readonly queuedAt: number;
}

interface CatchingUp {
  readonly subscriber: Subscriber;
  /** The newest offset this socket has been sent. */
  sentUpTo: number;
  readonly queuedAt: number;
}

const NOTHING: Plan<Entry> = Object.freeze({ recovered: false, replay: [] });

/** How long a window stays after its last use; while it does, live messages are appended to it. */
const WINDOW_WARM_MS = 5000;
/** Live messages held while the stream syncs or fills a gap; past this the topic is reset. */
const MAX_HELD = 10_000;
/** Pending subscribes answered per event-loop turn. */
const SERVE_BATCH = 200;
/** Most messages one gap-filling read asks for; a larger gap takes several reads, in order. */
const FILL_CHUNK = 1000;
/** A socket waiting longer than this for the live stream to reach what it was sent triggers a resync. */
const CATCH_UP_TIMEOUT_MS = 5000;

/**
 * subscribing: waiting for the broker subscription (the hub calls sync());
 * syncing: reading the position; live: delivering; filling: reading a gap
 * (live messages held meanwhile); unsynced: the position could not be read
 * (the next subscribe retries).
 */
type State = 'subscribing' | 'unsynced' | 'syncing' | 'live' | 'filling';

export interface StreamDeps {
  readonly history: History;
  readonly host: StreamHost;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly maxRecovery: number;
  readonly now?: () => number;
}

export class TopicStream {
  private state: State = 'subscribing';
  private epoch = '';
  /** The last offset delivered live by this node. */
  private last = 0;
  /** Live messages held, in arrival order, while syncing or filling. */
  private held: BrokerMessage[] = [];
  /**
   * Recent messages: entries[first…] hold contiguous offsets ending at top (or none). Never more than the
   * history itself keeps (`size`), so that what was trimmed there cannot be recovered here either.
   */
  private window: { epoch: string; top: number; entries: Entry[]; first: number } | undefined;
  private windowUntil = 0;
  private windowRead: Promise<void> | undefined;
  /** Live messages delivered while the window read was in flight, appended when it lands. */
  private windowTail: Entry[] | undefined;
  private pending: Pending[] = [];
  private catchingUp: CatchingUp[] = [];
  private closed = false;
  /** A serve() continues at the next turn. */
  private serving = false;
  private readonly now: () => number;

  constructor(
    readonly topic: string,
    private readonly policy: HistoryPolicy,
    private readonly deps: StreamDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** The last offset delivered live, once known. */
  position(): { offset: number; epoch: string } | undefined {
    return this.state === 'live' || this.state === 'filling' ? { offset: this.last, epoch: this.epoch } : undefined;
  }

  /** Whether sockets are being served: the hub keeps the topic while so. */
  get busy(): boolean {
    return this.pending.length > 0 || this.catchingUp.length > 0;
  }

  /** The broker subscription is in place: learn the position, then deliver and serve. */
  sync(): void {
    if (this.closed || this.state === 'syncing' || this.state === 'filling') return;
    this.state = 'syncing';
    this.deps.history.position(this.topic, this.policy).then(
      (position) => {
        if (this.closed) return;
        this.epoch = position.epoch;
        this.last = position.offset;
        this.state = 'live';
        // Held messages up to the position were published before this node tracked the topic.
        this.release();
      },
      (error: unknown) => {
        if (this.closed) return;
        this.state = 'unsynced';
        this.held = [];
        this.deps.log.warn({ topic: this.topic, err: error }, 'history unavailable: cannot learn the topic\'s position');
        this.failPending('history unavailable; retry the subscribe');
      },
    );
  }

  /** After a broker outage: catch up on what pub/sub lost meanwhile, from the history. */
  resync(): void {
    if (this.closed) return;
    if (this.state === 'unsynced') this.sync();
    else if (this.state === 'live') this.fill();
  }

  /** A live message of this topic (the hub's deliver). */
  accept(message: BrokerMessage): void {
    if (this.state !== 'live') {
      if (message.offset === undefined) this.emitUnsequenced(message);
      else this.hold(message);
      return;
    }
    switch (sequence(this.last, this.epoch, message)) {
      case 'deliver':
        this.emit(message);
        return;
      case 'duplicate':
        return;
      case 'unsequenced':
        this.emitUnsequenced(message);
        return;
      case 'gap':
        this.hold(message);
        this.fill();
        return;
      case 'reset':
        this.reset(`epoch ${this.epoch} gave way to ${message.epoch ?? '?'}`);
        this.hold(message);
        this.sync();
        return;
    }
  }

  /**
   * A socket subscribes. Without `since` it is acknowledged with the position
   * and joins at once (when the position is known); with `since` it recovers
   * from the window first.
   */
  subscribe(subscriber: Subscriber, since: Since | undefined): void {
    // While a gap is being filled the position is known, and the filled messages will follow: a plain subscribe can join.
    const positioned = this.state === 'live' || (this.state === 'filling' && since === undefined);
    if (positioned && (since === undefined || this.upToDate(since))) {
      if (since !== undefined) this.deps.metrics.historyRecoveries.inc({ outcome: 'recovered' });
      this.admit(subscriber, this.last, since === undefined ? undefined : true, []);
      return;
    }
    this.pending.push({ subscriber, since, queuedAt: this.now() });
    if (this.state === 'unsynced') this.sync();
    else if (this.state === 'live') this.serve();
  }

  /** The topic is no longer held locally: drop everything. */
  close(): void {
    this.closed = true;
    // Only a failed broker subscription closes a stream with subscribes still pending.
    this.failPending('broker unavailable');
    this.catchingUp = [];
    this.window = undefined;
    this.held = [];
  }

  /** Periodic upkeep (the hub's timer): forget gone sockets, cool the window, unstick waits. */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    const before = this.busy;
    this.pending = this.pending.filter((p) => !p.subscriber.gone);
    this.catchingUp = this.catchingUp.filter((c) => !c.subscriber.gone);
    if (this.catchingUp.some((c) => now - c.queuedAt > CATCH_UP_TIMEOUT_MS) && this.state === 'live') {
      // The live stream has not reached what these sockets were sent: pub/sub lost something, fetch it.
      this.fill();
    }
    if (this.window !== undefined && now > this.windowUntil && this.pending.length === 0) this.window = undefined;
    if (before && !this.busy) this.deps.host.idle(this.topic);
  }

  // --- delivery ----------------------------------------------------------------

  private emit(message: BrokerMessage): void {
    this.last = message.offset!;
    const frame = this.deps.host.emit(this.topic, message);
    const entry: Entry = { offset: message.offset!, data: message.data, ts: message.ts, frame };
    if (this.windowTail !== undefined) this.windowTail.push(entry);
    else if (this.window !== undefined) this.appendToWindow(entry);
    if (this.catchingUp.length > 0) this.advance(entry);
  }

  private emitUnsequenced(message: BrokerMessage): void {
    this.deps.metrics.historyUnsequenced.inc();
    this.deps.host.emit(this.topic, message);
  }

  /** Per socket, but only for sockets catching up: send what they lack, join those that are level. */
  private advance(entry: Entry): void {
    const still: CatchingUp[] = [];
    for (const c of this.catchingUp) {
      if (c.subscriber.gone) continue;
      if (entry.offset > c.sentUpTo) {
        c.subscriber.send([entry.frame]);
        c.sentUpTo = entry.offset;
      }
      if (c.sentUpTo <= this.last) c.subscriber.join();
      else still.push(c);
    }
    this.catchingUp = still;
    if (!this.busy) this.deps.host.idle(this.topic);
  }

  private hold(message: BrokerMessage): void {
    if (this.held.length >= MAX_HELD) {
      this.reset('too many messages held while catching up');
      this.held = [];
      this.sync();
      return;
    }
    this.held.push(message);
  }

  /** Delivers held messages in order; a gap among them starts a fill. */
  private release(): void {
    const held = this.held;
    this.held = [];
    for (let i = 0; i < held.length; i++) {
      if (this.state !== 'live') {
        // A fill or a reset started on the way: the rest waits for it, in order.
        this.held.push(...held.slice(i));
        return;
      }
      this.accept(held[i]!);
    }
    if (this.state === 'live') this.serve();
  }

  /** Reads what the node missed between its last offset and the history's top, once for the topic. */
  private fill(): void {
    if (this.state !== 'live') return;
    this.state = 'filling';
    const from = this.last;
    this.deps.metrics.historyReads.inc();
    this.deps.history.read(this.topic, this.policy, { after: from, limit: FILL_CHUNK }).then(
      (page) => {
        if (this.closed) return;
        this.state = 'live';
        if (page.position.epoch !== this.epoch) {
          this.reset(`epoch ${this.epoch} gave way to ${page.position.epoch}`);
          this.sync();
          return;
        }
        if (page.position.offset > this.last && page.messages[0]?.offset !== this.last + 1) {
          // The messages in between are gone (trimmed, expired): subscribers cannot be told what they missed.
          this.reset(`offsets ${this.last + 1}… are no longer stored`);
          this.last = page.position.offset;
          this.release();
          return;
        }
        let filled = 0;
        for (const stored of page.messages) {
          if (stored.offset !== this.last + 1) continue;
          this.emit({ data: stored.data, ts: stored.ts, offset: stored.offset, epoch: this.epoch });
          filled++;
        }
        if (filled > 0) {
          this.deps.metrics.historyGapsFilled.inc();
          this.deps.metrics.historyReplayed.inc({ by: 'node' }, filled);
          this.deps.log.info({ topic: this.topic, from: from + 1, to: this.last }, 'filled a gap in the live stream from the history');
        }
        // More missing than one read returns: read on before anything held is delivered.
        if (this.last < page.position.offset) this.fill();
        else this.release();
      },
      (error: unknown) => {
        if (this.closed) return;
        this.deps.log.warn({ topic: this.topic, err: error }, 'cannot fill a gap from the history: resetting the topic\'s subscribers');
        this.state = 'live';
        this.reset('history unavailable to fill a gap');
        this.held = [];
        this.sync();
      },
    );
  }

  /**
   * Every local subscriber of the topic is told `reset` and leaves it (they
   * resubscribe, with `since`, and learn `recovered:false`); sockets in the
   * middle of a recovery likewise. Rare: walking the sockets is fine here.
   */
  private reset(why: string): void {
    this.deps.metrics.historyResets.inc();
    this.deps.log.warn({ topic: this.topic, why }, 'history reset: the topic\'s subscribers must start over');
    this.window = undefined;
    this.windowTail = undefined;
    let count = 0;
    this.deps.host.forEachJoined(this.topic, (socket) => {
      socket.reset();
      count++;
    });
    for (const c of this.catchingUp) if (!c.subscriber.gone) c.subscriber.reset();
    this.catchingUp = [];
    this.deps.log.info({ topic: this.topic, subscribers: count }, 'subscribers reset');
  }

  // --- recovery ----------------------------------------------------------------

  private upToDate(since: Since): boolean {
    return 'offset' in since && since.epoch === this.epoch && since.offset === this.last;
  }

  /**
   * Serves pending subscribes: plain ones at once, recoveries from the window
   * (read first if need be). At most SERVE_BATCH per event-loop turn, so that
   * a reconnect storm of thousands of sockets does not stall the loop (and
   * everything else on the node) for seconds.
   */
  private serve(): void {
    if (this.state !== 'live' || this.pending.length === 0 || this.serving) return;
    const needsWindow = this.pending.some((p) => p.since !== undefined && !this.upToDate(p.since));
    if (needsWindow && this.window === undefined) {
      this.readWindow();
      if (this.window === undefined) {
        // Plain subscribes need no window: serve them now, leave the recoveries for the read.
        const waiting: Pending[] = [];
        for (const p of this.pending) {
          if (p.since === undefined || this.upToDate(p.since)) this.answer(p);
          else waiting.push(p);
        }
        this.pending = waiting;
        return;
      }
    }
    const batch = this.pending.splice(0, SERVE_BATCH);
    for (const p of batch) this.answer(p);
    if (this.pending.length > 0) {
      this.serving = true;
      setImmediate(() => {
        this.serving = false;
        if (!this.closed) this.serve();
      });
      return;
    }
    if (!this.busy) this.deps.host.idle(this.topic);
  }

  private answer(p: Pending): void {
    const { subscriber, since } = p;
    if (subscriber.gone) return;
    if (since === undefined || this.upToDate(since)) {
      if (since !== undefined) this.deps.metrics.historyRecoveries.inc({ outcome: 'recovered' });
      this.admit(subscriber, this.last, since === undefined ? undefined : true, []);
      return;
    }
    const window = this.window!;
    this.windowUntil = this.now() + WINDOW_WARM_MS;
    // A window of another epoch (or none: history unavailable) cannot recover anything.
    let plan = window.epoch === this.epoch
      ? planRecovery(since, { epoch: window.epoch, top: window.top, messages: window.first === 0 ? window.entries : window.entries.slice(window.first) }, { maxRecovery: this.deps.maxRecovery, oldestTs: this.now() - this.policy.ttlMs })
      : NOTHING;
    // Never a partial replay of a gap; `last` replays what there is, and says whether it is all.
    if (!plan.recovered && !('last' in since)) plan = NOTHING;
    // A replay that does not fit in the socket's output buffer would be cut short: it is not sent at all.
    if (plan.replay.reduce((bytes, entry) => bytes + entry.frame.length, 0) > subscriber.capacity()) plan = NOTHING;
    this.deps.metrics.historyRecoveries.inc({ outcome: plan.recovered ? 'recovered' : 'not_recovered' });
    if (plan.replay.length > 0) this.deps.metrics.historyReplayed.inc({ by: 'client' }, plan.replay.length);
    // The replay reaches the window's top, which may be ahead of what the node has delivered live.
    const top = plan.replay.length > 0 ? Math.max(window.top, plan.replay[plan.replay.length - 1]!.offset) : plan.recovered ? window.top : this.last;
    this.admit(subscriber, top, plan.recovered, plan.replay.map((entry) => entry.frame));
  }

  /** Ack (at `offset`), replay, and join the fan-out now, or once the live stream reaches `offset`. */
  private admit(subscriber: Subscriber, offset: number, recovered: boolean | undefined, replay: readonly string[]): void {
    subscriber.send([subscriber.ack({ offset, epoch: this.epoch }, recovered), ...replay]);
    if (offset <= this.last) subscriber.join();
    else this.catchingUp.push({ subscriber, sentUpTo: offset, queuedAt: this.now() });
  }

  /** One read of the last maxRecovery messages, shared by every recovery of the topic while it is in flight. */
  private readWindow(): void {
    if (this.windowRead !== undefined) return;
    const epoch = this.epoch;
    this.windowTail = [];
    this.deps.metrics.historyReads.inc();
    this.windowRead = this.deps.history.read(this.topic, this.policy, { last: this.windowSize }).then(
      (page) => {
        this.windowRead = undefined;
        const tail = this.windowTail ?? [];
        this.windowTail = undefined;
        if (this.closed) return;
        if (page.position.epoch !== epoch || epoch !== this.epoch) {
          // The stored stream is another one than the node's live stream: recoveries cannot be served from it.
          this.window = { epoch: page.position.epoch, top: page.position.offset, entries: [], first: 0 };
        } else {
          const entries: Entry[] = page.messages.map((m) => ({ ...m, frame: this.deps.host.encodeMessage(this.topic, { data: m.data, ts: m.ts, offset: m.offset, epoch }) }));
          this.window = { epoch, top: Math.max(page.position.offset, this.last), entries, first: 0 };
          for (const entry of tail) this.appendToWindow(entry);
        }
        this.windowUntil = this.now() + WINDOW_WARM_MS;
        this.serve();
      },
      (error: unknown) => {
        this.windowRead = undefined;
        this.windowTail = undefined;
        if (this.closed) return;
        this.deps.log.warn({ topic: this.topic, err: error }, 'history unavailable: recoveries answered recovered:false');
        // Recovery is impossible now; the subscribes still succeed, as not recovered.
        this.window = { epoch: '', top: this.last, entries: [], first: 0 };
        this.windowUntil = this.now() + 1000;
        this.serve();
      },
    );
  }

  private appendToWindow(entry: Entry): void {
    const window = this.window!;
    const newest = window.entries.length === 0 ? window.top : window.entries[window.entries.length - 1]!.offset;
    if (entry.offset <= newest) return;
    if (entry.offset !== newest + 1 && window.entries.length > 0) {
      // Not contiguous: start the window over from this message.
      window.entries = [];
      window.first = 0;
    }
    window.entries.push(entry);
    window.top = Math.max(window.top, entry.offset);
    // Trimmed like the stored stream: the oldest goes once more than `size` (or maxRecovery) are held.
    if (window.entries.length - window.first > this.windowSize) window.first++;
    // Compacted now and then, not per message.
    if (window.first > 1024 && window.first * 2 > window.entries.length) {
      window.entries = window.entries.slice(window.first);
      window.first = 0;
    }
  }

  /** Most messages a window holds: what the history keeps, and no more than a recovery may replay. */
  private get windowSize(): number {
    return Math.min(this.policy.size, this.deps.maxRecovery);
  }

  private failPending(message: string): void {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) if (!p.subscriber.gone) p.subscriber.fail(message);
  }
}
