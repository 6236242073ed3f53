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
  | { type: 'auth'; token: string }
  | { type: 'presence' | 'presence_count'; topic: string };

export interface WelcomeFrame { type: 'welcome'; node: string; sub: string; exp: number | null }
export interface AckFrame { type: 'ack'; id?: FrameId; offset?: number; epoch?: string; recovered?: boolean }
export interface PongFrame { type: 'pong'; id?: FrameId }
export interface ErrorFrame { type: 'error'; id?: FrameId; code: ServerErrorCode; message: string }
export interface UnsubscribedFrame { type: 'unsubscribed'; topic: string; reason: string }
export interface MessageFrame { type: 'message'; topic: string; data: unknown; ts: number; offset?: number }
/** A user in a presence reply: one `sub`, however many connections; `info` is the token's claim, when it has one. */
export interface PresenceUser { readonly sub: string; readonly connections: number; readonly info?: Record<string, unknown> }
export interface PresenceFrame { type: 'presence'; id?: FrameId; topic: string; users: PresenceUser[]; count: number }
export interface PresenceCountFrame { type: 'presence_count'; id?: FrameId; topic: string; users: number; connections: number }
export interface PresenceEventFrame { type: 'join' | 'leave'; topic: string; sub: string; info?: Record<string, unknown> }

export type ServerFrame = WelcomeFrame | AckFrame | PongFrame | ErrorFrame | UnsubscribedFrame | MessageFrame | PresenceFrame | PresenceCountFrame | PresenceEventFrame;

export function encode(frame: ClientFrame, id?: FrameId): string {
  return JSON.stringify(id === undefined ? frame : { ...frame, id });
}

type Shape = Readonly<Record<string, string>>;

const ID = 'number string undefined';
/** Each entry of a presence reply's `users` (the type `users`); `info` is a JSON object. */
export const USER: Shape = { sub: 'string', connections: 'number', info: 'object undefined' };
const EVENT: Shape = { topic: 'string', sub: 'string', info: 'object undefined' };

/**
 * Each server frame's documented fields with the types they may have: `typeof`, `null`, `array`, or `users` (an array
 * of USER); `undefined` marks an optional field. A frame whose type is not here is not for this version of the client
 * and is dropped.
 */
export const SHAPES: Readonly<Record<string, Shape>> = {
  welcome: { node: 'string', sub: 'string', exp: 'number null' },
  ack: { id: ID, offset: 'number undefined', epoch: 'string undefined', recovered: 'boolean undefined' },
  pong: { id: ID },
  error: { id: ID, code: 'string', message: 'string undefined' },
  unsubscribed: { topic: 'string', reason: 'string' },
  message: { topic: 'string', data: 'string number boolean object array null', ts: 'number', offset: 'number undefined' },
  presence: { id: ID, topic: 'string', users: 'users', count: 'number' },
  presence_count: { id: ID, topic: 'string', users: 'number', connections: 'number' },
  join: EVENT,
  leave: EVENT,
};

const kind = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

function fits(value: unknown, shape: Shape): boolean {
  if (kind(value) !== 'object') return false;
  for (const field in shape) {
    const types = shape[field]!.split(' ');
    const item = (value as Record<string, unknown>)[field];
    if (!types.includes(kind(item)) && !(types.includes('users') && Array.isArray(item) && item.every((user) => fits(user, USER)))) return false;
  }
  return true;
}

export function decode(text: unknown): ServerFrame | undefined {
  if (typeof text !== 'string') return undefined;
  let frame: Record<string, unknown>;
  try {
    frame = JSON.parse(text);
  } catch {
    return undefined;
  }
  const shape = frame !== null && typeof frame === 'object' && Object.prototype.hasOwnProperty.call(SHAPES, frame.type as string) ? SHAPES[frame.type as string]! : undefined;
  return shape !== undefined && fits(frame, shape) ? (frame as unknown as ServerFrame) : undefined;
}
