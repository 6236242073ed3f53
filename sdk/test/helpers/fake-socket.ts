/**
 * A WebSocket double for unit tests: the test plays the server (open, frames,
 * closes) and reads what the client sent. It records any moment at which two
 * of its instances were live together.
 */
import { vi } from 'vitest';
import type { WebSocketLike } from '../../src/index.js';

export type Sent = Record<string, unknown> & { type: string; id?: number };

export class FakeSocket implements WebSocketLike {
  static instances: FakeSocket[] = [];
  /** Descriptions of every construction that happened while another instance was still live. */
  static overlaps: string[] = [];

  static reset(): void {
    FakeSocket.instances = [];
    FakeSocket.overlaps = [];
  }

  static get last(): FakeSocket {
    const socket = FakeSocket.instances.at(-1);
    if (socket === undefined) throw new Error('no socket was opened');
    return socket;
  }

  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Sent[] = [];
  closedByClient: { code?: number; reason?: string } | undefined;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    const live = FakeSocket.instances.filter((s) => s.live);
    if (live.length > 0) FakeSocket.overlaps.push(`${url} opened while ${live.map((s) => s.url).join(', ')} still live`);
    FakeSocket.instances.push(this);
  }

  get live(): boolean {
    return this.readyState === 0 || this.readyState === 1;
  }

  get token(): string | null {
    return new URL(this.url).searchParams.get('token');
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error(`send on a socket in state ${this.readyState}`);
    this.sent.push(JSON.parse(data) as Sent);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
    // A browser reports its own close later; an abandoned socket's events must not reach the client.
    queueMicrotask(() => this.onclose?.({ code: 1005, reason: '' }));
  }

  // --- the server's side

  /** Opens and sends the welcome frame. */
  accept(exp: number | null = null, node = 'node-a'): void {
    this.readyState = 1;
    this.onopen?.({});
    this.receive({ type: 'welcome', node, sub: 'alice', exp });
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** Frames sent so far of one type. */
  frames(type: string): Sent[] {
    return this.sent.filter((f) => f.type === type);
  }

  /** Acknowledges every frame of `type` not yet answered, with extra ack fields. */
  ackAll(type: string, extra: Record<string, unknown> = {}): void {
    for (const frame of this.frames(type)) if (!this.answered.has(frame.id!)) this.ack(frame, extra);
  }

  ack(frame: Sent, extra: Record<string, unknown> = {}): void {
    this.answered.add(frame.id!);
    this.receive({ type: 'ack', id: frame.id, ...extra });
  }

  error(frame: Sent, code: string, message = code): void {
    this.answered.add(frame.id!);
    this.receive({ type: 'error', id: frame.id, code, message });
  }

  private readonly answered = new Set<number>();
}

/** Lets promise callbacks (and timers due now) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(0);
}

/** An unsigned JWT with the given claims: the client only reads `exp`, Herald verifies. */
export function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'alice', ...claims })}.c2ln`;
}
