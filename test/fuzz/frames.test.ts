/** Property-based fuzzing of the client frame decoder against the contract of docs/protocol.md and issue 8. */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFrame, deliveredFrame } from './adapters/frames.js';
import { LIMITS, WS_ERROR_CODES, referenceTopicValid } from './lib/contract.js';
import { Tally, property, seedFor, PROPERTY_TIMEOUT } from './lib/budget.js';
import { scalarText } from './lib/arbitraries.js';
import { ANY_ID, expectFrame, frameBytes } from './lib/frame-model.js';
import { canonical, nestedText } from './lib/json.js';

const tally = new Tally('unit-frames', seedFor('unit-frames'));
afterAll(() => tally.report());

const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/** Decodes and checks one frame against the contract; returns a failure description or undefined. */
function check(bytes: Uint8Array, binary: boolean): void {
  const expected = expectFrame(bytes, binary);
  const outcome = decodeFrame(bytes, binary);
  tally.count(outcome.ok ? `accept ${outcome.frame.type}` : `reject ${outcome.code}`);
  if (!outcome.ok) {
    expect(WS_ERROR_CODES, `the code of a refused frame is documented`).toContain(outcome.code);
    expect(outcome.code).toBe('bad_request');
  }
  if (expected.verdict === 'either') return;
  if (expected.verdict === 'reject') {
    expect(outcome.ok, `frame must be refused: ${preview(bytes)}`).toBe(false);
    if (!outcome.ok && expected.id !== ANY_ID) expect(canonical(outcome.id), 'the error echoes the id only when it was readable').toBe(canonical(expected.id));
    return;
  }
  expect(outcome.ok, `frame must be accepted: ${preview(bytes)}`).toBe(true);
  if (!outcome.ok) return;
  const frame = outcome.frame;
  expect(frame.type).toBe(expected.type);
  expect(canonical(frame.id)).toBe(canonical(expected.id));
  if (expected.topic !== undefined) expect(frame.topic).toBe(expected.topic);
  if (expected.token !== undefined) expect(frame.token).toBe(expected.token);
  if (expected.since !== undefined) expect(canonical(frame.since), 'since is decoded as sent').toBe(canonical(expected.since));
  if (expected.type === 'publish') {
    expect(canonical(frame.data), 'publish data is decoded intact').toBe(canonical(expected.data));
    // ...and reaches subscribers intact, as valid JSON (topics are checked before anything is published, so only
    // a valid one can reach a message frame).
    if (referenceTopicValid(expected.topic!)) {
      const message = JSON.parse(deliveredFrame(expected.topic!, frame.data, 1_767_225_600_123)) as { data: unknown };
      expect(canonical(message.data)).toBe(canonical(expected.data));
    }
  }
}

const preview = (bytes: Uint8Array): string => {
  const text = Buffer.from(bytes).toString('utf8');
  return text.length > 300 ? `${text.slice(0, 150)}…(${bytes.length} bytes)…${text.slice(-100)}` : text;
};

