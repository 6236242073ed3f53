/**
 * This node's side of presence: its local users per presence topic, written
 * to the shared store in batches.
 *
 * Subscribes and unsubscribes only mark a (topic, user) pair as changed; the
 * changes are written together FLUSH_DELAY_MS later, one store call per topic
 * and all of them in one pipeline, so a reconnect storm of thousands of clients
 * costs a handful of round trips, not one per client. Every third of the TTL
 * every entry of the node is refreshed the same way (one pipeline per
 * interval, whatever the number of connections).
 *
 * A user whose last local connection left is kept for the leave grace before
 * the entry is removed: a reload, a reconnect or a drain within it is neither
 * a leave nor a join. A draining node hands its entries the grace as their
 * last expiry, so that users who reconnect elsewhere meanwhile never leave.
 */
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PresenceEntry, PresencePolicies, PresenceStore } from './presence.js';

interface Local {
  connections: number;
  info: string | undefined;
  /** Set while the user has no local connection: when the entry is removed. */
  leavingAt: number | undefined;
}

const FLUSH_DELAY_MS = 50;

export interface TrackerOptions {
  readonly nodeId: string;
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly now?: () => number;
}

export class PresenceTracker {
  /** topic → sub → local state */
  private readonly local = new Map<string, Map<string, Local>>();
  /** topic → subs changed since the last flush */
  private dirty = new Map<string, Set<string>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly now: () => number;
  private stopped = false;

  constructor(
    private readonly store: PresenceStore,
    private readonly policies: PresencePolicies,
    private readonly options: TrackerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.refreshTimer = setInterval(() => this.refresh(), Math.max(1000, Math.floor(options.ttlMs / 3)));
    this.refreshTimer.unref();
  }

  /** A local connection of `sub` joined the topic's fan-out (uWebSockets.js subscribe). */
  joined(topic: string, sub: string, info: string | undefined): void {
    if (this.stopped || !this.policies.has(topic)) return;
    let users = this.local.get(topic);
    if (users === undefined) this.local.set(topic, (users = new Map()));
    const user = users.get(sub);
    if (user === undefined) {
      users.set(sub, { connections: 1, info, leavingAt: undefined });
      this.mark(topic, sub);
      return;
    }
    user.connections++;
    user.leavingAt = undefined;
    user.info = info ?? user.info;
    this.mark(topic, sub);
  }

  /** A local connection of `sub` left the topic (unsubscribe or close). */
  left(topic: string, sub: string): void {
    const user = this.local.get(topic)?.get(sub);
    if (user === undefined || user.connections === 0) return;
    user.connections--;
    if (user.connections > 0) {
      this.mark(topic, sub);
      return;
    }
    // Counted for the grace still (as one connection); removed when it ends, unless the user is back.
    user.leavingAt = this.now() + this.options.graceMs;
    if (this.options.graceMs === 0) {
      this.mark(topic, sub);
      return;
    }
    this.leaveAfterGrace(topic, sub, user, this.options.graceMs);
  }

  /**
   * Marks the user for removal once the grace has passed. A timer may fire a
   * little before the clock reaches leavingAt (libuv's loop time, which timers
   * run on, lags Date.now()): it then waits for the rest instead of leaving the
   * removal to the next refresh, a third of the TTL later.
   */
  private leaveAfterGrace(topic: string, sub: string, user: Local, waitMs: number): void {
    const timer = setTimeout(() => {
      if (this.stopped || user.leavingAt === undefined || this.local.get(topic)?.get(sub) !== user) return;
      const rest = user.leavingAt - this.now();
      if (rest > 0) this.leaveAfterGrace(topic, sub, user, rest);
      else this.mark(topic, sub);
    }, waitMs);
    timer.unref();
  }

  /** Local users of the node, for the gauge. */
  get entries(): number {
    let n = 0;
    for (const users of this.local.values()) n += users.size;
    return n;
  }

  private mark(topic: string, sub: string): void {
    let subs = this.dirty.get(topic);
    if (subs === undefined) this.dirty.set(topic, (subs = new Set()));
    subs.add(sub);
    if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
      this.flushTimer.unref();
    }
  }

  /** What the store should hold for a local user: their connections, or, during the grace, their last count. */
  private entryOf(sub: string, user: Local, now: number): PresenceEntry {
    const leaving = user.leavingAt !== undefined;
    const gone = leaving && now >= user.leavingAt!;
    return { sub, connections: gone ? 0 : leaving ? 1 : user.connections, info: user.info };
  }

  private flush(): void {
    this.flushTimer = undefined;
    const dirty = this.dirty;
    this.dirty = new Map();
    const now = this.now();
    for (const [topic, subs] of dirty) {
      const users = this.local.get(topic);
      const entries: PresenceEntry[] = [];
      for (const sub of subs) {
        const user = users?.get(sub);
        if (user !== undefined) entries.push(this.entryOf(sub, user, now));
      }
      this.write(topic, entries, this.options.ttlMs);
      this.forgetGone(topic, now);
    }
  }

  /** Every entry of the node, its expiry pushed on; users whose grace ended are removed. */
  private refresh(): void {
    if (this.stopped) return;
    const now = this.now();
    this.dirty.clear();
    for (const [topic, users] of this.local) {
      this.write(topic, [...users].map(([sub, user]) => this.entryOf(sub, user, now)), this.options.ttlMs);
      this.forgetGone(topic, now);
    }
  }

  private forgetGone(topic: string, now: number): void {
    const users = this.local.get(topic);
    if (users === undefined) return;
    for (const [sub, user] of users) if (user.leavingAt !== undefined && now >= user.leavingAt) users.delete(sub);
    if (users.size === 0) this.local.delete(topic);
  }

  private write(topic: string, entries: PresenceEntry[], ttlMs: number): void {
    if (entries.length === 0) return;
    this.metrics.presenceWrites.inc();
    this.store.update(topic, this.options.nodeId, entries, ttlMs, this.policies.announces(topic)).catch((error: unknown) => {
      // The next refresh writes every entry again.
      this.log.warn({ topic, err: error }, 'presence update failed; retried at the next refresh');
    });
  }

  /**
   * The node is draining: its entries get the leave grace as their last
   * expiry, so that its users who reconnect elsewhere within it never leave,
   * and those who do not leave once it passes (any node's next write or read
   * of the topic drops them).
   */
  drain(): void {
    this.stopped = true;
    clearInterval(this.refreshTimer);
    clearTimeout(this.flushTimer);
    const now = this.now();
    for (const [topic, users] of this.local) {
      const entries = [...users].map(([sub, user]) => ({ ...this.entryOf(sub, user, now), connections: Math.max(1, user.connections) }));
      this.write(topic, entries, Math.max(1, this.options.graceMs));
    }
    this.local.clear();
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.refreshTimer);
    clearTimeout(this.flushTimer);
  }
}
