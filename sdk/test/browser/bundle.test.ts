/**
 * The built package, bundled as an application would, in a real browser:
 * the global WebSocket, connect, subscribe, receive, publish.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, haveChromium } from '../helpers/browser.js';
import { PRODUCTION, hs256, publish, spawnHerald, wsUrl, type HeraldProcess } from '../helpers/herald.js';

describe.runIf(haveChromium)('sdk browser - the bundle in a page', () => {
  let node: HeraldProcess;
  let server: Server;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // The compiled package (sdk/dist, what npm would ship), bundled the way an application's bundler does it.
    const bundle = await build({ entryPoints: [new URL('../../dist/index.js', import.meta.url).pathname], bundle: true, format: 'esm', write: false, logLevel: 'silent' });
    const code = bundle.outputFiles[0]!.text;
    server = createServer((req, res) => {
      if (req.url === '/herald-client.js') {
        res.setHeader('content-type', 'text/javascript');
        res.end(code);
      } else {
        res.setHeader('content-type', 'text/html');
        // Imported by the page itself: vitest rewrites dynamic imports inside evaluated functions.
        res.end('<!doctype html><title>sdk bundle test</title><script type="module">import * as sdk from "/herald-client.js"; globalThis.sdk = sdk;</script>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    node = await spawnHerald(PRODUCTION);
    browser = await launch();
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { timeout: 10_000 });
    await page.waitForFunction(() => 'sdk' in globalThis, undefined, { timeout: 8000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    node?.kill();
    await node?.exited;
    await new Promise((resolve) => server?.close(resolve));
  });

  it('sdk browser - connects with the global WebSocket, subscribes, receives a message published over HTTP, and publishes', async () => {
    await page.evaluate(
      async ({ url, token }) => {
        const g = globalThis as unknown as Record<string, unknown>;
        const { HeraldClient } = g.sdk as typeof import('../../src/index.js');
        const states: string[] = [];
        const received: unknown[] = [];
        const client = new HeraldClient({ url, token });
        client.on('state', (s) => states.push(s));
        const early = await client.publish('prices.btc', 1).then(() => 'sent', (e: { code: string }) => e.code);
        const sub = client.subscribe('prices.btc', (m) => received.push(m));
        sub.on('subscribed', () => (g.subscribed = true));
        client.connect();
        Object.assign(g, { client, states, received, early });
      },
      { url: wsUrl(node), token: hs256({ publish: ['prices.*'] }) },
    );
    await page.waitForFunction(() => (globalThis as unknown as { subscribed?: boolean }).subscribed === true, undefined, { timeout: 8000 });
    expect(await publish(node, 'prices.btc', { price: 97000 })).toBe(202);
    await page.waitForFunction(() => (globalThis as unknown as { received: unknown[] }).received.length === 1, undefined, { timeout: 8000 });
    const own = await page.evaluate(async () => {
      const g = globalThis as unknown as { client: { publish(t: string, d: unknown): Promise<void> }; received: unknown[] };
      await g.client.publish('prices.btc', { price: 97001 });
      return g.client.publish('admin.x', 1).then(() => 'sent', (e: { code: string }) => e.code);
    });
    await page.waitForFunction(() => (globalThis as unknown as { received: unknown[] }).received.length === 2, undefined, { timeout: 8000 });
    const seen = await page.evaluate(() => {
      const g = globalThis as unknown as { states: string[]; received: unknown[]; early: string; client: { close(): void } };
      g.client.close();
      return { states: g.states, received: g.received, early: g.early };
    });
    expect(seen.early).toBe('not_connected');
    expect(own).toBe('forbidden');
    expect(seen.states).toEqual(['connecting', 'connected', 'closed']);
    expect(seen.received).toEqual([
      { topic: 'prices.btc', data: { price: 97000 }, ts: expect.any(Number) },
      { topic: 'prices.btc', data: { price: 97001 }, ts: expect.any(Number) },
    ]);
  });
});