describe('frames fuzz - decodeClientFrame against docs/protocol.md', { timeout: PROPERTY_TIMEOUT }, () => {
  it('frames fuzz - any bytes: never throws, refusals are documented codes, the verdict and the fields follow the contract', () => {
    fc.assert(
      fc.property(frameBytes, ({ bytes, binary }) => check(bytes, binary)),
      property(tally, 3000, 60_000),
    );
  });

  it('frames fuzz - publish data nested up to 64 levels is accepted, 65 and far deeper refused with bad_request', () => {
    const kinds = fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>;
    fc.assert(
      fc.property(kinds, scalarText, fc.constantFrom(LIMITS.dataDepth - 1, LIMITS.dataDepth, LIMITS.dataDepth + 1, 1000, 5000, 100_000), (kind, leaf, depth) => {
        const frame = `{"type":"publish","topic":"chat.a","id":7,"data":${nestedText(depth, kind, leaf)}}`;
        const outcome = decodeFrame(utf8(frame));
        tally.count(`depth ${depth <= LIMITS.dataDepth ? '<=64' : '>64'} ${outcome.ok ? 'accept' : 'reject'}`);
        if (depth <= LIMITS.dataDepth) {
          expect(outcome.ok, `data ${depth} deep (${kind}) must be accepted`).toBe(true);
          check(utf8(frame), false);
        } else {
          // The frame is one level around data: up to 128 levels in all it is read and its id echoed.
          const id = depth + 1 <= LIMITS.frameDepth ? 7 : undefined;
          expect(outcome, `data ${depth} deep (${kind}) must be refused`).toMatchObject({ ok: false, code: 'bad_request', id });
        }
      }),
      property(tally, 60, 600),
    );
  });

  it('frames fuzz - a frame nested deeper than 128 levels in any field is refused with bad_request and no id, not a stack overflow', () => {
    fc.assert(
      fc.property(fc.constantFrom('type', 'id', 'topic', 'token', 'extra'), fc.constantFrom(LIMITS.frameDepth, 5000, 100_000), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, (field, depth, kind) => {
        // One level for the frame itself: the field at `depth` makes the frame depth + 1 deep.
        const frame = `{"type":"subscribe","topic":"a.b","id":3,${JSON.stringify(field)}:${nestedText(depth, kind)}}`;
        const outcome = decodeFrame(utf8(frame));
        tally.count(`deep frame ${outcome.ok ? 'accept' : `reject ${outcome.code}`}`);
        expect(outcome, `${field} nested ${depth} deep`).toMatchObject({ ok: false, code: 'bad_request', id: undefined });
      }),
      property(tally, 30, 300),
    );
  });

  it('frames fuzz - a frame up to 128 levels deep is read: a deep type, id, topic or token is refused with the id echoed when it is readable', () => {
    fc.assert(
      fc.property(fc.constantFrom('type', 'id', 'topic', 'token', 'extra'), fc.integer({ min: LIMITS.dataDepth, max: LIMITS.frameDepth - 1 }), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, (field, depth, kind) => {
        const frame = `{"type":"auth","token":"t","id":3,${JSON.stringify(field)}:${nestedText(depth, kind)}}`;
        tally.count(`frame of ${depth + 1} levels`);
        check(utf8(frame), false);
      }),
      property(tally, 60, 600),
    );
  });

  it('frames fuzz - an id is a finite number or a string of at most 128 code points, however many UTF-16 units', () => {
    fc.assert(
      fc.property(fc.constantFrom('a', 'é', '😀', '\u{10ffff}', '\ud800'), fc.integer({ min: 0, max: 300 }), (ch, n) => {
        const id = ch.repeat(n);
        const outcome = decodeFrame(utf8(JSON.stringify({ type: 'ping', id })));
        tally.count(`id ${n <= LIMITS.idCodePoints ? '<=128' : '>128'} ${outcome.ok ? 'accept' : 'reject'}`);
        if (n <= LIMITS.idCodePoints) expect(outcome, `an id of ${n} × U+${ch.codePointAt(0)!.toString(16)} is valid`).toMatchObject({ ok: true, frame: { type: 'ping', id } });
        else expect(outcome).toMatchObject({ ok: false, code: 'bad_request' });
      }),
      property(tally, 300, 3000),
    );
    for (const bad of ['1e400', '-1e400', 'true', '[1]', '{"a":1}']) {
      expect(decodeFrame(utf8(`{"type":"ping","id":${bad}}`)), `id ${bad}`).toMatchObject({ ok: false, code: 'bad_request' });
    }
  });

  it('frames fuzz - prototype keys neither pollute nor stand in for missing fields', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).join();
    for (const text of ['{"__proto__":{"type":"ping"}}', '{"constructor":{"prototype":{"type":"ping"}}}', '{"type":"publish","topic":"a","__proto__":{"data":1}}', '{"type":"auth","__proto__":{"token":"x"}}']) {
      expect(decodeFrame(utf8(text)), text).toMatchObject({ ok: false, code: 'bad_request' });
    }
    const outcome = decodeFrame(utf8('{"type":"ping","__proto__":{"type":"subscribe","topic":"a"}}'));
    if (outcome.ok) expect(outcome.frame.type).toBe('ping');
    expect(Object.getOwnPropertyNames(Object.prototype).join()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
