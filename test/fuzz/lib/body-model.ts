/**
 * Bodies of `POST /v1/publish`: a generator of hostile ones and the reference
 * judgement of docs/protocol.md ("POST /v1/publish") and contract-8.
 */
import fc from 'fast-check';
import { anyTopicString, hostileDataText, jsonText, mutated, nestedJsonText, prototypeObjectText, textWithInvalidUtf8, validTopic } from './arbitraries.js';
import { LIMITS } from './contract.js';
import { hasOwn, isPlainObject, isUtf8, nestedText, textDepth, tryParse, valueDepth } from './json.js';

export type BodyExpectation =
  /** Accepted: these messages, in order (data as parsed values). */
  | { verdict: 'accept'; messages: { topic: string; data: unknown }[] }
  /** Refused with one of these codes. */
  | { verdict: 'reject'; codes: ReadonlySet<string> }
  | { verdict: 'either' };

const dataBytes = (data: unknown): number => Buffer.byteLength(JSON.stringify(data), 'utf8');

/** Topic validity for the body judge (docs/protocol.md, "Topics and patterns"). */
const topicValid = (topic: string): boolean => topic.length >= 1 && topic.length <= LIMITS.topicLength && /^[A-Za-z0-9_\-:]+(\.[A-Za-z0-9_\-:]+)*$/.test(topic);

export function expectBody(bytes: Uint8Array, maxMessageSize: number): BodyExpectation {
  const bad: BodyExpectation = { verdict: 'reject', codes: new Set(['bad_request']) };
  // JSON text is UTF-8; whether a decoder replaces or refuses invalid bytes the doc does not say.
  if (!isUtf8(bytes)) return { verdict: 'either' };
  return judge(bytes, maxMessageSize, bad);
}

/** For a body the contract leaves open (invalid UTF-8): the messages a decoder that replaces bad bytes accepts. */
export function messagesIfReplaced(bytes: Uint8Array, maxMessageSize: number): { topic: string; data: unknown }[] | undefined {
  const verdict = judge(Buffer.from(Buffer.from(bytes).toString('utf8')), maxMessageSize, { verdict: 'reject', codes: new Set(['bad_request']) });
  return verdict.verdict === 'accept' ? verdict.messages : undefined;
}

function judge(bytes: Uint8Array, maxMessageSize: number, bad: BodyExpectation): BodyExpectation {
  const text = Buffer.from(bytes).toString('utf8');
  if (textDepth(text) > LIMITS.httpBodyDepth) return bad;
  const parsed = tryParse(text);
  if (!parsed.ok || !isPlainObject(parsed.value)) return bad;
  const body = parsed.value;
  let items: unknown[];
  if (hasOwn(body, 'messages')) {
    if (!Array.isArray(body.messages)) return bad;
    if (body.messages.length > LIMITS.batch) return bad;
    if (body.messages.length === 0) return { verdict: 'either' };
    items = body.messages;
  } else items = [body];
  const codes = new Set<string>();
  const messages: { topic: string; data: unknown }[] = [];
  // Every problem of every message adds the code it would be answered with: which one a parser reports first
  // the doc does not say.
  for (const item of items) {
    if (!isPlainObject(item)) {
      codes.add('bad_request');
      continue;
    }
    const topic = hasOwn(item, 'topic') ? item.topic : undefined;
    if (topic === undefined) codes.add('bad_request');
    else if (typeof topic !== 'string') {
      // A topic of the wrong type is a wrong shape, or a topic that breaks the rules.
      codes.add('bad_request');
      codes.add('invalid_topic');
    } else if (!topicValid(topic)) codes.add('invalid_topic');
    if (!hasOwn(item, 'data')) codes.add('bad_request');
    else if (valueDepth(item.data) > LIMITS.dataDepth) codes.add('bad_request');
    else if (dataBytes(item.data) > maxMessageSize) codes.add('payload_too_large');
    if (typeof topic === 'string' && hasOwn(item, 'data')) messages.push({ topic, data: item.data });
  }
  // Unknown fields next to topic, data or messages: the doc neither allows nor forbids them (nor says how deep
  // they may nest below the 67 levels of contract-8), so a parser may also refuse them as a bad request.
  const known = hasOwn(body, 'messages') ? ['messages'] : ['topic', 'data'];
  const unknownFields = Object.keys(body).some((k) => !known.includes(k)) || items.some((item) => isPlainObject(item) && Object.keys(item).some((k) => k !== 'topic' && k !== 'data'));
  if (codes.size > 0) return { verdict: 'reject', codes: unknownFields ? new Set([...codes, 'bad_request']) : codes };
  if (unknownFields) return { verdict: 'either' };
  return { verdict: 'accept', messages };
}

