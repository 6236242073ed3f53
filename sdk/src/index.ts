/** @herald/client: the official client of Herald's WebSocket protocol v1 (docs/protocol.md). */
export { HeraldClient, DEFAULTS, STABLE_MS } from './client.js';
export type { ClientEvents, ConnectedEvent, ConnectionState, DisconnectedEvent, HeraldClientOptions } from './client.js';
export { Subscription } from './subscription.js';
export type { GapEvent, Member, Message, Presence, PresenceCount, SubscribedEvent, SubscribeOptions, SubscriptionEvents, SubscriptionState, UnsubscribedEvent } from './subscription.js';
export { HeraldError, RETRYABLE } from './errors.js';
export type { ClientErrorCode, ErrorCode, ServerErrorCode } from './errors.js';
export { CLOSE_POLICY, closeAction } from './close-codes.js';
export type { CloseAction } from './close-codes.js';
export { backoff, reconnectDelay, SOON_MS } from './backoff.js';
export type { PresenceUser, Since } from './codec.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
export const VERSION = '0.1.0';
