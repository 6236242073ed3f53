/** The fuzz suite's only coupling to src/protocol/topics.ts. */
import { compilePattern, isValidTopic, matchPattern, type Pattern } from '../../../src/protocol/topics.js';

export { isValidTopic };

export type Compiled = { ok: true; pattern: Pattern } | { ok: false; reason: unknown };

export function compile(source: unknown): Compiled {
  const compiled = compilePattern(source);
  return typeof compiled === 'string' ? { ok: false, reason: compiled } : { ok: true, pattern: compiled };
}

export const matches = (pattern: Pattern, topic: string, sub: string): boolean => matchPattern(pattern, topic, sub);
