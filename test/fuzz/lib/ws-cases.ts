/**
 * WebSocket cases for the live fuzzer: a few legal messages (hostile JSON in
 * correct framing, fragmented at any byte, with control frames between the
 * fragments), then at most one terminal action (a protocol violation, a frame
 * at or past a size limit, a close frame, a truncated frame), each with what
 * the contract lets the node answer.
 */
import fc from 'fast-check';
import { frameBytes, wellFormedFrameText } from './frame-model.js';
import { invalidUtf8 } from './arbitraries.js';
import { isUtf8, nestedText } from './json.js';
import { Opcode, closePayload, encodeFrame, type FrameSpec } from './wire.js';

export type Legal =
  | { kind: 'message'; binary: boolean; payload: Uint8Array; pieces: number[]; controls: ('ping' | 'pong' | 'none')[]; zeroMask: boolean }
  | { kind: 'ping' | 'pong'; payload: Uint8Array };

export type Terminal =
  /** `name` is the kind of violation (a bounded label for the tally); `detail` says exactly what was sent. */
  | { kind: 'violation'; name: string; detail?: string; frames: FrameSpec[] }
  | { kind: 'size'; size: number; pieces: number }
  | { kind: 'close'; code: number | undefined; reason: Uint8Array }
  | { kind: 'truncated'; name: string; bytes: Uint8Array };

export interface WsCase {
  legal: Legal[];
  terminal: Terminal | undefined;
  /** How the bytes are written: all at once, or in this many pieces. */
  writes: number;
}

/** A JSON ping frame padded with spaces to exactly `size` bytes (valid JSON at any size from 24 up). */
export function paddedPing(size: number, id: string): Buffer {
  const core = `{"type":"ping","id":${JSON.stringify(id)}}`;
  return Buffer.concat([Buffer.from(core), Buffer.alloc(Math.max(0, size - core.length), 0x20)]);
}

/** Splits `length` bytes into `parts` pieces at positions from `cuts` (fractions), never empty except when length is 0. */
function splitAt(length: number, cuts: number[]): number[] {
  const points = [...new Set(cuts.map((c) => Math.max(1, Math.min(length - 1, Math.floor(c * length)))))].filter((p) => p > 0 && p < length).sort((a, b) => a - b);
  const sizes: number[] = [];
  let last = 0;
  for (const p of points) {
    sizes.push(p - last);
    last = p;
  }
  sizes.push(length - last);
  return sizes;
}

