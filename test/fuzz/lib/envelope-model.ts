/**
 * Messages in Redis: a generator of hostile ones, and the reference judgement
 * of docs/protocol.md ("Publishing through Redis") and contract-8.
 */
import fc from 'fast-check';
import { bulkyText, hostileDataText, hostileNumberText, invalidUtf8, jsonText, mutated, nestedJsonText, prototypeObjectText } from './arbitraries.js';
import { LIMITS } from './contract.js';
import { hasOwn, isPlainObject, isUtf8, nestedText, textDepth, tryParse, valueDepth } from './json.js';

export type EnvelopeExpectation =
  /** Delivered with this data; `ts` is the envelope's own when it is a positive finite number, else the receive time. */
  | { verdict: 'deliver'; data: unknown; ts: number | undefined }
  | { verdict: 'drop' }
  /** The contract does not decide (invalid UTF-8: a replacing decoder delivers, a strict one drops). */
  | { verdict: 'either' };

export function expectEnvelope(bytes: Uint8Array): EnvelopeExpectation {
  if (!isUtf8(bytes)) return { verdict: 'either' };
  const text = Buffer.from(bytes).toString('utf8');
  // An envelope is one object around `data`: deeper than data's limit + 1 means the data or an ignored field is too deep.
  const deep = textDepth(text) > LIMITS.dataDepth + 1;
  const parsed = tryParse(text);
  // A presence event ({"event":"join","sub":...}, docs/protocol.md "Presence") travels on the same channel; what a
  // node makes of a hostile one the doc does not say, beyond that it must not take the node down.
  if (parsed.ok && isPlainObject(parsed.value) && hasOwn(parsed.value, 'event')) return { verdict: 'either' };
  if (!parsed.ok || !isPlainObject(parsed.value) || !hasOwn(parsed.value, 'data')) return { verdict: 'drop' };
  const envelope = parsed.value;
  if (deep) {
    // Too deep in `data`: dropped (contract-8). Too deep only in an ignored field: the contract does not say.
    return valueDepthBounded(envelope.data, LIMITS.dataDepth) ? { verdict: 'either' } : { verdict: 'drop' };
  }
  if (valueDepth(envelope.data) > LIMITS.dataDepth) return { verdict: 'drop' };
  const ts = hasOwn(envelope, 'ts') && typeof envelope.ts === 'number' && Number.isFinite(envelope.ts) && envelope.ts > 0 ? envelope.ts : undefined;
  return { verdict: 'deliver', data: envelope.data, ts };
}

/** Whether a value nests at most `limit` levels, without recursing past the limit (the value may be 100,000 deep). */
function valueDepthBounded(value: unknown, limit: number): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const v of level) if (v !== null && typeof v === 'object') next.push(...Object.values(v as Record<string, unknown>));
    if (next.length > 0 && depth + 1 > limit) return false;
    level = next;
  }
  return true;
}

const tsText = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 48 }).map(String),
  fc.constantFrom('0', '-5', '1000.9', '"yesterday"', 'null', '[1]', '{}', 'true', '1e400', '-1e400', '1e300', '-0'),
  hostileNumberText,
);

/** Envelope text: data (hostile), ts (hostile), extra fields, prototype keys, in any combination. */
export const envelopeText: fc.Arbitrary<string> = fc
  .tuple(
    fc.option(hostileDataText, { nil: undefined, freq: 12 }),
    fc.option(tsText, { nil: undefined, freq: 2 }),
    fc.option(fc.oneof(jsonText, prototypeObjectText, fc.constantFrom(100, 5000).map((d) => nestedText(d))), { nil: undefined, freq: 4 }),
    fc.option(fc.constantFrom('"__proto__":{"data":1}', '"seq":17', '"data":"shadowed"'), { nil: undefined, freq: 5 }),
  )
  .map(([data, ts, extra, proto]) => {
    const entries = [data === undefined ? undefined : `"data":${data}`, ts === undefined ? undefined : `"ts":${ts}`, extra === undefined ? undefined : `"x":${extra}`, proto];
    return `{${entries.filter((e) => e !== undefined).join(',')}}`;
  });

/** Presence events as the Redis Functions publish them, and hostile ones: any event, sub and info. */
export const presenceEventText: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('"join"', '"leave"', '"join"', '"other"', '1', 'null', '["join"]'),
    fc.oneof(fc.stringMatching(/^[a-z0-9_-]{1,12}$/).map((t) => JSON.stringify(t)), fc.constantFrom('""', '5', 'null', JSON.stringify('x'.repeat(5000)), '"a.b"', '"\ud800"'), nestedJsonText),
    fc.option(fc.oneof(fc.constantFrom('{"name":"Alice"}', '{}', '"str"', '1e400', 'null', '[1]', nestedText(9, 'object'), nestedText(5000, 'object'), nestedText(100_000, 'mixed')), jsonText, bulkyText), { nil: undefined }),
    fc.boolean(),
  )
  .map(([event, sub, info, withData]) => `{"event":${event},"sub":${sub}${info === undefined ? '' : `,"info":${info}`}${withData ? ',"data":1' : ''}}`);

/** Any bytes a backend (or an attacker with Redis access) could PUBLISH. */
export const envelopeBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: envelopeText.map((t) => Buffer.from(t) as Uint8Array) },
  { weight: 2, arbitrary: presenceEventText.map((t) => Buffer.from(t) as Uint8Array) },
  { weight: 2, arbitrary: mutated(envelopeText) },
  { weight: 1, arbitrary: fc.oneof(jsonText, nestedJsonText, bulkyText, fc.constantFrom('', 'null', '[]', '"data"', '{"data"}', 'PING')).map((t) => Buffer.from(t) as Uint8Array) },
  { weight: 1, arbitrary: fc.tuple(invalidUtf8, fc.boolean()).map(([bad, inData]) => new Uint8Array(inData ? Buffer.concat([Buffer.from('{"data":"'), Buffer.from(bad), Buffer.from('"}')]) : Buffer.from(bad))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);
