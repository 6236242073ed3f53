/**
 * The demo page in headless Chromium, as a new user meets it after
 * `npm run demo`: two tabs chat through a development-mode Herald with
 * history and presence on chat rooms, and each sees the other in its online
 * list; then one tab's network is cut (a proxy drops its connection and
 * refuses new ones for a while) and the tab resumes by itself. Without server
 * history what was said during the cut is lost and the page says so; with it,
 * the tab gets it after the resume, once. Then the other tab closes, and
 * leaves the first one's online list once the leave grace has passed. Last,
 * a Herald without presence (plain `npm start`): no online list, a hint. The
 * screenshot in docs/demo.png comes from this test (HERALD_UPDATE_SCREENSHOT=1,
 * or when it is missing).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, haveChromium } from '../helpers/browser.js';
import { HISTORY_ENV, serverHasHistory, spawnHerald, type HeraldProcess } from '../helpers/herald.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const SCREENSHOT = new URL('../../../docs/demo.png', import.meta.url).pathname;
const GRACE_S = 3;
/** What `npm run demo` adds for chat rooms (package.json), with a short leave grace. */
const PRESENCE_ENV = { HERALD_PRESENCE: 'chat.>', HERALD_PRESENCE_JOIN_LEAVE: 'chat.>', HERALD_PRESENCE_LEAVE_GRACE: String(GRACE_S) };

type Doc = { document: { querySelectorAll(s: string): ArrayLike<{ dataset: Record<string, string | undefined>; textContent: string }>; getElementById(id: string): { textContent: string } } };

