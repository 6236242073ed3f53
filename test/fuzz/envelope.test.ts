/** Property-based fuzzing of the Redis envelope codec against "Publishing through Redis" in docs/protocol.md and contract-8. */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decode, encode } from './adapters/envelope.js';
import { jsonText } from './lib/arbitraries.js';
import { Tally, property, seedFor, PROPERTY_TIMEOUT } from './lib/budget.js';
import { LIMITS } from './lib/contract.js';
import { envelopeBytes, expectEnvelope } from './lib/envelope-model.js';
import { canonical, nestedText, textDepth, tryParse } from './lib/json.js';

const tally = new Tally('unit-envelope', seedFor('unit-envelope'));
afterAll(() => tally.report());

const RECEIVED = 1_767_225_600_999;

function check(bytes: Uint8Array): void {
  const raw = Buffer.from(bytes).toString('utf8');
  const expected = expectEnvelope(bytes);
  const outcome = decode(raw, RECEIVED);
  tally.count(outcome.ok === 'presence' ? 'presence event' : outcome.ok ? 'delivered' : 'dropped');
  const what = raw.length > 300 ? `${raw.slice(0, 200)}…(${raw.length} chars)` : raw;
  if (outcome.ok === 'presence') {
    // A presence event becomes join/leave frames: its parts must be what a frame can carry.
    expect(['join', 'leave'], `presence event: ${what}`).toContain(outcome.event);
    expect(typeof outcome.sub, what).toBe('string');
    if (outcome.info !== undefined) expect(tryParse(outcome.info).ok, `info is JSON text: ${what}`).toBe(true);
    expect(expected.verdict, `decoded as a presence event: ${what}`).toBe('either');
    return;
  }
  if (outcome.ok) {
    // What is delivered becomes a `message` frame: its data must be JSON and its ts a finite number.
    expect(tryParse(outcome.data).ok, `delivered data is JSON text: ${what}`).toBe(true);
    expect(Number.isFinite(outcome.ts), `ts ${outcome.ts} is a finite number: ${what}`).toBe(true);
    expect(textDepth(outcome.data), `delivered data is within the depth limit: ${what}`).toBeLessThanOrEqual(LIMITS.dataDepth);
  }
  if (expected.verdict === 'either') return;
  if (expected.verdict === 'drop') {
    expect(outcome.ok, `must be dropped: ${what}`).toBe(false);
    return;
  }
  expect(outcome.ok, `must be delivered: ${what}`).toBe(true);
  if (outcome.ok !== true) return;
  expect(canonical(JSON.parse(outcome.data)), `data intact: ${what}`).toBe(canonical(expected.data));
  if (expected.ts === undefined) expect(outcome.ts, 'no usable ts: the receive time').toBe(RECEIVED);
  else expect([expected.ts, Math.trunc(expected.ts)], 'the publisher\'s ts is kept').toContain(outcome.ts);
}

describe('envelope fuzz - decodeEnvelope / encodeEnvelope against docs/protocol.md', { timeout: PROPERTY_TIMEOUT }, () => {
  it('envelope fuzz - any message from Redis: never throws, delivered data is JSON with a finite ts, the verdict follows the contract', () => {
    fc.assert(
      fc.property(envelopeBytes, (bytes) => check(bytes)),
      property(tally, 3000, 60_000),
    );
  });

  it('envelope fuzz - data nested 64 deep is delivered; 65 and far deeper is dropped', () => {
    fc.assert(
      fc.property(fc.constantFrom(LIMITS.dataDepth - 1, LIMITS.dataDepth, LIMITS.dataDepth + 1, 5000, 100_000), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, (depth, kind) => {
        const outcome = decode(`{"data":${nestedText(depth, kind)},"ts":5}`, RECEIVED);
        tally.count(`depth ${depth <= LIMITS.dataDepth ? '<=64' : '>64'} ${outcome.ok === true ? 'delivered' : 'dropped'}`);
        expect(outcome.ok, `data ${depth} deep (${kind})`).toBe(depth <= LIMITS.dataDepth);
      }),
      property(tally, 50, 500),
    );
  });

  it('envelope fuzz - what Herald encodes it decodes to the same data and ts', () => {
    const shallow = jsonText.filter((t) => textDepth(t) <= LIMITS.dataDepth).map((t) => JSON.stringify(JSON.parse(t)));
    const data = fc.oneof(shallow, fc.constantFrom(nestedText(LIMITS.dataDepth), nestedText(LIMITS.dataDepth, 'object'), JSON.stringify('\ud800'), JSON.stringify({ __proto__: null, constructor: 1 })));
    fc.assert(
      fc.property(data, fc.integer({ min: 1, max: 2 ** 47 }), (dataJson, ts) => {
        const raw = encode(dataJson, ts);
        const outcome = decode(raw, RECEIVED);
        tally.count(`round trip ${outcome.ok === true ? 'ok' : 'dropped'}`);
        expect(outcome.ok, `round trip of ${dataJson.slice(0, 200)}`).toBe(true);
        if (outcome.ok !== true) return;
        expect(canonical(JSON.parse(outcome.data))).toBe(canonical(JSON.parse(dataJson)));
        expect(outcome.ts).toBe(ts);
      }),
      property(tally, 2000, 40_000),
    );
  });
});
