/**
 * Hostile input, as fast-check arbitraries. JSON is produced as text, not as
 * values: a value 5,000 levels deep cannot be serialised by the test either,
 * and `1e400` or a duplicate key has no JavaScript value that writes back to it.
 */
import fc from 'fast-check';
import { nestedText, type NestKind } from './json.js';

/** Depths around every limit (32 for tokens, 64..67 for data, frames and bodies) and far beyond any stack. */
export const depth: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 4, arbitrary: fc.constantFrom(31, 32, 33, 63, 64, 65, 66, 67, 68) },
  { weight: 2, arbitrary: fc.constantFrom(200, 1000, 5000, 20_000) },
);

const nestKind: fc.Arbitrary<NestKind> = fc.constantFrom('array', 'object', 'mixed');

/** Numbers JavaScript cannot hold exactly, or at all. */
export const hostileNumberText = fc.constantFrom(
  '1e400', '-1e400', '1e-400', '-0', '0.0', '1E308', '4.9e-324', '123456789012345678901234567890', '-9007199254740993', '1.7976931348623157e309',
);

/** Strings that are legal JSON but awkward: lone surrogates (escaped), NUL, line separators, BOM. */
export const awkwardStringText = fc.constantFrom(
  '"\\ud800"', '"\\udfff\\ud800"', '"a\\ud83d"', '"\\u0000"', '"\\uffff\\ufffe"', '"\\u2028\\u2029"', '"\\ufeff"', '"\\\\"', '"\\/"', '""',
);

/** Keys that reach the prototype chain when code is careless with objects. */
export const prototypeKeyText = fc.constantFrom('"__proto__"', '"constructor"', '"prototype"', '"toString"', '"hasOwnProperty"', '"valueOf"');

const plainString = fc.string({ unit: 'binary', maxLength: 24 }).map((s) => JSON.stringify(s));

export const scalarText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 0 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: hostileNumberText },
  { weight: 2, arbitrary: awkwardStringText },
  { weight: 3, arbitrary: plainString },
);

const keyText = fc.oneof({ weight: 3, arbitrary: plainString }, { weight: 1, arbitrary: prototypeKeyText });

/** Any JSON text of modest depth and width, with hostile scalars and keys (duplicates included). */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalarText, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(keyText, tie('value')), { maxLength: 4 }).map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`),
})).value;

/** Objects that try to pollute or shadow prototypes. */
export const prototypeObjectText = fc.constantFrom(
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":null,"toString":1,"valueOf":"x","hasOwnProperty":[]}',
  '{"a":1,"a":[2],"a":{"b":3}}',
  '[{"__proto__":[]}]',
);

/** Large texts: long strings, wide arrays, many keys. */
export const bulkyText = fc.oneof(
  fc.constantFrom(1_000, 60_000, 300_000).map((n) => `"${'x'.repeat(n)}"`),
  fc.constantFrom(1_000, 50_000).map((n) => `[${new Array<string>(n).fill('0').join(',')}]`),
  fc.constantFrom(1_000, 20_000).map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`),
  fc.constantFrom(10_000, 100_000).map((n) => `"${'\\ud83d\\ude00'.repeat(n / 10)}"`),
);

/** JSON text nested `depth` levels around a hostile leaf. */
export const nestedJsonText: fc.Arbitrary<string> = fc.tuple(depth, nestKind, scalarText).map(([d, kind, leaf]) => nestedText(d, kind, leaf));

/** What a hostile publisher puts in `data`. */
export const hostileDataText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: jsonText },
  { weight: 5, arbitrary: nestedJsonText },
  { weight: 1, arbitrary: prototypeObjectText },
  { weight: 1, arbitrary: bulkyText },
);

