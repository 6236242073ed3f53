/**
 * History in process memory, beside the MemoryBroker: the same contract as
 * Redis (history.ts) for a single node, development and the tests. Each
 * history topic keeps a bounded buffer of its last `size` messages; its epoch
 * is chosen when the topic is first seen in this process (so a restart is a
 * new epoch, as a Redis restart without persistence would be).
 *
 * Publishes are queued and carried out once per event-loop turn, like the
 * broker's, so that an HTTP request that goes away before its turn ends is
 * neither stored nor published.
 */
import { IDEMPOTENCY_WINDOW_MS, type PublishOptions } from '../broker/broker.js';
import type { MemoryBroker } from '../broker/memory.js';
import type { BrokerMessage } from '../broker/broker.js';
import { HeraldError } from '../errors.js';
import { newEpoch, type History, type HistoryPage, type HistoryPolicy, type HistoryQuery, type PublishedPosition, type StoredMessage, type StreamPosition } from './history.js';

interface Stream {
  epoch: string;
  top: number;
  /** Oldest first; at most `size` (trimmed lazily, in chunks). */
  messages: StoredMessage[];
  /** When the position is forgotten if nothing is published or read. */
  metaExpiresAt: number;
  /** Idempotency keys: key → position and when it is forgotten. */
  readonly seen: Map<string, { offset: number; until: number }>;
}

interface Queued {
  readonly topic: string;
  readonly message: BrokerMessage;
  readonly policy: HistoryPolicy;
  readonly options: PublishOptions | undefined;
  readonly resolve: (position: PublishedPosition) => void;
  readonly reject: (error: HeraldError) => void;
}

const SWEEP_INTERVAL_MS = 10_000;

export class MemoryHistory implements History {
  private readonly streams = new Map<string, Stream>();
  private queue: Queued[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly now: () => number = Date.now,
  ) {
    // Topics whose position expired are forgotten, so the map does not keep every topic ever used.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  publish(topic: string, message: BrokerMessage, policy: HistoryPolicy, options?: PublishOptions): Promise<PublishedPosition> {
    if (!this.broker.isUp()) return Promise.reject(new HeraldError('unavailable', 'broker is closed'));
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(this.flush);
      this.queue.push({ topic, message, policy, options, resolve, reject });
    });
  }

  async position(topic: string, policy: HistoryPolicy): Promise<StreamPosition> {
    const stream = this.stream(topic, policy);
    return { offset: stream.top, epoch: stream.epoch };
  }

  async read(topic: string, policy: HistoryPolicy, query: HistoryQuery): Promise<HistoryPage> {
    const stream = this.stream(topic, policy);
    const oldest = this.now() - policy.ttlMs;
    // Expired messages go as a prefix, so what remains is contiguous.
    let first = 0;
    while (first < stream.messages.length && stream.messages[first]!.ts < oldest) first++;
    const live = stream.messages.slice(Math.max(first, stream.messages.length - policy.size));
    const messages = 'last' in query ? live.slice(Math.max(0, live.length - query.last)) : live.filter((m) => m.offset > query.after).slice(0, query.limit);
    return { position: { offset: stream.top, epoch: stream.epoch }, messages };
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const queued of this.queue.splice(0)) queued.reject(new HeraldError('unavailable', 'broker is closed'));
  }

  private readonly flush = (): void => {
    const queue = this.queue;
    this.queue = [];
    const now = this.now();
    for (const { topic, message, policy, options, resolve, reject } of queue) {
      if (!this.broker.isUp()) {
        reject(new HeraldError('unavailable', 'broker is closed'));
        continue;
      }
      if (options?.cancelled?.() === true) {
        reject(new HeraldError('unavailable', 'the request went away before the message was sent; not published'));
        continue;
      }
      const stream = this.stream(topic, policy);
      const key = options?.idempotencyKey;
      const seen = key === undefined ? undefined : stream.seen.get(key);
      if (seen !== undefined && seen.until > now) {
        resolve({ offset: seen.offset, epoch: stream.epoch, duplicate: true });
        continue;
      }
      const offset = ++stream.top;
      stream.messages.push({ offset, data: message.data, ts: message.ts });
      if (stream.messages.length >= policy.size * 2 + 16) stream.messages.splice(0, stream.messages.length - policy.size);
      if (key !== undefined) stream.seen.set(key, { offset, until: now + IDEMPOTENCY_WINDOW_MS });
      stream.metaExpiresAt = now + policy.metaTtlMs;
      void this.broker.publish(topic, { ...message, offset, epoch: stream.epoch });
      resolve({ offset, epoch: stream.epoch, duplicate: false });
    }
  };

  /** The topic's stream, created (a new epoch, offset 0) when it has none or its position expired. */
  private stream(topic: string, policy: HistoryPolicy): Stream {
    const now = this.now();
    let stream = this.streams.get(topic);
    if (stream === undefined || stream.metaExpiresAt <= now) {
      stream = { epoch: newEpoch(), top: 0, messages: [], metaExpiresAt: 0, seen: new Map() };
      this.streams.set(topic, stream);
    }
    stream.metaExpiresAt = now + policy.metaTtlMs;
    return stream;
  }

  private sweep(): void {
    const now = this.now();
    for (const [topic, stream] of this.streams) {
      if (stream.metaExpiresAt <= now) this.streams.delete(topic);
      else for (const [key, seen] of stream.seen) if (seen.until <= now) stream.seen.delete(key);
    }
  }
}
