import { describe, expect, it } from 'vitest';
import { channelFor, decodeEnvelope, encodeEnvelope } from '../../src/broker/envelope.js';

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
