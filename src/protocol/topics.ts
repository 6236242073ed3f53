/**
 * Topics and the patterns that grant access to them.
 *
 * A topic is 1 to 256 characters from A-Z a-z 0-9 _ - . : made of
 * dot-separated, non-empty segments. A pattern has the same shape, except that
 * a segment may be `*` (exactly one segment), the last segment may be `>` (one
 * or more segments), and `{sub}` anywhere stands for the token's `sub` claim
 * (when that is a single segment).
 */

export const MAX_TOPIC_LENGTH = 256;

const TOPIC = /^[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*$/;
const SEGMENT = /^(?:[A-Za-z0-9_\-:]|\{sub\})+$/;
const SUB_PLACEHOLDER = '{sub}';
/** One topic segment: what a `sub` must be for `{sub}` to stand for it. */
const SINGLE_SEGMENT = /^[A-Za-z0-9_\-:]+$/;

export function isValidTopic(topic: string): boolean {
  return topic.length > 0 && topic.length <= MAX_TOPIC_LENGTH && TOPIC.test(topic);
}

/** A pattern compiled once and shared by every connection whose token carries it. */
export interface Pattern {
  readonly source: string;
  /** Literal pattern without wildcards or `{sub}`: matched by string equality. */
  readonly literal: string | undefined;
  readonly segments: readonly string[];
  readonly usesSub: boolean;
}

/** Compiles a pattern, or returns a description of why it is not one. */
export function compilePattern(source: unknown): Pattern | string {
  if (typeof source !== 'string' || source.length === 0) return 'not a non-empty string';
  if (source.length > MAX_TOPIC_LENGTH * 2) return `longer than ${MAX_TOPIC_LENGTH * 2} characters`;
  const segments = source.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === '*') continue;
    if (segment === '>') {
      if (i !== segments.length - 1) return '">" is allowed only as the last segment';
      continue;
    }
    if (!SEGMENT.test(segment)) return `segment ${i + 1} ("${segment}") is empty or has characters outside A-Z a-z 0-9 _ - : {sub}`;
  }
  const usesSub = source.includes(SUB_PLACEHOLDER);
  const wild = segments.some((s) => s === '*' || s === '>');
  return { source, segments, usesSub, literal: wild || usesSub ? undefined : source };
}

/**
 * Whether `sub` can stand for `{sub}`: exactly one topic segment. Otherwise
 * `{sub}` patterns match nothing, so a crafted sub such as ">" cannot widen a
 * grant, and user "a" cannot reach user "a.b"'s tree through "user.{sub}.>".
 */
export function isTopicSafeSub(sub: string): boolean {
  return sub.length > 0 && sub.length <= MAX_TOPIC_LENGTH && SINGLE_SEGMENT.test(sub);
}

/** Matches a valid topic against a compiled pattern for the connection whose token's sub is `sub`. */
export function matchPattern(pattern: Pattern, topic: string, sub: string): boolean {
  if (pattern.literal !== undefined) return pattern.literal === topic;
  let segments = pattern.segments;
  if (pattern.usesSub) {
    if (!isTopicSafeSub(sub)) return false;
    segments = pattern.source.replaceAll(SUB_PLACEHOLDER, sub).split('.');
  }
  const parts = topic.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === '>') return parts.length > i;
    if (i >= parts.length) return false;
    if (segment !== '*' && segment !== parts[i]) return false;
  }
  return parts.length === segments.length;
}
