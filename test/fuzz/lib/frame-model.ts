/**
 * Client frames: a generator of hostile ones, and the reference judgement of
 * what docs/protocol.md ("Client frames") and contract-8 say must happen to
 * each — so that a property compares Herald's decoder with the contract, not
 * with itself.
 */
import fc from 'fast-check';
import { anyTopicString, hostileDataText, jsonText, mutated, nestedJsonText, prototypeKeyText, scalarText, textWithInvalidUtf8, validTopic } from './arbitraries.js';
import { CLIENT_FRAME_TYPES, LIMITS } from './contract.js';
import { hasOwn, isPlainObject, isUtf8, textDepth, tryParse, valueDepth } from './json.js';

/** The frame types whose fields this model judges; the doc's other types (presence, …) are only checked not to crash. */
export const FRAME_TYPES = ['subscribe', 'unsubscribe', 'publish', 'ping', 'auth'] as const;
for (const type of FRAME_TYPES) if (!CLIENT_FRAME_TYPES.has(type)) throw new Error(`docs/protocol.md no longer lists client frame ${type}`);

export type Expected =
  /** The frame must be decoded, to these fields. */
  | { verdict: 'accept'; type: string; id: unknown; topic?: string; data?: unknown; token?: string; since?: unknown }
  /**
   * The frame must be refused with `bad_request`, echoing `id` when it had a readable one (undefined
   * otherwise); ANY_ID when the frame is too deep to say whether its id is readable.
   */
  | { verdict: 'reject'; id: unknown }
  /** The contract does not decide (a `null` id, unknown extra fields). */
  | { verdict: 'either' };

export const ANY_ID = Symbol('any id');

/** docs/protocol.md, "Recovery": `since` is exactly {"offset":<integer ≥ 0>,"epoch":<epoch>} or {"last":<integer ≥ 1>}. */
function judgeSince(since: unknown): 'valid' | 'invalid' | 'unsure' {
  if (!isPlainObject(since)) return 'invalid';
  const keys = Object.keys(since).sort().join();
  const integer = (v: unknown, min: number): 'valid' | 'invalid' | 'unsure' =>
    typeof v !== 'number' || !Number.isInteger(v) || v < min ? 'invalid' : Number.isSafeInteger(v) ? 'valid' : 'unsure';
  if (keys === 'last') return integer(since.last, 1);
  if (keys !== 'epoch,offset') return 'invalid';
  if (typeof since.epoch !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(since.epoch)) return 'invalid';
  return integer(since.offset, 0);
}

const validId = (id: unknown): boolean => (typeof id === 'number' && Number.isFinite(id)) || (typeof id === 'string' && [...id].length <= LIMITS.idCodePoints);

/** What the contract says about one client frame. */
export function expectFrame(bytes: Uint8Array, binary: boolean): Expected {
  if (binary || !isUtf8(bytes)) return { verdict: 'reject', id: undefined };
  const text = Buffer.from(bytes).toString('utf8');
  // docs/protocol.md, "Limits": a frame nested deeper than that is not read at all, and its error has no id.
  if (textDepth(text) > LIMITS.frameDepth) return { verdict: 'reject', id: undefined };
  const parsed = tryParse(text);
  if (!parsed.ok || !isPlainObject(parsed.value)) return { verdict: 'reject', id: undefined };
  const frame = parsed.value;
  let id: unknown;
  let either = false;
  if (hasOwn(frame, 'id')) {
    if (frame.id === null) either = true;
    else if (!validId(frame.id)) return { verdict: 'reject', id: undefined };
    else id = frame.id;
  }
  const reject: Expected = { verdict: 'reject', id };
  const type = hasOwn(frame, 'type') ? frame.type : undefined;
  if (typeof type !== 'string' || !CLIENT_FRAME_TYPES.has(type)) return either ? { verdict: 'either' } : reject;
  if (!(FRAME_TYPES as readonly string[]).includes(type)) return { verdict: 'either' };
  const known = new Set(['type', 'id', ...(type === 'ping' ? [] : type === 'auth' ? ['token'] : type === 'publish' ? ['topic', 'data'] : type === 'subscribe' ? ['topic', 'since'] : ['topic'])]);
  let verdict: Expected;
  if (type === 'ping') verdict = { verdict: 'accept', type, id };
  else if (type === 'auth') {
    const token = hasOwn(frame, 'token') ? frame.token : undefined;
    // An empty token may be refused as missing, or decoded and then fail verification.
    verdict = typeof token !== 'string' ? reject : token === '' ? { verdict: 'either' } : { verdict: 'accept', type, id, token };
  } else {
    const topic = hasOwn(frame, 'topic') ? frame.topic : undefined;
    const since = type === 'subscribe' && hasOwn(frame, 'since') ? judgeSince(frame.since) : undefined;
    if (typeof topic !== 'string') verdict = reject;
    else if (since === 'invalid') verdict = reject;
    else if (since === 'unsure') verdict = { verdict: 'either' };
    else if (since === 'valid') verdict = { verdict: 'accept', type, id, topic, since: frame.since };
    else if (type !== 'publish') verdict = { verdict: 'accept', type, id, topic };
    else if (!hasOwn(frame, 'data')) verdict = reject;
    else if (valueDepth(frame.data) > LIMITS.dataDepth) verdict = reject;
    else verdict = { verdict: 'accept', type, id, topic, data: frame.data };
  }
  // Unknown fields are not covered by the contract: a decoder may ignore them or refuse the frame.
  if (either || Object.keys(frame).some((key) => !known.has(key))) {
    return verdict.verdict === 'reject' ? verdict : { verdict: 'either' };
  }
  return verdict;
}

