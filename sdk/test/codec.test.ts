import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../src/codec.js';

describe('codec - decoding what Herald sends', () => {
  it('codec - never throws, whatever arrives', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      decode(text);
    }));
    for (const odd of [undefined, null, 42, new ArrayBuffer(4), {}, '', 'null', '[]', '"welcome"', '{"type":null}']) expect(decode(odd)).toBeUndefined();
  });

  it('codec - frames without their documented fields and types are dropped', () => {
    for (const bad of [
      { type: 'welcome', node: 'n', sub: 'alice' },
      { type: 'welcome', node: 'n', sub: 'alice', exp: '1' },
      { type: 'ack', id: {} },
      { type: 'ack', id: 1, offset: '5' },
      { type: 'ack', id: 1, recovered: 'yes' },
      { type: 'error', id: 1, message: 'no code' },
      { type: 'unsubscribed', topic: 'x' },
      { type: 'message', topic: 'x', ts: 1 },
      { type: 'message', topic: 'x', data: 1, ts: '1' },
      { type: 'message', topic: 'x', data: 1, ts: 1, offset: null },
    ]) {
      expect(decode(JSON.stringify(bad)), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('codec - unknown types, including names of Object.prototype, are dropped; unknown fields are kept', () => {
    for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'presence_count', 'Welcome']) {
      expect(decode(JSON.stringify({ type, node: 'n', sub: 's', exp: null, topic: 'x', data: 1, ts: 1 }))).toBeUndefined();
    }
    expect(decode('{"type":"pong","id":4,"seq":9}')).toEqual({ type: 'pong', id: 4, seq: 9 });
    expect(decode('{"type":"welcome","node":"n","sub":"s","exp":null}')).toEqual({ type: 'welcome', node: 'n', sub: 's', exp: null });
    expect(decode('{"type":"message","topic":"t","data":null,"ts":1}')).toEqual({ type: 'message', topic: 't', data: null, ts: 1 });
  });

  it('codec - encoding adds the id last, and only when given', () => {
    expect(encode({ type: 'ping' })).toBe('{"type":"ping"}');
    expect(encode({ type: 'publish', topic: 'chat.a', data: { t: 'é"' } }, 3)).toBe('{"type":"publish","topic":"chat.a","data":{"t":"é\\""},"id":3}');
  });
});