describe.runIf(haveChromium)('sdk browser - the demo page', () => {
  let node: HeraldProcess;
  let proxy: Proxy;
  let browser: Browser;
  let context: BrowserContext;
  let history: boolean;

  beforeAll(async () => {
    history = await serverHasHistory();
    // Development mode, as after `npm run demo`: history and presence for chat rooms.
    node = await spawnHerald({ HERALD_LOG_LEVEL: 'info', ...HISTORY_ENV, ...PRESENCE_ENV });
    proxy = await startProxy(node.port);
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    node?.kill();
    await node?.exited;
  });

  async function enter(page: Page, origin: string, name: string, room: string): Promise<string[]> {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${origin}/`, { timeout: 10_000 });
    await page.fill('#name', name);
    await page.fill('#room', room);
    await page.click('#join-button');
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 8000 });
    await page.waitForSelector('#messages[data-subscribed="true"]', { timeout: 8000 });
    expect(errors).toEqual([]);
    return errors;
  }

  /** The online list as shown: each entry's sub and text, in order. */
  const online = (page: Page): Promise<string[]> => page.$$eval('#online li', (items) => items.map((item) => `${(item as unknown as { dataset: { sub: string } }).dataset.sub}: ${(item as unknown as { textContent: string }).textContent}`));

  async function waitForOnline(page: Page, subs: string[], timeout = 8000): Promise<void> {
    await page.waitForFunction(
      (want) => {
        const list = Array.from((globalThis as unknown as Doc).document.querySelectorAll('#online[data-presence="live"] li')).map((li) => li.dataset.sub).sort();
        return JSON.stringify(list) === JSON.stringify([...want].sort());
      },
      subs,
      { timeout },
    );
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.waitForSelector('#send:not([disabled])', { timeout: 8000 });
    await page.fill('#text', text);
    await page.click('#send');
  }

  const texts = (page: Page): Promise<string[]> => page.$$eval('#messages .msg', (items) => items.map((item) => (item as unknown as { dataset: { text: string } }).dataset.text));

  async function waitForText(page: Page, text: string): Promise<void> {
    await page.waitForFunction((t) => Array.from((globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ dataset: { text?: string } }> } }).document.querySelectorAll('#messages .msg')).some((m) => m.dataset.text === t), text, { timeout: 8000 });
  }

  it('sdk browser - two tabs chat and see each other online; one tab\'s network is cut and it resumes by itself without losing what follows; the other closes and leaves the online list after the grace', async () => {
    // A fresh node: the room is empty.
    const room = 'lobby';
    const alice = await context.newPage();
    const bob = await context.newPage();
    // Alice's tab reaches Herald through the proxy (its own origin), Bob's directly.
    await enter(alice, `http://127.0.0.1:${proxy.port}`, 'alice', room);
    await waitForOnline(alice, ['alice']);
    const bobErrors = await enter(bob, `http://127.0.0.1:${node.port}`, 'bob', room);

    // Each tab sees the other online, named from its token's info claim, itself first.
    await waitForOnline(alice, ['alice', 'bob']);
    await waitForOnline(bob, ['alice', 'bob']);
    expect(await online(alice)).toEqual(['alice: alice (you)', 'bob: bob']);
    expect(await online(bob)).toEqual(['bob: bob (you)', 'alice: alice']);
    expect(await alice.textContent('#online-count')).toBe('2');
    await alice.waitForFunction(() => Array.from((globalThis as unknown as Doc).document.querySelectorAll('#messages .note')).some((n) => n.textContent === 'bob joined.'), undefined, { timeout: 5000 });

    await say(alice, 'Hi Bob! Is the feed moving for you too?');
    for (const page of [alice, bob]) await waitForText(page, 'Hi Bob! Is the feed moving for you too?');
    await say(bob, 'It is: one tick a second, from Herald itself.');
    for (const page of [alice, bob]) await waitForText(page, 'It is: one tick a second, from Herald itself.');

    // Alice's network goes away for a while.
    proxy.down = true;
    proxy.cut();
    await alice.waitForSelector('#state:not([data-state="connected"])', { timeout: 5000 });
    await say(bob, 'Said while Alice was cut off.');
    await waitForText(bob, 'Said while Alice was cut off.');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    proxy.down = false;

    // It comes back by itself, with the room subscribed again and its online list read again.
    await alice.waitForSelector('#state[data-state="connected"]', { timeout: 10_000 });
    await alice.waitForSelector('#messages[data-subscribed="true"]', { timeout: 8000 });
    await waitForOnline(alice, ['alice', 'bob']);
    await say(bob, 'Welcome back, Alice.');
    for (const page of [alice, bob]) await waitForText(page, 'Welcome back, Alice.');
    await say(alice, 'Thanks! The SDK reconnected on its own.');
    for (const page of [alice, bob]) await waitForText(page, 'Thanks! The SDK reconnected on its own.');

    const before = ['Hi Bob! Is the feed moving for you too?', 'It is: one tick a second, from Herald itself.'];
    const after = ['Welcome back, Alice.', 'Thanks! The SDK reconnected on its own.'];
    expect(await texts(bob)).toEqual([...before, 'Said while Alice was cut off.', ...after]);
    const log = await alice.$$eval('#log li', (items) => items.map((item) => (item as unknown as { textContent: string }).textContent));
    expect(log.some((line) => line.includes('disconnected: 1006'))).toBe(true);
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
    const warnings = await alice.$$eval('#messages .note.warn', (items) => items.map((item) => (item as unknown as { textContent: string }).textContent));
    if (history) {
      // Recovered from history: everything, once, in order, and no warning.
      expect(await texts(alice)).toEqual([...before, 'Said while Alice was cut off.', ...after]);
      expect(warnings).toEqual([]);
    } else {
      console.log('[sdk browser] no server history: checking that the tab resumed, lost only what was said during the cut, and says so');
      expect(await texts(alice)).toEqual([...before, ...after]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('Messages sent while you were away are not shown');
    }

    // The live feed moved in both tabs.
    for (const page of [alice, bob]) expect(await page.textContent('#ticker-value')).toMatch(/^\d+\.\d\d$/);
    await waitForOnline(bob, ['alice', 'bob']);

    const update = process.env.HERALD_UPDATE_SCREENSHOT === '1' || !existsSync(SCREENSHOT);
    // For the documentation, a feed with some history on it.
    if (update) await alice.waitForFunction(() => /last (1[2-9]|[2-9]\d) s/.test((globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('ticker-meta').textContent), undefined, { timeout: 20_000 });
    const shot = join(mkdtempSync(join(tmpdir(), 'herald-demo-')), 'demo.png');
    await alice.screenshot({ path: shot });
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.byteLength).toBeGreaterThan(20_000);
    if (update) {
      copyFileSync(shot, SCREENSHOT);
      console.log(`[sdk browser] wrote ${SCREENSHOT}`);
    }

    // Bob closes his tab: he is still online during the leave grace (a reload would not flap), then he leaves.
    expect(bobErrors).toEqual([]);
    const closedAt = Date.now();
    await bob.close();
    expect((await online(alice)).map((entry) => entry.split(':')[0])).toEqual(['alice', 'bob']);
    await waitForOnline(alice, ['alice'], GRACE_S * 1000 + 8000);
    const gone = Date.now() - closedAt;
    console.log(`[sdk browser] bob left alice's online list ${gone} ms after closing his tab (leave grace ${GRACE_S} s)`);
    expect(gone).toBeGreaterThanOrEqual(GRACE_S * 1000 - 200);
    expect(await alice.textContent('#online-count')).toBe('1');
    const notes = await alice.$$eval('#messages .note', (items) => items.map((item) => (item as unknown as { textContent: string }).textContent));
    expect(notes.at(-1)).toBe('bob left.');
  });

  it('sdk browser - without presence on the server (plain npm start) the page shows no online list, a hint, and chats as before', async () => {
    const plain = await spawnHerald({ HERALD_LOG_LEVEL: 'info' });
    try {
      const page = await context.newPage();
      const errors = await enter(page, `http://127.0.0.1:${plain.port}`, 'carol', 'lobby');
      await page.waitForSelector('#online[data-presence="off"]', { state: 'attached', timeout: 5000 });
      expect(await online(page)).toEqual([]);
      expect(await page.isVisible('#online-count')).toBe(false);
      expect(await page.textContent('#online-hint')).toContain("HERALD_PRESENCE='chat.>'");
      expect(await page.textContent('#online-hint')).toContain('npm run demo');
      await say(page, 'Anyone here?');
      await waitForText(page, 'Anyone here?');
      expect(await page.$$eval('#messages .note.warn', (items) => items.length)).toBe(0);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      plain.kill();
      await plain.exited;
    }
  });
});
