import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { depthByCharacters, depthBySearch, jsonDepth, MAX_DATA_DEPTH, parseBoundedJson } from '../../src/protocol/json.js';

/** The depth by definition, on the parsed value (recursive; only used on shallow values). */
function referenceDepth(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(referenceDepth));
  if (typeof value === 'object' && value !== null) return 1 + Math.max(0, ...Object.values(value).map(referenceDepth));
  return 0;
}

const nested = (depth: number, leaf = '1'): string => '['.repeat(depth) + leaf + ']'.repeat(depth);

describe('json - depth', () => {
  it('json - scalars are depth 0, each array or object one more', () => {
    expect(jsonDepth('1', 10)).toBe(0);
    expect(jsonDepth('"[[[["', 10)).toBe(0);
    expect(jsonDepth('[1]', 10)).toBe(1);
    expect(jsonDepth('{"a":[1]}', 10)).toBe(2);
    expect(jsonDepth('[[],[[]],[]]', 10)).toBe(3);
  });

  it('json - brackets inside strings, escaped quotes and backslashes do not count', () => {
    expect(jsonDepth('["[[[", "\\"[[[", "\\\\", [1]]', 10)).toBe(2);
    expect(jsonDepth('{"k\\\\":"v\\\\\\"]]]"}', 10)).toBe(1);
  });

  it('json - the scan stops past the limit instead of walking the rest', () => {
    const deep = nested(1_000_000);
    expect(jsonDepth(deep, MAX_DATA_DEPTH)).toBe(MAX_DATA_DEPTH + 1);
  });

  it('json - an unterminated string ends the scan without throwing', () => {
    expect(jsonDepth('[["abc', 10)).toBe(2);
    expect(jsonDepth('"', 10)).toBe(0);
  });

  it('json - both scanning strategies agree with each other and with the definition on any JSON', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'large', maxDepth: 12 }), (text) => {
        const expected = referenceDepth(JSON.parse(text));
        expect(depthByCharacters(text, 100)).toBe(expected);
        expect(depthBySearch(text, 100)).toBe(expected);
        expect(jsonDepth(text, 100)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('json - both strategies agree on arbitrary (not necessarily valid) text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ',', ':') , maxLength: 200 }), fc.integer({ min: 0, max: 20 }), (text, limit) => {
        expect(depthBySearch(text, limit)).toBe(depthByCharacters(text, limit));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('json - parseBoundedJson', () => {
  it('json - accepts exactly up to the limit and refuses one more, without throwing', () => {
    const ok = parseBoundedJson(nested(64), 64);
    expect(ok.ok && ok.depth).toBe(64);
    expect(parseBoundedJson(nested(65), 64)).toEqual({ ok: false, problem: 'nested deeper than 64 levels' });
  });

  it('json - a 10 KB, 5,000-deep array is refused; JSON.stringify of it would overflow the stack', () => {
    const text = `{"type":${nested(5000)}}`;
    expect(text.length).toBeLessThan(11_000);
    expect(parseBoundedJson(text, MAX_DATA_DEPTH + 1).ok).toBe(false);
  });

  it('json - invalid JSON is a problem, not an exception', () => {
    expect(parseBoundedJson('{', 10)).toEqual({ ok: false, problem: 'not valid JSON' });
    expect(parseBoundedJson('', 10)).toEqual({ ok: false, problem: 'not valid JSON' });
    expect(parseBoundedJson('[1,]', 10)).toEqual({ ok: false, problem: 'not valid JSON' });
  });

  it('json - what is accepted re-serialises safely', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 20 }), (value) => {
        const parsed = parseBoundedJson(JSON.stringify(value), MAX_DATA_DEPTH);
        expect(parsed.ok).toBe(true);
        if (parsed.ok) expect(JSON.parse(JSON.stringify(parsed.value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });
});
