/**
 * The frames of history and presence (docs/protocol.md): presence requests,
 * the `since` of a subscribe at its edges, and the exact text of the acks,
 * messages and presence frames Herald sends.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeClientFrame,
  encodeAck,
  encodeMessage,
  encodePresence,
  encodePresenceCount,
  encodePresenceEvent,
  encodePresenceUsers,
  type Decoded,
} from '../../src/protocol/frames.js';

const decode = (frame: unknown): Decoded => decodeClientFrame(new TextEncoder().encode(JSON.stringify(frame)).buffer as ArrayBuffer, false);
const SINCE = '"since" must be {"offset":<integer >= 0>,"epoch":"<epoch>"} or {"last":<integer >= 1>}';

describe('frames - presence requests', () => {
  it.each(['presence', 'presence_count'])('frames - decodes %s with its topic', (type) => {
    expect(decode({ type, id: 4, topic: 'rooms.1' })).toStrictEqual({ ok: true, frame: { type, id: 4, topic: 'rooms.1' } });
  });

  it.each(['presence', 'presence_count'])('frames - %s without a string topic is bad_request with its id', (type) => {
    for (const topic of [undefined, 5, null]) {
      expect(decode({ type, id: 'p', topic })).toEqual({ ok: false, id: 'p', code: 'bad_request', message: `"${type}" needs a string "topic"` });
    }
  });
});

describe('frames - since at its edges', () => {
  const since = (value: unknown): Decoded => decode({ type: 'subscribe', id: 1, topic: 'chat.a', since: value });

  it('frames - last 1 is the smallest, offset 0 the first position', () => {
    expect(since({ last: 1 })).toMatchObject({ ok: true, frame: { since: { last: 1 } } });
    expect(since({ offset: 0, epoch: 'e' })).toMatchObject({ ok: true, frame: { since: { offset: 0, epoch: 'e' } } });
  });

  it('frames - a malformed since says what a since is, whatever it is', () => {
    for (const value of [{ last: 0 }, 'ab', 'x', 7, { offset: 1, epoch: 5 }, { offset: 1, epoch: null }, { offset: 1 }, { last: 1, epoch: 'e' }]) {
      expect(since(value), JSON.stringify(value)).toEqual({ ok: false, id: 1, code: 'bad_request', message: SINCE });
    }
  });
});

describe('frames - what Herald sends for history and presence', () => {
  it('frames - an ack carries offset, epoch and recovered when given, in that order', () => {
    expect(encodeAck(3, { offset: 41, epoch: 'k3f9x2', recovered: true })).toBe('{"type":"ack","id":3,"offset":41,"epoch":"k3f9x2","recovered":true}');
    expect(encodeAck('s', { offset: 0, epoch: 'e', recovered: false })).toBe('{"type":"ack","id":"s","offset":0,"epoch":"e","recovered":false}');
    expect(encodeAck(3, { offset: 41, epoch: 'e' })).toBe('{"type":"ack","id":3,"offset":41,"epoch":"e"}');
    expect(encodeAck(3, {})).toBe('{"type":"ack","id":3}');
    expect(encodeAck(undefined, { recovered: true })).toBe('{"type":"ack","recovered":true}');
  });

  it('frames - a history message carries its offset; any other does not', () => {
    expect(encodeMessage('chat.a', { data: '"hi"', ts: 5, offset: 42, epoch: 'e' })).toBe('{"type":"message","topic":"chat.a","data":"hi","ts":5,"offset":42}');
    expect(encodeMessage('chat.a', { data: '"hi"', ts: 5 })).toBe('{"type":"message","topic":"chat.a","data":"hi","ts":5}');
  });

  it('frames - presence lists users with their connections and info, and counts them', () => {
    const users = [
      { sub: 'alice', connections: 2, info: '{"name":"Alice"}' },
      { sub: 'b"ob', connections: 1, info: undefined },
    ];
    expect(encodePresenceUsers(users)).toBe('"users":[{"sub":"alice","connections":2,"info":{"name":"Alice"}},{"sub":"b\\"ob","connections":1}],"count":2');
    expect(encodePresenceUsers([])).toBe('"users":[],"count":0');
    const frame = encodePresence(7, 'rooms.1', users);
    expect(frame).toBe(`{"type":"presence","id":7,"topic":"rooms.1",${encodePresenceUsers(users)}}`);
    expect(JSON.parse(frame)).toEqual({
      type: 'presence',
      id: 7,
      topic: 'rooms.1',
      users: [
        { sub: 'alice', connections: 2, info: { name: 'Alice' } },
        { sub: 'b"ob', connections: 1 },
      ],
      count: 2,
    });
    expect(encodePresenceCount('c', 'rooms.1', 2, 3)).toBe('{"type":"presence_count","id":"c","topic":"rooms.1","users":2,"connections":3}');
  });

  it('frames - join and leave events carry the sub, and info only when there is one', () => {
    expect(encodePresenceEvent('rooms.1', 'join', 'alice', '{"name":"Alice"}')).toBe('{"type":"join","topic":"rooms.1","sub":"alice","info":{"name":"Alice"}}');
    expect(encodePresenceEvent('rooms.1', 'leave', 'alice', undefined)).toBe('{"type":"leave","topic":"rooms.1","sub":"alice"}');
  });
});
