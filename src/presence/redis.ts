/**
 * Presence in Redis, beside the RedisBroker and over its connections: four
 * keys per presence topic in the slot of its channel, read and written only by
 * herald.lua's herald_1_presence and herald_1_presence_read (atomic, so that
 * a join or a leave is decided once, whichever node triggers it).
 */
import { channelFor } from '../broker/envelope.js';
import { routingKeyOf, type RedisLink } from '../broker/redis/connections.js';
import { FUNCTIONS } from '../broker/redis/library.js';
import { MAX_INFO_DEPTH } from '../auth/authenticator.js';
import { HeraldError } from '../errors.js';
import { parseBoundedJson } from '../protocol/json.js';
import { aggregate, type PresenceCount, type PresenceEntry, type PresenceStore, type PresenceUser } from './presence.js';

export class RedisPresence implements PresenceStore {
  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
  ) {}

  private keys(topic: string): { channel: string; keys: string[] } {
    const channel = channelFor(this.prefix, topic);
    const base = routingKeyOf(channel);
    return { channel, keys: [`${base}:pe`, `${base}:px`, `${base}:pu`, `${base}:pn`] };
  }

  async update(topic: string, node: string, entries: readonly PresenceEntry[], ttlMs: number, announce: boolean): Promise<void> {
    const { channel, keys } = this.keys(topic);
    const args: (string | number)[] = [node, ttlMs, channel, this.link.publishKind, announce ? '1' : '0', entries.length];
    for (const entry of entries) args.push(entry.sub, entry.connections, entry.info ?? '');
    try {
      await this.link.read(FUNCTIONS.presence, keys, args);
    } catch (error) {
      throw new HeraldError('unavailable', `Redis presence update failed: ${(error as Error).message}`, { cause: error });
    }
  }

  async list(topic: string, announce: boolean): Promise<PresenceUser[]> {
    const reply = await this.read(topic, 'list', announce);
    if (!Array.isArray(reply) || reply.length % 2 !== 0) throw new HeraldError('unavailable', 'malformed presence reply from Redis');
    const entries: PresenceEntry[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      const member = reply[i] as unknown;
      const value = reply[i + 1] as unknown;
      if (typeof member !== 'string' || typeof value !== 'string') continue;
      const space = member.indexOf(' ');
      const split = value.indexOf(' ');
      const connections = Number(value.slice(0, split));
      if (space < 0 || split < 0 || !Number.isSafeInteger(connections) || connections <= 0) continue;
      const info = value.slice(split + 1);
      // Info goes into frames as it is: anything not written by a node (not JSON) is left out.
      entries.push({ sub: member.slice(space + 1), connections, info: info === '' || !parseBoundedJson(info, MAX_INFO_DEPTH).ok ? undefined : info });
    }
    return aggregate(entries);
  }

  async count(topic: string, announce: boolean): Promise<PresenceCount> {
    const reply = await this.read(topic, 'count', announce);
    const [users, connections] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (!Number.isSafeInteger(users) || !Number.isSafeInteger(connections)) throw new HeraldError('unavailable', 'malformed presence count from Redis');
    return { users: users as number, connections: Math.max(0, connections as number) };
  }

  private async read(topic: string, mode: 'list' | 'count', announce: boolean): Promise<unknown> {
    const { channel, keys } = this.keys(topic);
    try {
      return await this.link.read(FUNCTIONS.presenceRead, keys, [mode, channel, this.link.publishKind, announce ? '1' : '0']);
    } catch (error) {
      throw new HeraldError('unavailable', `Redis presence read failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
