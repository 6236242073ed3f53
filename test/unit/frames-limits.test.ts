/**
 * The limits of a client frame at their edges (docs/protocol.md, "Limits"):
 * an `id` of at most 128 characters counted as code points, and a nesting
 * depth of at most 64 levels of `data` (65 for the frame), where a frame a
 * little too deep is still answered with its own id and a much deeper one is
 * refused unread.
 */
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, type Decoded } from '../../src/protocol/frames.js';
import { MAX_DATA_DEPTH } from '../../src/protocol/json.js';

const decode = (frame: string): Decoded => decodeClientFrame(new TextEncoder().encode(frame).buffer as ArrayBuffer, false);
const ping = (id: string): Decoded => decode(JSON.stringify({ type: 'ping', id }));
const ID_PROBLEM = '"id" must be a finite number or a string of at most 128 characters';

/** `data` nesting `depth` arrays: 0 is a scalar. */
const nestedData = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const publish = (depth: number): Decoded => decode(`{"type":"publish","id":"p","topic":"a.b","data":${nestedData(depth)}}`);

describe('frames - an id is at most 128 characters, counted as code points', () => {
  const accepted = (id: string): void => {
    const decoded = ping(id);
    expect(decoded.ok, `${id.length} UTF-16 units`).toBe(true);
    expect(decoded.ok && decoded.frame.id).toBe(id);
  };
  const refused = (id: string): void => expect(ping(id)).toEqual({ ok: false, id: undefined, code: 'bad_request', message: ID_PROBLEM });

  it('frames - 128 emoji (256 UTF-16 units) are 128 characters; 129 are too many', () => {
    accepted('😀'.repeat(128));
    refused('😀'.repeat(129));
    accepted(`${'😀'.repeat(127)}a`);
    refused(`${'😀'.repeat(127)}ab`);
    refused(`a${'😀'.repeat(128)}`);
  });

  it('frames - the first and last astral characters (U+10000, U+10FFFF) count once each', () => {
    accepted('\u{10000}'.repeat(128));
    accepted('\u{10FFFF}'.repeat(128));
    refused('\u{10000}'.repeat(129));
  });

  it('frames - lone surrogates count one each, wherever they stand', () => {
    // A high surrogate followed by something other than a low surrogate is not a pair, and neither is a low one alone.
    refused('\ud83da'.repeat(65));
    // U+E000 sits just above the low surrogates: after a high surrogate it is still two characters.
    refused('\ud83d\ue000'.repeat(65));
    refused('a\udc00'.repeat(65));
    refused('\udc00'.repeat(129));
    accepted('\udc00'.repeat(128));
    accepted('\ud83da'.repeat(64));
    refused(`${'😀'.repeat(127)}\ud83d\ud83d`);
    accepted(`${'😀'.repeat(127)}\ud83d`);
  });

  it('frames - ids far over the limit are refused, however they are made up', () => {
    refused('a'.repeat(257));
    refused('a'.repeat(1000));
    refused('😀'.repeat(500));
  });
});

describe('frames - nesting depth', () => {
  it(`frames - data nested ${MAX_DATA_DEPTH} levels is accepted; ${MAX_DATA_DEPTH + 1} is refused with the frame's id`, () => {
    const deepest = publish(MAX_DATA_DEPTH);
    expect(deepest.ok).toBe(true);
    expect(deepest.ok && deepest.frame.type === 'publish' && JSON.stringify(deepest.frame.data)).toBe(nestedData(MAX_DATA_DEPTH));
    expect(publish(MAX_DATA_DEPTH + 1)).toEqual({
      ok: false,
      id: 'p',
      code: 'bad_request',
      message: `frame nests deeper than ${MAX_DATA_DEPTH + 1} levels (data may nest at most ${MAX_DATA_DEPTH})`,
    });
  });

  it(`frames - up to ${MAX_DATA_DEPTH * 2} levels the frame is read for its id; deeper, it is refused unread`, () => {
    expect(publish(MAX_DATA_DEPTH * 2 - 1)).toMatchObject({ ok: false, id: 'p' });
    expect(publish(MAX_DATA_DEPTH * 2)).toEqual({
      ok: false,
      id: undefined,
      code: 'bad_request',
      message: `frame is nested deeper than ${MAX_DATA_DEPTH * 2} levels (data may nest at most ${MAX_DATA_DEPTH})`,
    });
    expect(publish(5000)).toMatchObject({ ok: false, id: undefined, message: expect.stringContaining('nested deeper than') });
  });

  it('frames - a deep frame that is also bad JSON is reported as too deep, a shallow one as not JSON', () => {
    expect(decode(`{"type":"publish","data":${'['.repeat(200)}`)).toMatchObject({ ok: false, message: expect.stringContaining('nested deeper than') });
    expect(decode('{"type":"publish","data":[[1]')).toMatchObject({ ok: false, message: 'frame is not valid JSON text' });
  });
});
