/**
 * Notices a dead connection that TCP has not reported yet (a phone that lost
 * its network, a half-open NAT mapping). Browsers neither expose WebSocket
 * pings nor let a page send them, so the client sends protocol `ping` frames:
 * after `intervalMs` without any frame from the server it pings, and when
 * nothing at all arrives within `timeoutMs` after that, the connection is
 * declared dead. Any frame counts as a sign of life, so a busy connection is
 * never pinged, and receiving costs one clock read per frame.
 */
export class Liveness {
  private timer: unknown;
  private receivedAt = 0;
  private pingedAt = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly ping: () => void,
    private readonly dead: () => void,
  ) {}

  start(): void {
    this.receivedAt = Date.now();
    this.pingedAt = 0;
    if (this.intervalMs > 0) this.arm(this.intervalMs);
  }

  received(): void {
    this.receivedAt = Date.now();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.check(), ms);
  }

  private check(): void {
    const now = Date.now();
    if (this.pingedAt > 0) {
      if (this.receivedAt < this.pingedAt) return this.dead();
      this.pingedAt = 0;
    }
    const idle = now - this.receivedAt;
    if (idle < this.intervalMs) return this.arm(this.intervalMs - idle);
    this.pingedAt = now;
    this.ping();
    this.arm(this.timeoutMs);
  }
}
