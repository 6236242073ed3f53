/**
 * What the fuzz suite holds Herald to, read from docs/protocol.md where the
 * doc states it as a table (so that a code added to or removed from the doc
 * changes what the fuzzer accepts), and from the issue-8 hardening decisions
 * (/work/notes/contract-8.md) for the limits the doc does not state yet.
 */
import { readFileSync } from 'node:fs';

const protocol = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** Rows of the first markdown table after `heading`, as cell texts. */
function tableAfter(text: string, heading: string): string[][] {
  const start = text.indexOf(heading);
  if (start < 0) throw new Error(`no "${heading}" section in the document`);
  const lines = text.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  if (rows.length === 0) throw new Error(`the "${heading}" section has no table`);
  return rows;
}

const backticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

const frameType = (cell: string): string | undefined => /"type":"([a-z_]+)"/.exec(cell)?.[1];

/** Client frame types (docs/protocol.md, "## Client frames" table). */
export const CLIENT_FRAME_TYPES: ReadonlySet<string> = new Set(tableAfter(protocol, '## Client frames').flatMap((row) => frameType(row[0]!) ?? []));

/** Server frame types (docs/protocol.md, "## Server frames" table). */
export const SERVER_FRAME_TYPES: ReadonlySet<string> = new Set(tableAfter(protocol, '## Server frames').flatMap((row) => frameType(row[0]!) ?? []));

/** Server frames that answer a client frame: those of the table that carry its `id`. */
export const REPLY_FRAME_TYPES: ReadonlySet<string> = new Set(tableAfter(protocol, '## Server frames').flatMap((row) => (row[0]!.includes('"id"') ? frameType(row[0]!) ?? [] : [])));

/** Codes an `error` frame may carry (docs/protocol.md, "### Errors"). */
export const WS_ERROR_CODES: ReadonlySet<string> = new Set(tableAfter(protocol, '### Errors').map((row) => backticked(row[0]!)[0]!));

/** HTTP error code → status (docs/protocol.md, "### Error codes of the HTTP API"). */
export const HTTP_ERROR_STATUS: ReadonlyMap<string, number> = new Map(
  tableAfter(protocol, '### Error codes of the HTTP API').map((row) => [backticked(row[0]!)[0]!, Number.parseInt(row[1]!, 10)]),
);

/** Close code → the reasons documented for it (docs/protocol.md, "## Close codes"). */
export const CLOSE_CODES: ReadonlyMap<number, readonly string[]> = new Map(
  tableAfter(protocol, '## Close codes').map((row) => [Number(row[0]), backticked(row[1]!)]),
);

/** Statuses `POST /v1/publish` may answer and the codes of each (docs/protocol.md, its status table; a status may have several rows). */
export const PUBLISH_STATUS: ReadonlyMap<number, readonly string[]> = (() => {
  const statuses = new Map<number, string[]>();
  for (const row of tableAfter(protocol, '### `POST /v1/publish`')) {
    const codes = backticked(row[1]!).flatMap((body) => [...body.matchAll(/"code":"([a-z_]+)"/g)].map((m) => m[1]!));
    statuses.set(Number(row[0]), [...(statuses.get(Number(row[0])) ?? []), ...codes]);
  }
  return statuses;
})();

/** Reasons of a 4001 close: the failures of authentication. */
export const AUTH_FAILURES: ReadonlySet<string> = new Set(CLOSE_CODES.get(4001) ?? []);

/** Every HERALD_* variable of the README's configuration table, plus those issue 8 adds. */
export const CONFIG_VARIABLES: readonly string[] = [
  ...new Set([
    ...tableAfter(readme, '## Configuration').map((row) => backticked(row[0]!)[0]!),
    'HERALD_BROKER',
    'HERALD_REDIS_PUBLISH_TIMEOUT_MS',
    'NODE_ENV',
  ]),
];

/**
 * Issue-8 limits, with the depth counted as: scalar 0, `[1]` 1, `{"a":[1]}` 2. From docs/protocol.md
 * ("Limits", "Tokens") where it states them, else from contract-8.md.
 */
export const LIMITS = {
  /** Deepest `data` of a message, from any source. */
  dataDepth: 64,
  /** Deepest client frame that is read at all (docs/protocol.md: deeper ones get `bad_request` without an `id`). */
  frameDepth: 128,
  /** Deepest body of `POST /v1/publish` (contract-8: the doc states only the 64 of `data`). */
  httpBodyDepth: 67,
  /** Deepest JWS header or JWT payload. */
  jwtDepth: 32,
  /** Largest `exp`/`nbf`/`iat` (9999-12-31T23:59:59Z); the smallest is 0. */
  timeClaimMax: 253402300799,
  /** Longest `kid`. */
  kidLength: 256,
  /** Longest string `id` of a frame, in Unicode code points (docs/protocol.md: 128 characters). */
  idCodePoints: 128,
  /** Longest topic (docs/protocol.md: 1 to 256 characters). */
  topicLength: 256,
  /** Most messages in one HTTP batch (docs/protocol.md). */
  batch: 1000,
  /** Largest HTTP body (docs/protocol.md: 1 MiB). */
  bodyBytes: 1024 * 1024,
} as const;

/** The documented shape of a topic: 1..256 characters of `A-Z a-z 0-9 _ - . :`, dot-separated, no empty segment. */
export function referenceTopicValid(topic: string): boolean {
  return topic.length >= 1 && topic.length <= LIMITS.topicLength && /^[A-Za-z0-9_\-:]+(\.[A-Za-z0-9_\-:]+)*$/.test(topic);
}

/** A `sub` that `{sub}` may stand for: one topic segment. */
export const referenceSubSafe = (sub: string): boolean => /^[A-Za-z0-9_\-:]+$/.test(sub);

/**
 * Whether a pattern built only from whole segments (literal, `*`, `>` last, `{sub}`) allows `topic`, as
 * docs/protocol.md describes it. `undefined` when the pattern is not of that shape (the reference does not judge).
 */
export function referenceMatch(pattern: string, topic: string, sub: string): boolean | undefined {
  const segments = pattern.split('.');
  const usesSub = segments.includes('{sub}');
  if (usesSub && !referenceSubSafe(sub)) return false;
  const concrete = segments.map((segment) => (segment === '{sub}' ? sub : segment));
  const parts = topic.split('.');
  for (let i = 0; i < concrete.length; i++) {
    const segment = concrete[i]!;
    if (segment === '>') return i === concrete.length - 1 && parts.length > i;
    if (i >= parts.length) return false;
    if (segment !== '*' && segment !== parts[i]) return false;
  }
  return parts.length === concrete.length;
}
