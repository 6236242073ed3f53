/**
 * What Herald serves for the demo (src/transport/demo.ts), from real
 * processes: the page and the SDK bundle, development tokens, the ticker;
 * off in production unless HERALD_DEMO=true, and then without tokens. Also
 * the runnable example of sdk/README.md and the banner's raw-protocol
 * one-liner, run for real.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from '../../../test/helpers/client.js';
import { HeraldClient, type Message } from '../../src/index.js';
import { PRODUCTION, hs256, httpUrl, publish, spawnHerald, until, wsUrl, type HeraldProcess } from '../helpers/herald.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEVELOPMENT = { HERALD_LOG_LEVEL: 'info' };
/** The variables `npm run demo` sets (package.json's demo script), read from it. */
const DEMO_SCRIPT: string = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).scripts.demo;
const DEMO_ENV = Object.fromEntries([...DEMO_SCRIPT.matchAll(/(HERALD_\w+)='([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
const payload = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

let node: HeraldProcess | undefined;
afterEach(async () => {
  node?.kill();
  await node?.exited;
  node = undefined;
});

async function get(path: string): Promise<{ status: number; type: string | null; text: string; headers: Headers }> {
  const res = await fetch(`${httpUrl(node!)}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text(), headers: res.headers };
}

/** Runs a command in the repository root for up to `ms`, then stops it; resolves with its output. */
function runFor(command: string, args: string[], env: Record<string, string>, ms: number): Promise<string> {
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  return new Promise((resolve) => child.once('exit', () => {
    clearTimeout(timer);
    resolve(out);
  }));
}

describe('demo server - development mode', () => {
  it('demo server - GET / is the page; its script, stylesheet, icon and the SDK bundle are served with their types', async () => {
    node = await spawnHerald(DEVELOPMENT);
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<script type="module" src="/demo/app.js">');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    for (const [path, type] of [['/demo/app.js', 'text/javascript'], ['/demo/style.css', 'text/css'], ['/demo/icon.svg', 'image/svg+xml'], ['/demo/herald-client.js', 'text/javascript']] as const) {
      const file = await get(path);
      expect(file.status, path).toBe(200);
      expect(file.type, path).toContain(type);
    }
    expect((await get('/demo/herald-client.js')).text).toContain('herald.v1');
    expect((await get('/demo/nope.js')).status).toBe(404);
    expect(JSON.parse((await get('/demo/config.json')).text)).toEqual({ mode: 'development', devTokens: true, ticker: 'demo.ticker' });
  });

  it('demo server - /demo/token hands out a short-lived token for chat.> and demo.>; it subscribes, receives the ticker, publishes to chat, not to demo', async () => {
    node = await spawnHerald(DEVELOPMENT);
    expect((await get('/demo/token?name=a%20b')).status).toBe(400);
    expect((await get('/demo/token')).status).toBe(400);
    const { token, expiresIn } = JSON.parse((await get('/demo/token?name=carol')).text) as { token: string; expiresIn: number };
    expect(expiresIn).toBe(600);
    // What presence shows of the user: the name, from the token.
    expect(payload(token)).toMatchObject({ sub: 'carol', info: { name: 'carol' } });
    const client = await TestClient.connect(wsUrl(node), { token });
    const welcome = await client.next();
    expect(welcome).toMatchObject({ type: 'welcome', sub: 'carol' });
    expect((welcome.exp as number) - Date.now() / 1000).toBeLessThanOrEqual(601);
    expect(await client.subscribe('demo.ticker')).toMatchObject({ type: 'ack' });
    const tick = await client.next((f) => f.type === 'message', 2500);
    expect(tick).toMatchObject({ topic: 'demo.ticker', data: { seq: expect.any(Number), value: expect.any(Number) } });
    expect(await client.request({ type: 'publish', topic: 'chat.lobby', data: { name: 'carol', text: 'hi' } })).toMatchObject({ type: 'ack' });
    expect(await client.request({ type: 'publish', topic: 'demo.ticker', data: 1 })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await client.request({ type: 'subscribe', topic: 'user.carol.inbox' })).toMatchObject({ type: 'error', code: 'forbidden' });
    client.close();
  });

  it('demo server - the runnable example of sdk/README.md works as printed, with npm start and with npm run demo', async () => {
    node = await spawnHerald(DEVELOPMENT);
    const out = await runFor(process.execPath, ['sdk/examples/node.mjs'], { HERALD_URL: httpUrl(node), RUN_SECONDS: '2.5' }, 10_000);
    expect(out).toContain('state: connecting');
    expect(out).toMatch(/connected to \S+ as node-example/);
    expect(out).toMatch(/tick \{"seq":\d+,"value":[\d.]+\}/);
    expect(out).toContain('joined chat.lobby (no history on this server)');
    expect(out).toContain('no presence on this server (start it with npm run demo)');
    expect(out).toContain('node-example: hello from Node');
    expect(out).toContain('state: closed');
    node.kill();
    await node.exited;

    node = await spawnHerald({ ...DEVELOPMENT, ...DEMO_ENV });
    const demo = await runFor(process.execPath, ['sdk/examples/node.mjs'], { HERALD_URL: httpUrl(node), RUN_SECONDS: '2.5' }, 10_000);
    expect(demo).toMatch(/joined chat\.lobby at offset \d+, recovered: true/);
    expect(demo).toContain('online: node-example');
    expect(demo).toContain('node-example joined');
    expect(demo).not.toContain('no presence');
    expect(demo).toContain('node-example: hello from Node');
  });

  it('demo server - the banner says how to give the demo history and presence (npm run demo, and what it sets), unless they are on', async () => {
    expect(DEMO_ENV).toEqual({ HERALD_HISTORY: 'chat.>=100:3600', HERALD_PRESENCE: 'chat.>', HERALD_PRESENCE_JOIN_LEAVE: 'chat.>' });
    expect(DEMO_SCRIPT).toMatch(/^npm run build && .* node (--\S+ )*dist\/main\.js$/);
    node = await spawnHerald(DEVELOPMENT);
    await until(() => node!.stderr().includes('Publish:'), 'the banner', 3000);
    const banner = node.stderr();
    expect(banner).toContain('npm run demo');
    const line = banner.split('\n').find((l) => l.includes("HERALD_PRESENCE='chat.>'"))!;
    expect(line.trim()).toBe(`${DEMO_SCRIPT.replace(/^npm run build && /, '').replace(/ node (--\S+ )*dist\/main\.js$/, '')} npm start`);
    node.kill();
    await node.exited;

    node = await spawnHerald({ ...DEVELOPMENT, ...DEMO_ENV });
    await until(() => node!.stderr().includes('Publish:'), 'the banner', 3000);
    expect(node.stderr()).toContain('Open the demo');
    expect(node.stderr()).not.toContain('npm run demo');
  });

  it('demo server - the banner points to the page first, and its raw-protocol one-liner works without a download', async () => {
    node = await spawnHerald(DEVELOPMENT);
    await until(() => node!.stderr().includes('Publish:'), 'the banner', 3000);
    const banner = node.stderr();
    expect(banner.indexOf(`http://127.0.0.1:${node.port}/`)).toBeLessThan(banner.indexOf('Token ('));
    expect(banner).not.toContain('npx');
    const line = banner.split('\n').find((l) => l.trim().startsWith("node -e '"))!.trim();
    const [, script, url] = /^node -e '(.*)' '(ws:\/\/[^']+)'$/.exec(line)!;
    const apiKey = /Authorization: Bearer ([0-9a-f]+)/.exec(banner)![1]!;
    const output = runFor(process.execPath, ['-e', script!, url!], {}, 3000);
    // The one-liner prints the welcome and the ack, then whatever is published to demo.hello.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const res = await fetch(`${httpUrl(node)}/v1/publish`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: '{"topic":"demo.hello","data":{"text":"hi"}}' });
    expect(res.status).toBe(202);
    const printed = await output;
    expect(printed).toContain('"type":"welcome"');
    expect(printed).toContain('{"type":"ack","id":1}');
    expect(printed).toContain('"data":{"text":"hi"}');
  });
});

