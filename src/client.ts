/**
 * One connection's protocol: what each client frame does, in order of the
 * checks a client can observe. The transport (transport/websocket.ts) owns the
 * socket's life; this module owns what is said on it.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { Authenticator, AuthOutcome, Identity } from './auth/authenticator.js';
import type { Broker } from './broker/broker.js';
import type { Limits } from './config.js';
import { CloseCode, type AuthFailure, type ErrorCode } from './errors.js';
import type { Hub } from './hub.js';
import { refuse, takeToken } from './lifecycle/rate-limit.js';
import type { ExpiryWheel } from './lifecycle/expiry.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { decodeClientFrame, encodeAck, encodeError, encodePong, encodeUnsubscribed, type FrameId } from './protocol/frames.js';
import { isValidTopic } from './protocol/topics.js';

/** Per-connection state, kept as uWebSockets.js user data. Flat on purpose: it is multiplied by every connection. */
export interface Connection {
  readonly id: number;
  /** Undefined when the upgrade's token was rejected; the socket is then closed with 4001 on open. */
  identity: Identity | undefined;
  authFailure: AuthFailure | undefined;
  subscriptions: number;
  /** Token bucket (lifecycle/rate-limit.ts). */
  tokens: number;
  refilledAt: number;
  /** Frames refused by the rate limit in the window that began at strikesSince (lifecycle/rate-limit.ts). */
  strikes: number;
  strikesSince: number;
  /** When the last rate_limited error frame was sent. */
  repliedAt: number;
  /** The `auth` frames still being verified: each applies only after the one before it. */
  authQueue: Promise<void> | undefined;
  /** Set by the close handler; async work checks it before touching the socket. */
  closed: boolean;
  /** Over HERALD_MAX_BACKPRESSURE: unsubscribed and waiting for its output to flush before 4008. */
  shedding: boolean;
  shedAt: number;
}

export type ClientSocket = WebSocket<Connection>;

export interface ClientDeps {
  readonly hub: Hub;
  readonly broker: Broker;
  readonly authenticator: Authenticator;
  readonly metrics: Metrics;
  readonly limits: Limits;
  readonly expiry: ExpiryWheel<ClientSocket>;
  readonly log: Logger;
}

export class ClientProtocol {
  private readonly publishedByClients;

  constructor(private readonly deps: ClientDeps) {
    this.publishedByClients = deps.metrics.published.labels({ source: 'client' });
  }

  handleFrame(ws: ClientSocket, conn: Connection, bytes: ArrayBuffer, isBinary: boolean): void {
    if (conn.shedding || conn.identity === undefined) return;
    const { limits } = this.deps;
    // uWebSockets.js accepts frames up to twice this limit (it drops larger ones without a close frame); Herald answers with a proper 1009.
    if (bytes.byteLength > limits.maxPayload) {
      ws.end(CloseCode.frameTooLarge, 'payload_too_large');
      return;
    }
    const now = Date.now();
    if (!takeToken(conn, now, limits.clientRate, limits.clientBurst)) {
      // A refused frame is not even decoded: a flood costs as little as possible.
      const verdict = refuse(conn, now, limits.rateLimitCloseAfter);
      if (verdict === 'close') ws.end(CloseCode.rateLimited, 'rate_limited');
      else if (verdict === 'reply') this.fail(ws, undefined, 'rate_limited', `over ${limits.clientRate} frames per second; frames are being ignored`);
      return;
    }

    const decoded = decodeClientFrame(bytes, isBinary);
    if (!decoded.ok) {
      this.fail(ws, decoded.id, decoded.code, decoded.message);
      return;
    }
    const frame = decoded.frame;
    switch (frame.type) {
      case 'subscribe':
        this.subscribe(ws, conn, conn.identity, frame.id, frame.topic);
        return;
      case 'unsubscribe':
        this.unsubscribe(ws, conn, frame.id, frame.topic);
        return;
      case 'publish':
        this.publish(ws, conn, conn.identity, frame.id, frame.topic, frame.data);
        return;
      case 'ping':
        ws.send(encodePong(frame.id));
        return;
      case 'auth':
        this.reauthenticate(ws, conn, frame.id, frame.token);
        return;
    }
  }

  private subscribe(ws: ClientSocket, conn: Connection, identity: Identity, id: FrameId, topic: string): void {
    if (!isValidTopic(topic)) return this.fail(ws, id, 'invalid_topic', `"${topic.slice(0, 300)}" is not a valid topic`);
    if (ws.isSubscribed(topic)) {
      ws.send(encodeAck(id));
      return;
    }
    if (!identity.grants.canSubscribe(topic, identity.sub)) return this.fail(ws, id, 'forbidden', `the token does not allow subscribing to ${topic}`);
    if (conn.subscriptions >= this.deps.limits.maxSubscriptions) {
      return this.fail(ws, id, 'too_many_subscriptions', `at most ${this.deps.limits.maxSubscriptions} subscriptions per connection`);
    }
    ws.subscribe(topic);
    conn.subscriptions++;
    const ready = this.deps.hub.ensure(topic);
    if (ready === undefined) {
      ws.send(encodeAck(id));
      return;
    }
    ready.then(
      () => this.later(ws, conn, encodeAck(id)),
      (error: unknown) => {
        this.deps.log.warn({ conn: conn.id, topic, err: error }, 'broker subscribe failed');
        if (!conn.closed && ws.unsubscribe(topic)) conn.subscriptions--;
        this.failLater(ws, conn, id, 'unavailable', `cannot subscribe to ${topic} now: broker unavailable`);
      },
    );
  }

