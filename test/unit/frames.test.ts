import { describe, it, expect } from 'vitest';
import {
  decodeClientFrame,
  encodeAck,
  encodeError,
  encodeMessage,
  encodePong,
  encodeUnsubscribed,
  encodeWelcome,
  type Decoded,
} from '../../src/protocol/frames.js';

function bytes(data: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(data.byteLength);
  new Uint8Array(buffer).set(data);
  return buffer;
}

function text(value: string): ArrayBuffer {
  return bytes(new TextEncoder().encode(value));
}

function decode(value: string | object): Decoded {
  return decodeClientFrame(text(typeof value === 'string' ? value : JSON.stringify(value)), false);
}

/** Decodes a frame that must be rejected and returns the rejection. */
function rejected(value: string | object): Extract<Decoded, { ok: false }> {
  const decoded = decode(value);
  if (decoded.ok) throw new Error(`expected a rejection, got ${JSON.stringify(decoded.frame)}`);
  expect(decoded.code).toBe('bad_request');
  return decoded;
}

describe('decodeClientFrame', () => {
  it('frames - decodes subscribe', () => {
    expect(decode({ type: 'subscribe', id: 1, topic: 'chat.a' })).toStrictEqual({ ok: true, frame: { type: 'subscribe', id: 1, topic: 'chat.a', since: undefined } });
  });

  it('frames - decodes a subscribe with since: an offset and epoch, or the last n', () => {
    expect(decode({ type: 'subscribe', id: 2, topic: 'chat.a', since: { offset: 41, epoch: 'k3f9x2' } })).toStrictEqual({
      ok: true,
      frame: { type: 'subscribe', id: 2, topic: 'chat.a', since: { offset: 41, epoch: 'k3f9x2' } },
    });
    expect(decode({ type: 'subscribe', topic: 'chat.a', since: { offset: 0, epoch: 'e' } })).toMatchObject({ ok: true, frame: { since: { offset: 0, epoch: 'e' } } });
    expect(decode({ type: 'subscribe', topic: 'chat.a', since: { last: 50 } })).toMatchObject({ ok: true, frame: { since: { last: 50 } } });
  });

  it('frames - a malformed since is bad_request with the frame id', () => {
    for (const since of [
      null, 5, 'x', [], {}, { offset: -1, epoch: 'e' }, { offset: 1.5, epoch: 'e' }, { offset: 1e400, epoch: 'e' }, { offset: '1', epoch: 'e' },
      { offset: 1 }, { epoch: 'e' }, { offset: 1, epoch: '' }, { offset: 1, epoch: 'has space' }, { offset: 1, epoch: 'e'.repeat(65) },
      { last: 0 }, { last: -3 }, { last: 2.5 }, { last: 1, offset: 1 }, { offset: 1, epoch: 'e', extra: true }, { offset: 2 ** 53, epoch: 'e' },
    ]) {
      const decoded = decodeClientFrame(new TextEncoder().encode(JSON.stringify({ type: 'subscribe', id: 9, topic: 'a', since }).replace('1e+400', '1e400')).buffer as ArrayBuffer, false);
      expect(decoded, JSON.stringify(since)).toMatchObject({ ok: false, id: 9, code: 'bad_request' });
    }
  });

  it('frames - decodes unsubscribe', () => {
    expect(decode({ type: 'unsubscribe', id: 'u1', topic: 'chat.a' })).toStrictEqual({ ok: true, frame: { type: 'unsubscribe', id: 'u1', topic: 'chat.a' } });
  });

  it('frames - decodes publish with any JSON data', () => {
    for (const data of [{ text: 'hi', n: [1, 2] }, 'str', 0, false, null, [1, 'a']]) {
      expect(decode({ type: 'publish', id: 2, topic: 'chat.a', data }), JSON.stringify(data)).toStrictEqual({
        ok: true,
        frame: { type: 'publish', id: 2, topic: 'chat.a', data },
      });
    }
  });

  it('frames - decodes ping', () => {
    expect(decode({ type: 'ping', id: 3 })).toStrictEqual({ ok: true, frame: { type: 'ping', id: 3 } });
  });

  it('frames - decodes auth', () => {
    expect(decode({ type: 'auth', id: 4, token: 'eyJ.x.y' })).toStrictEqual({ ok: true, frame: { type: 'auth', id: 4, token: 'eyJ.x.y' } });
  });

  it('frames - the id is optional', () => {
    const decoded = decode({ type: 'ping' });
    expect(decoded).toStrictEqual({ ok: true, frame: { type: 'ping', id: undefined } });
  });

  it('frames - unknown fields are dropped', () => {
    expect(decode({ type: 'subscribe', topic: 'a', extra: 1, data: 'x' })).toStrictEqual({ ok: true, frame: { type: 'subscribe', id: undefined, topic: 'a', since: undefined } });
    expect(decode({ type: 'ping', topic: 'a' })).toStrictEqual({ ok: true, frame: { type: 'ping', id: undefined } });
  });

  it('frames - topics are passed through unvalidated for the next layer', () => {
    const decoded = decode({ type: 'subscribe', topic: 'a..b' });
    expect(decoded.ok && decoded.frame.type === 'subscribe' && decoded.frame.topic).toBe('a..b');
  });

  it('frames - accepts surrounding whitespace', () => {
    expect(decode('  {"type":"ping"}\n').ok).toBe(true);
  });

  it('frames - bad JSON is rejected', () => {
    for (const value of ['{', '', 'ping', '{"type":"ping",}', "{'type':'ping'}", '{"type":"ping"} x']) {
      const decoded = rejected(value);
      expect(decoded.message, value).toBe('frame is not valid JSON text');
      expect(decoded.id).toBeUndefined();
    }
  });

  it('frames - JSON that is not an object is rejected', () => {
    for (const value of ['42', '"subscribe"', 'null', 'true']) {
      expect(rejected(value).message, value).toBe('frame is not a JSON object');
    }
  });

  it('frames - a JSON array is rejected', () => {
    expect(rejected('[]').message).toBe('frame is not a JSON object');
    expect(rejected('[{"type":"ping"}]').message).toBe('frame is not a JSON object');
  });

  it('frames - binary frames are rejected even with valid JSON', () => {
    const decoded = decodeClientFrame(text('{"type":"ping","id":1}'), true);
    expect(decoded).toStrictEqual({ ok: false, id: undefined, code: 'bad_request', message: 'binary frames are not supported; send JSON text' });
  });

  it('frames - invalid UTF-8 is rejected without throwing', () => {
    // {"type":"subscribe","topic":"a<bad bytes>"}
    const prefix = new TextEncoder().encode('{"type":"subscribe","topic":"a');
    const suffix = new TextEncoder().encode('"}');
    const data = new Uint8Array([...prefix, 0xff, ...suffix]);
    const decoded = decodeClientFrame(bytes(data), false);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.message).toBe('frame is not valid UTF-8 text');
    // A lone surrogate encoded as UTF-8 (CESU style) and an overlong encoding are invalid too.
    for (const bad of [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
      const framed = new Uint8Array([...prefix, ...bad, ...suffix]);
      expect(decodeClientFrame(bytes(framed), false).ok, bad.join(',')).toBe(false);
    }
  });

  it('frames - valid multi-byte UTF-8 is decoded', () => {
    const decoded = decode({ type: 'publish', topic: 'a', data: 'héllo 日本 😀' });
    expect(decoded.ok && decoded.frame.type === 'publish' && decoded.frame.data).toBe('héllo 日本 😀');
  });

  it('frames - an empty frame is rejected', () => {
    expect(decodeClientFrame(new ArrayBuffer(0), false).ok).toBe(false);
  });

  it('frames - a missing type is rejected, echoing the id', () => {
    expect(rejected({ id: 9, topic: 'a' })).toStrictEqual({ ok: false, id: 9, code: 'bad_request', message: 'frame has no "type"' });
  });

  it('frames - an unknown type is rejected, echoing the id', () => {
    const decoded = rejected({ type: 'subscribe-all', id: 'x1' });
    expect(decoded.id).toBe('x1');
    expect(decoded.message).toBe('unknown frame type "subscribe-all"');
  });

  it('frames - type names are case-sensitive', () => {
    expect(rejected({ type: 'Subscribe', topic: 'a' }).message).toContain('unknown frame type');
    expect(rejected({ type: 'PING' }).message).toContain('unknown frame type');
  });

  it('frames - a non-string type is rejected', () => {
    expect(rejected({ type: 5 }).message).toBe('"type" must be a string');
    expect(rejected({ type: null }).message).toBe('"type" must be a string');
    expect(rejected({ type: ['ping'] }).message).toBe('"type" must be a string');
  });

  it('frames - a long unknown type is truncated in the message', () => {
    const decoded = rejected({ type: 'x'.repeat(10_000) });
    expect(decoded.message.length).toBeLessThan(100);
    expect(decoded.message.startsWith('unknown frame type "xxx')).toBe(true);
  });

  it('frames - string and number ids are accepted', () => {
    for (const id of ['', 'abc', 'a'.repeat(128), 0, -1, 1.5, 2 ** 53, 1e308]) {
      const decoded = decode({ type: 'ping', id });
      expect(decoded.ok && decoded.frame.id, JSON.stringify(id)).toBe(id);
    }
  });

  it('frames - an id longer than 128 characters is rejected without echoing it', () => {
    for (const length of [129, 200]) {
      const decoded = rejected({ type: 'ping', id: 'a'.repeat(length) });
      expect(decoded.id).toBeUndefined();
      expect(decoded.message).toBe('"id" must be a finite number or a string of at most 128 characters');
    }
  });

  it('frames - ids of other types are rejected', () => {
    for (const id of [{}, { a: 1 }, [], [1], true, null]) {
      const decoded = rejected({ type: 'ping', id });
      expect(decoded.id, JSON.stringify(id)).toBeUndefined();
      expect(decoded.message).toContain('"id" must be');
    }
  });

  it('frames - a number id that overflows to Infinity is rejected', () => {
    // JSON.parse turns 1e999 into Infinity, which would not survive re-encoding.
    const decoded = rejected('{"type":"ping","id":1e999}');
    expect(decoded.id).toBeUndefined();
    expect(decoded.message).toContain('finite number');
    expect(rejected('{"type":"ping","id":-1e999}').message).toContain('finite number');
  });

  it('frames - a bad id is reported before a bad type', () => {
    expect(rejected({ type: 'nope', id: {} }).message).toContain('"id" must be');
  });

  it('frames - subscribe and unsubscribe need a string topic', () => {
    for (const type of ['subscribe', 'unsubscribe']) {
      expect(rejected({ type, id: 1 })).toStrictEqual({ ok: false, id: 1, code: 'bad_request', message: `"${type}" needs a string "topic"` });
      expect(rejected({ type, id: 'q', topic: 7 }).id).toBe('q');
      expect(rejected({ type, topic: null }).message).toBe(`"${type}" needs a string "topic"`);
      expect(rejected({ type, topic: ['a'] }).message).toBe(`"${type}" needs a string "topic"`);
    }
  });

  it('frames - publish needs a string topic', () => {
    expect(rejected({ type: 'publish', id: 5, data: 1 })).toStrictEqual({ ok: false, id: 5, code: 'bad_request', message: '"publish" needs a string "topic"' });
    expect(rejected({ type: 'publish', topic: {}, data: 1 }).message).toBe('"publish" needs a string "topic"');
  });

  it('frames - publish needs a data field', () => {
    expect(rejected({ type: 'publish', id: 6, topic: 'a' })).toStrictEqual({
      ok: false,
      id: 6,
      code: 'bad_request',
      message: '"publish" needs a "data" field (any JSON value)',
    });
  });

  it('frames - auth needs a non-empty string token', () => {
    const message = '"auth" needs a non-empty string "token"';
    expect(rejected({ type: 'auth', id: 7 })).toStrictEqual({ ok: false, id: 7, code: 'bad_request', message });
    expect(rejected({ type: 'auth', token: '' }).message).toBe(message);
    expect(rejected({ type: 'auth', token: 123 }).message).toBe(message);
    expect(rejected({ type: 'auth', token: null }).message).toBe(message);
  });

  it('frames - a __proto__ key does not confuse decoding', () => {
    const decoded = decode('{"__proto__":{"type":"ping"},"topic":"a"}');
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.message).toBe('frame has no "type"');
  });
});