export function wsCase(maxPayload: number): fc.Arbitrary<WsCase> {
  const message = fc
    .tuple(frameBytes, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), fc.array(fc.constantFrom('ping' as const, 'pong' as const, 'none' as const), { maxLength: 4 }), fc.nat(9))
    // Invalid UTF-8 in a text message is a protocol violation (RFC 6455, 8.1), generated as such below.
    .filter(([{ bytes, binary }]) => bytes.length <= maxPayload && (binary || isUtf8(bytes)))
    .map(([{ bytes, binary }, cuts, controls, roll]): Legal => ({ kind: 'message', binary, payload: bytes, pieces: splitAt(bytes.length, cuts), controls, zeroMask: roll === 0 }));
  const control = fc.tuple(fc.constantFrom('ping' as const, 'pong' as const), fc.uint8Array({ maxLength: 125 })).map(([kind, payload]): Legal => ({ kind, payload }));
  const legal = fc.oneof({ weight: 8, arbitrary: message }, { weight: 1, arbitrary: control });

  const someText = wellFormedFrameText.map((t) => Buffer.from(t) as Uint8Array);
  const violation = fc.oneof(
    fc.tuple(someText).map(([p]) => ({ kind: 'violation' as const, name: 'unmasked frame', frames: [{ opcode: Opcode.text, payload: p, mask: null }] })),
    fc.tuple(someText, fc.integer({ min: 1, max: 7 }), fc.constantFrom(Opcode.text, Opcode.ping, Opcode.binary)).map(([p, rsv, opcode]) => ({ kind: 'violation' as const, name: 'RSV bits', detail: `rsv ${rsv} on opcode ${opcode}`, frames: [{ opcode, payload: p.subarray(0, opcode === Opcode.ping ? 125 : undefined), rsv }] })),
    fc.tuple(fc.constantFrom(3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf), fc.uint8Array({ maxLength: 40 })).map(([opcode, p]) => ({ kind: 'violation' as const, name: 'reserved opcode', detail: `opcode ${opcode}`, frames: [{ opcode, payload: p }] })),
    fc.integer({ min: 126, max: 300 }).map((n) => ({ kind: 'violation' as const, name: 'ping over 125 bytes', detail: `${n} bytes`, frames: [{ opcode: Opcode.ping, payload: new Uint8Array(n) }] })),
    fc.constant<Terminal>({ kind: 'violation', name: 'fragmented ping', frames: [{ opcode: Opcode.ping, fin: false, payload: new Uint8Array(3) }, { opcode: Opcode.continuation, payload: new Uint8Array(3) }] }),
    fc.tuple(someText).map(([p]) => ({ kind: 'violation' as const, name: 'continuation without a start', frames: [{ opcode: Opcode.continuation, payload: p }] })),
    fc.tuple(someText, fc.constantFrom(Opcode.text, Opcode.binary)).map(([p, opcode]) => ({ kind: 'violation' as const, name: 'new message inside a fragmented one', detail: `opcode ${opcode}`, frames: [{ opcode: Opcode.text, fin: false, payload: p.subarray(0, 5) }, { opcode, payload: p }] })),
    fc.tuple(invalidUtf8, fc.boolean()).map(([bad, fragmented]) => ({
      kind: 'violation' as const,
      name: `invalid UTF-8 in a text ${fragmented ? 'fragment' : 'frame'}`,
      detail: Buffer.from(bad).toString('hex'),
      frames: fragmented
        ? [{ opcode: Opcode.text, fin: false, payload: Buffer.from('{"type":"ping","id":"') }, { opcode: Opcode.continuation, payload: Buffer.concat([Buffer.from(bad), Buffer.from('"}')]) }]
        : [{ opcode: Opcode.text, payload: Buffer.concat([Buffer.from('{"type":"ping","id":"'), Buffer.from(bad), Buffer.from('"}')]) }],
    })),
    fc.constantFrom(0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn, 0x1_0000_0000n, 0x7fff_ffff_ffff_ffffn).map((declared) => ({ kind: 'violation' as const, name: 'lying 64-bit length', detail: `0x${declared.toString(16)}`, frames: [{ opcode: Opcode.text, declaredLength: declared, payload: Buffer.from('{}') }] })),
    fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: 124, max: 200 })).map(([withCode, n]) => ({ kind: 'violation' as const, name: 'close frame over 125 bytes', detail: `${n + 2 * withCode} bytes`, frames: [{ opcode: Opcode.close, payload: withCode ? closePayload(1000, new Uint8Array(n).fill(0x61)) : new Uint8Array(n) }] })),
  );
  const size = fc.tuple(fc.constantFrom(maxPayload - 1, maxPayload, maxPayload + 1, 2 * maxPayload - 1, 2 * maxPayload, 2 * maxPayload + 1, 3 * maxPayload), fc.constantFrom(1, 1, 2, 5)).map(([n, pieces]): Terminal => ({ kind: 'size', size: n, pieces }));
  const close = fc
    .tuple(
      fc.option(fc.constantFrom(0, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1011, 1012, 1014, 1015, 1016, 2999, 3000, 3999, 4000, 4001, 4029, 4999, 5000, 65535), { nil: undefined }),
      fc.oneof(fc.constant(new Uint8Array(0)), fc.string({ maxLength: 30 }).map((s) => Buffer.from(s) as Uint8Array), invalidUtf8),
      fc.boolean(),
    )
    .map(([code, reason, oneByte]): Terminal => (oneByte && code === undefined ? { kind: 'close', code: undefined, reason: new Uint8Array([0x03]) } : { kind: 'close', code, reason: code === undefined ? new Uint8Array(0) : reason }));
  const truncated = fc.oneof(
    fc.constant({ kind: 'truncated' as const, name: 'one header byte', bytes: new Uint8Array([0x81]) }),
    fc.constant({ kind: 'truncated' as const, name: 'no masking key', bytes: new Uint8Array([0x81, 0x85, 0x01]) }),
    fc.constant({ kind: 'truncated' as const, name: 'cut 16-bit length', bytes: new Uint8Array([0x81, 0xfe, 0x01]) }),
    fc.constant({ kind: 'truncated' as const, name: 'cut 64-bit length', bytes: new Uint8Array([0x81, 0xff, 0, 0, 0]) }),
    fc.tuple(someText, fc.integer({ min: 1, max: 50 })).map(([p, missing]) => ({ kind: 'truncated' as const, name: `payload bytes missing (${missing})`, bytes: new Uint8Array(encodeFrame({ opcode: Opcode.text, payload: p, declaredLength: BigInt(p.length + missing) })) })),
  );
  const terminal = fc.oneof({ weight: 5, arbitrary: violation }, { weight: 3, arbitrary: size }, { weight: 2, arbitrary: close }, { weight: 1, arbitrary: truncated });
  return fc.record({
    legal: fc.array(legal, { minLength: 0, maxLength: 4 }),
    terminal: fc.option(terminal, { nil: undefined, freq: 2 }),
    writes: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 24 })),
  });
}

