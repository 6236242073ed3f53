/**
 * Development mode: what `npm start` prints when it had to invent credentials,
 * so that a first-time user can connect and publish without reading further,
 * and the tokens the demo page gets (transport/demo.ts).
 */
import jwt from 'jsonwebtoken';
import type { Config } from './config.js';

const DEV_TOKEN_HOURS = 24;
/** What `npm run demo` (package.json) sets: the demo's chat rooms with history, presence and join/leave. */
export const DEMO_ENV = "HERALD_HISTORY='chat.>=100:3600' HERALD_PRESENCE='chat.>' HERALD_PRESENCE_JOIN_LEAVE='chat.>'";

/** An HS256 token signed with development mode's generated secret. */
export function signDevToken(secret: string, claims: { sub: string; topics: string[]; publish: string[]; info?: Record<string, unknown> }, seconds: number): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: seconds });
}

export function developmentBanner(config: Config, port: number): string | undefined {
  if (!config.generated.jwtSecret && !config.generated.apiKey) return undefined;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base = `${host}:${port}`;
  const lines = [
    '',
    '================================ DEVELOPMENT MODE ================================',
    ' Herald generated throw-away credentials because none were configured. They',
    ' change at every start. Set NODE_ENV=production to make missing auth an error.',
    '',
  ];
  if (config.demo) {
    lines.push(` Open the demo (a chat room and a live feed, on the @herald/client SDK):  http://${base}/`);
    // Without these the demo's rooms have neither scroll-back nor an online list; the page says so too.
    if (config.history.rules.length === 0 || config.presence.patterns.length === 0) {
      lines.push(' Its rooms keep history and show who is online when Herald starts with them: npm run demo, which is', `   ${DEMO_ENV} npm start`);
    }
    lines.push('');
  }
  if (config.generated.jwtSecret && config.jwt.secret !== undefined) {
    const token = signDevToken(config.jwt.secret, { sub: 'dev-user', topics: ['>'], publish: ['>'] }, DEV_TOKEN_HOURS * 3600);
    lines.push(
      ` JWT secret (HS256):  ${config.jwt.secret}`,
      ` Token (sub dev-user, may subscribe and publish to every topic, ${DEV_TOKEN_HOURS} h):`,
      `   ${token}`,
      '',
      ' The raw protocol from a shell in this repository (Node and its ws package): subscribe to demo.hello, print what arrives:',
      `   node -e 'const ws = new (require("ws"))(process.argv[1]); ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", topic: "demo.hello", id: 1 }))); ws.on("message", (m) => console.log(String(m)))' 'ws://${base}/ws?token=${token}'`,
      '',
    );
  }
  if (config.generated.apiKey) {
    lines.push(
      ` API key for POST /v1/publish:  ${config.apiKeys[0]}`,
      ' Publish:',
      `   curl -sS -X POST http://${base}/v1/publish -H 'Authorization: Bearer ${config.apiKeys[0]}' \\`,
      `        -H 'Content-Type: application/json' -d '{"topic":"demo.hello","data":{"text":"hi"}}'`,
      '',
    );
  }
  lines.push('==================================================================================', '');
  return lines.join('\n');
}
