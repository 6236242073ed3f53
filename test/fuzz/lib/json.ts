/**
 * JSON helpers that never recurse on input: hostile texts nest thousands of
 * levels deep, which is exactly what must not blow the stack — neither
 * Herald's nor the test's.
 */

/** Nesting depth of JSON text (scalar 0, `[1]` 1, `{"a":[1]}` 2), counted on the text; strings are skipped. */
export function textDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export type NestKind = 'array' | 'object' | 'mixed';

/** JSON text nested exactly `depth` levels around `leaf` (a JSON scalar text), built without recursion. */
export function nestedText(depth: number, kind: NestKind = 'array', leaf = '1'): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    const object = kind === 'object' || (kind === 'mixed' && i % 2 === 1);
    open.push(object ? '{"k":' : '[');
    close.push(object ? '}' : ']');
  }
  return open.join('') + leaf + close.reverse().join('');
}

/** Nesting depth of a parsed value (only called on values the test built or Herald returned within the limit). */
export function valueDepth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let max = 0;
  for (const child of Object.values(value as Record<string, unknown>)) max = Math.max(max, valueDepth(child));
  return 1 + max;
}

/**
 * A canonical text of a JSON value as a JavaScript client sees it: keys sorted, numbers as JSON.stringify
 * writes them (so -0 is 0 and numbers beyond double range, parsed as ±Infinity, are null).
 */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v)).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
    .join(',')}}`;
}

/** JSON.parse that reports failure instead of throwing. */
export function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Whether bytes are valid UTF-8 (what a WebSocket text frame and Herald's JSON input must be). */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Whether `key` is an own property (JSON.parse makes `__proto__` an own property, not the prototype). */
export const hasOwn = (value: Record<string, unknown>, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);
