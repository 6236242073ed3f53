/**
 * Protocol v1 frames (docs/protocol.md): one encoder for what the client sends,
 * one decoder for what Herald sends. Decoding never throws; a frame that does
 * not have its documented shape is dropped. Fields the client does not know
 * are kept, as the protocol asks.
 */
import type { ServerErrorCode } from './errors.js';

export type FrameId = number | string;

/** Where a subscription starts: the last `last` stored messages, or after `offset` of `epoch`. */
export type Since = { readonly last: number } | { readonly offset: number; readonly epoch: string };

export type ClientFrame =
  | { type: 'subscribe'; topic: string; since?: Since }
  | { type: 'unsubscribe'; topic: string }
  | { type: 'publish'; topic: string; data: unknown }
  | { type: 'ping' }
  | { type: 'auth'; token: string };

export interface WelcomeFrame { type: 'welcome'; node: string; sub: string; exp: number | null }
export interface AckFrame { type: 'ack'; id?: FrameId; offset?: number; epoch?: string; recovered?: boolean }
export interface PongFrame { type: 'pong'; id?: FrameId }
export interface ErrorFrame { type: 'error'; id?: FrameId; code: ServerErrorCode; message: string }
export interface UnsubscribedFrame { type: 'unsubscribed'; topic: string; reason: string }
export interface MessageFrame { type: 'message'; topic: string; data: unknown; ts: number; offset?: number }

export type ServerFrame = WelcomeFrame | AckFrame | PongFrame | ErrorFrame | UnsubscribedFrame | MessageFrame;

export function encode(frame: ClientFrame, id?: FrameId): string {
  return JSON.stringify(id === undefined ? frame : { ...frame, id });
}

const ID = 'number string undefined';

/**
 * Each server frame's documented fields with the types (`typeof`, or `null`) they may have; `undefined` marks an
 * optional field. A frame whose type is not here is not for this version of the client and is dropped.
 */
export const SHAPES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  welcome: { node: 'string', sub: 'string', exp: 'number null' },
  ack: { id: ID, offset: 'number undefined', epoch: 'string undefined', recovered: 'boolean undefined' },
  pong: { id: ID },
  error: { id: ID, code: 'string', message: 'string undefined' },
  unsubscribed: { topic: 'string', reason: 'string' },
  message: { topic: 'string', data: 'string number boolean object null', ts: 'number', offset: 'number undefined' },
};

export function decode(text: unknown): ServerFrame | undefined {
  if (typeof text !== 'string') return undefined;
  let frame: Record<string, unknown>;
  try {
    frame = JSON.parse(text);
  } catch {
    return undefined;
  }
  const shape = frame !== null && typeof frame === 'object' && Object.prototype.hasOwnProperty.call(SHAPES, frame.type as string) ? SHAPES[frame.type as string]! : undefined;
  if (shape === undefined) return undefined;
  for (const field in shape) {
    const value = frame[field];
    if (!shape[field]!.split(' ').includes(value === null ? 'null' : typeof value)) return undefined;
  }
  return frame as unknown as ServerFrame;
}
