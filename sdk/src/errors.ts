/**
 * Errors the client reports. Codes from the server are those of docs/protocol.md ("Errors");
 * the client adds its own for what happens on its side of the socket.
 */
export type ServerErrorCode =
  | 'bad_request'
  | 'invalid_topic'
  | 'forbidden'
  | 'too_many_subscriptions'
  | 'payload_too_large'
  | 'rate_limited'
  | 'token_invalid'
  | 'unavailable'
  | 'no_presence';

export type ClientErrorCode =
  /** The call needs a connection and there is none: nothing was sent. */
  | 'not_connected'
  /** The connection ended before the reply: the frame may or may not have been carried out. */
  | 'connection_lost'
  /** No reply within `timeoutMs`: the frame may or may not have been carried out. */
  | 'timeout'
  /** `getToken` threw or returned no token. */
  | 'token_unavailable'
  /** `subscribe` on a topic that already has a live subscription. */
  | 'already_subscribed';

export type ErrorCode = ServerErrorCode | ClientErrorCode;

/** Codes after which repeating the same frame later can succeed (docs/protocol.md, column "retry?"). */
export const RETRYABLE: readonly ErrorCode[] = ['rate_limited', 'unavailable', 'timeout'];

export class HeraldError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, cause?: unknown) {
    super(message || code);
    this.name = 'HeraldError';
    this.code = code;
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}