  private unsubscribe(ws: ClientSocket, conn: Connection, id: FrameId, topic: string): void {
    if (!isValidTopic(topic)) return this.fail(ws, id, 'invalid_topic', `"${topic.slice(0, 300)}" is not a valid topic`);
    if (ws.unsubscribe(topic)) conn.subscriptions--;
    ws.send(encodeAck(id));
  }

  private publish(ws: ClientSocket, conn: Connection, identity: Identity, id: FrameId, topic: string, data: unknown): void {
    if (!isValidTopic(topic)) return this.fail(ws, id, 'invalid_topic', `"${topic.slice(0, 300)}" is not a valid topic`);
    if (!identity.grants.canPublish(topic, identity.sub)) return this.fail(ws, id, 'forbidden', `the token does not allow publishing to ${topic}`);
    const json = JSON.stringify(data);
    const size = Buffer.byteLength(json, 'utf8');
    if (size > this.deps.limits.maxMessageSize) {
      return this.fail(ws, id, 'payload_too_large', `data is ${size} bytes; at most ${this.deps.limits.maxMessageSize}`);
    }
    this.publishedByClients.inc();
    this.deps.broker.publish(topic, { data: json, ts: Date.now() }).then(
      () => this.later(ws, conn, encodeAck(id)),
      () => this.failLater(ws, conn, id, 'unavailable', 'message not published: broker unavailable'),
    );
  }

  /**
   * Verifications run side by side, but their outcomes apply in frame order:
   * a slow JWKS fetch for one token can never overwrite a later token that was
   * already acknowledged, and the last `auth` frame's token is the one in force.
   */
  private reauthenticate(ws: ClientSocket, conn: Connection, id: FrameId, token: string): void {
    const outcome = this.deps.authenticator.verify(token);
    const previous = conn.authQueue;
    if (previous === undefined && !('then' in outcome)) {
      this.applyToken(ws, conn, id, outcome);
      return;
    }
    const applied: Promise<void> = (previous ?? Promise.resolve())
      .then(() => outcome)
      .then((settled) => {
        this.applyToken(ws, conn, id, settled);
        if (conn.authQueue === applied) conn.authQueue = undefined;
      });
    conn.authQueue = applied;
  }

  private applyToken(ws: ClientSocket, conn: Connection, id: FrameId, outcome: AuthOutcome): void {
    // The identity in force now, not when the frame arrived: an earlier `auth` may have replaced it meanwhile.
    const current = conn.identity;
    if (conn.closed || current === undefined) return;
    if (!outcome.ok) {
      this.deps.metrics.authFailures.inc({ reason: outcome.reason });
      this.deps.log.info({ conn: conn.id, sub: current.sub, reason: outcome.reason, detail: outcome.detail }, 'token refresh rejected');
      this.failLater(ws, conn, id, 'token_invalid', outcome.reason === 'token_expired' ? 'new token has expired' : `new token rejected: ${outcome.detail}`);
      return;
    }
    const next = outcome.identity;
    if (next.sub !== current.sub) {
      this.failLater(ws, conn, id, 'token_invalid', 'new token has a different "sub"');
      return;
    }
    const { expiry } = this.deps;
    if (current.exp !== null) expiry.remove(ws, current.exp);
    if (next.exp !== null) expiry.add(ws, next.exp);
    conn.identity = next;
    ws.cork(() => {
      for (const topic of ws.getTopics()) {
        if (next.grants.canSubscribe(topic, next.sub)) continue;
        if (ws.unsubscribe(topic)) conn.subscriptions--;
        ws.send(encodeUnsubscribed(topic, 'forbidden'));
      }
      ws.send(encodeAck(id));
    });
  }

  private fail(ws: ClientSocket, id: FrameId, code: ErrorCode, message: string): void {
    this.deps.metrics.clientErrors.inc({ code });
    ws.send(encodeError(id, code, message));
  }

  /** Replies from a callback that uWebSockets.js did not call: such sends must be corked. */
  private later(ws: ClientSocket, conn: Connection, frame: string): void {
    if (conn.closed) return;
    ws.cork(() => ws.send(frame));
  }

  private failLater(ws: ClientSocket, conn: Connection, id: FrameId, code: ErrorCode, message: string): void {
    if (conn.closed) return;
    this.deps.metrics.clientErrors.inc({ code });
    ws.cork(() => ws.send(encodeError(id, code, message)));
  }
}
