import { describe, expect, it } from 'vitest';
import { channelFor, decodeEnvelope, encodeEnvelope, isPresenceEvent } from '../../src/broker/envelope.js';

describe('envelope - the Redis message contract', () => {
  it('envelope - what Herald encodes, Herald decodes to the same message', () => {
    const message = { data: '{"price":1,"tags":["a"]}', ts: 1_767_225_600_123 };
    const raw = encodeEnvelope(message);
    expect(JSON.parse(raw)).toEqual({ ts: message.ts, data: { price: 1, tags: ['a'] } });
    expect(decodeEnvelope(raw, 0)).toEqual(message);
  });

  it('envelope - a publisher may omit ts; the receiving node fills in its receive time', () => {
    expect(decodeEnvelope('{"data":{"x":1}}', 42)).toEqual({ data: '{"x":1}', ts: 42 });
  });

  it('envelope - an unusable ts is replaced by the receive time, a fractional one truncated', () => {
    for (const ts of ['"yesterday"', '-5', '0', 'null', '[1]']) expect(decodeEnvelope(`{"data":1,"ts":${ts}}`, 7)).toEqual({ data: '1', ts: 7 });
    expect(decodeEnvelope('{"data":1,"ts":1000.9}', 7)).toEqual({ data: '1', ts: 1000 });
  });

  it('envelope - data may be any JSON value, including null and false', () => {
    expect(decodeEnvelope('{"data":null}', 1)).toEqual({ data: 'null', ts: 1 });
    expect(decodeEnvelope('{"data":false}', 1)).toEqual({ data: 'false', ts: 1 });
    expect(decodeEnvelope('{"data":"text"}', 1)).toEqual({ data: '"text"', ts: 1 });
  });

  it('envelope - unknown fields (such as a future seq) are ignored', () => {
    expect(decodeEnvelope('{"data":1,"ts":5,"seq":17,"v":2}', 0)).toEqual({ data: '1', ts: 5 });
  });

  it('envelope - anything else is reported as a problem, never thrown', () => {
    expect(decodeEnvelope('not json', 0)).toBe('not valid JSON');
    expect(decodeEnvelope('[1]', 0)).toBe('not a JSON object');
    expect(decodeEnvelope('"x"', 0)).toBe('not a JSON object');
    expect(decodeEnvelope('null', 0)).toBe('not a JSON object');
    expect(decodeEnvelope('{"ts":1}', 0)).toBe('no "data" field');
    expect(decodeEnvelope('', 0)).toBe('not valid JSON');
  });

  it('envelope - channels are <prefix>:<topic>', () => {
    expect(channelFor('herald', 'prices.btc')).toBe('herald:prices.btc');
  });
});

describe('envelope - edges', () => {
  it('envelope - a ts that is not finite (1e999 parses as Infinity) is replaced by the receive time', () => {
    expect(decodeEnvelope('{"data":1,"ts":1e999}', 42)).toEqual({ data: '1', ts: 42 });
    expect(decodeEnvelope('{"data":1,"ts":-1e999}', 42)).toEqual({ data: '1', ts: 42 });
  });

  it('envelope - data may nest 64 levels (the envelope 65); one more is refused', () => {
    const nested = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    expect(decodeEnvelope(`{"data":${nested(64)},"ts":5}`, 0)).toEqual({ data: nested(64), ts: 5 });
    expect(decodeEnvelope(`{"data":${nested(65)},"ts":5}`, 0)).toBe('nested deeper than 65 levels');
  });
});

describe('envelope - history positions and presence events', () => {
  const OFFSET = '"offset" is not a positive integer';
  const EPOCH = '"epoch" is not 1 to 64 characters from A-Z a-z 0-9 _ -';

  it('envelope - a history message carries offset and epoch, both or neither', () => {
    expect(decodeEnvelope('{"data":{"a":1},"ts":5,"offset":3,"epoch":"k3f9x2"}', 0)).toEqual({ data: '{"a":1}', ts: 5, offset: 3, epoch: 'k3f9x2' });
    expect(decodeEnvelope('{"data":1,"ts":5,"offset":1,"epoch":"e"}', 0)).toEqual({ data: '1', ts: 5, offset: 1, epoch: 'e' });
    expect(decodeEnvelope('{"data":1,"ts":5}', 0)).toEqual({ data: '1', ts: 5 });
    expect(decodeEnvelope('{"data":1,"ts":5,"offset":3}', 0)).toBe(EPOCH);
    expect(decodeEnvelope('{"data":1,"ts":5,"epoch":"e"}', 0)).toBe(OFFSET);
  });

  it.each(['0', '-1', '1.5', '"3"', '9007199254740992', 'null'])('envelope - offset %s is not a positive integer', (offset) => {
    expect(decodeEnvelope(`{"data":1,"offset":${offset},"epoch":"e"}`, 0)).toBe(OFFSET);
  });

  it.each(['""', '"has space"', `"${'e'.repeat(65)}"`, '5', 'null'])('envelope - epoch %s is refused', (epoch) => {
    expect(decodeEnvelope(`{"data":1,"offset":1,"epoch":${epoch}}`, 0)).toBe(EPOCH);
  });

  it('envelope - a presence event is join or leave, with a sub and an optional info object (kept as JSON text)', () => {
    const join = decodeEnvelope('{"event":"join","sub":"alice","info":{"name":"Alice"}}', 0);
    expect(join).toEqual({ event: 'join', sub: 'alice', info: '{"name":"Alice"}' });
    expect(typeof join !== 'string' && isPresenceEvent(join)).toBe(true);
    expect(decodeEnvelope('{"event":"leave","sub":"bob"}', 0)).toEqual({ event: 'leave', sub: 'bob', info: undefined });
    const message = decodeEnvelope('{"data":1,"ts":5}', 0);
    expect(typeof message !== 'string' && isPresenceEvent(message)).toBe(false);
  });

  it('envelope - a malformed presence event says what is wrong', () => {
    expect(decodeEnvelope('{"event":"joined","sub":"a"}', 0)).toBe('"event" is neither "join" nor "leave"');
    expect(decodeEnvelope('{"event":"","sub":"a"}', 0)).toBe('"event" is neither "join" nor "leave"');
    for (const sub of ['', 5, null]) expect(decodeEnvelope(JSON.stringify({ event: 'join', sub }), 0), JSON.stringify(sub)).toBe('a presence event without "sub"');
    expect(decodeEnvelope('{"event":"leave"}', 0)).toBe('a presence event without "sub"');
    for (const info of ['"x"', '5', 'null', '[1]']) expect(decodeEnvelope(`{"event":"join","sub":"a","info":${info}}`, 0), info).toBe('"info" is not an object');
  });
});
