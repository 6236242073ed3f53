import { describe, it, expect } from 'vitest';
import { compilePattern, isTopicSafeSub, isValidTopic, matchPattern, MAX_TOPIC_LENGTH, type Pattern } from '../../src/protocol/topics.js';

function compiled(source: string): Pattern {
  const pattern = compilePattern(source);
  if (typeof pattern === 'string') throw new Error(`expected "${source}" to compile, got: ${pattern}`);
  return pattern;
}

function matches(source: string, topic: string, sub = 'alice'): boolean {
  return matchPattern(compiled(source), topic, sub);
}

describe('isValidTopic', () => {
  it('topics - the maximum length is 256', () => {
    expect(MAX_TOPIC_LENGTH).toBe(256);
  });

  it('topics - accepts lengths 1 and 256', () => {
    expect(isValidTopic('a')).toBe(true);
    expect(isValidTopic('a'.repeat(256))).toBe(true);
    expect(isValidTopic(`${'a'.repeat(127)}.${'b'.repeat(128)}`)).toBe(true);
  });

  it('topics - rejects the empty string and 257 characters', () => {
    expect(isValidTopic('')).toBe(false);
    expect(isValidTopic('a'.repeat(257))).toBe(false);
    expect(isValidTopic(`${'a'.repeat(128)}.${'b'.repeat(128)}`)).toBe(false);
  });

  it('topics - accepts every character of the alphabet A-Z a-z 0-9 _ - . :', () => {
    expect(isValidTopic('ABCDEFGHIJKLMNOPQRSTUVWXYZ')).toBe(true);
    expect(isValidTopic('abcdefghijklmnopqrstuvwxyz')).toBe(true);
    expect(isValidTopic('0123456789')).toBe(true);
    expect(isValidTopic('_-:')).toBe(true);
    expect(isValidTopic('chat.room-1.user_2:typing')).toBe(true);
    expect(isValidTopic('a.b.c.d.e')).toBe(true);
  });

  it('topics - rejects empty segments', () => {
    expect(isValidTopic('a..b')).toBe(false);
    expect(isValidTopic('.')).toBe(false);
    expect(isValidTopic('..')).toBe(false);
  });

  it('topics - rejects leading and trailing dots', () => {
    expect(isValidTopic('.a')).toBe(false);
    expect(isValidTopic('a.')).toBe(false);
    expect(isValidTopic('.a.')).toBe(false);
  });

  it('topics - rejects unicode', () => {
    expect(isValidTopic('café')).toBe(false);
    expect(isValidTopic('chat.日本')).toBe(false);
    expect(isValidTopic('emoji.😀')).toBe(false);
    // Fullwidth letters look like ASCII but are not in the alphabet.
    expect(isValidTopic('ａｂｃ')).toBe(false);
  });

  it('topics - rejects whitespace and control characters', () => {
    expect(isValidTopic('a b')).toBe(false);
    expect(isValidTopic(' a')).toBe(false);
    expect(isValidTopic('a ')).toBe(false);
    expect(isValidTopic('a\tb')).toBe(false);
    expect(isValidTopic('a\n')).toBe(false);
    expect(isValidTopic('a\u0000')).toBe(false);
  });

  it('topics - rejects wildcards and the {sub} placeholder', () => {
    expect(isValidTopic('*')).toBe(false);
    expect(isValidTopic('>')).toBe(false);
    expect(isValidTopic('a.*')).toBe(false);
    expect(isValidTopic('a.>')).toBe(false);
    expect(isValidTopic('a*b')).toBe(false);
    expect(isValidTopic('user.{sub}')).toBe(false);
  });

  it('topics - rejects other punctuation', () => {
    for (const ch of ['/', '\\', '"', "'", '#', '$', '%', '&', '+', ',', ';', '=', '?', '@', '[', ']', '{', '}', '|', '~', '!']) {
      expect(isValidTopic(`a${ch}b`), ch).toBe(false);
    }
  });
});

