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
      { type: 'presence', id: 1, topic: 'x', users: {}, count: 0 },
      { type: 'presence', id: 1, topic: 'x', users: [{ sub: 'a', connections: 1 }, null], count: 2 },
      { type: 'presence', id: 1, topic: 'x', users: [{ connections: 1 }], count: 1 },
      { type: 'presence', id: 1, topic: 'x', users: [{ sub: 'a', connections: '1' }], count: 1 },
      { type: 'presence', id: 1, topic: 'x', users: [{ sub: 'a', connections: 1, info: 'Alice' }], count: 1 },
      { type: 'presence', id: 1, topic: 'x', users: [{ sub: 'a', connections: 1, info: ['Alice'] }], count: 1 },
      { type: 'presence', id: 1, topic: 'x', users: [] },
      { type: 'presence_count', id: 1, topic: 'x', users: [], connections: 0 },
      { type: 'presence_count', id: 1, topic: 'x', users: 1 },
      { type: 'join', topic: 'x' },
      { type: 'join', topic: 'x', sub: 'a', info: null },
      { type: 'leave', sub: 'a' },
    ]) {
      expect(decode(JSON.stringify(bad)), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('codec - unknown types, including names of Object.prototype, are dropped; unknown fields are kept', () => {
    for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'presence_list', 'Join', 'Welcome']) {
      expect(decode(JSON.stringify({ type, node: 'n', sub: 's', exp: null, topic: 'x', data: 1, ts: 1 }))).toBeUndefined();
    }
    expect(decode('{"type":"pong","id":4,"seq":9}')).toEqual({ type: 'pong', id: 4, seq: 9 });
    expect(decode('{"type":"welcome","node":"n","sub":"s","exp":null}')).toEqual({ type: 'welcome', node: 'n', sub: 's', exp: null });
    expect(decode('{"type":"message","topic":"t","data":null,"ts":1}')).toEqual({ type: 'message', topic: 't', data: null, ts: 1 });
    expect(decode('{"type":"message","topic":"t","data":[1,{"a":[]}],"ts":1}')).toEqual({ type: 'message', topic: 't', data: [1, { a: [] }], ts: 1 });
  });

  it('codec - presence replies and join/leave frames are decoded with their users and info', () => {
    const list = { type: 'presence', id: 7, topic: 'chat.room1', users: [{ sub: 'alice', connections: 2, info: { name: 'Alice' } }, { sub: 'bob', connections: 1 }], count: 2 };
    expect(decode(JSON.stringify(list))).toEqual(list);
    expect(decode('{"type":"presence","id":"s","topic":"t","users":[],"count":0}')).toEqual({ type: 'presence', id: 's', topic: 't', users: [], count: 0 });
    expect(decode('{"type":"presence_count","id":8,"topic":"t","users":1,"connections":2}')).toEqual({ type: 'presence_count', id: 8, topic: 't', users: 1, connections: 2 });
    expect(decode('{"type":"join","topic":"t","sub":"alice","info":{"name":"Alice"}}')).toEqual({ type: 'join', topic: 't', sub: 'alice', info: { name: 'Alice' } });
    expect(decode('{"type":"leave","topic":"t","sub":"bob"}')).toEqual({ type: 'leave', topic: 't', sub: 'bob' });
  });

  it('codec - encoding adds the id last, and only when given', () => {
    expect(encode({ type: 'ping' })).toBe('{"type":"ping"}');
    expect(encode({ type: 'publish', topic: 'chat.a', data: { t: 'é"' } }, 3)).toBe('{"type":"publish","topic":"chat.a","data":{"t":"é\\""},"id":3}');
  });
});