describe('demo server - production', () => {
  it('demo server - off by default: GET / is a 404 and nothing ticks', async () => {
    node = await spawnHerald(PRODUCTION);
    expect((await get('/')).status).toBe(404);
    expect((await get('/demo/herald-client.js')).status).toBe(404);
    expect((await get('/demo/token?name=x')).status).toBe(404);
  });

  it('demo server - HERALD_DEMO=true serves the page without development tokens or ticker: the user brings a token', async () => {
    node = await spawnHerald({ ...PRODUCTION, HERALD_DEMO: 'true' });
    expect((await get('/')).status).toBe(200);
    expect(JSON.parse((await get('/demo/config.json')).text)).toEqual({ mode: 'production', devTokens: false, ticker: 'demo.ticker' });
    expect((await get('/demo/token?name=x')).status).toBe(404);
    const messages: Message[] = [];
    const client = new HeraldClient({ url: wsUrl(node), token: hs256({ topics: ['demo.>'] }), WebSocket });
    client.subscribe('demo.ticker', (m) => messages.push(m));
    client.connect();
    await until(() => client.getSubscription('demo.ticker')!.state === 'subscribed', 'the subscription');
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(messages).toEqual([]);
    // The topic itself works: a backend's publish arrives.
    expect(await publish(node, 'demo.ticker', { seq: 1, value: 5 })).toBe(202);
    await until(() => messages.length === 1, 'the backend\'s tick');
    client.close();
  });

  it('demo server - HERALD_DEMO=false turns it off in development too', async () => {
    node = await spawnHerald({ ...DEVELOPMENT, HERALD_DEMO: 'false' });
    expect((await get('/')).status).toBe(404);
    await until(() => node!.stderr().includes('Publish:'), 'the banner', 3000);
    expect(node.stderr()).not.toContain('Open the demo');
  });
});
