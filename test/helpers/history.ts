/**
 * Clients and publishers for the heavy history tests, written from
 * docs/protocol.md ("History and recovery") alone: a follower does what the
 * contract asks of a client (resubscribe with `since` from the last message it
 * received), a publisher remembers which data went out at which offset, and
 * `gapsOf` says how a follower's stream differs from what was published.
 * Deliberately not the SDK: these tests judge the server, and the SDK has its
 * own tests.
 */
import WebSocket from 'ws';
import { API_KEY } from './tokens.js';

export interface Received {
  readonly offset: number;
  readonly data: unknown;
}

export interface FollowerOptions {
  /** Reconnect (to the next URL) whenever the connection closes. Off: a close is only recorded. */
  readonly reconnect?: boolean;
  /** Index in `urls` of the first node to connect to. */
  readonly first?: number;
  /** A connection that has not been acknowledged this long is abandoned for the next URL. */
  readonly ackTimeoutMs?: number;
}

/**
 * Follows one history topic across connections. Everything the contract
 * forbids is written to `problems` as it happens (a message before the ack, an
 * offset that is not the next one, a recovery refused, a changed epoch, an
 * error or `unsubscribed` frame), so a failing test says what went wrong, not
 * only that something did.
 */
export class Follower {
  readonly received: Received[] = [];
  readonly problems: string[] = [];
  /** Close codes of acknowledged connections that the server (not the follower) ended, in order. */
  readonly closes: number[] = [];
  /** Node names from welcome frames, one per acknowledged connection. */
  readonly nodes: string[] = [];
  epoch: string | undefined;
  /** The offset in the first ack: the follower expects every offset after it. */
  firstAck: number | undefined;
  /** Last offset received (or acknowledged); the `since` of the next subscribe. */
  last = -1;
  /** Subscribes acknowledged with `since` and `recovered:true`. */
  recoveries = 0;
  /** Messages replayed by those recoveries (ack offset minus since offset, summed). */
  replayed = 0;
  /** Recoveries that replayed at least one message. */
  nonEmptyRecoveries = 0;
  /** Attempts that never reached an ack (refused upgrade, node gone, timeout). */
  failedAttempts = 0;

  private socket: WebSocket | undefined;
  private acked = false;
  /** Connections the follower gave up on: nothing they deliver any more counts. */
  private readonly abandoned = new WeakSet<WebSocket>();
  private index: number;
  private stopped = false;
  private nextId = 1;
  private waiters: (() => void)[] = [];
  private retry: NodeJS.Timeout | undefined;
  private readonly reconnect: boolean;
  private readonly ackTimeoutMs: number;

  constructor(
    private readonly urls: readonly string[],
    private readonly token: string,
    readonly topic: string,
    options: FollowerOptions = {},
  ) {
    this.index = options.first ?? 0;
    this.reconnect = options.reconnect ?? true;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  }

  /** Connects and subscribes; resolves on the first ack (rejects after `timeoutMs`). */
  start(timeoutMs = 10_000): Promise<void> {
    this.open();
    return this.until(() => this.firstAck !== undefined, timeoutMs, 'first ack');
  }

  /** Drops the current connection as a client would (abruptly or with a close frame); a reconnecting follower moves to the next node. */
  bounce(abrupt: boolean): void {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    this.abandon(socket);
    if (abrupt) socket.terminate();
    else socket.close(1000);
    this.scheduleOpen(0);
  }

  /** Whether the follower currently holds an acknowledged subscription. */
  get subscribed(): boolean {
    return this.acked;
  }

  /** Resolves once the follower has received `offset` (its checks say whether everything before it came too). */
  waitFor(offset: number, timeoutMs: number): Promise<void> {
    return this.until(() => this.last >= offset, timeoutMs, `offset ${offset}`);
  }

