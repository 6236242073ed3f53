/**
 * The live fuzz harness: one Herald process per target, a control client
 * subscribed from the start, a sampler of the node's RSS and open file
 * descriptors, a pool running cases concurrently, and the closing checks the
 * contract asks of a node that has been abused: still up, /healthz 200, the
 * control client still served, memory and descriptors bounded.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { scrape, withTimeout } from '../../helpers/client.js';
import { API_KEY, SECRET, hs256 } from '../../helpers/tokens.js';
import { FULL, Tally, seedFor } from './budget.js';
import { CLOSE_CODES, LIMITS, SERVER_FRAME_TYPES, WS_ERROR_CODES } from './contract.js';
import { canonical } from './json.js';
import { crashExcerpt, processStats, startFuzzNode, type FuzzNode, type ProcessStats } from './node.js';

export { API_KEY, SECRET };

/** Bounds the closing checks hold the node to (see the report for how they were chosen). */
export const BOUNDS = {
  /** Open descriptors after the run, once every fuzz connection is closed, above the count before it. */
  fdsAfterAbove: 8,
  /** Open descriptors at any moment above the count before the run, per concurrent case. */
  fdsDuringPerCase: 4,
  fdsDuringSlack: 64,
  /** RSS growth at any moment during the run (measured: about 20 MiB for the bounded runs). */
  rssGrowthDuring: (FULL ? 192 : 96) * 1024 * 1024,
  /** RSS growth after the run, once idle. */
  rssGrowthAfter: (FULL ? 128 : 64) * 1024 * 1024,
};

export interface Violation {
  caseId: string;
  message: string;
}


/** Checks one server text frame against "Server frames"; returns what is wrong with it, if anything. */
export function serverFrameProblem(text: string): string | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return `a server frame is not JSON: ${text.slice(0, 200)}`;
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) return `a server frame is not an object: ${text.slice(0, 200)}`;
  const f = frame as Record<string, unknown>;
  if (typeof f.type !== 'string' || !SERVER_FRAME_TYPES.has(f.type)) return `undocumented server frame type: ${text.slice(0, 200)}`;
  if (f.type === 'error' && (typeof f.code !== 'string' || !WS_ERROR_CODES.has(f.code))) return `an error frame with an undocumented code: ${text.slice(0, 200)}`;
  if (f.type === 'welcome' && !(f.exp === null || (typeof f.exp === 'number' && Number.isFinite(f.exp) && f.exp >= 0 && f.exp <= LIMITS.timeClaimMax))) return `welcome with an exp outside the documented range: ${text.slice(0, 200)}`;
  if (f.type === 'message' && !(typeof f.ts === 'number' && Number.isFinite(f.ts))) return `a message frame without a finite ts: ${text.slice(0, 200)}`;
  return undefined;
}

/** Checks a close code and reason sent by the server; `echo` is the code the client itself sent, which a server may echo. */
export function closeProblem(code: number | undefined, reason: string, echo?: number): string | undefined {
  if (code === undefined) return undefined;
  if (echo !== undefined && code === echo) return undefined;
  const reasons = CLOSE_CODES.get(code);
  if (reasons === undefined) return `undocumented close code ${code} (${reason})`;
  if (reasons.length > 0 && !reasons.includes(reason)) return `close ${code} with undocumented reason ${JSON.stringify(reason)}`;
  return undefined;
}

