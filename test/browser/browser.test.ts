/**
 * Herald from a real browser (Debian's headless Chromium driven by
 * playwright-core): the client protocol as a front-end meets it, including
 * the design point of docs/protocol.md that a browser can read close code
 * 4001 and its reason (an HTTP 401 on the upgrade would be invisible to it).
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishHttp } from '../helpers/client.js';
import { startNode, type TestNode } from '../helpers/node.js';
import { need, unless } from '../helpers/skip.js';
import { API_KEY, hs256 } from '../helpers/tokens.js';

const CHROMIUM = '/usr/bin/chromium';
const chromiumNeed = need(CHROMIUM, existsSync(CHROMIUM), 'Debian: apt-get install chromium; .ci/run installs it', 'required');

/** Serves an empty page, so that the browser has an origin to connect from. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end('<!doctype html><title>herald test page</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('browser - Herald from headless Chromium', unless(chromiumNeed), () => {
  let node: TestNode;
  let browser: Browser;
  let page: Page;
  let allowed: { server: Server; origin: string };
  let foreign: { server: Server; origin: string };

  beforeAll(async () => {
    allowed = await pageServer();
    foreign = await pageServer();
    node = await startNode({ HERALD_ALLOWED_ORIGINS: allowed.origin });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 20_000,
    });
    page = await browser.newPage();
    await page.goto(allowed.origin, { timeout: 10_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await node?.close();
    for (const s of [allowed, foreign]) if (s) await new Promise((resolve) => s.server.close(resolve));
  });

  it('browser - connects with ?token=, subscribes, and receives a message published over HTTP', async () => {
    const url = `${node.wsUrl}?token=${encodeURIComponent(hs256())}`;
    const received = page.evaluate(
      (wsUrl) =>
        new Promise<unknown[]>((resolve, reject) => {
          const frames: unknown[] = [];
          const ws = new WebSocket(wsUrl, 'herald.v1');
          const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(frames)}`)), 8000);
          ws.onmessage = (event) => {
            const frame = JSON.parse(event.data as string) as { type: string };
            frames.push(frame);
            if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', topic: 'prices.btc', id: 1 }));
            if (frame.type === 'ack') (globalThis as unknown as { subscribed: boolean }).subscribed = true;
            if (frame.type === 'message') {
              clearTimeout(timer);
              ws.close(1000);
              resolve(frames);
            }
          };
          ws.onerror = () => reject(new Error('websocket error'));
        }),
      url,
    );
    await page.waitForFunction(() => (globalThis as unknown as { subscribed?: boolean }).subscribed === true, undefined, { timeout: 8000 });
    expect((await publishHttp(node.httpUrl, { topic: 'prices.btc', data: { price: 97000 } }, API_KEY)).status).toBe(202);
    const frames = await received;
    expect(frames[0]).toMatchObject({ type: 'welcome', sub: 'alice' });
    expect(frames[1]).toEqual({ type: 'ack', id: 1 });
    expect(frames[2]).toMatchObject({ type: 'message', topic: 'prices.btc', data: { price: 97000 } });
  });

  it('browser - a bad token is seen by the page as close code 4001 with its reason', async () => {
    for (const [token, reason] of [['not-a-jwt', 'token_invalid'], [hs256({ exp: 1_000_000 }), 'token_expired']] as const) {
      const closed = await page.evaluate(
        (wsUrl) =>
          new Promise<{ code: number; reason: string }>((resolve, reject) => {
            const ws = new WebSocket(wsUrl);
            const timer = setTimeout(() => reject(new Error('no close')), 8000);
            ws.onclose = (event) => {
              clearTimeout(timer);
              resolve({ code: event.code, reason: event.reason });
            };
          }),
        `${node.wsUrl}?token=${encodeURIComponent(token)}`,
      );
      expect(closed).toEqual({ code: 4001, reason });
    }
  });

  it('browser - a page from an origin outside HERALD_ALLOWED_ORIGINS cannot connect', async () => {
    const other = await browser.newPage();
    await other.goto(foreign.origin, { timeout: 10_000 });
    const outcome = await other.evaluate(
      (wsUrl) =>
        new Promise<{ opened: boolean; code: number }>((resolve) => {
          let opened = false;
          const ws = new WebSocket(wsUrl);
          ws.onopen = () => (opened = true);
          ws.onclose = (event) => resolve({ opened, code: event.code });
        }),
      `${node.wsUrl}?token=${encodeURIComponent(hs256())}`,
    );
    await other.close();
    // The 403 itself is hidden from scripts: the browser reports an abnormal closure without ever opening.
    expect(outcome).toEqual({ opened: false, code: 1006 });
  });
});
