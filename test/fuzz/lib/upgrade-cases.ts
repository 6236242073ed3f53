/**
 * Upgrade requests for the live fuzzer: the token in the query and/or the
 * Authorization header (well-formed, expired, forged, with absurd time
 * claims, nested past every stack, missing), mutated headers, request lines
 * and query strings — and what "Connecting" in docs/protocol.md and
 * contract-8 say the node must answer.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { SECRET } from '../../helpers/tokens.js';
import { AUTH_FAILURES, HTTP_ERROR_STATUS, LIMITS } from './contract.js';
import { nestedText } from './json.js';
import { closeProblem, serverFrameProblem, type Live } from './live.js';
import { RawConnection } from './raw.js';
import { signText } from './token-model.js';
import { Opcode, encodeRequest, parseHttpResponses, textFrame, websocketKey } from './wire.js';

export const ALLOWED_ORIGIN = 'https://app.example';

export type TokenKind =
  | 'valid' | 'expired' | 'bad signature' | 'exp 1e400' | 'exp -1' | 'exp "123"' | 'exp 1e20' | 'exp max' | 'no exp' | 'alg none'
  | 'header 5000 deep' | 'payload 5000 deep' | 'payload 32 deep' | 'bad topics' | 'garbage' | 'huge';

/** What the contract says of a token, on its own. */
const TOKEN_VERDICT: Record<TokenKind, 'welcome' | 'token_invalid' | 'token_expired' | 'any failure' | 'any'> = {
  valid: 'welcome',
  'exp max': 'welcome',
  'payload 32 deep': 'welcome',
  expired: 'token_expired',
  'bad signature': 'token_invalid',
  'exp 1e400': 'token_invalid',
  'exp -1': 'token_invalid',
  'exp "123"': 'token_invalid',
  'exp 1e20': 'token_invalid',
  'no exp': 'any failure',
  'alg none': 'token_invalid',
  'header 5000 deep': 'token_invalid',
  'payload 5000 deep': 'token_invalid',
  'bad topics': 'token_invalid',
  garbage: 'token_invalid',
  // A 100 KB token makes a URL or header some HTTP stacks refuse: any documented answer will do.
  huge: 'any',
};

