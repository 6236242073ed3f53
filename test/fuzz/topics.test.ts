/** Property-based fuzzing of topic validation and pattern matching against "Topics and patterns" in docs/protocol.md. */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compile, isValidTopic, matches } from './adapters/topics.js';
import { anyTopicString, jsonText, malformedPattern, segment, sub, validTopic, wellFormedPattern } from './lib/arbitraries.js';
import { Tally, property, seedFor, PROPERTY_TIMEOUT } from './lib/budget.js';
import { referenceMatch, referenceSubSafe, referenceTopicValid } from './lib/contract.js';
import { tryParse } from './lib/json.js';

const tally = new Tally('unit-topics', seedFor('unit-topics'));
afterAll(() => tally.report());

describe('topics fuzz - topics and patterns against docs/protocol.md', { timeout: PROPERTY_TIMEOUT }, () => {
  it('topics fuzz - isValidTopic agrees with the documented rules on any string and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(anyTopicString, fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('a'.repeat(256), 'a'.repeat(257))), (topic) => {
        const valid = isValidTopic(topic);
        tally.count(`topic ${valid ? 'valid' : 'invalid'}`);
        expect(valid, JSON.stringify(topic)).toBe(referenceTopicValid(topic));
      }),
      property(tally, 3000, 50_000),
    );
  });

  it('topics fuzz - compilePattern takes any value without throwing; well-formed patterns compile, malformed ones are refused', () => {
    const anyValue = fc.oneof(
      wellFormedPattern,
      malformedPattern,
      fc.string({ unit: 'binary', maxLength: 40 }),
      jsonText.map((text) => {
        const parsed = tryParse(text);
        return parsed.ok ? parsed.value : text;
      }),
    );
    fc.assert(
      fc.property(anyValue, (source) => {
        const compiled = compile(source);
        tally.count(`pattern ${compiled.ok ? 'compiled' : 'refused'}`);
        if (!compiled.ok) expect(typeof compiled.reason, 'a refused pattern says why').toBe('string');
        if (typeof source !== 'string') expect(compiled.ok, `non-string pattern ${JSON.stringify(source)}`).toBe(false);
      }),
      property(tally, 2000, 40_000),
    );
    fc.assert(
      fc.property(wellFormedPattern, (pattern) => {
        tally.count('pattern well-formed');
        expect(compile(pattern).ok, pattern).toBe(true);
      }),
      property(tally, 1000, 20_000),
    );
    fc.assert(
      fc.property(malformedPattern, (pattern) => {
        tally.count('pattern malformed');
        expect(compile(pattern).ok, JSON.stringify(pattern)).toBe(false);
      }),
      property(tally, 1000, 20_000),
    );
  });

  it('topics fuzz - matching agrees with the documented semantics of *, > and {sub}; a crafted sub never widens a grant', () => {
    // Topics built from the pattern's own segments, so that matches are frequent and not only refusals.
    const patternAndTopic = fc.tuple(wellFormedPattern, sub, fc.array(segment, { maxLength: 3 }), validTopic).chain(([pattern, who, extra, random]) => {
      const derived = pattern
        .split('.')
        .map((s) => (s === '{sub}' ? who : s === '*' || s === '>' ? extra[0] ?? 'x' : s))
        .concat(pattern.endsWith('>') ? extra.slice(1) : [])
        .join('.');
      return fc.tuple(fc.constant(pattern), fc.constant(who), fc.constantFrom(derived, random, `${derived}.tail`, derived.split('.').slice(0, -1).join('.') || random));
    });
    fc.assert(
      fc.property(patternAndTopic, ([pattern, who, topic]) => {
        if (!referenceTopicValid(topic)) return;
        const compiled = compile(pattern);
        expect(compiled.ok, pattern).toBe(true);
        if (!compiled.ok) return;
        const got = matches(compiled.pattern, topic, who);
        tally.count(`match ${got}`);
        expect(got, `${pattern} ~ ${topic} (sub ${JSON.stringify(who)})`).toBe(referenceMatch(pattern, topic, who));
        // `{sub}` stands only for a sub that is one segment; any other sub matches nothing through it.
        if (pattern.split('.').includes('{sub}') && !referenceSubSafe(who)) expect(got).toBe(false);
      }),
      property(tally, 3000, 60_000),
    );
  });

  it('topics fuzz - matching never throws on any topic string and any sub, valid or not', () => {
    fc.assert(
      fc.property(wellFormedPattern, fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), (pattern, topic, who) => {
        const compiled = compile(pattern);
        if (!compiled.ok) return;
        tally.count('match any string');
        expect(typeof matches(compiled.pattern, topic, who)).toBe('boolean');
      }),
      property(tally, 1000, 20_000),
    );
  });
});
