/**
 * JSON from outside, bounded in depth before it is parsed.
 *
 * V8's JSON.parse is iterative and copes with any nesting, but JSON.stringify
 * (and every recursive walk) is not: a 10 KB array nested 5,000 deep parses
 * fine and then throws RangeError (stack overflow) the first time Herald
 * re-serialises it, which would unwind the event loop and drop every
 * connection of the node. So every JSON text that comes from a client, a
 * backend or Redis is measured here first, and anything deeper than its
 * boundary allows is refused before it is parsed.
 *
 * The contract (docs/protocol.md, "Limits"): a message's `data` nests at most
 * MAX_DATA_DEPTH arrays and objects. Each carrier adds its own levels (a
 * client frame one, an HTTP batch three), which the callers add to the limit.
 */

/** How deeply a message's `data` may nest arrays and objects: a scalar is 0, `[1]` is 1, `{"a":[1]}` is 2. */
export const MAX_DATA_DEPTH = 64;

const QUOTE = 34; // "
const BACKSLASH = 92;
const OPEN_BRACKET = 91; // [
const OPEN_BRACE = 123; // {
const CLOSE_BRACKET = 93; // ]
const CLOSE_BRACE = 125; // }
/** Below this length a plain character loop is fastest; above it, native searches skip the uninteresting runs. */
const SHORT_TEXT = 512;
const STRUCTURE = /["[\]{}]/g;

/**
 * The nesting depth of a JSON text, or a number over `limit` as soon as it
 * exceeds `limit` (the scan stops there, so a megabyte of `[` costs `limit`
 * steps). Strings are skipped, so brackets inside them do not count. The text
 * need not be valid JSON: JSON.parse decides that afterwards.
 *
 * This runs on the hot path (every envelope from Redis), hence two loops of
 * the same meaning tuned for short and long texts; test/unit/json.test.ts
 * checks them against each other and against a reference.
 */
export function jsonDepth(text: string, limit: number): number {
  return text.length < SHORT_TEXT ? depthByCharacters(text, limit) : depthBySearch(text, limit);
}

/** Index of the quote closing the string opened at `open`, or -1 if the string never closes. */
function stringEnd(text: string, open: number): number {
  let close = open;
  for (;;) {
    close = text.indexOf('"', close + 1);
    if (close < 0) return -1;
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    for (let k = close - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if ((backslashes & 1) === 0) return close;
  }
}

/** @internal exported for the tests. */
export function depthByCharacters(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return max;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > max && (max = depth) > limit) return max;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return max;
}

/** @internal exported for the tests. */
export function depthBySearch(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  STRUCTURE.lastIndex = 0;
  for (let match = STRUCTURE.exec(text); match !== null; match = STRUCTURE.exec(text)) {
    const c = text.charCodeAt(match.index);
    if (c === QUOTE) {
      const close = stringEnd(text, match.index);
      if (close < 0) return max;
      STRUCTURE.lastIndex = close + 1;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > max && (max = depth) > limit) return max;
    } else {
      depth--;
    }
  }
  return max;
}

export type ParsedJson = { readonly ok: true; readonly value: unknown; readonly depth: number } | { readonly ok: false; readonly problem: string };

/** Parses `text` if it nests at most `maxDepth` levels; never throws. */
export function parseBoundedJson(text: string, maxDepth: number): ParsedJson {
  const depth = jsonDepth(text, maxDepth);
  if (depth > maxDepth) return { ok: false, problem: `nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown, depth };
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
}
