/**
 * Presence in process memory, beside the MemoryBroker: the same contract as
 * Redis (presence.ts) for a single node, development and the tests. Entries
 * expire by time exactly as in Redis; joins and leaves go out through the
 * broker, in order with the topic's messages.
 */
import type { MemoryBroker } from '../broker/memory.js';
import { aggregate, type PresenceCount, type PresenceEntry, type PresenceStore, type PresenceUser } from './presence.js';

interface Stored {
  connections: number;
  info: string | undefined;
  expiresAt: number;
}

interface Topic {
  /** "<node> <sub>" → entry */
  readonly entries: Map<string, Stored>;
  /** sub → how many nodes have an entry */
  readonly users: Map<string, number>;
}

export class MemoryPresence implements PresenceStore {
  private readonly topics = new Map<string, Topic>();

  constructor(
    private readonly broker: MemoryBroker,
    private readonly now: () => number = Date.now,
  ) {}

  async update(topic: string, node: string, entries: readonly PresenceEntry[], ttlMs: number, announce: boolean): Promise<void> {
    const state = this.topicOf(topic);
    const now = this.now();
    this.dropExpired(topic, state, now, announce);
    for (const entry of entries) {
      const member = `${node} ${entry.sub}`;
      if (entry.connections <= 0) {
        this.drop(topic, state, member, announce);
        continue;
      }
      const known = state.entries.get(member);
      state.entries.set(member, { connections: entry.connections, info: entry.info, expiresAt: now + ttlMs });
      if (known !== undefined) continue;
      const count = (state.users.get(entry.sub) ?? 0) + 1;
      state.users.set(entry.sub, count);
      if (count === 1 && announce) this.broker.publishEvent(topic, { event: 'join', sub: entry.sub, info: entry.info });
    }
    if (state.entries.size === 0) this.topics.delete(topic);
  }

  async list(topic: string, announce: boolean): Promise<PresenceUser[]> {
    const state = this.topics.get(topic);
    if (state === undefined) return [];
    this.dropExpired(topic, state, this.now(), announce);
    return aggregate([...state.entries].map(([member, entry]) => ({ sub: member.slice(member.indexOf(' ') + 1), connections: entry.connections, info: entry.info })));
  }

  async count(topic: string, announce: boolean): Promise<PresenceCount> {
    const state = this.topics.get(topic);
    if (state === undefined) return { users: 0, connections: 0 };
    this.dropExpired(topic, state, this.now(), announce);
    let connections = 0;
    for (const entry of state.entries.values()) connections += entry.connections;
    return { users: state.users.size, connections };
  }

  private topicOf(topic: string): Topic {
    let state = this.topics.get(topic);
    if (state === undefined) {
      state = { entries: new Map(), users: new Map() };
      this.topics.set(topic, state);
    }
    return state;
  }

  private dropExpired(topic: string, state: Topic, now: number, announce: boolean): void {
    for (const [member, entry] of state.entries) if (entry.expiresAt <= now) this.drop(topic, state, member, announce);
  }

  private drop(topic: string, state: Topic, member: string, announce: boolean): void {
    const entry = state.entries.get(member);
    if (entry === undefined) return;
    state.entries.delete(member);
    const sub = member.slice(member.indexOf(' ') + 1);
    const left = (state.users.get(sub) ?? 1) - 1;
    if (left > 0) {
      state.users.set(sub, left);
      return;
    }
    state.users.delete(sub);
    if (announce) this.broker.publishEvent(topic, { event: 'leave', sub, info: entry.info });
  }
}
