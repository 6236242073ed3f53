/**
 * The demo (HERALD_DEMO): a chat room and a live feed built on @herald/client,
 * served on the client port. `GET /` is the page, `/demo/*` its files and the
 * SDK bundle (built into dist/demo by scripts/copy-assets.mjs). In development
 * mode the page gets short-lived tokens from `/demo/token` and Herald itself
 * publishes `demo.ticker` every second, so the page moves without a backend;
 * elsewhere the page asks its user for a token.
 */
import { readFileSync } from 'node:fs';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Publisher } from '../publisher.js';
import { signDevToken } from '../dev.js';
import type { Logger } from '../log.js';
import { sendError, sendJson } from './http.js';

export const DEMO_TICKER_TOPIC = 'demo.ticker';
const TICK_MS = 1000;
/** Short on purpose: the page shows the SDK refreshing its token over `auth` frames. */
export const DEMO_TOKEN_SECONDS = 600;
const NAME = /^[A-Za-z0-9_-]{1,32}$/;

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/demo/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/demo/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/demo/icon.svg': { file: 'icon.svg', type: 'image/svg+xml' },
  '/demo/herald-client.js': { file: 'herald-client.js', type: 'text/javascript; charset=utf-8' },
};

const SECURITY_HEADERS: readonly [string, string][] = [
  ['cache-control', 'no-cache'],
  ['x-content-type-options', 'nosniff'],
  ['content-security-policy', "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"],
];

export interface DemoDeps {
  readonly mode: 'production' | 'development';
  /** Development mode's generated JWT secret: the page gets tokens signed with it. Undefined: the page asks for one. */
  readonly devSecret: string | undefined;
  readonly log: Logger;
  /** Where the page's files are; by default dist/demo next to this module. */
  readonly directory?: URL;
}

export function attachDemoRoutes(app: TemplatedApp, deps: DemoDeps): void {
  const directory = deps.directory ?? new URL('../demo/', import.meta.url);
  for (const [path, { file, type }] of Object.entries(FILES)) {
    let body: Buffer | undefined;
    try {
      body = readFileSync(new URL(file, directory));
    } catch {
      deps.log.warn({ file: new URL(file, directory).pathname }, 'demo file missing: run npm run build (the SDK bundle is built by scripts/copy-assets.mjs)');
    }
    app.get(path, (res) => {
      if (body === undefined) return sendError(res, 'not_found', `${file} was not built; run npm run build`);
      send(res, type, body);
    });
  }

  app.get('/demo/config.json', (res) => sendJson(res, 200, { mode: deps.mode, devTokens: deps.devSecret !== undefined, ticker: DEMO_TICKER_TOPIC }));

  app.get('/demo/token', (res, req) => {
    if (deps.devSecret === undefined) return sendError(res, 'not_found', 'no development tokens here: supply a token of your own');
    const name = req.getQuery('name') ?? '';
    if (!NAME.test(name)) return sendError(res, 'bad_request', 'name must be 1 to 32 characters from A-Z a-z 0-9 _ -');
    // `info` is what presence shows of the user: the online list's names come from the token, never from the page.
    const token = signDevToken(deps.devSecret, { sub: name, topics: ['chat.>', 'demo.>'], publish: ['chat.>'], info: { name } }, DEMO_TOKEN_SECONDS);
    res.cork(() => {
      res.writeStatus('200 OK').writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store');
      res.end(JSON.stringify({ token, expiresIn: DEMO_TOKEN_SECONDS }));
    });
  });
}

function send(res: HttpResponse, type: string, body: Buffer): void {
  res.cork(() => {
    res.writeStatus('200 OK').writeHeader('content-type', type);
    for (const [name, value] of SECURITY_HEADERS) res.writeHeader(name, value);
    res.end(body);
  });
}

/**
 * Publishes a random walk to `demo.ticker` every second through the broker,
 * as a backend would. Returns the function that stops it.
 */
export function startDemoTicker(publisher: Publisher, log: Logger): () => void {
  let seq = 0;
  let value = 100;
  let warned = false;
  const timer = setInterval(() => {
    seq++;
    value = Math.max(1, value + (Math.random() - 0.5) * 4);
    publisher.publish(DEMO_TICKER_TOPIC, { data: JSON.stringify({ seq, value: Math.round(value * 100) / 100 }), ts: Date.now() }).then(
      () => (warned = false),
      (error: unknown) => {
        if (!warned) log.warn({ err: error }, 'demo ticker: publish failed (broker unavailable); retrying every second');
        warned = true;
      },
    );
  }, TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