describe('encoders', () => {
  it('frames - welcome encodes node, sub and exp', () => {
    expect(JSON.parse(encodeWelcome('node-1', 'alice', 1_700_000_000))).toStrictEqual({ type: 'welcome', node: 'node-1', sub: 'alice', exp: 1_700_000_000 });
  });

  it('frames - welcome encodes a null exp', () => {
    expect(JSON.parse(encodeWelcome('node-1', 'alice', null))).toStrictEqual({ type: 'welcome', node: 'node-1', sub: 'alice', exp: null });
  });

  it('frames - welcome escapes any sub', () => {
    const sub = 'a "quoted"\\ sub\n with 日本 and \u0001';
    expect(JSON.parse(encodeWelcome('n', sub, 1)).sub).toBe(sub);
  });

  it('frames - ack echoes string and number ids', () => {
    expect(JSON.parse(encodeAck('r-1'))).toStrictEqual({ type: 'ack', id: 'r-1' });
    expect(JSON.parse(encodeAck(42))).toStrictEqual({ type: 'ack', id: 42 });
    expect(JSON.parse(encodeAck(1.5))).toStrictEqual({ type: 'ack', id: 1.5 });
    expect(JSON.parse(encodeAck(''))).toStrictEqual({ type: 'ack', id: '' });
  });

  it('frames - ack without an id has no id key', () => {
    const parsed = JSON.parse(encodeAck(undefined)) as object;
    expect(parsed).toStrictEqual({ type: 'ack' });
    expect('id' in parsed).toBe(false);
  });

  it('frames - pong echoes the id, or has none', () => {
    expect(JSON.parse(encodePong(7))).toStrictEqual({ type: 'pong', id: 7 });
    expect(JSON.parse(encodePong('p'))).toStrictEqual({ type: 'pong', id: 'p' });
    expect('id' in (JSON.parse(encodePong(undefined)) as object)).toBe(false);
  });

  it('frames - string ids are escaped', () => {
    const id = 'a"b\\c\n';
    expect(JSON.parse(encodeAck(id)).id).toBe(id);
    expect(JSON.parse(encodeError(id, 'forbidden', 'x')).id).toBe(id);
  });

  it('frames - error encodes id, code and message', () => {
    expect(JSON.parse(encodeError(3, 'forbidden', 'the token does not allow this topic'))).toStrictEqual({
      type: 'error',
      id: 3,
      code: 'forbidden',
      message: 'the token does not allow this topic',
    });
    expect(JSON.parse(encodeError('s', 'rate_limited', 'slow down'))).toStrictEqual({ type: 'error', id: 's', code: 'rate_limited', message: 'slow down' });
  });

  it('frames - error without an id has no id key', () => {
    const parsed = JSON.parse(encodeError(undefined, 'bad_request', 'frame is not valid JSON text')) as object;
    expect(parsed).toStrictEqual({ type: 'error', code: 'bad_request', message: 'frame is not valid JSON text' });
    expect('id' in parsed).toBe(false);
  });

  it('frames - error messages are escaped', () => {
    const message = 'unknown frame type "x"\n\\ 日本';
    expect(JSON.parse(encodeError(undefined, 'bad_request', message)).message).toBe(message);
  });

  it('frames - a decoded rejection re-encodes to a valid error frame', () => {
    const decoded = rejected({ type: 'nope', id: 'abc' });
    expect(JSON.parse(encodeError(decoded.id, decoded.code, decoded.message))).toStrictEqual({
      type: 'error',
      id: 'abc',
      code: 'bad_request',
      message: 'unknown frame type "nope"',
    });
  });

  it('frames - unsubscribed encodes topic and reason', () => {
    expect(JSON.parse(encodeUnsubscribed('chat.room-1', 'forbidden'))).toStrictEqual({ type: 'unsubscribed', topic: 'chat.room-1', reason: 'forbidden' });
  });

  it('frames - message embeds data that is already JSON text', () => {
    const data = JSON.stringify({ text: 'hi "there"', n: [1, 2, { deep: null }] });
    expect(JSON.parse(encodeMessage('chat.a', { data, ts: 1_700_000_000_123 }))).toStrictEqual({
      type: 'message',
      topic: 'chat.a',
      data: { text: 'hi "there"', n: [1, 2, { deep: null }] },
      ts: 1_700_000_000_123,
    });
  });

  it('frames - message embeds scalar data', () => {
    for (const value of ['text', 0, -1.25, true, false, null, [], {}]) {
      const parsed = JSON.parse(encodeMessage('t', { data: JSON.stringify(value), ts: 1 })) as { data: unknown };
      expect(parsed.data, JSON.stringify(value)).toStrictEqual(value);
    }
  });

  it('frames - message data is embedded verbatim, not re-encoded', () => {
    const encoded = encodeMessage('t', { data: '{"b":1,"a":2}', ts: 5 });
    expect(encoded).toContain('"data":{"b":1,"a":2}');
    expect(encoded).not.toContain('\\"');
  });

  it('frames - every encoder starts with its type', () => {
    for (const encoded of [
      encodeWelcome('n', 's', 1),
      encodeAck(1),
      encodePong(1),
      encodeError(1, 'forbidden', 'm'),
      encodeUnsubscribed('t', 'forbidden'),
      encodeMessage('t', { data: '1', ts: 1 }),
    ]) {
      expect(encoded).toMatch(/^\{"type":"[a-z]+"/);
      expect(Object.keys(JSON.parse(encoded) as object)[0]).toBe('type');
    }
  });
});
