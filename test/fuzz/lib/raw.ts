/** A TCP connection to the node under test, read as one HTTP exchange and, after a 101, as WebSocket frames. */
import { connect, type Socket } from 'node:net';
import { FrameReader, parseHttpHead, type HttpHead } from './wire.js';

export class RawConnection {
  private chunks: Buffer[] = [];
  private bytes = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private head: HttpHead | undefined;
  private reader: FrameReader | undefined;
  /** True once the server ended or reset the TCP connection. */
  closed = false;
  /** How the TCP connection ended: 'end' (FIN), 'reset' (an error such as ECONNRESET), 'local' (we destroyed it). */
  closedBy: 'end' | 'reset' | 'local' | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.bytes = Buffer.concat(this.chunks);
      if (this.reader !== undefined) this.reader.push(chunk);
      else this.tryHead();
      this.wake();
    });
    socket.on('end', () => this.markClosed('end'));
    socket.on('error', () => this.markClosed('reset'));
    socket.on('close', () => this.markClosed('end'));
  }

  static open(port: number, timeoutMs = 3000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TCP connect to ${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawConnection(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Everything received so far. */
  get received(): Buffer {
    return this.bytes;
  }

  get httpHead(): HttpHead | undefined {
    return this.head;
  }

  /** Server WebSocket frames received after a 101 response. */
  get frames(): FrameReader['frames'] {
    return this.reader?.frames ?? [];
  }

  write(bytes: Uint8Array): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(bytes);
  }

  /** Half-closes our side: the server sees EOF. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    if (!this.closed) this.closedBy = 'local';
    this.socket.destroy();
    this.markClosed('local');
  }

  /** Waits until `done()` holds or the connection closes; resolves with whether `done()` held. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (done()) return true;
      if (this.closed) return done();
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private tryHead(): void {
    const head = parseHttpHead(this.bytes);
    if (head === undefined) return;
    this.head = head;
    if (head.status === 101) {
      this.reader = new FrameReader();
      const rest = this.bytes.subarray(head.bodyStart);
      if (rest.length > 0) this.reader.push(Buffer.from(rest));
    }
  }

  private markClosed(how: 'end' | 'reset' | 'local'): void {
    if (this.closed) return;
    this.closed = true;
    this.closedBy ??= how;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
