import { afterEach, describe, expect, it } from 'vitest';
import { TestClient, publishHttp } from '../helpers/client.js';
import { runToExit, spawnHerald, type HeraldProcess } from '../helpers/process.js';
import { API_KEY, SECRET, hs256 } from '../helpers/tokens.js';

const PRODUCTION = { NODE_ENV: 'production', HERALD_BROKER: 'memory', HERALD_JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY, HERALD_LOG_LEVEL: 'info' };

describe('process - lifecycle of a separate Herald process', () => {
  let herald: HeraldProcess | undefined;
  afterEach(() => {
    herald?.kill();
    herald = undefined;
  });

  it('process - SIGTERM: readyz turns 503 at once, upgrades are refused, every client gets 1001 spread over the drain, exit code 0', async () => {
    herald = await spawnHerald({ ...PRODUCTION, HERALD_DRAIN_SECONDS: '1' });
    const ws = `ws://127.0.0.1:${herald.port}/ws`;
    const http = `http://127.0.0.1:${herald.port}`;
    const clients = await Promise.all(Array.from({ length: 30 }, () => TestClient.open(ws, hs256())));
    await Promise.all(clients.map((client) => client.subscribe('prices.btc')));
    expect((await fetch(`${http}/readyz`)).status).toBe(200);

    const closedAt: number[] = [];
    const closes = clients.map((client) => client.waitClosed(5000).then((closed) => (closedAt.push(Date.now()), closed)));
    herald.child.kill('SIGTERM');
    const deadline = Date.now() + 2000;
    let ready = 200;
    while (ready === 200 && Date.now() < deadline) ready = (await fetch(`${http}/readyz`)).status;
    expect(ready).toBe(503);
    await expect(TestClient.connect(ws, { token: hs256() })).rejects.toMatchObject({ status: 503 });

    for (const closed of await Promise.all(closes)) expect(closed).toEqual({ code: 1001, reason: 'draining' });
    expect(await herald.exited).toBe(0);
    // 30 closes over a 1 s drain go out in ~10 steps, not all at once.
    expect(Math.max(...closedAt) - Math.min(...closedAt)).toBeGreaterThanOrEqual(500);
    expect(herald.stdout()).toContain('shutdown complete');
  });

  it('process - SIGINT drains and exits 0 as well', async () => {
    herald = await spawnHerald({ ...PRODUCTION, HERALD_DRAIN_SECONDS: '0' });
    const client = await TestClient.open(`ws://127.0.0.1:${herald.port}/ws`, hs256());
    herald.child.kill('SIGINT');
    expect(await client.waitClosed()).toEqual({ code: 1001, reason: 'draining' });
    expect(await herald.exited).toBe(0);
  });

  it('process - with nothing configured it starts in loud development mode, and the printed token and curl command work', async () => {
    herald = await spawnHerald({ HERALD_LOG_LEVEL: 'info' });
    // The banner is written to stderr before the "listening" line goes to stdout, but the pipes are read independently.
    const deadline = Date.now() + 3000;
    while (!herald.stderr().includes('Publish:') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const banner = herald.stderr();
    expect(banner).toContain('DEVELOPMENT MODE');
    expect(herald.stdout()).toContain('DEVELOPMENT MODE');
    const url = /'(ws:\/\/[^']+)'/.exec(banner)?.[1];
    const apiKey = /Authorization: Bearer ([0-9a-f]+)/.exec(banner)?.[1];
    expect(url).toBeDefined();
    expect(apiKey).toBeDefined();
    const wsUrl = url!.replace('localhost', '127.0.0.1');
    expect(wsUrl).toContain(`:${herald.port}/ws?token=`);
    const client = await TestClient.connect(wsUrl);
    expect(await client.next()).toMatchObject({ type: 'welcome', sub: 'dev-user' });
    await client.subscribe('demo.hello');
    const res = await publishHttp(`http://127.0.0.1:${herald.port}`, { topic: 'demo.hello', data: { text: 'hi' } }, apiKey);
    expect(res.status).toBe(202);
    expect(await client.next((f) => f.type === 'message')).toMatchObject({ topic: 'demo.hello', data: { text: 'hi' } });
    client.close();
  });

  it('process - NODE_ENV=production without auth configuration refuses to start', async () => {
    const { code, stderr } = await runToExit({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stderr).toContain('no JWT key configured');
  });

  it('process - NODE_ENV=production without Redis refuses to start unless HERALD_BROKER=memory is chosen', async () => {
    const { code, stderr } = await runToExit({ NODE_ENV: 'production', HERALD_JWT_SECRET: SECRET });
    expect(code).toBe(1);
    expect(stderr).toContain('no Redis configured in production');
    expect(stderr).toContain('HERALD_BROKER=memory');
  });

  it('process - invalid configuration lists every problem at once and exits 1', async () => {
    const { code, stderr } = await runToExit({ ...PRODUCTION, HERALD_PORT: 'eighty', HERALD_MAX_PAYLOAD: '-1', HERALD_JWT_ALGORITHMS: 'none', HERALD_LOG_LEVEL: 'loud' });
    expect(code).toBe(1);
    for (const name of ['HERALD_PORT', 'HERALD_MAX_PAYLOAD', 'HERALD_JWT_ALGORITHMS', 'HERALD_LOG_LEVEL']) expect(stderr).toContain(name);
    expect(stderr).toContain('expected');
  });

  it('process - refuses to run on the uWebSockets.js JavaScript fallback', async () => {
    const { code, stderr } = await runToExit({ ...PRODUCTION, UWS_USE_FALLBACK: '1' });
    expect(code).toBe(1);
    expect(stderr).toContain('fallback');
    expect(stderr).toContain('will not start');
  });

  it('process - a port already in use is a clear startup error', async () => {
    herald = await spawnHerald(PRODUCTION);
    const { code, stderr } = await runToExit({ ...PRODUCTION, HERALD_PORT: String(herald.port) });
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot listen on 127.0.0.1:${herald.port}`);
  });
});