const idText = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom('1e400', '-1e400', '-0', '1.5', 'null', 'true', '[]', '{}', '[1]', '"1"', '""'),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => JSON.stringify(s)),
  // Around the 128-code-point limit, with characters of 1 and 2 UTF-16 units and lone surrogates.
  fc.tuple(fc.constantFrom(127, 128, 129, 200), fc.constantFrom('a', 'é', '😀', '\ud800', '\u{10ffff}')).map(([n, ch]) => JSON.stringify(ch.repeat(n))),
  nestedJsonText,
);

const typeText = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...CLIENT_FRAME_TYPES).map((t) => JSON.stringify(t)) },
  { weight: 1, arbitrary: fc.constantFrom('"Subscribe"', '"ping "', '"pin\\u0067"', '"message"', '"welcome"', '""', '"__proto__"', '"constructor"') },
  { weight: 1, arbitrary: scalarText },
  { weight: 1, arbitrary: nestedJsonText },
);

const topicText = fc.oneof({ weight: 6, arbitrary: anyTopicString.map((t) => JSON.stringify(t)) }, { weight: 1, arbitrary: jsonText });

/** A subscribe's `since`: both valid forms, and every way of getting them wrong. */
export const sinceText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/)).map(([offset, epoch]) => JSON.stringify({ offset, epoch })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 100_000 }).map((last) => JSON.stringify({ last })) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '{}', 'null', '5', '"a"', '[]', '[{"last":1}]', '{"offset":-1,"epoch":"a"}', '{"offset":1.5,"epoch":"a"}', '{"offset":1,"epoch":""}', '{"offset":1,"epoch":"a b"}',
      `{"offset":1,"epoch":"${'x'.repeat(65)}"}`, '{"offset":1}', '{"epoch":"a"}', '{"last":0}', '{"last":-1}', '{"last":1.5}', '{"last":"5"}', '{"offset":1,"epoch":"a","last":2}',
      '{"offset":1,"epoch":"a","x":1}', '{"offset":1e400,"epoch":"a"}', '{"last":1e400}', '{"offset":9007199254740993,"epoch":"a"}', '{"__proto__":{"last":1}}', '{"last":1,"last":0}',
      '{"offset":"1","epoch":"a"}', '{"offset":0,"epoch":"é"}', '{"offset":0,"epoch":1}',
    ),
  },
  { weight: 1, arbitrary: nestedJsonText },
);
const tokenText = fc.oneof(fc.string({ maxLength: 40 }).map((t) => JSON.stringify(t)), jsonText);

/** A client frame object as text: known fields with hostile values, in any order, sometimes with extra or duplicate keys. */
export const frameObjectText: fc.Arbitrary<string> = fc
  .tuple(
    fc.record(
      { type: typeText, id: idText, topic: topicText, data: hostileDataText, token: tokenText, since: sinceText },
      { requiredKeys: [] },
    ),
    fc.array(fc.tuple(fc.oneof(prototypeKeyText, fc.constantFrom('"type"', '"id"', '"topic"', '"extra"')), jsonText), { maxLength: 2 }),
    fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
  )
  .map(([fields, extra, order]) => {
    const entries = [...Object.entries(fields).map(([k, v]) => `"${k}":${v}`), ...extra.map(([k, v]) => `${k}:${v}`)];
    const sorted = entries.map((entry) => [order.next().value as number, entry] as const).sort((a, b) => a[0] - b[0]);
    return `{${sorted.map(([, entry]) => entry).join(',')}}`;
  });

/** Well-formed frames of every type, to be sure acceptance is exercised as much as refusal. */
export const wellFormedFrameText: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('subscribe', 'unsubscribe'), validTopic, fc.integer()).map(([type, topic, id]) => JSON.stringify({ type, topic, id })),
  fc.tuple(validTopic, fc.integer(), sinceText).map(([topic, id, since]) => `{"type":"subscribe","topic":${JSON.stringify(topic)},"id":${id},"since":${since}}`),
  fc.tuple(validTopic, hostileDataText, fc.string({ maxLength: 8 })).map(([topic, data, id]) => `{"type":"publish","id":${JSON.stringify(id)},"topic":${JSON.stringify(topic)},"data":${data}}`),
  fc.integer().map((id) => JSON.stringify({ type: 'ping', id })),
  fc.string({ maxLength: 30 }).map((token) => JSON.stringify({ type: 'auth', token })),
);

/** Any bytes a client could put in a frame. */
export const frameBytes: fc.Arbitrary<{ bytes: Uint8Array; binary: boolean }> = fc.oneof(
  { weight: 6, arbitrary: frameObjectText.map((t) => ({ bytes: Buffer.from(t, 'utf8') as Uint8Array, binary: false })) },
  { weight: 3, arbitrary: wellFormedFrameText.map((t) => ({ bytes: Buffer.from(t, 'utf8') as Uint8Array, binary: false })) },
  { weight: 2, arbitrary: mutated(fc.oneof(frameObjectText, wellFormedFrameText)).map((bytes) => ({ bytes, binary: false })) },
  { weight: 1, arbitrary: hostileDataText.map((t) => ({ bytes: Buffer.from(t, 'utf8') as Uint8Array, binary: false })) },
  { weight: 1, arbitrary: textWithInvalidUtf8.map((bytes) => ({ bytes, binary: false })) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(wellFormedFrameText.map((t) => Buffer.from(t) as Uint8Array), fc.uint8Array({ maxLength: 64 }))).map(([bytes]) => ({ bytes, binary: true })) },
);
