/**
 * History in Redis, beside the RedisBroker and over its connections: per
 * history topic a Stream of its messages and a small position hash, both
 * hash-tagged into the slot of the topic's channel, written and published by
 * one call of herald.lua's herald_1_history_publish (atomic: the offset is
 * assigned, the message stored and published in one step), read by
 * herald_1_read (the position and the messages in one consistent view).
 * Works the same on standalone, Sentinel and Cluster.
 */
import { IDEMPOTENCY_WINDOW_MS, type BrokerMessage, type PublishOptions } from '../broker/broker.js';
import { channelFor } from '../broker/envelope.js';
import { idempotencyKeyOf } from '../broker/redis/broker.js';
import { CancelledError, routingKeyOf, type RedisLink } from '../broker/redis/connections.js';
import { FUNCTIONS } from '../broker/redis/library.js';
import { HeraldError } from '../errors.js';
import { MAX_DATA_DEPTH, parseBoundedJson } from '../protocol/json.js';
import { EPOCH, newEpoch, type History, type HistoryPage, type HistoryPolicy, type HistoryQuery, type PublishedPosition, type StoredMessage, type StreamPosition } from './history.js';

export class RedisHistory implements History {
  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
  ) {}

  publish(topic: string, message: BrokerMessage, policy: HistoryPolicy, options?: PublishOptions): Promise<PublishedPosition> {
    const channel = channelFor(this.prefix, topic);
    const base = routingKeyOf(channel);
    const keys = [`${base}:s`, `${base}:m`];
    if (options?.idempotencyKey !== undefined) keys.push(idempotencyKeyOf(channel, options.idempotencyKey));
    // `data` was decoded and re-serialised within the depth limit by the node (frames.ts, http.ts): 'validated'.
    const args = [channel, message.data, message.ts, policy.size, policy.ttlMs, policy.metaTtlMs, this.link.publishKind, newEpoch(), IDEMPOTENCY_WINDOW_MS, 'validated'];
    return this.link.enqueue(channel, FUNCTIONS.historyPublish, keys, args, options?.cancelled).then(
      (reply) => {
        const [status, offset, epoch] = reply as [number, number?, string?];
        if (status === 0) throw new HeraldError('unavailable', 'Redis refused the publish: its deadline had passed; not published');
        if (!Number.isSafeInteger(offset) || typeof epoch !== 'string') throw new HeraldError('unavailable', 'unexpected reply from Redis; the message may have been published');
        return { offset: offset!, epoch, duplicate: status === 2 };
      },
      (error: unknown) => {
        throw new HeraldError('unavailable', error instanceof CancelledError ? error.message : `Redis publish failed: ${(error as Error).message}; not published`, { cause: error });
      },
    );
  }

  async position(topic: string, policy: HistoryPolicy): Promise<StreamPosition> {
    return (await this.call(topic, policy, ['position', 0, 0])).position;
  }

  read(topic: string, policy: HistoryPolicy, query: HistoryQuery): Promise<HistoryPage> {
    return this.call(topic, policy, 'last' in query ? ['last', query.last, 0] : ['after', query.after, query.limit]);
  }

  private async call(topic: string, policy: HistoryPolicy, mode: readonly (string | number)[]): Promise<HistoryPage> {
    const channel = channelFor(this.prefix, topic);
    const base = routingKeyOf(channel);
    const args = [...mode, Date.now() - policy.ttlMs, newEpoch(), policy.metaTtlMs];
    let reply: unknown;
    try {
      reply = await this.link.read(FUNCTIONS.read, [`${base}:s`, `${base}:m`], args);
    } catch (error) {
      throw new HeraldError('unavailable', `Redis history read failed: ${(error as Error).message}`, { cause: error });
    }
    return decodeReadReply(reply);
  }
}

/**
 * herald_1_read's reply, {epoch, top, offset, data, ts, …}, checked: a reply
 * that is not what herald.lua returns (another program writing the keys) is
 * an error, never a partial history.
 */
export function decodeReadReply(reply: unknown): HistoryPage {
  if (!Array.isArray(reply) || reply.length < 2 || (reply.length - 2) % 3 !== 0) throw new HeraldError('unavailable', 'malformed history reply from Redis');
  const [epoch, top] = reply as [unknown, unknown];
  if (typeof epoch !== 'string' || !EPOCH.test(epoch) || !Number.isSafeInteger(top) || (top as number) < 0) throw new HeraldError('unavailable', 'malformed history position in Redis');
  const messages: StoredMessage[] = [];
  for (let i = 2; i < reply.length; i += 3) {
    const offset = reply[i] as unknown;
    const data = reply[i + 1] as unknown;
    const ts = Number(reply[i + 2]);
    const previous = messages.length === 0 ? undefined : messages[messages.length - 1]!.offset;
    if (!Number.isSafeInteger(offset) || typeof data !== 'string' || !Number.isFinite(ts) || (previous !== undefined && offset !== previous + 1) || (offset as number) > (top as number)) {
      throw new HeraldError('unavailable', 'malformed stored message in Redis');
    }
    // Stored data goes into frames as it is: it must be JSON within the depth limit (herald.lua checks what
    // backends store; this catches anything written to the stream some other way).
    if (!parseBoundedJson(data, MAX_DATA_DEPTH).ok) throw new HeraldError('unavailable', `stored message ${offset as number} in Redis is not deliverable JSON`);
    messages.push({ offset: offset as number, data, ts });
  }
  return { position: { offset: top as number, epoch }, messages };
}