export function makeToken(kind: TokenKind): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = (exp: string, extra = ''): string => `{"sub":"alice","topics":["prices.*"],"exp":${exp}${extra}}`;
  const hs = (payload: string, header = '{"alg":"HS256","typ":"JWT"}', secret = SECRET): string => signText(header, payload, secret);
  switch (kind) {
    case 'valid':
      return hs(claims(String(now + 3600)));
    case 'exp max':
      return hs(claims(String(LIMITS.timeClaimMax)));
    case 'payload 32 deep':
      return hs(claims(String(now + 3600), `,"x":${nestedText(LIMITS.jwtDepth - 1)}`));
    case 'expired':
      return hs(claims(String(now - 60)));
    case 'bad signature':
      return hs(claims(String(now + 3600)), undefined, `${SECRET}-not`);
    case 'exp 1e400':
      return hs(claims('1e400'));
    case 'exp -1':
      return hs(claims('-1'));
    case 'exp "123"':
      return hs(claims('"123"'));
    case 'exp 1e20':
      return hs(claims('1e20'));
    case 'no exp':
      return hs('{"sub":"alice"}');
    case 'alg none':
      return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(claims(String(now + 3600))).toString('base64url')}.`;
    case 'header 5000 deep':
      return hs(claims(String(now + 3600)), `{"alg":"HS256","x":${nestedText(5000)}}`);
    case 'payload 5000 deep':
      return hs(claims(String(now + 3600), `,"x":${nestedText(5000)}`));
    case 'bad topics':
      return hs(`{"sub":"alice","exp":${now + 3600},"topics":["a..b"]}`);
    case 'garbage':
      return 'garbage.token.value';
    case 'huge':
      return `${'a'.repeat(100_000)}.b.c`;
  }
}

export type HeaderKind = 'none' | 'bearer' | 'bearer lowercase' | 'bearer without token' | 'bearer with two tokens' | 'basic' | 'other scheme';
export type QueryKind = 'token' | 'none' | 'empty' | 'twice' | 'after another' | 'other name' | 'percent-encoded';

export interface UpgradeCase {
  query: QueryKind;
  queryToken: TokenKind;
  header: HeaderKind;
  headerToken: TokenKind;
  origin: 'none' | 'allowed' | 'foreign';
  protocol: 'none' | 'herald.v1' | 'others then herald.v1' | 'others';
  /** Changes that keep the request a valid upgrade. */
  benign: ('extra header' | 'header names in lower case' | '8 KB header' | 'spaces around values' | 'permessage-deflate offered')[];
  /** Changes after which the contract does not say what happens (only that the answer is documented). */
  breaking: ('no Host' | 'no Sec-WebSocket-Key' | 'short key' | 'version 8' | 'no Upgrade' | 'no Connection' | 'HTTP/1.0' | 'POST' | 'path /ws/' | 'path /WS' | '300 headers' | '64 KB header' | 'NUL in a header' | 'line folding')[];
}

const tokenKind = fc.constantFrom<TokenKind>(...(Object.keys(TOKEN_VERDICT) as TokenKind[]), 'valid', 'valid', 'valid');

export const upgradeCase: fc.Arbitrary<UpgradeCase> = fc.record({
  query: fc.constantFrom<QueryKind>('token', 'token', 'token', 'none', 'empty', 'twice', 'after another', 'other name', 'percent-encoded'),
  queryToken: tokenKind,
  header: fc.constantFrom<HeaderKind>('none', 'none', 'none', 'bearer', 'bearer', 'bearer lowercase', 'bearer without token', 'bearer with two tokens', 'basic', 'other scheme'),
  headerToken: tokenKind,
  origin: fc.constantFrom('none', 'none', 'allowed', 'foreign'),
  protocol: fc.constantFrom('none', 'none', 'herald.v1', 'others then herald.v1', 'others'),
  benign: fc.subarray(['extra header', 'header names in lower case', '8 KB header', 'spaces around values', 'permessage-deflate offered'] as const),
  breaking: fc.oneof(
    { weight: 3, arbitrary: fc.constant<UpgradeCase['breaking']>([]) },
    { weight: 1, arbitrary: fc.subarray(['no Host', 'no Sec-WebSocket-Key', 'short key', 'version 8', 'no Upgrade', 'no Connection', 'HTTP/1.0', 'POST', 'path /ws/', 'path /WS', '300 headers', '64 KB header', 'NUL in a header', 'line folding'] as const, { minLength: 1, maxLength: 2 }) },
  ),
});

/** The upgrade corpus: contract-8's rules on where the token comes from, and finding 2 (exp 1e400 → invalid JSON in welcome). */
export const upgradeCorpus: UpgradeCase[] = [
  { query: 'token', queryToken: 'exp 1e400', header: 'none', headerToken: 'valid', origin: 'none', protocol: 'none', benign: [], breaking: [] },
  { query: 'token', queryToken: 'valid', header: 'basic', headerToken: 'valid', origin: 'none', protocol: 'none', benign: [], breaking: [] },
  { query: 'token', queryToken: 'valid', header: 'bearer without token', headerToken: 'valid', origin: 'none', protocol: 'none', benign: [], breaking: [] },
  { query: 'token', queryToken: 'garbage', header: 'bearer', headerToken: 'valid', origin: 'none', protocol: 'none', benign: [], breaking: [] },
  { query: 'token', queryToken: 'payload 5000 deep', header: 'none', headerToken: 'valid', origin: 'none', protocol: 'none', benign: [], breaking: [] },
  { query: 'token', queryToken: 'exp 1e20', header: 'none', headerToken: 'valid', origin: 'none', protocol: 'none', benign: [], breaking: [] },
];

type Expected = { kind: 'welcome' } | { kind: 'close'; reasons: ReadonlySet<string> } | { kind: 'status'; status: number; code: string } | { kind: 'any' };

const ANY_FAILURE = new Set([...AUTH_FAILURES].filter((r) => r !== 'token_missing'));

function expectUpgrade(c: UpgradeCase): Expected {
  if (c.breaking.length > 0) return { kind: 'any' };
  // A 100 KB token anywhere in the request may exceed an HTTP limit before Herald sees it.
  const headerCarriesToken = c.header !== 'none' && c.header !== 'basic' && c.header !== 'bearer without token';
  const queryCarriesToken = c.query !== 'none' && c.query !== 'empty';
  if ((headerCarriesToken && c.headerToken === 'huge') || (queryCarriesToken && c.queryToken === 'huge')) return { kind: 'any' };
  if (c.origin === 'foreign') return { kind: 'status', status: 403, code: 'forbidden' };
  // Where the token comes from (contract-8): a Bearer header wins; a malformed Bearer header is token_invalid;
  // any other scheme is ignored in favour of the query.
  let token: TokenKind | 'missing' | 'unknown';
  if (c.header === 'bearer') token = c.headerToken;
  else if (c.header === 'bearer without token' || c.header === 'bearer with two tokens') return { kind: 'close', reasons: new Set(['token_invalid']) };
  else if (c.header === 'bearer lowercase') return { kind: 'any' };
  else if (c.query === 'token' || c.query === 'after another') token = c.queryToken;
  else if (c.query === 'twice' || c.query === 'percent-encoded') token = 'unknown';
  else token = 'missing';
  if (token === 'unknown') return { kind: 'any' };
  if (token === 'missing') return { kind: 'close', reasons: new Set(['token_missing']) };
  const verdict = TOKEN_VERDICT[token];
  if (verdict === 'welcome') return { kind: 'welcome' };
  if (verdict === 'any') return { kind: 'any' };
  return { kind: 'close', reasons: verdict === 'any failure' ? ANY_FAILURE : new Set([verdict]) };
}

export function describeUpgrade(c: UpgradeCase): string {
  return `query ${c.query}${c.query === 'none' || c.query === 'empty' ? '' : ` (${c.queryToken})`}, header ${c.header}${c.header === 'none' || c.header === 'basic' || c.header === 'bearer without token' ? '' : ` (${c.headerToken})`}, origin ${c.origin}, protocol ${c.protocol}${c.benign.length ? `, ${c.benign.join(', ')}` : ''}${c.breaking.length ? `, BREAKING ${c.breaking.join(', ')}` : ''}`;
}

function buildRequest(c: UpgradeCase, host: string, key: string): Buffer {
  const queryToken = makeToken(c.queryToken);
  const query = {
    token: `?token=${queryToken}`,
    none: '',
    empty: '?token=',
    twice: `?token=${queryToken}&token=${makeToken('garbage')}`,
    'after another': `?x=1&token=${queryToken}`,
    'other name': `?Token=${queryToken}`,
    'percent-encoded': `?token=${queryToken.replace(/\./g, '%2E')}`,
  }[c.query];
  const path = c.breaking.includes('path /ws/') ? '/ws/' : c.breaking.includes('path /WS') ? '/WS' : '/ws';
  const headerToken = makeToken(c.headerToken);
  const headers: [string, string][] = [];
  if (!c.breaking.includes('no Host')) headers.push(['Host', host]);
  if (!c.breaking.includes('no Upgrade')) headers.push(['Upgrade', 'websocket']);
  if (!c.breaking.includes('no Connection')) headers.push(['Connection', 'Upgrade']);
  if (!c.breaking.includes('no Sec-WebSocket-Key')) headers.push(['Sec-WebSocket-Key', c.breaking.includes('short key') ? 'abc' : key]);
  headers.push(['Sec-WebSocket-Version', c.breaking.includes('version 8') ? '8' : '13']);
  const authorization = {
    none: undefined,
    bearer: `Bearer ${headerToken}`,
    'bearer lowercase': `bearer ${headerToken}`,
    'bearer without token': 'Bearer',
    'bearer with two tokens': `Bearer ${headerToken} ${headerToken}`,
    basic: `Basic ${Buffer.from('user:password').toString('base64')}`,
    'other scheme': `Token ${headerToken}`,
  }[c.header];
  if (authorization !== undefined) headers.push(['Authorization', authorization]);
  if (c.origin !== 'none') headers.push(['Origin', c.origin === 'allowed' ? ALLOWED_ORIGIN : 'https://evil.example']);
  const offered = { none: undefined, 'herald.v1': 'herald.v1', 'others then herald.v1': 'chat, herald.v1', others: 'chat, superchat' }[c.protocol];
  if (offered !== undefined) headers.push(['Sec-WebSocket-Protocol', offered]);
  if (c.benign.includes('extra header')) headers.push(['X-Fuzz', 'yes; q=1, "quoted"']);
  if (c.benign.includes('permessage-deflate offered')) headers.push(['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits']);
  if (c.benign.includes('8 KB header')) headers.push(['X-Big', 'b'.repeat(8 * 1024)]);
  if (c.breaking.includes('64 KB header')) headers.push(['X-Huge', 'h'.repeat(64 * 1024)]);
  if (c.breaking.includes('300 headers')) for (let i = 0; i < 300; i++) headers.push([`X-H${i}`, String(i)]);
  if (c.breaking.includes('NUL in a header')) headers.push(['X-Nul', 'a\u0000b']);
  if (c.breaking.includes('line folding')) headers.push(['X-Fold', 'first\r\n second']);
  const named = headers.map(([n, v]): [string, string] => [c.benign.includes('header names in lower case') ? n.toLowerCase() : n, c.benign.includes('spaces around values') ? ` ${v}  ` : v]);
  return encodeRequest({ method: c.breaking.includes('POST') ? 'POST' : 'GET', target: `${path}${query}`, headers: named, version: c.breaking.includes('HTTP/1.0') ? 'HTTP/1.0' : 'HTTP/1.1' });
}

/** Runs one upgrade case; returns its outcome label. */
export async function runUpgradeCase(live: Live, c: UpgradeCase, caseId: string): Promise<string> {
  const conn = await RawConnection.open(live.node.port);
  try {
    const key = websocketKey();
    conn.write(buildRequest(c, `127.0.0.1:${live.node.port}`, key));
    const expected = expectUpgrade(c);
    const answered = (): boolean => {
      const head = conn.httpHead;
      if (head === undefined) return false;
      if (head.status === 101) return conn.frames.length > 0;
      return parseHttpResponses(conn.received).length > 0;
    };
    await conn.until(answered, expected.kind === 'any' ? 2000 : 5000);
    const head = conn.httpHead;
    if (head === undefined || !answered()) {
      if (expected.kind !== 'any') live.violation(caseId, `no answer within 5 s to a valid upgrade (${conn.closed ? 'connection closed' : 'still open'})`);
      return conn.closed ? 'no answer, closed' : 'no answer';
    }
    if (head.status !== 101) {
      const [res] = parseHttpResponses(conn.received);
      let code: string | undefined;
      try {
        code = (JSON.parse(res!.body.toString('utf8')) as { error?: { code?: string } }).error?.code;
      } catch {
        code = undefined;
      }
      // docs/protocol.md: refused upgrades carry {"error":{"code":...}} with a documented code and its status.
      if (code === undefined || HTTP_ERROR_STATUS.get(code) !== head.status) live.violation(caseId, `HTTP ${head.status} with ${code === undefined ? `no documented error body: ${res!.body.toString('utf8').slice(0, 120)}` : `code ${code}, documented with status ${HTTP_ERROR_STATUS.get(code)}`}`);
      if (expected.kind !== 'any' && !(expected.kind === 'status' && expected.status === head.status && expected.code === code)) live.violation(caseId, `HTTP ${head.status} ${code}; the contract says ${JSON.stringify(expected)}`);
      return `HTTP ${head.status} ${code ?? '(no code)'}`;
    }
    // RFC 6455: the accept key proves the server read our key; the subprotocol rule is docs/protocol.md's.
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    if (c.breaking.length === 0 && head.headers.get('sec-websocket-accept') !== accept) live.violation(caseId, `wrong Sec-WebSocket-Accept ${head.headers.get('sec-websocket-accept')}`);
    const chosen = head.headers.get('sec-websocket-protocol');
    const wantProtocol = { none: undefined, 'herald.v1': 'herald.v1', 'others then herald.v1': 'herald.v1', others: 'chat' }[c.protocol];
    if (c.breaking.length === 0 && chosen !== wantProtocol) live.violation(caseId, `subprotocol ${chosen} selected; docs/protocol.md says ${wantProtocol}`);
    // Herald's frames are sent uncompressed (RSV1 clear); an extension it accepted would change that.
    const extensions = head.headers.get('sec-websocket-extensions');
    if (extensions !== undefined) live.tally.note(`extension accepted: ${extensions}`);
    const first = conn.frames[0]!;
    let outcome: string;
    if (first.opcode === Opcode.text) {
      const problem = serverFrameProblem(first.payload.toString('utf8'));
      if (problem !== undefined) live.violation(caseId, problem);
      const welcome = problem === undefined && (JSON.parse(first.payload.toString('utf8')) as { type: string }).type === 'welcome';
      if (!welcome && !first.payload.toString('utf8').startsWith('{"type":"welcome"')) live.violation(caseId, `the first frame is not a welcome: ${first.payload.toString('utf8').slice(0, 200)}`);
      if (expected.kind !== 'any' && expected.kind !== 'welcome') live.violation(caseId, `welcomed; the contract says ${expected.kind === 'close' ? `4001 ${[...expected.reasons].join('|')}` : JSON.stringify(expected)}`);
      // The connection works: a ping is answered.
      conn.write(textFrame('{"type":"ping","id":"after-welcome"}'));
      const ponged = await conn.until(() => conn.frames.some((f) => f.opcode === Opcode.text && f.payload.toString('utf8').includes('"after-welcome"')), 5000);
      if (!ponged && welcome) live.violation(caseId, 'no pong after the welcome');
      outcome = 'welcome';
    } else if (first.opcode === Opcode.close && first.payload.length >= 2) {
      const code = first.payload.readUInt16BE(0);
      const reason = first.payload.subarray(2).toString('utf8');
      const problem = closeProblem(code, reason);
      if (problem !== undefined) live.violation(caseId, problem);
      if (code !== 4001 || !AUTH_FAILURES.has(reason)) live.violation(caseId, `an upgrade closed with ${code} ${reason}; only 4001 with an authentication reason is documented there`);
      if (expected.kind === 'welcome') live.violation(caseId, `closed with ${code} ${reason}; the contract says welcome`);
      if (expected.kind === 'close' && !expected.reasons.has(reason)) live.violation(caseId, `closed with ${code} ${reason}; the contract says 4001 ${[...expected.reasons].join('|')}`);
      outcome = `close ${code} ${reason}`;
    } else {
      live.violation(caseId, `the first frame after 101 is opcode ${first.opcode} (${first.payload.length} bytes)`);
      outcome = 'odd first frame';
    }
    return `101 ${outcome}`;
  } finally {
    conn.destroy();
  }
}