describe('compilePattern', () => {
  it('patterns - a plain topic compiles to a literal pattern', () => {
    const pattern = compiled('chat.room-1');
    expect(pattern.source).toBe('chat.room-1');
    expect(pattern.literal).toBe('chat.room-1');
    expect(pattern.usesSub).toBe(false);
    expect(pattern.segments).toEqual(['chat', 'room-1']);
  });

  it('patterns - "*" segments compile and are not literal', () => {
    for (const source of ['*', 'a.*', '*.b', 'a.*.c', '*.*']) {
      const pattern = compiled(source);
      expect(pattern.literal, source).toBeUndefined();
      expect(pattern.usesSub, source).toBe(false);
    }
  });

  it('patterns - ">" compiles as the last segment, including alone', () => {
    expect(compiled('>').literal).toBeUndefined();
    expect(compiled('a.>').segments).toEqual(['a', '>']);
    expect(compiled('*.>').literal).toBeUndefined();
  });

  it('patterns - ">" anywhere but last is rejected', () => {
    for (const source of ['>.a', 'a.>.b', '>.>']) {
      const result = compilePattern(source);
      expect(typeof result, source).toBe('string');
      expect(result).toContain('">" is allowed only as the last segment');
    }
  });

  it('patterns - wildcards must be whole segments', () => {
    for (const source of ['a*', 'a.b*', '*a', 'a.>b', 'a.b>', '**', '>>']) {
      expect(typeof compilePattern(source), source).toBe('string');
    }
  });

  it('patterns - {sub} compiles as a whole segment and inside one', () => {
    const whole = compiled('user.{sub}');
    expect(whole.usesSub).toBe(true);
    expect(whole.literal).toBeUndefined();
    const inside = compiled('user-{sub}.inbox');
    expect(inside.usesSub).toBe(true);
    expect(inside.literal).toBeUndefined();
    expect(compiled('{sub}').usesSub).toBe(true);
    expect(compiled('a.{sub}-{sub}.>').usesSub).toBe(true);
  });

  it('patterns - only the exact placeholder {sub} is allowed', () => {
    for (const source of ['user.{SUB}', 'user.{user}', 'user.{sub', 'user.sub}', 'user.{}', 'user.{ sub }']) {
      expect(typeof compilePattern(source), source).toBe('string');
    }
  });

  it('patterns - empty segments, bad characters and non-strings are rejected', () => {
    for (const source of ['', '.', 'a..b', '.a', 'a.', 'a b', 'café', 'a/b', 'a.#']) {
      expect(typeof compilePattern(source), JSON.stringify(source)).toBe('string');
    }
    for (const source of [undefined, null, 42, {}, ['a'], true]) {
      expect(compilePattern(source), JSON.stringify(source)).toBe('not a non-empty string');
    }
  });

  it('patterns - the rejection names the offending segment', () => {
    const result = compilePattern('a.b c.d');
    expect(result).toContain('segment 2');
    expect(result).toContain('"b c"');
    expect(compilePattern('a..b')).toContain('segment 2');
  });

  it('patterns - length is bounded at twice the topic length', () => {
    expect(typeof compiled('a'.repeat(512))).toBe('object');
    const tooLong = compilePattern('a'.repeat(513));
    expect(typeof tooLong).toBe('string');
    expect(tooLong).toContain('512');
  });
});