  /** Waits until the current connection is acknowledged. */
  waitSubscribed(timeoutMs: number): Promise<void> {
    return this.until(() => this.acked, timeoutMs, 'a subscription');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) socket.terminate();
    this.wake();
  }

  private abandon(socket: WebSocket): void {
    this.abandoned.add(socket);
    if (this.socket === socket) {
      this.socket = undefined;
      this.acked = false;
    }
  }

  private scheduleOpen(delayMs: number): void {
    if (this.stopped || !this.reconnect) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.open(), delayMs);
  }

  private open(): void {
    if (this.stopped) return;
    const url = this.urls[this.index++ % this.urls.length]!;
    const socket = new WebSocket(`${url}?token=${encodeURIComponent(this.token)}`);
    this.socket = socket;
    this.acked = false;
    const id = this.nextId++;
    let since: { offset: number; epoch: string } | undefined;
    let established = false;
    let node = '';
    const ackTimer = setTimeout(() => {
      if (this.acked || this.abandoned.has(socket)) return;
      this.failedAttempts++;
      this.abandon(socket);
      socket.terminate();
      this.scheduleOpen(10);
    }, this.ackTimeoutMs);
    socket.on('error', () => undefined);
    socket.on('message', (raw) => {
      // What arrives after the client dropped a connection is not what it "received".
      if (this.abandoned.has(socket) || this.stopped) return;
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(raw.toString()) as Record<string, unknown>;
      } catch {
        this.problems.push(`not JSON: ${raw.toString().slice(0, 100)}`);
        return;
      }
      if (frame.type === 'welcome') {
        node = String(frame.node);
        since = this.firstAck === undefined || this.epoch === undefined ? undefined : { offset: this.last, epoch: this.epoch };
        socket.send(JSON.stringify({ type: 'subscribe', topic: this.topic, id, ...(since === undefined ? {} : { since }) }));
      } else if (frame.type === 'ack' && frame.id === id) {
        clearTimeout(ackTimer);
        established = true;
        this.onAck(frame, since, node);
        this.acked = true;
        this.wake();
      } else if (frame.type === 'message' && frame.topic === this.topic) {
        if (!this.acked) this.problems.push(`message ${String(frame.offset)} before the ack on ${node}`);
        this.onMessage(frame, node);
      } else if (frame.type === 'error' || frame.type === 'unsubscribed') {
        this.problems.push(`${JSON.stringify(frame)} on ${node}`);
      }
    });
    socket.on('close', (code) => {
      clearTimeout(ackTimer);
      if (this.abandoned.has(socket) || this.stopped) return;
      if (established) this.closes.push(code);
      if (!established) this.failedAttempts++;
      this.abandon(socket);
      this.wake();
      // A node that is gone refuses at once: move on quickly, with a little jitter so that a crowd does not move in step.
      this.scheduleOpen(established ? 5 + Math.random() * 20 : 20 + Math.random() * 50);
    });
  }

  private onAck(frame: Record<string, unknown>, since: { offset: number; epoch: string } | undefined, node: string): void {
    this.nodes.push(node);
    const offset = frame.offset;
    const epoch = frame.epoch;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || typeof epoch !== 'string') {
      this.problems.push(`ack without a position on ${node}: ${JSON.stringify(frame)}`);
      return;
    }
    if (since === undefined) {
      this.epoch = epoch;
      this.firstAck = offset;
      this.last = offset;
      return;
    }
    if (frame.recovered !== true || epoch !== since.epoch || offset < since.offset) {
      this.problems.push(`recovery from ${since.offset} refused on ${node}: ${JSON.stringify(frame)}`);
      // Keep following from the new position; the hole shows in gapsOf.
      this.epoch = epoch;
      this.last = offset;
      return;
    }
    this.recoveries++;
    this.replayed += offset - since.offset;
    if (offset > since.offset) this.nonEmptyRecoveries++;
  }

  private onMessage(frame: Record<string, unknown>, node: string): void {
    const offset = frame.offset;
    if (typeof offset !== 'number') {
      this.problems.push(`message without offset on ${node}: ${JSON.stringify(frame).slice(0, 200)}`);
      return;
    }
    if (offset !== this.last + 1) this.problems.push(`offset ${offset} after ${this.last} on ${node}`);
    this.received.push({ offset, data: frame.data });
    if (offset > this.last) this.last = offset;
    this.wake();
  }

  private async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.stopped) {
        throw new Error(`${this.topic}: no ${what} within ${timeoutMs} ms (last ${this.last}, ack ${String(this.firstAck)}; problems: ${this.problems.slice(0, 3).join('; ')})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * How a follower's stream differs from the contract: it must hold exactly
 * the offsets firstAck+1 … top, each once, in order, each with the data that
 * was published at that offset. Empty when it does.
 */
export function gapsOf(follower: Follower, published: ReadonlyMap<number, unknown>, top: number): string[] {
  const problems: string[] = [];
  const from = (follower.firstAck ?? 0) + 1;
  const offsets = follower.received.map((r) => r.offset);
  const expected = Array.from({ length: Math.max(0, top - from + 1) }, (_, i) => from + i);
  if (offsets.length !== expected.length) problems.push(`${follower.topic}: ${offsets.length} messages received, ${expected.length} expected (${from}…${top})`);
  const seen = new Set<number>();
  for (const [i, { offset, data }] of follower.received.entries()) {
    if (seen.has(offset)) problems.push(`${follower.topic}: offset ${offset} received twice`);
    seen.add(offset);
    if (offset !== expected[i] && problems.length < 20) problems.push(`${follower.topic}: position ${i} holds offset ${offset}, expected ${String(expected[i])}`);
    if (JSON.stringify(data) !== JSON.stringify(published.get(offset)) && problems.length < 20) {
      problems.push(`${follower.topic}: offset ${offset} carried ${JSON.stringify(data)}, published ${JSON.stringify(published.get(offset))}`);
    }
  }
  for (const offset of expected) if (!seen.has(offset) && problems.length < 20) problems.push(`${follower.topic}: offset ${offset} never received`);
  return problems;
}

export interface PublisherOptions {
  /** Requests in flight at once, each on its own loop. */
  readonly concurrency: number;
  /** Messages per topic in each request. */
  readonly batch: number;
  /** Pause between a loop's requests; 0 for full speed. */
  readonly pauseMs: number;
}

/**
 * Publishes to history topics over HTTP and records, per topic, which data
 * went out at which offset (from the offsets `POST /v1/publish` answers).
 */
export class HttpPublisher {
  /** topic → offset → data */
  readonly published = new Map<string, Map<number, unknown>>();
  readonly epochs = new Map<string, string>();
  readonly failures: string[] = [];
  requests = 0;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly httpUrls: readonly string[],
    private readonly topics: readonly string[],
    private readonly options: PublisherOptions,
  ) {
    for (const topic of topics) this.published.set(topic, new Map());
  }

  start(): void {
    this.loops = Array.from({ length: this.options.concurrency }, (_, loop) => this.run(loop));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** Messages published so far, over all topics. */
  get count(): number {
    let total = 0;
    for (const offsets of this.published.values()) total += offsets.size;
    return total;
  }

  top(topic: string): number {
    let top = 0;
    for (const offset of this.published.get(topic)!.keys()) top = Math.max(top, offset);
    return top;
  }

  /** Records a message published some other way (a Redis FCALL) under the same bookkeeping. */
  record(topic: string, offset: number, epoch: string, data: unknown): void {
    const known = this.epochs.get(topic);
    if (known !== undefined && known !== epoch) this.failures.push(`${topic}: epoch ${epoch} after ${known}`);
    this.epochs.set(topic, epoch);
    const offsets = this.published.get(topic)!;
    if (offsets.has(offset)) this.failures.push(`${topic}: offset ${offset} assigned twice`);
    offsets.set(offset, data);
  }

  /** Every offset from 1 to the top was assigned to exactly one of our messages. */
  holes(topic: string): number[] {
    const offsets = this.published.get(topic)!;
    const missing: number[] = [];
    for (let offset = 1; offset <= this.top(topic); offset++) if (!offsets.has(offset)) missing.push(offset);
    return missing;
  }

  private async run(loop: number): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const messages = this.topics.flatMap((topic) => Array.from({ length: this.options.batch }, () => ({ topic, data: { loop, n: this.seq++ } })));
      const url = this.httpUrls[(loop + i) % this.httpUrls.length]!;
      try {
        const res = await fetch(`${url}/v1/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ messages }),
          signal: AbortSignal.timeout(5000),
        });
        const body = (await res.json()) as { messages?: { topic: string; offset?: number; epoch?: string }[] };
        this.requests++;
        if (res.status !== 202 || body.messages?.length !== messages.length) {
          this.failures.push(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
        } else {
          for (const [j, entry] of body.messages.entries()) {
            if (typeof entry.offset !== 'number' || typeof entry.epoch !== 'string') this.failures.push(`${url}: no offset in ${JSON.stringify(entry)}`);
            else this.record(entry.topic, entry.offset, entry.epoch, messages[j]!.data);
          }
        }
      } catch (error) {
        this.failures.push(`${url}: ${String(error)}`);
      }
      if (this.options.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs));
    }
  }
}