/** Frames of a legal action, and how many complete messages (each gets exactly one reply) and pings it holds. */
export function legalFrames(action: Legal): { frames: FrameSpec[]; messages: number; pings: number } {
  if (action.kind !== 'message') return { frames: [{ opcode: action.kind === 'ping' ? Opcode.ping : Opcode.pong, payload: action.payload }], messages: 0, pings: action.kind === 'ping' ? 1 : 0 };
  const frames: FrameSpec[] = [];
  let pings = 0;
  let at = 0;
  action.pieces.forEach((size, i) => {
    const last = i === action.pieces.length - 1;
    const mask = action.zeroMask ? new Uint8Array(4) : undefined;
    frames.push({ opcode: i === 0 ? (action.binary ? Opcode.binary : Opcode.text) : Opcode.continuation, fin: last, payload: action.payload.subarray(at, at + size), ...(mask === undefined ? {} : { mask }) });
    at += size;
    const between = action.controls[i];
    if (!last && between !== undefined && between !== 'none') {
      frames.push({ opcode: between === 'ping' ? Opcode.ping : Opcode.pong, payload: Buffer.from(`c${i}`) });
      if (between === 'ping') pings++;
    }
  });
  return { frames, messages: 1, pings };
}

/** Frames of a size-limit message: a JSON ping of exactly `size` bytes, possibly fragmented. */
export function sizeFrames(size: number, pieces: number, id: string): FrameSpec[] {
  const payload = paddedPing(size, id);
  const sizes = splitAt(payload.length, Array.from({ length: pieces - 1 }, (_, i) => (i + 1) / pieces));
  const frames: FrameSpec[] = [];
  let at = 0;
  sizes.forEach((n, i) => {
    frames.push({ opcode: i === 0 ? Opcode.text : Opcode.continuation, fin: i === sizes.length - 1, payload: payload.subarray(at, at + n) });
    at += n;
  });
  return frames;
}

export function describeCase(c: WsCase): string {
  const legal = c.legal.map((a) => (a.kind === 'message' ? `${a.binary ? 'binary' : 'text'}(${a.payload.length}B in ${a.pieces.length}${a.zeroMask ? ', zero mask' : ''}: ${preview(a.payload)})` : `${a.kind}(${a.payload.length}B)`));
  const t = c.terminal;
  const terminal = t === undefined ? '' : t.kind === 'violation' ? ` then ${t.name}${t.detail === undefined ? '' : ` (${t.detail})`}` : t.kind === 'size' ? ` then a ${t.size}-byte message in ${t.pieces}` : t.kind === 'close' ? ` then close(${t.code ?? 'no code'}, ${Buffer.from(t.reason).toString('hex')})` : ` then truncated: ${t.name}`;
  return `[${legal.join(', ')}]${terminal}, ${c.writes} write(s)`;
}

export function preview(bytes: Uint8Array, max = 160): string {
  const text = Buffer.from(bytes).toString('utf8');
  return JSON.stringify(text.length > max ? `${text.slice(0, max / 2)}…(${bytes.length} bytes)…${text.slice(-max / 4)}` : text);
}

const textMessage = (text: string): Legal => ({ kind: 'message', binary: false, payload: Buffer.from(text), pieces: [Buffer.byteLength(text)], controls: [], zeroMask: false });

/** Hand-written cases every run ends with: the inputs of issue 8's crash findings, and the limits of contract-8. */
export function wsCorpus(): WsCase[] {
  const deep = (d: number, kind: 'array' | 'object' | 'mixed' = 'array'): string => nestedText(d, kind);
  return [
    `{"type":${deep(5000)}}`,
    `{"type":"publish","topic":"fz.corpus","id":1,"data":${deep(5000)}}`,
    `{"type":"publish","topic":"fz.corpus","id":2,"data":${deep(2500, 'object')}}`,
    `{"type":"publish","topic":"fz.corpus","id":3,"data":${deep(4000, 'mixed')}}`,
    `{"type":"subscribe","topic":"fz.corpus","id":4,"data":${deep(5000)}}`,
    `{"type":"auth","token":"x","id":${deep(5000)}}`,
    `{"type":"ping","id":${JSON.stringify('😀'.repeat(128))}}`,
    `{"type":"publish","topic":"fz.corpus","id":5,"data":${deep(64)}}`,
    `{"type":"publish","topic":"fz.corpus","id":6,"data":${deep(65)}}`,
    `{"type":"publish","topic":"fz.corpus","id":7,"data":[1e400,-1e400,"\\ud800"]}`,
  ]
    // Every corpus frame fits the live target's HERALD_MAX_PAYLOAD (16 KiB): they test the JSON, not the size limit.
    .filter((text) => Buffer.byteLength(text) <= 16_384 || (() => { throw new Error(`corpus frame of ${Buffer.byteLength(text)} bytes`); })())
    .map((text) => ({ legal: [textMessage(text)], terminal: undefined, writes: 1 }));
}
