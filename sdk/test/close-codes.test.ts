/** The close-code policy: one table in code, the same in sdk/README.md and covering docs/protocol.md; and what the client does for each code. */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CLOSE_POLICY, HeraldClient, closeAction, type DisconnectedEvent, type HeraldClientOptions, type WebSocketConstructor } from '../src/index.js';
import { FakeSocket, jwt, settle } from './helpers/fake-socket.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const protocol = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** Rows `| 1001 | ... | \`soon\` ... |` of the README's close-code table. */
function readmeTable(): Map<number, string> {
  const section = readme.slice(readme.indexOf('## Close codes'));
  const rows = new Map<number, string>();
  for (const line of section.split('\n')) {
    const match = /^\|\s*(\d{4})\s*\|.*?\|\s*`(\w+)`/.exec(line);
    if (match) rows.set(Number(match[1]), match[2]!);
  }
  return rows;
}

describe('close codes - one policy table', () => {
  it('close codes - sdk/README.md shows exactly the table in close-codes.ts', () => {
    const documented = readmeTable();
    expect(documented.size).toBeGreaterThanOrEqual(7);
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(Object.entries(CLOSE_POLICY).map(([code, action]) => [Number(code), action])));
  });

  it('close codes - every close code of docs/protocol.md has an entry', () => {
    const section = protocol.slice(protocol.indexOf('## Close codes'), protocol.indexOf('### Slow consumers'));
    const codes = [...section.matchAll(/^\|\s*(\d{4})\s*\|/gm)].map((m) => Number(m[1]));
    expect(codes.length).toBeGreaterThanOrEqual(6);
    for (const code of codes) expect(CLOSE_POLICY[code], `policy for ${code}`).toBeDefined();
  });

  it('close codes - unknown codes back off like a network failure', () => {
    for (const code of [1011, 1012, 1013, 1014, 1015, 4000, 4999, 3000]) expect(closeAction(code)).toBe('backoff');
    expect(closeAction(1009)).toBe('stop');
  });
});

let client: HeraldClient | undefined;
const nowS = (): number => Math.floor(Date.now() / 1000);

function connected(options: Partial<HeraldClientOptions> = {}): { c: HeraldClient; disconnects: DisconnectedEvent[] } {
  const c = new HeraldClient({ url: ['ws://a.test/ws', 'ws://b.test/ws'], token: jwt({ exp: nowS() + 3600 }), WebSocket: FakeSocket as unknown as WebSocketConstructor, pingIntervalMs: 0, ...options });
  client = c;
  const disconnects: DisconnectedEvent[] = [];
  c.on('disconnected', (d) => disconnects.push(d));
  c.connect();
  FakeSocket.last.accept();
  return { c, disconnects };
}

