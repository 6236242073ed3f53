/**
 * The one catalogue of everything Herald tells a client went wrong.
 *
 * Codes are stable: clients switch on them, dashboards count them, and
 * docs/protocol.md documents every one (test/unit/catalogue.test.ts keeps the
 * two in step). Add a code here and in the docs together; never rename one.
 */

/** Codes carried by `{"type":"error","code":...}` frames and HTTP error bodies. */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_topic'
  | 'forbidden'
  | 'too_many_subscriptions'
  | 'payload_too_large'
  | 'rate_limited'
  | 'token_invalid'
  | 'unavailable'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'no_history'
  | 'no_presence';

export interface ErrorSpec {
  /** HTTP status when the error answers an HTTP request. */
  readonly status: number;
  /** Whether repeating the same request later can succeed. */
  readonly retryable: boolean;
  /** Where the code can appear. */
  readonly surfaces: readonly ('websocket' | 'http')[];
  readonly message: string;
}

export const ERRORS: Readonly<Record<ErrorCode, ErrorSpec>> = Object.freeze({
  bad_request: { status: 400, retryable: false, surfaces: ['websocket', 'http'], message: 'malformed request' },
  invalid_topic: { status: 400, retryable: false, surfaces: ['websocket', 'http'], message: 'topic is not valid' },
  forbidden: { status: 403, retryable: false, surfaces: ['websocket', 'http'], message: 'the token does not allow this topic' },
  too_many_subscriptions: { status: 400, retryable: false, surfaces: ['websocket'], message: 'subscription limit reached' },
  payload_too_large: { status: 413, retryable: false, surfaces: ['websocket', 'http'], message: 'payload too large' },
  rate_limited: { status: 429, retryable: true, surfaces: ['websocket'], message: 'too many frames, slow down' },
  token_invalid: { status: 401, retryable: false, surfaces: ['websocket'], message: 'token rejected' },
  unavailable: { status: 503, retryable: true, surfaces: ['websocket', 'http'], message: 'broker unavailable, retry later' },
  unauthorized: { status: 401, retryable: false, surfaces: ['http'], message: 'missing or invalid API key' },
  not_found: { status: 404, retryable: false, surfaces: ['http'], message: 'no such route' },
  method_not_allowed: { status: 405, retryable: false, surfaces: ['http'], message: 'method not allowed' },
  no_history: { status: 404, retryable: false, surfaces: ['http'], message: 'the topic has no history' },
  no_presence: { status: 404, retryable: false, surfaces: ['websocket', 'http'], message: 'the topic has no presence' },
});

/**
 * WebSocket close codes. 1xxx are RFC 6455 codes with their usual meaning;
 * 4xxx are Herald's. Reconnect policy for clients: 1001 and 4008 reconnect
 * (with backoff, preferably to another node), 4001 reconnect only with a new
 * token, 4029 back off before reconnecting.
 */
export const CloseCode = Object.freeze({
  normal: 1000,
  draining: 1001,
  frameTooLarge: 1009,
  auth: 4001,
  slowConsumer: 4008,
  rateLimited: 4029,
});
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Reasons sent with close code 4001, also the `reason` label of herald_auth_failures_total. */
export type AuthFailure = 'token_missing' | 'token_invalid' | 'token_expired';

/** An error Herald raises on purpose, with a catalogue code and, optionally, the underlying cause. */
export class HeraldError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'HeraldError';
    this.code = code;
  }
}
