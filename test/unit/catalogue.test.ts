import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CloseCode, ERRORS, type ErrorCode } from '../../src/errors.js';

const protocol = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** Rows of the markdown table that follows `heading`, as arrays of cell texts. */
function tableAfter(heading: string): string[][] {
  const start = protocol.indexOf(heading);
  expect(start, `docs/protocol.md has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const lines = protocol.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

const codeOf = (cell: string): string => cell.replace(/`/g, '');

describe('catalogue - src/errors.ts and docs/protocol.md agree', () => {
  it('catalogue - every WebSocket error code is documented in the Errors table, and nothing else is', () => {
    const documented = tableAfter('### Errors').map((row) => codeOf(row[0]!));
    const inCode = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].surfaces.includes('websocket'));
    expect(new Set(documented)).toEqual(new Set(inCode));
  });

  it('catalogue - every HTTP error code is documented with its status', () => {
    const rows = tableAfter('### Error codes of the HTTP API');
    const documented = new Map(rows.map((row) => [codeOf(row[0]!), Number.parseInt(row[1]!, 10)]));
    const inCode = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].surfaces.includes('http'));
    expect(new Set(documented.keys())).toEqual(new Set(inCode));
    for (const code of inCode) expect(documented.get(code), code).toBe(ERRORS[code].status);
  });

  it('catalogue - every close code is documented in the Close codes table', () => {
    const documented = tableAfter('## Close codes').map((row) => Number(row[0]));
    expect(new Set(documented)).toEqual(new Set(Object.values(CloseCode)));
  });
});