describe('close codes - what the client does', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
  });
  afterEach(() => {
    client?.close();
    vi.useRealTimers();
    expect(FakeSocket.overlaps).toEqual([]);
  });

  it('close codes - 1001 draining: reconnects within a second, to the next URL, even after failures', async () => {
    const { disconnects } = connected({ minReconnectDelayMs: 5000, maxReconnectDelayMs: 60_000 });
    for (let i = 0; i < 5; i++) {
      FakeSocket.last.serverClose(1001, 'draining');
      expect(disconnects.at(-1)).toMatchObject({ code: 1001, reason: 'draining', willReconnect: true });
      expect(disconnects.at(-1)!.delayMs).toBeLessThan(1000);
      await vi.advanceTimersByTimeAsync(1000);
      expect(FakeSocket.instances).toHaveLength(2 * i + 2);
      FakeSocket.last.serverClose(1006);
      await vi.advanceTimersByTimeAsync(disconnects.at(-1)!.delayMs!);
      FakeSocket.last.accept();
    }
    expect(new URL(FakeSocket.instances[1]!.url).host).toBe('b.test');
  });

  it('close codes - 1009: closed, no reconnect (the same frame would fail again)', async () => {
    const { c, disconnects } = connected();
    FakeSocket.last.serverClose(1009, 'payload_too_large');
    expect(c.state).toBe('closed');
    expect(disconnects).toEqual([{ code: 1009, reason: 'payload_too_large', willReconnect: false }]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it('close codes - 4029: a long backoff, half to all of the maximum delay', async () => {
    const { disconnects } = connected();
    FakeSocket.last.serverClose(4029, 'rate_limited');
    const delay = disconnects[0]!.delayMs!;
    expect(delay).toBeGreaterThanOrEqual(10_000);
    expect(delay).toBeLessThanOrEqual(20_000);
    await vi.advanceTimersByTimeAsync(delay - 1);
    expect(FakeSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('close codes - 4008 and abnormal closes: backoff that grows while connections fail, and resets after a stable one', async () => {
    const { disconnects } = connected();
    FakeSocket.last.serverClose(4008, 'slow_consumer');
    const caps: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = disconnects.at(-1)!;
      caps.push(d.delayMs!);
      await vi.advanceTimersByTimeAsync(d.delayMs!);
      FakeSocket.last.serverClose(1006);
    }
    expect(Math.max(...caps)).toBeLessThanOrEqual(20_000);
    expect(caps[0]).toBeLessThanOrEqual(1000);
    expect(caps.every((d, i) => d <= Math.min(20_000, 500 * 2 ** (i + 1)))).toBe(true);
    await vi.advanceTimersByTimeAsync(disconnects.at(-1)!.delayMs!);
    FakeSocket.last.accept();
    await vi.advanceTimersByTimeAsync(6000);
    FakeSocket.last.serverClose(1006);
    expect(disconnects.at(-1)!.delayMs).toBeLessThanOrEqual(1000);
  });

  it('close codes - 4001: getToken gives a new token and the client reconnects at once with it', async () => {
    const fresh = jwt({ exp: nowS() + 7200 });
    const getToken = vi.fn(async () => fresh);
    const { c, disconnects } = connected({ getToken });
    FakeSocket.last.serverClose(4001, 'token_expired');
    expect(disconnects.at(-1)).toMatchObject({ code: 4001, reason: 'token_expired', willReconnect: true, delayMs: 0 });
    await settle();
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(FakeSocket.instances).toHaveLength(2);
    expect(FakeSocket.last.token).toBe(fresh);
    FakeSocket.last.accept();
    expect(c.state).toBe('connected');
  });

  it('close codes - 4001 again right away (getToken keeps handing out a bad token): backoff, not a tight loop', async () => {
    const getToken = vi.fn(async () => jwt({ exp: nowS() + 7200 }));
    const { disconnects } = connected({ getToken });
    FakeSocket.last.serverClose(4001, 'token_invalid');
    await settle();
    FakeSocket.last.serverClose(4001, 'token_invalid');
    expect(disconnects.at(-1)!.delayMs).toBeGreaterThanOrEqual(500);
  });

  it('close codes - 4001 without getToken: closed with the reason', async () => {
    const { c, disconnects } = connected();
    FakeSocket.last.serverClose(4001, 'token_expired');
    expect(c.state).toBe('closed');
    expect(disconnects).toEqual([{ code: 4001, reason: 'token_expired', willReconnect: false }]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it('close codes - 4001 and getToken throws: closed, with the error reported', async () => {
    const { c, disconnects } = connected({ getToken: async () => Promise.reject(new Error('session ended')) });
    const errors: unknown[] = [];
    c.on('error', (e) => errors.push(e));
    FakeSocket.last.serverClose(4001, 'token_expired');
    await settle();
    expect(c.state).toBe('closed');
    expect(errors).toMatchObject([{ code: 'token_unavailable', message: 'getToken failed: session ended' }]);
    expect(disconnects.at(-1)).toEqual({ code: 4001, reason: 'token_unavailable', willReconnect: false });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});
