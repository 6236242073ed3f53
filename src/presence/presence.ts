/**
 * Presence: who is in a topic, how many, and join/leave events, across all
 * nodes (docs/protocol.md, "Presence").
 *
 * A user is a token's `sub`: several connections (tabs, devices) of one `sub`
 * are one user. What is shown of a user is the token's `info` claim, never
 * client input. Each node keeps, per presence topic, one entry per local user
 * (how many of their connections are on this node) in a shared store, with an
 * expiry it refreshes; a node that dies stops refreshing, and its entries go
 * by themselves. A user's first entry anywhere is their *join*, the removal of
 * their last their *leave*: the store decides both atomically and announces
 * them on the topic's channel, so every node delivers them once.
 *
 * Contract, checked for every implementation by test/contract/presence.ts:
 * - `update` sets the entries of one node in one topic (0 connections removes
 *   one) and refreshes their expiry to `ttlMs`; expired entries of any node
 *   are dropped (and their leaves announced) on the way.
 * - `list` and `count` see every live entry of every node, aggregated by sub.
 * - With `announce`, joins and leaves reach the topic's subscribers on every
 *   node through the broker's event handler, each exactly once.
 */
import type { PresenceConfig } from '../config.js';
import { matchPattern, type Pattern } from '../protocol/topics.js';

/** One node's share of one user in one topic. */
export interface PresenceEntry {
  readonly sub: string;
  /** Connections of the user on this node; 0 removes the entry. */
  readonly connections: number;
  /** The user's `info` claim, JSON text. */
  readonly info: string | undefined;
}

export interface PresenceUser {
  readonly sub: string;
  /** Connections of the user on all nodes. */
  readonly connections: number;
  readonly info: string | undefined;
}

export interface PresenceCount {
  readonly users: number;
  readonly connections: number;
}

export interface PresenceStore {
  update(topic: string, node: string, entries: readonly PresenceEntry[], ttlMs: number, announce: boolean): Promise<void>;
  list(topic: string, announce: boolean): Promise<PresenceUser[]>;
  count(topic: string, announce: boolean): Promise<PresenceCount>;
}

/** Which topics have presence, and which of them announce joins and leaves. */
export class PresencePolicies {
  private readonly cache = new Map<string, 0 | 1 | 2>();

  constructor(readonly config: PresenceConfig) {}

  get enabled(): boolean {
    return this.config.patterns.length > 0;
  }

  has(topic: string): boolean {
    return this.lookup(topic) !== 0;
  }

  announces(topic: string): boolean {
    return this.lookup(topic) === 2;
  }

  /** 0: no presence; 1: presence; 2: presence with join/leave frames. */
  private lookup(topic: string): 0 | 1 | 2 {
    if (this.config.patterns.length === 0) return 0;
    const cached = this.cache.get(topic);
    if (cached !== undefined) return cached;
    const matches = (patterns: readonly Pattern[]): boolean => patterns.some((pattern) => matchPattern(pattern, topic, ''));
    const kind = !matches(this.config.patterns) ? 0 : matches(this.config.joinLeave) ? 2 : 1;
    // Bounded: topics are attacker-chosen strings.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(topic, kind);
    return kind;
  }
}

/** Adds up the entries of every node into users (first info seen wins: a user's tokens normally agree). */
export function aggregate(entries: Iterable<PresenceEntry>): PresenceUser[] {
  const users = new Map<string, { connections: number; info: string | undefined }>();
  for (const entry of entries) {
    const user = users.get(entry.sub);
    if (user === undefined) users.set(entry.sub, { connections: entry.connections, info: entry.info });
    else {
      user.connections += entry.connections;
      user.info ??= entry.info;
    }
  }
  return [...users].map(([sub, { connections, info }]) => ({ sub, connections, info }));
}
