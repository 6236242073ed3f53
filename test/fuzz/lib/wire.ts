/**
 * WebSocket (RFC 6455) and HTTP/1.1 on raw bytes, written by hand so that the
 * fuzzer can send what no conforming client library would: unmasked client
 * frames, reserved opcodes and RSV bits, lengths that lie, 64-bit lengths with
 * the top bit set, truncated frames, bad close payloads.
 */
import { randomBytes } from 'node:crypto';

export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec {
  fin?: boolean;
  /** The three RSV bits, 0..7. */
  rsv?: number;
  opcode: number;
  payload?: Uint8Array;
  /** A 4-byte masking key, or null for an unmasked frame (forbidden from a client). Default: a random key. */
  mask?: Uint8Array | null;
  /** How the length is written: the shortest form (default), or forced 16- or 64-bit. */
  lengthForm?: 'min' | '16' | '64';
  /** A length to declare instead of the payload's real one (a lying header). */
  declaredLength?: bigint;
}

/** One client frame as bytes. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = Buffer.from(spec.payload ?? new Uint8Array(0));
  const declared = spec.declaredLength ?? BigInt(payload.length);
  const form = spec.lengthForm ?? 'min';
  const mask = spec.mask === undefined ? randomBytes(4) : spec.mask;
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f)];
  const maskBit = mask === null ? 0 : 0x80;
  let lengthBytes: Buffer;
  if (form === '64' || declared > 0xffffn) {
    lengthBytes = Buffer.alloc(8);
    lengthBytes.writeBigUInt64BE(declared & 0xffff_ffff_ffff_ffffn);
    head.push(maskBit | 127);
  } else if (form === '16' || declared > 125n) {
    lengthBytes = Buffer.alloc(2);
    lengthBytes.writeUInt16BE(Number(declared));
    head.push(maskBit | 126);
  } else {
    lengthBytes = Buffer.alloc(0);
    head.push(maskBit | Number(declared));
  }
  const body = Buffer.from(payload);
  if (mask !== null) for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ mask[i % 4]!;
  return Buffer.concat([Buffer.from(head), lengthBytes, mask === null ? Buffer.alloc(0) : Buffer.from(mask), body]);
}

export const textFrame = (text: string | Uint8Array, extra: Partial<FrameSpec> = {}): Buffer =>
  encodeFrame({ opcode: Opcode.text, payload: typeof text === 'string' ? Buffer.from(text, 'utf8') : text, ...extra });

/** A close frame's payload: a 2-byte code and a reason (raw bytes, so invalid UTF-8 can be sent). */
export function closePayload(code: number | undefined, reason: Uint8Array = new Uint8Array(0)): Buffer {
  if (code === undefined) return Buffer.from(reason);
  const buf = Buffer.alloc(2);
  buf.writeUInt16BE(code & 0xffff);
  return Buffer.concat([buf, Buffer.from(reason)]);
}

export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Incremental parser of the frames a server sends. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);
  readonly frames: ServerFrame[] = [];

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const frame = this.take();
      if (frame === undefined) return;
      this.frames.push(frame);
    }
  }

  private take(): ServerFrame | undefined {
    const b = this.buffer;
    if (b.length < 2) return undefined;
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(b.readBigUInt64BE(2));
      offset = 10;
    }
    const masked = (b[1]! & 0x80) !== 0;
    const keyAt = offset;
    if (masked) offset += 4;
    if (b.length < offset + length) return undefined;
    const payload = Buffer.from(b.subarray(offset, offset + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ b[keyAt + (i % 4)]!;
    this.buffer = b.subarray(offset + length);
    return { fin: (b[0]! & 0x80) !== 0, rsv: (b[0]! >> 4) & 7, opcode: b[0]! & 0x0f, masked, payload };
  }
}

export interface HttpHead {
  status: number;
  headers: Map<string, string>;
  /** Byte offset just after the blank line. */
  bodyStart: number;
}

/** The status line and headers of a response, once they have all arrived. */
export function parseHttpHead(bytes: Buffer): HttpHead | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: status === null ? -1 : Number(status[1]), headers, bodyStart: end + 4 };
}

export interface HttpResponse extends HttpHead {
  body: Buffer;
}

/** Splits bytes into complete responses (Content-Length or chunked bodies); a trailing partial response is left out. */
export function parseHttpResponses(bytes: Buffer): HttpResponse[] {
  const responses: HttpResponse[] = [];
  let rest = bytes;
  for (;;) {
    const head = parseHttpHead(rest);
    if (head === undefined) return responses;
    const after = rest.subarray(head.bodyStart);
    const length = head.headers.get('content-length');
    let body: Buffer;
    let consumed: number;
    if (head.headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const chunks: Buffer[] = [];
      let at = 0;
      for (;;) {
        const lineEnd = after.indexOf('\r\n', at);
        if (lineEnd < 0) return responses;
        const size = Number.parseInt(after.subarray(at, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size) || after.length < lineEnd + 2 + size + 2) return responses;
        chunks.push(after.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
      consumed = at;
    } else {
      const n = length === undefined ? 0 : Number(length);
      if (after.length < n) return responses;
      body = Buffer.from(after.subarray(0, n));
      consumed = n;
    }
    // An interim 1xx response (100 Continue) is not the answer: the final one follows.
    if (head.status < 100 || head.status >= 200) responses.push({ ...head, body });
    rest = after.subarray(consumed);
  }
}

export interface RequestSpec {
  method?: string;
  target: string;
  headers: readonly (readonly [string, string])[];
  body?: Uint8Array;
  /** The request line's version, default HTTP/1.1. */
  version?: string;
}

export function encodeRequest(spec: RequestSpec): Buffer {
  const lines = [`${spec.method ?? 'GET'} ${spec.target} ${spec.version ?? 'HTTP/1.1'}`, ...spec.headers.map(([name, value]) => `${name}: ${value}`)];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.from(spec.body ?? new Uint8Array(0))]);
}

export const websocketKey = (): string => randomBytes(16).toString('base64');

/** The headers of a conforming upgrade request, in order, for mutation. */
export function upgradeHeaders(host: string, extra: readonly (readonly [string, string])[] = []): [string, string][] {
  return [
    ['Host', host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', websocketKey()],
    ['Sec-WebSocket-Version', '13'],
    ...extra.map(([name, value]) => [name, value] as [string, string]),
  ];
}