const messageText = (topic: fc.Arbitrary<string>): fc.Arbitrary<string> => fc
  .tuple(
    fc.option(fc.oneof({ weight: 5, arbitrary: topic.map((t) => JSON.stringify(t)) }, { weight: 2, arbitrary: anyTopicString.map((t) => JSON.stringify(t)) }, { weight: 1, arbitrary: jsonText }), { nil: undefined, freq: 12 }),
    fc.option(hostileDataText, { nil: undefined, freq: 12 }),
    fc.option(fc.oneof(jsonText, prototypeObjectText, nestedJsonText), { nil: undefined, freq: 4 }),
  )
  .map(([topic, data, extra]) => {
    const entries = [topic === undefined ? undefined : `"topic":${topic}`, data === undefined ? undefined : `"data":${data}`, extra === undefined ? undefined : `"extra":${extra}`];
    return `{${entries.filter((e) => e !== undefined).join(',')}}`;
  });

/** Data whose serialised size is exactly `n` bytes (a JSON string of n - 2 characters). */
export const dataOfSize = (n: number): string => JSON.stringify('x'.repeat(Math.max(0, n - 2)));

/** Bodies of every shape; `topic` gives the topics of well-formed messages (a live run picks those it observes). */
export function bodyText(maxMessageSize: number, topic: fc.Arbitrary<string> = validTopic): fc.Arbitrary<Uint8Array> {
  const single = messageText(topic);
  const batch = fc
    .oneof(
      { weight: 8, arbitrary: fc.array(single, { minLength: 0, maxLength: 5 }) },
      { weight: 1, arbitrary: fc.constantFrom(LIMITS.batch, LIMITS.batch + 1).map((n) => new Array<string>(n).fill('{"topic":"fz.batch","data":1}')) },
    )
    .map((items) => `{"messages":[${items.join(',')}]}`);
  const sized = fc
    .tuple(fc.constantFrom(maxMessageSize - 1, maxMessageSize, maxMessageSize + 1), topic)
    .map(([n, topic]) => `{"topic":${JSON.stringify(topic)},"data":${dataOfSize(n)}}`);
  const deep = fc
    .tuple(fc.constantFrom(LIMITS.dataDepth, LIMITS.dataDepth + 1, 5000), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, fc.boolean())
    .chain(([d, kind, asBatch]) => topic.map((t) => (asBatch ? `{"messages":[{"topic":${JSON.stringify(t)},"data":${nestedText(d, kind)}}]}` : `{"topic":${JSON.stringify(t)},"data":${nestedText(d, kind)}}`)));
  const wrongShape = fc.oneof(
    fc.constantFrom('', 'null', '[]', '"x"', '1e400', '{"messages":{}}', '{"messages":null}', '{"messages":"a"}', '{"messages":[1]}', '{"__proto__":{"topic":"a","data":1}}', '{"topic":"a","__proto__":{"data":1}}', '{"messages":[{"topic":"a","data":1}],"messages":[]}'),
    jsonText,
    fc.constantFrom(100, 5000, 100_000).map((d) => `{"topic":"fz.a","data":1,"x":${nestedText(d)}}`),
  );
  return fc.oneof(
    { weight: 4, arbitrary: single.map((t) => Buffer.from(t) as Uint8Array) },
    { weight: 3, arbitrary: batch.map((t) => Buffer.from(t) as Uint8Array) },
    { weight: 1, arbitrary: sized.map((t) => Buffer.from(t) as Uint8Array) },
    { weight: 2, arbitrary: deep.map((t) => Buffer.from(t) as Uint8Array) },
    { weight: 2, arbitrary: wrongShape.map((t) => Buffer.from(t) as Uint8Array) },
    { weight: 2, arbitrary: mutated(fc.oneof(single, batch)) },
    { weight: 1, arbitrary: textWithInvalidUtf8 },
  );
}
