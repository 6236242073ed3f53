/**
 * The socket underneath: any WebSocket implementation with the browser's
 * shape (browsers, React Native, Node 22+'s global, the `ws` package in
 * Node 20). The client opens one socket at a time and, when it gives one up,
 * disconnects its handlers before closing it, so an abandoned socket can never
 * deliver a frame or a close.
 */

/** What the client needs of a WebSocket; the browser's, React Native's and `ws`'s all fit. */
export interface WebSocketLike {
  readonly readyState: number;
  // Event parameters are `any` so that every implementation's own event types fit.
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the connection at once instead of waiting for the closing handshake. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export const SUBPROTOCOL = 'herald.v1';

export function findWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  const found = given ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (found === undefined) {
    throw new TypeError('no global WebSocket: pass the constructor in the WebSocket option (on Node 20: WebSocket of the ws package)');
  }
  return found;
}

/** Browsers cannot set headers on a WebSocket, so the token travels as the `token` query parameter. */
export function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

export function openSocket(
  WebSocket: WebSocketConstructor,
  url: string,
  onMessage: (data: unknown) => void,
  onClose: (code: number, reason: string) => void,
): WebSocketLike {
  const socket = new WebSocket(url, SUBPROTOCOL);
  socket.onmessage = (event: { data: unknown }) => onMessage(event.data);
  socket.onclose = (event: { code: number; reason: string }) => onClose(event.code, event.reason ?? '');
  // Every error is followed by a close event; `ws` also throws on an error nobody listens to.
  socket.onerror = ignore;
  return socket;
}

export function dropSocket(socket: WebSocketLike): void {
  socket.onmessage = socket.onclose = socket.onerror = ignore;
  try {
    if (socket.terminate) socket.terminate();
    else socket.close(1000);
  } catch {
    // Already closing: nothing left to release.
  }
}

function ignore(): void {}