describe('matchPattern', () => {
  it('matching - a literal pattern matches only the same topic', () => {
    expect(matches('chat.room', 'chat.room')).toBe(true);
    expect(matches('chat.room', 'chat.room2')).toBe(false);
    expect(matches('chat.room', 'chat')).toBe(false);
    expect(matches('chat.room', 'chat.room.x')).toBe(false);
    expect(matches('chat.room', 'Chat.room')).toBe(false);
  });

  it('matching - a literal pattern does not depend on the sub, even an unsafe one', () => {
    for (const sub of ['alice', '', '>', '*', 'a b']) {
      expect(matches('chat.room', 'chat.room', sub), JSON.stringify(sub)).toBe(true);
    }
  });

  it('matching - "*" matches exactly one segment', () => {
    expect(matches('chat.*', 'chat.a')).toBe(true);
    expect(matches('chat.*', 'chat.room-1')).toBe(true);
    expect(matches('chat.*', 'chat')).toBe(false);
    expect(matches('chat.*', 'chat.a.b')).toBe(false);
    expect(matches('chat.*', 'other.a')).toBe(false);
  });

  it('matching - "*" works in any position', () => {
    expect(matches('*', 'a')).toBe(true);
    expect(matches('*', 'a.b')).toBe(false);
    expect(matches('*.b', 'a.b')).toBe(true);
    expect(matches('*.b', 'a.c')).toBe(false);
    expect(matches('a.*.c', 'a.x.c')).toBe(true);
    expect(matches('a.*.c', 'a.c')).toBe(false);
    expect(matches('a.*.c', 'a.x.y.c')).toBe(false);
    expect(matches('*.*', 'a.b')).toBe(true);
    expect(matches('*.*', 'a')).toBe(false);
  });

  it('matching - ">" matches one or more segments', () => {
    expect(matches('chat.>', 'chat.a')).toBe(true);
    expect(matches('chat.>', 'chat.a.b')).toBe(true);
    expect(matches('chat.>', 'chat.a.b.c.d')).toBe(true);
    expect(matches('chat.>', 'other.a')).toBe(false);
  });

  it('matching - ">" never matches zero segments', () => {
    expect(matches('chat.>', 'chat')).toBe(false);
    expect(matches('a.b.>', 'a.b')).toBe(false);
    expect(matches('a.b.>', 'a')).toBe(false);
  });

  it('matching - ">" alone matches every topic', () => {
    expect(matches('>', 'a')).toBe(true);
    expect(matches('>', 'a.b.c')).toBe(true);
  });

  it('matching - "*" and ">" combine', () => {
    expect(matches('*.>', 'a.b')).toBe(true);
    expect(matches('*.>', 'a.b.c')).toBe(true);
    expect(matches('*.>', 'a')).toBe(false);
    expect(matches('a.*.>', 'a.b.c')).toBe(true);
    expect(matches('a.*.>', 'a.b')).toBe(false);
  });

  it('matching - a whole-segment {sub} is replaced by the sub', () => {
    expect(matches('user.{sub}', 'user.alice', 'alice')).toBe(true);
    expect(matches('user.{sub}', 'user.bob', 'alice')).toBe(false);
    expect(matches('user.{sub}', 'user.bob', 'bob')).toBe(true);
    expect(matches('user.{sub}', 'user', 'alice')).toBe(false);
    expect(matches('user.{sub}', 'user.alice.x', 'alice')).toBe(false);
    expect(matches('{sub}', 'alice', 'alice')).toBe(true);
  });

  it('matching - {sub} inside a segment is replaced by the sub', () => {
    expect(matches('user-{sub}', 'user-alice', 'alice')).toBe(true);
    expect(matches('user-{sub}', 'user-bob', 'alice')).toBe(false);
    expect(matches('user-{sub}', 'user-', 'alice')).toBe(false);
    expect(matches('inbox.{sub}-private', 'inbox.alice-private', 'alice')).toBe(true);
    expect(matches('inbox.{sub}-private', 'inbox.alice', 'alice')).toBe(false);
  });

  it('matching - every {sub} occurrence is replaced', () => {
    expect(matches('dm.{sub}.{sub}', 'dm.alice.alice', 'alice')).toBe(true);
    expect(matches('dm.{sub}.{sub}', 'dm.alice.bob', 'alice')).toBe(false);
    expect(matches('{sub}-{sub}', 'alice-alice', 'alice')).toBe(true);
  });

  it('matching - {sub} combines with wildcards', () => {
    expect(matches('user.{sub}.*', 'user.alice.inbox', 'alice')).toBe(true);
    expect(matches('user.{sub}.*', 'user.bob.inbox', 'alice')).toBe(false);
    expect(matches('user.{sub}.>', 'user.alice.a.b', 'alice')).toBe(true);
    expect(matches('user.{sub}.>', 'user.alice', 'alice')).toBe(false);
    expect(matches('*.{sub}', 'anything.alice', 'alice')).toBe(true);
  });

  it('matching - a sub containing a dot makes {sub} patterns match nothing', () => {
    // Otherwise user "acme" holding "user.{sub}.>" would reach user "acme.alice"'s "user.acme.alice" tree.
    expect(isTopicSafeSub('acme.alice')).toBe(false);
    expect(matches('user.{sub}', 'user.acme.alice', 'acme.alice')).toBe(false);
    expect(matches('user.{sub}.inbox', 'user.acme.alice.inbox', 'acme.alice')).toBe(false);
    expect(matches('user.{sub}.>', 'user.acme.alice.x', 'acme')).toBe(true);
    expect(matches('user.{sub}.>', 'user.acme.alice.x', 'acme.alice')).toBe(false);
  });

  it('matching - a sub with ">" or "*" makes {sub} patterns match nothing', () => {
    // Substituted naively, sub ">" would turn "user.{sub}" into "user.>" and grant every user's topics.
    expect(matches('user.{sub}', 'user.alice', '>')).toBe(false);
    expect(matches('user.{sub}', 'user.bob.x', '>')).toBe(false);
    expect(matches('user.{sub}', 'user.alice', '*')).toBe(false);
    expect(matches('user.{sub}.inbox', 'user.bob.inbox', '*')).toBe(false);
    expect(matches('user.{sub}', 'user.alice', 'a.>')).toBe(false);
    expect(matches('user.{sub}', 'user.a.b', 'a.*')).toBe(false);
    expect(matches('{sub}', 'anything', '>')).toBe(false);
  });

  it('matching - a sub outside the topic alphabet makes {sub} patterns match nothing', () => {
    for (const sub of ['a b', 'café', 'a/b', '{sub}', 'a..b', '.a', 'a.', '$&', 'a\nb']) {
      expect(isTopicSafeSub(sub), JSON.stringify(sub)).toBe(false);
      // Naive substitution would turn the pattern into exactly this topic.
      expect(matches('user.{sub}', `user.${sub}`, sub), JSON.stringify(sub)).toBe(false);
    }
  });

  it('matching - an empty sub makes {sub} patterns match nothing', () => {
    expect(isTopicSafeSub('')).toBe(false);
    // Naively, "user-{sub}" with "" would become "user-" and "{sub}.x" would become ".x".
    expect(matches('user-{sub}', 'user-', '')).toBe(false);
    expect(matches('user.{sub}-x', 'user.-x', '')).toBe(false);
  });

  it('matching - a sub longer than a topic makes {sub} patterns match nothing', () => {
    const long = 'a'.repeat(257);
    expect(isTopicSafeSub(long)).toBe(false);
    expect(isTopicSafeSub('a'.repeat(256))).toBe(true);
    expect(matches('{sub}', 'a'.repeat(256), 'a'.repeat(256))).toBe(true);
  });

  it('matching - unsafe subs do not affect wildcard patterns without {sub}', () => {
    expect(matches('chat.*', 'chat.a', '>')).toBe(true);
    expect(matches('chat.>', 'chat.a.b', '')).toBe(true);
  });

  it('matching - a compiled pattern is reusable across subs', () => {
    const pattern = compiled('user.{sub}');
    expect(matchPattern(pattern, 'user.alice', 'alice')).toBe(true);
    expect(matchPattern(pattern, 'user.bob', 'bob')).toBe(true);
    expect(matchPattern(pattern, 'user.alice', 'bob')).toBe(false);
    expect(matchPattern(pattern, 'user.alice', 'alice')).toBe(true);
  });
});

describe('patterns - edges', () => {
  it('patterns - the empty string is refused as not a non-empty string, not as an empty segment', () => {
    expect(compilePattern('')).toBe('not a non-empty string');
    expect(compilePattern('.')).toContain('segment 1');
  });
});
