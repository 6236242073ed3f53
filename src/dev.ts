/**
 * Development mode: what `npm start` prints when it had to invent credentials,
 * so that a first-time user can connect and publish without reading further.
 */
import jwt from 'jsonwebtoken';
import type { Config } from './config.js';

const DEV_TOKEN_HOURS = 24;

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
  if (config.generated.jwtSecret && config.jwt.secret !== undefined) {
    const token = jwt.sign({ sub: 'dev-user', topics: ['>'], publish: ['>'] }, config.jwt.secret, {
      algorithm: 'HS256',
      expiresIn: `${DEV_TOKEN_HOURS}h`,
    });
    lines.push(
      ` JWT secret (HS256):  ${config.jwt.secret}`,
      ` Token (sub dev-user, may subscribe and publish to every topic, ${DEV_TOKEN_HOURS} h):`,
      `   ${token}`,
      '',
      ' Connect and subscribe:',
      `   npx wscat -c 'ws://${base}/ws?token=${token}'`,
      '   > {"type":"subscribe","topic":"demo.hello","id":1}',
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
