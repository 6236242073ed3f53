/** Property-based fuzzing of the `POST /v1/publish` body parser against docs/protocol.md and contract-8. */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBody } from './adapters/http-body.js';
import { Tally, property, seedFor, PROPERTY_TIMEOUT } from './lib/budget.js';
import { bodyText, dataOfSize, expectBody } from './lib/body-model.js';
import { HTTP_ERROR_STATUS, LIMITS, PUBLISH_STATUS } from './lib/contract.js';
import { canonical, nestedText } from './lib/json.js';

const tally = new Tally('unit-http-body', seedFor('unit-http-body'));
afterAll(() => tally.report());

const MAX_MESSAGE = 1024;
const NOW = 1_767_225_600_123;
/** Codes a refused body may carry: the 400 and 413 rows of the publish table. */
const BODY_CODES = new Set([...(PUBLISH_STATUS.get(400) ?? []), ...(PUBLISH_STATUS.get(413) ?? [])]);

function check(bytes: Uint8Array, maxMessageSize = MAX_MESSAGE): void {
  const expected = expectBody(bytes, maxMessageSize);
  const outcome = parseBody(bytes, maxMessageSize, NOW);
  tally.count(outcome.ok ? 'accepted' : `refused ${outcome.code}`);
  const what = Buffer.from(bytes).toString('utf8').slice(0, 300);
  if (!outcome.ok) {
    expect(HTTP_ERROR_STATUS.has(outcome.code), `documented code ${outcome.code}`).toBe(true);
    expect(BODY_CODES, `a body is refused with a code of the publish table's 400/413 rows: ${what}`).toContain(outcome.code);
  } else {
    for (const message of outcome.messages) {
      expect(message.ts, 'ts is the time the message entered Herald').toBe(NOW);
      expect(() => JSON.parse(message.data) as unknown, 'data is carried as JSON text').not.toThrow();
    }
  }
  if (expected.verdict === 'either') return;
  if (expected.verdict === 'reject') {
    expect(outcome.ok, `must be refused (${[...expected.codes].join('|')}): ${what}`).toBe(false);
    if (!outcome.ok) expect([...expected.codes], what).toContain(outcome.code);
    return;
  }
  expect(outcome, `must be accepted: ${what}`).toMatchObject({ ok: true });
  if (!outcome.ok) return;
  expect(outcome.messages.map((m) => m.topic)).toEqual(expected.messages.map((m) => m.topic));
  expect(outcome.messages.map((m) => canonical(JSON.parse(m.data))), 'data survives intact').toEqual(expected.messages.map((m) => canonical(m.data)));
}

describe('http body fuzz - parsePublishBody against docs/protocol.md', { timeout: PROPERTY_TIMEOUT }, () => {
  it('http body fuzz - any body: never throws, refusals carry a documented 400/413 code, accepted messages round-trip', () => {
    fc.assert(
      fc.property(bodyText(MAX_MESSAGE), (bytes) => check(bytes)),
      property(tally, 2000, 40_000),
    );
  });

  it('http body fuzz - data nested 64 deep is accepted (a body 67 deep); 65 and far deeper is bad_request', () => {
    fc.assert(
      fc.property(fc.constantFrom(LIMITS.dataDepth - 1, LIMITS.dataDepth, LIMITS.dataDepth + 1, 5000, 100_000), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, fc.boolean(), (depth, kind, batch) => {
        const message = `{"topic":"fz.deep","data":${nestedText(depth, kind)}}`;
        const body = Buffer.from(batch ? `{"messages":[${message}]}` : message);
        const outcome = parseBody(body, 1024 * 1024, NOW);
        tally.count(`depth ${depth <= LIMITS.dataDepth ? '<=64' : '>64'} ${outcome.ok ? 'accepted' : 'refused'}`);
        if (depth <= LIMITS.dataDepth) expect(outcome.ok, `data ${depth} deep (${kind}${batch ? ', batch' : ''})`).toBe(true);
        else expect(outcome, `data ${depth} deep (${kind}${batch ? ', batch' : ''})`).toMatchObject({ ok: false, code: 'bad_request' });
      }),
      property(tally, 60, 600),
    );
  });

  it('http body fuzz - a body nested deeper than 67 levels anywhere is bad_request', () => {
    fc.assert(
      fc.property(fc.constantFrom(LIMITS.httpBodyDepth, 1000, 100_000), fc.constantFrom('extra', 'topic', 'messages'), (depth, where) => {
        const deep = nestedText(depth - 1);
        const body = where === 'messages' ? `{"messages":${deep}}` : where === 'topic' ? `{"topic":${deep},"data":1}` : `{"topic":"fz.a","data":1,"x":${deep}}`;
        const outcome = parseBody(Buffer.from(body), 1024 * 1024, NOW);
        tally.count(`body depth ${depth} ${outcome.ok ? 'accepted' : `refused ${outcome.code}`}`);
        if (depth > LIMITS.httpBodyDepth) expect(outcome, `${where}, body ${depth} deep`).toMatchObject({ ok: false, code: 'bad_request' });
        else expect(outcome.ok ? 'ok' : outcome.code, `${where}, body ${depth} deep`).not.toBe(undefined);
      }),
      property(tally, 30, 300),
    );
  });

  it('http body fuzz - data of exactly HERALD_MAX_MESSAGE_SIZE bytes is accepted, one byte more is payload_too_large', () => {
    for (const n of [MAX_MESSAGE - 1, MAX_MESSAGE, MAX_MESSAGE + 1]) {
      const outcome = parseBody(Buffer.from(`{"topic":"fz.size","data":${dataOfSize(n)}}`), MAX_MESSAGE, NOW);
      tally.count(`size ${n - MAX_MESSAGE} ${outcome.ok ? 'accepted' : 'refused'}`);
      if (n <= MAX_MESSAGE) expect(outcome.ok, `${n} bytes`).toBe(true);
      else expect(outcome).toMatchObject({ ok: false, code: 'payload_too_large' });
    }
  });
});