/** Byte-level damage to a text: flips, insertions of syntax, deletions, duplications, truncation. */
export function mutated(base: fc.Arbitrary<string | Uint8Array>): fc.Arbitrary<Uint8Array> {
  const op = fc.oneof(
    fc.tuple(fc.constant('flip' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 })),
    fc.tuple(fc.constant('insert' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('[', '{', '}', ']', '"', '\\', ',', ':', '\u0000', '1e400', '\\ud800', '\ufffd', ' ')),
    fc.tuple(fc.constant('bytes' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.uint8Array({ minLength: 1, maxLength: 4 })),
    fc.tuple(fc.constant('delete' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 16 })),
    fc.tuple(fc.constant('duplicate' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 64 })),
    fc.tuple(fc.constant('truncate' as const), fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(0)),
  );
  return fc.tuple(base, fc.array(op, { minLength: 1, maxLength: 4 })).map(([input, ops]) => {
    let bytes = Buffer.from(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
    for (const [kind, where, arg] of ops) {
      const at = Math.floor(where * bytes.length);
      if (kind === 'flip') {
        const i = Math.min(at, bytes.length - 1);
        if (bytes.length > 0) bytes[i] = bytes[i]! ^ (arg as number);
      } else if (kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(arg as string, 'utf8'), bytes.subarray(at)]);
      else if (kind === 'bytes') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(arg as Uint8Array), bytes.subarray(at)]);
      else if (kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + (arg as number))]);
      else if (kind === 'duplicate') bytes = Buffer.concat([bytes.subarray(0, at + (arg as number)), bytes.subarray(at)]);
      else bytes = bytes.subarray(0, at);
    }
    return new Uint8Array(bytes);
  });
}

/** Bytes that are not UTF-8: stray continuation bytes, overlong forms, UTF-8-encoded surrogates, code points past U+10FFFF, cut sequences. */
export const invalidUtf8 = fc.constantFrom(
  [0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80], [0xff], [0xfe, 0xff], [0xe2, 0x82], [0xf0, 0x9f, 0x98],
).map((bytes) => new Uint8Array(bytes));

/** A JSON text with invalid UTF-8 spliced in (inside a string, or raw). */
export const textWithInvalidUtf8 = fc.tuple(jsonText, invalidUtf8, fc.boolean()).map(([text, bad, inString]) =>
  new Uint8Array(inString ? Buffer.concat([Buffer.from('{"type":"publish","topic":"a","data":"'), Buffer.from(bad), Buffer.from('"}')]) : Buffer.concat([Buffer.from(text), Buffer.from(bad)])),
);

// ---- topics and patterns ----

export const segment = fc.stringMatching(/^[A-Za-z0-9_\-:]{1,10}$/);

export const validTopic: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('.')) },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(256), `${'b'.repeat(127)}.${'c'.repeat(128)}`, 'A-Z_az09:-') },
);

/** Strings that break the topic rules in one way or another. */
export const invalidTopic: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '.', '..', 'a.', '.a', 'a..b', 'a b', 'a*', '*', '>', 'a.>', 'a.*', '{sub}', 'x'.repeat(257), 'é', 'a\u0000b', 'a\nb', 'a/b', '😀', 'a.\ud800'),
  fc.tuple(validTopic, fc.constantFrom(' ', '..', '*', '>', '#', '\t', 'ü', '\ud800', '{', '}'), fc.double({ min: 0, max: 1, noNaN: true })).map(([t, bad, where]) => {
    const at = Math.floor(where * (t.length + 1));
    return t.slice(0, at) + bad + t.slice(at);
  }),
);

export const anyTopicString: fc.Arbitrary<string> = fc.oneof(validTopic, invalidTopic, fc.string({ unit: 'binary', maxLength: 40 }));

const patternSegment = fc.oneof({ weight: 5, arbitrary: segment }, { weight: 2, arbitrary: fc.constant('*') }, { weight: 1, arbitrary: fc.constant('{sub}') });

/** Patterns built from whole segments as docs/protocol.md describes them (the reference can judge these). */
export const wellFormedPattern: fc.Arbitrary<string> = fc
  .tuple(fc.array(patternSegment, { minLength: 0, maxLength: 5 }), fc.boolean())
  .filter(([segments, tail]) => segments.length + (tail ? 1 : 0) > 0)
  .map(([segments, tail]) => [...segments, ...(tail ? ['>'] : [])].join('.'))
  .filter((p) => p.length <= 256);

export const malformedPattern: fc.Arbitrary<string> = fc.oneof(
  // Not the length: a literal pattern longer than a topic can be is useless but harmless, and the doc does not bound it.
  fc.constantFrom('', '.', 'a..b', '>.a', 'a.>.b', '>>', 'a*', '*a', 'a.b*', '{sub', 'sub}', '{SUB}', 'a b', '.>', 'a.'),
  fc.tuple(wellFormedPattern, fc.constantFrom(' ', '..', '#', 'é', '\ud800')).map(([p, bad]) => `${p}${bad}x`),
);

export const sub: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: segment },
  { weight: 2, arbitrary: fc.constantFrom('>', '*', 'a.b', 'alice@example.com', '', '{sub}', 'a b', 'ü', 'x'.repeat(300)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);