/** A WebSocket client (the `ws` package) that records every frame and checks each against the contract. */
export class Observer {
  readonly frames: Record<string, unknown>[] = [];
  readonly problems: string[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  private nextId = 1;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const text = data.toString();
      const problem = isBinary ? 'the server sent a binary frame' : serverFrameProblem(text);
      if (problem !== undefined) this.problems.push(problem);
      else this.frames.push(JSON.parse(text) as Record<string, unknown>);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async open(wsUrl: string, token: string): Promise<Observer> {
    const observer = new Observer(new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`, { maxPayload: 256 * 1024 * 1024 }));
    await observer.until(() => observer.frames.some((f) => f.type === 'welcome'), 5000, 'welcome');
    return observer;
  }

  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const id = `obs-${this.nextId++}`;
    this.socket.send(JSON.stringify({ ...frame, id }));
    await this.until(() => this.frames.some((f) => f.id === id), timeoutMs, `reply to ${JSON.stringify(frame)}`);
    return this.frames.find((f) => f.id === id)!;
  }

  async subscribe(topic: string): Promise<void> {
    const reply = await this.request({ type: 'subscribe', topic });
    if (reply.type !== 'ack') throw new Error(`subscribe ${topic}: ${JSON.stringify(reply)}`);
  }

  messages(topic?: string): Record<string, unknown>[] {
    return this.frames.filter((f) => f.type === 'message' && (topic === undefined || f.topic === topic));
  }

  async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.closed !== undefined) throw new Error(`observer closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.terminate();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export interface LiveOptions {
  /** Extra environment for the node. */
  env?: Record<string, string>;
  /** Run after the node (and the control client) is up, also on the fresh nodes that replay a crash. */
  onStart?: () => Promise<void>;
}

/** Per-target state: the node, the control client, the sampler, the tally, the violations. */
export class Live {
  readonly violations: Violation[] = [];
  readonly tally: Tally;
  readonly prefix: string;
  readonly controlTopic: string;
  node!: FuzzNode;
  /** HERALD_MAX_PAYLOAD, HERALD_MAX_MESSAGE_SIZE and HERALD_MAX_SUBSCRIPTIONS of the node (README defaults unless set). */
  maxPayload = 65536;
  maxMessageSize = 65536;
  maxSubscriptions = 512;
  control!: Observer;
  baseline!: ProcessStats;
  maxRss = 0;
  maxFds = 0;
  /** The most cases run at once, for the bound on descriptors during the run. */
  private concurrency = 0;
  private sampler: NodeJS.Timeout | undefined;
  private redis: Redis | undefined;
  /** Cases in flight, by id, with a description for the crash report. */
  readonly inFlight = new Map<string, string>();
  /** The last cases finished, newest last, for the crash report. */
  private readonly recent: { caseId: string; at: number }[] = [];

  constructor(
    readonly target: string,
    private readonly redisUrl: string,
  ) {
    this.tally = new Tally(target, seedFor(target));
    this.prefix = `fz-${target}-${process.pid}-${Date.now().toString(36)}`;
    this.controlTopic = `fz.control.${Date.now().toString(36)}`;
  }

  get seed(): number {
    return this.tally.seed;
  }

  private options: LiveOptions = {};
  /** While replaying suspects after a crash, nothing is recorded. */
  private isolating = false;

  async start(options: LiveOptions = {}): Promise<void> {
    this.options = options;
    if (options.env?.HERALD_MAX_PAYLOAD !== undefined) this.maxPayload = Number(options.env.HERALD_MAX_PAYLOAD);
    if (options.env?.HERALD_MAX_MESSAGE_SIZE !== undefined) this.maxMessageSize = Number(options.env.HERALD_MAX_MESSAGE_SIZE);
    if (options.env?.HERALD_MAX_SUBSCRIPTIONS !== undefined) this.maxSubscriptions = Number(options.env.HERALD_MAX_SUBSCRIPTIONS);
    this.node = await startFuzzNode({
      NODE_ENV: 'production',
      HERALD_JWT_SECRET: SECRET,
      HERALD_API_KEYS: API_KEY,
      HERALD_REDIS_URL: this.redisUrl,
      HERALD_REDIS_PREFIX: this.prefix,
      HERALD_LOG_LEVEL: 'info',
      HERALD_DRAIN_SECONDS: '0',
      HERALD_NODE_ID: `fuzz-${this.target}`,
      ...options.env,
    });
    this.control = await Observer.open(this.node.wsUrl, hs256({ sub: 'control', topics: [this.controlTopic] }));
    await this.control.subscribe(this.controlTopic);
    await options.onStart?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
    this.baseline = processStats(this.node.pid);
    this.maxRss = this.baseline.rssBytes;
    this.maxFds = this.baseline.fds;
    this.sampler = setInterval(() => this.sample(), 200);
  }

  /** A Redis client of the test's own, for PUBLISHing straight into the node's channels. */
  redisClient(): Redis {
    this.redis ??= new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    return this.redis;
  }

  violation(caseId: string, message: string): void {
    if (this.isolating) return;
    const input = this.inFlight.get(caseId);
    const first = !this.violations.some((v) => v.caseId === caseId);
    this.violations.push({ caseId, message: first && input !== undefined ? `${message}\n      input: ${input}` : message });
    this.tally.note('VIOLATION');
  }

  /**
   * Runs `count` generated cases, `concurrency` at a time, then the `corpus` (hand-written cases that hit known
   * weak spots, so that every run reaches them, whatever the seed). Cases are generated from the target's seed
   * in chunks of 100 (so that fast-check's sizes vary within a chunk); case i of a seed is always the same.
   */
  async run<T>(count: number, concurrency: number, arbitrary: fc.Arbitrary<T>, runCase: (input: T, caseId: string) => Promise<string>, describe: (input: T) => string, corpus: readonly T[] = []): Promise<void> {
    const only = onlyCase(this.target);
    const CHUNK = 100;
    let chunkIndex = -1;
    let chunk: T[] = [];
    const inputAt = (index: number): T => {
      if (index >= count) return corpus[index - count]!;
      const wanted = Math.floor(index / CHUNK);
      if (wanted !== chunkIndex) {
        chunk = fc.sample(arbitrary, { seed: (this.seed + wanted * 7919) | 0, numRuns: CHUNK });
        chunkIndex = wanted;
      }
      return chunk[index % CHUNK]!;
    };
    const indices = only === undefined ? Array.from({ length: count + corpus.length }, (_, i) => i) : only === null ? [] : [only];
    this.concurrency = Math.max(this.concurrency, concurrency);
    let next = 0;
    let crashed = false;
    const worker = async (): Promise<void> => {
      while (!crashed && next < indices.length) {
        const index = indices[next++]!;
        const input = inputAt(index);
        const caseId = `${this.target}#${index}`;
        let description: string;
        try {
          description = describe(input);
        } catch (error) {
          description = `(not describable: ${String(error)})`;
        }
        this.inFlight.set(caseId, description);
        try {
          const outcome = await runCase(input, caseId);
          if (!this.isolating) this.tally.count(outcome);
        } catch (error) {
          this.tally.count('harness error');
          if (this.node.exit === undefined) this.violation(caseId, `case failed: ${error instanceof Error ? error.message : String(error)} — input: ${description}`);
        } finally {
          this.inFlight.delete(caseId);
          this.recent.push({ caseId, at: Date.now() });
          if (this.recent.length > 200) this.recent.shift();
        }
        if (this.node.exit !== undefined) crashed = true;
      }
    };
    // The suspects of a crash: the cases in flight when the process exited and those that finished just before
    // (their sockets close before the exit is reported, so the culprit may have finished already).
    let suspects: number[] = [];
    void this.node.exited.then(() => {
      const since = Date.now() - 3000;
      suspects = [...[...this.inFlight.keys()].map(indexOf), ...this.recent.filter((r) => r.at >= since).reverse().map((r) => indexOf(r.caseId))].slice(0, 40);
    });
    await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, () => worker()));
    // A crash closes the sockets before the exit is reported: wait a moment before calling the run survived.
    await Promise.race([this.node.exited, new Promise((resolve) => setTimeout(resolve, 300))]);
    if (this.node.exit === undefined) return;
    const exit = this.node.exit;
    // Give the process a moment to flush its stderr.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const crash = crashExcerpt(this.node);
    const culprit = await this.isolate(suspects, inputAt, runCase, describe);
    throw new Error(
      `${this.target}: the node exited (${exit}) — seed ${this.seed}.\n` +
        (culprit === undefined
          ? `None of the ${suspects.length} cases in flight crashes a fresh node when replayed alone.\n`
          : `Replayed alone on a fresh node, this case crashes it (replay: HERALD_FUZZ_SEED=${this.seed} HERALD_FUZZ_ONLY=${culprit.caseId}):\n  ${culprit.description}\n${culprit.crash}\n`) +
        `Node output of the run:\n${crash}`,
    );
  }

  /**
   * After a crash: replays the suspects one after the other on a fresh node until it dies, then confirms the
   * culprit by replaying it (or, as the exit is reported late, one of the two before it) alone on another.
   */
  private async isolate<T>(suspects: number[], inputAt: (index: number) => T, runCase: (input: T, caseId: string) => Promise<string>, describe: (input: T) => string): Promise<{ caseId: string; description: string; crash: string } | undefined> {
    this.isolating = true;
    const replay = async (index: number, waitMs: number): Promise<boolean> => {
      await runCase(inputAt(index), `${this.target}#${index}`).catch(() => undefined);
      await Promise.race([this.node.exited, new Promise((resolve) => setTimeout(resolve, waitMs))]);
      return this.node.exit !== undefined;
    };
    try {
      const ordered = [...new Set(suspects)].sort((a, b) => a - b);
      await this.restart();
      let died = -1;
      for (const [i, index] of ordered.entries()) {
        if (await replay(index, 50)) {
          died = i;
          break;
        }
      }
      if (died < 0) return undefined;
      for (const index of ordered.slice(Math.max(0, died - 2), died + 1).reverse()) {
        await this.restart();
        if (await replay(index, 1000)) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          return { caseId: `${this.target}#${index}`, description: describe(inputAt(index)), crash: crashExcerpt(this.node).split('\n').slice(0, 8).join('\n') };
        }
      }
      return undefined;
    } finally {
      this.isolating = false;
    }
  }

  private async restart(): Promise<void> {
    if (this.sampler !== undefined) clearInterval(this.sampler);
    this.control?.close();
    await this.node.kill();
    await this.start(this.options);
  }

  /** The closing checks; throws one error listing everything that is wrong. */
  async finish(): Promise<void> {
    if (this.sampler !== undefined) clearInterval(this.sampler);
    const problems: string[] = [];
    if (this.node.exit !== undefined) problems.push(`the node exited (${this.node.exit}):\n${crashExcerpt(this.node)}`);
    else {
      const health = await fetch(`${this.node.httpUrl}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
        async (res) => ({ status: res.status, body: await res.text() }),
        (error: unknown) => ({ status: -1, body: String(error) }),
      );
      if (health.status !== 200) problems.push(`/healthz answered ${health.status} ${health.body}`);
      // The control client, subscribed before the run, still receives a message published now.
      const nonce = `end-${Date.now()}-${Math.random()}`;
      const published = await fetch(`${this.node.httpUrl}/v1/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ topic: this.controlTopic, data: { nonce } }),
        signal: AbortSignal.timeout(5000),
      }).then((res) => res.status, () => -1);
      if (published !== 202) problems.push(`the closing publish answered ${published}`);
      await this.control
        .until(() => this.control.messages(this.controlTopic).some((m) => canonical(m.data) === canonical({ nonce })), 5000, 'the closing message on the control client')
        .catch((error: unknown) => problems.push(String(error)));
      if (this.control.problems.length > 0) problems.push(`the control client saw: ${this.control.problems.slice(0, 3).join('; ')}`);
      // Descriptors come back once the fuzz connections are gone (uWS closes them asynchronously).
      const deadline = Date.now() + 8000;
      const stats = (): ProcessStats => (this.node.exit === undefined ? processStats(this.node.pid) : { fds: Number.NaN, rssBytes: Number.NaN });
      let after = stats();
      while (after.fds > this.baseline.fds + BOUNDS.fdsAfterAbove && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = stats();
      }
      if (this.node.exit !== undefined) problems.push(`the node exited during the closing checks (${this.node.exit}):\n${crashExcerpt(this.node)}`);
      this.tally.extra.fds_before = this.baseline.fds;
      this.tally.extra.fds_max = this.maxFds;
      this.tally.extra.fds_after = after.fds;
      this.tally.extra.rss_before_mib = mib(this.baseline.rssBytes);
      this.tally.extra.rss_max_mib = mib(this.maxRss);
      this.tally.extra.rss_after_mib = mib(after.rssBytes);
      if (this.maxFds > this.fdsDuringBound()) problems.push(`open descriptors reached ${this.maxFds} during the run, before: ${this.baseline.fds} (bound: ${this.fdsDuringBound()} for ${this.concurrency} cases at once)`);
      if (after.fds > this.baseline.fds + BOUNDS.fdsAfterAbove) problems.push(`open descriptors after the run: ${after.fds}, before: ${this.baseline.fds} (bound: +${BOUNDS.fdsAfterAbove})`);
      if (this.maxRss - this.baseline.rssBytes > BOUNDS.rssGrowthDuring) problems.push(`RSS grew by ${mib(this.maxRss - this.baseline.rssBytes)} MiB during the run (bound ${mib(BOUNDS.rssGrowthDuring)} MiB)`);
      if (after.rssBytes - this.baseline.rssBytes > BOUNDS.rssGrowthAfter) problems.push(`RSS after the run is ${mib(after.rssBytes - this.baseline.rssBytes)} MiB above the start (bound ${mib(BOUNDS.rssGrowthAfter)} MiB)`);
    }
    this.tally.report();
    if (this.violations.length > 0) {
      const shown = this.violations.slice(0, 12).map((v) => `  ${v.caseId}: ${v.message}`);
      problems.push(`${this.violations.length} contract violations (seed ${this.seed}; replay one with HERALD_FUZZ_SEED=${this.seed} HERALD_FUZZ_ONLY=<target>#<index>):\n${shown.join('\n')}`);
    }
    if (problems.length > 0) throw new Error(`${this.target}:\n${problems.join('\n')}`);
  }

  /** Stops everything this target started; safe to call twice. */
  async stop(): Promise<void> {
    if (this.sampler !== undefined) clearInterval(this.sampler);
    this.control?.close();
    this.redis?.disconnect();
    if (this.node !== undefined) await this.node.kill();
  }

  /** The most descriptors the node may hold during the run: the fuzz connections in flight, a few each, and some slack. */
  private fdsDuringBound(): number {
    return this.baseline.fds + this.concurrency * BOUNDS.fdsDuringPerCase + BOUNDS.fdsDuringSlack;
  }

  private sample(): void {
    if (this.node.exit !== undefined) return;
    try {
      const stats = processStats(this.node.pid);
      this.maxRss = Math.max(this.maxRss, stats.rssBytes);
      this.maxFds = Math.max(this.maxFds, stats.fds);
    } catch {
      // The process is exiting.
    }
  }
}

const indexOf = (caseId: string): number => Number(caseId.slice(caseId.lastIndexOf('#') + 1));

const mib = (bytes: number): number => Math.round(bytes / (1024 * 1024));

/** HERALD_FUZZ_ONLY=<target>#<index> runs only that case of that target (and no case of the others). */
function onlyCase(target: string): number | null | undefined {
  const only = process.env.HERALD_FUZZ_ONLY;
  if (only === undefined || only === '') return undefined;
  const [name, index] = only.split('#');
  return name === target ? Number(index) : null;
}

/** Waits for a promise with a timeout, resolving to `fallback` instead of rejecting. */
export async function settle<T>(promise: Promise<T>, timeoutMs: number, fallback: T): Promise<T> {
  return withTimeout(promise, timeoutMs, 'settle').catch(() => fallback);
}

export const hostileToken = (claims: Record<string, unknown> = {}): string => hs256({ topics: ['>'], publish: ['>'], ...claims });

export { scrape };
