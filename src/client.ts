/**
 * One connection's protocol: what each client frame does, in order of the
 * checks a client can observe. The transport (transport/websocket.ts) owns the
 * socket's life; this module owns what is said on it.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { Authenticator, AuthOutcome, Identity } from './auth/authenticator.js';
import type { Limits } from './config.js';
import { CloseCode, type AuthFailure, type ErrorCode } from './errors.js';
import type { Since } from './history/recovery.js';
import type { Subscriber } from './history/streams.js';
import type { Hub } from './hub.js';
import { refuse, takeToken } from './lifecycle/rate-limit.js';
import type { ExpiryWheel } from './lifecycle/expiry.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { PresencePolicies, PresenceStore } from './presence/presence.js';
import { decodeClientFrame, encodeAck, encodeError, encodePong, encodePresence, encodePresenceCount, encodeUnsubscribed, type FrameId } from './protocol/frames.js';
import { isValidTopic } from './protocol/topics.js';
import type { Publisher } from './publisher.js';

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
  /** History subscribes being carried out (recovering, not yet joined), by topic: what unsubscribe cancels. */
  inProgress: Map<string, object> | undefined;
  /** Set by the close handler; async work checks it before touching the socket. */
  closed: boolean;
  /** Over HERALD_MAX_BACKPRESSURE: unsubscribed and waiting for its output to flush before 4008. */
  shedding: boolean;
  shedAt: number;
}

export type ClientSocket = WebSocket<Connection>;

export interface ClientDeps {
  readonly hub: Hub;
  readonly publisher: Publisher;
  /** Undefined when no topic has presence. */
  readonly presence: { readonly store: PresenceStore; readonly policies: PresencePolicies } | undefined;
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
        this.subscribe(ws, conn, conn.identity, frame.id, frame.topic, frame.since);
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
      case 'presence':
      case 'presence_count':
        this.presence(ws, conn, conn.identity, frame.id, frame.topic, frame.type === 'presence_count');
        return;
      case 'auth':
        this.reauthenticate(ws, conn, frame.id, frame.token);
        return;
    }
  }

  private subscribe(ws: ClientSocket, conn: Connection, identity: Identity, id: FrameId, topic: string, since: Since | undefined): void {
    if (!isValidTopic(topic)) return this.fail(ws, id, 'invalid_topic', `"${topic.slice(0, 300)}" is not a valid topic`);
    const { hub } = this.deps;
    const history = hub.hasHistory(topic);
    if (ws.isSubscribed(topic)) {
      // Already receiving: nothing to replay; the ack says where the live stream is.
      const position = history ? hub.positionOf(topic) : undefined;
      const recovered = since === undefined ? undefined : position !== undefined && 'offset' in since && since.epoch === position.epoch && since.offset === position.offset;
      ws.send(encodeAck(id, position === undefined ? (since === undefined ? undefined : { recovered: false }) : { ...position, recovered }));
      return;
    }
    if (conn.inProgress?.has(topic) === true) return this.fail(ws, id, 'bad_request', `a subscribe to ${topic} is already in progress`);
    if (!identity.grants.canSubscribe(topic, identity.sub)) return this.fail(ws, id, 'forbidden', `the token does not allow subscribing to ${topic}`);
    if (conn.subscriptions >= this.deps.limits.maxSubscriptions) {
      return this.fail(ws, id, 'too_many_subscriptions', `at most ${this.deps.limits.maxSubscriptions} subscriptions per connection`);
    }
    conn.subscriptions++;
    if (history) {
      hub.subscribeHistory(topic, this.subscriber(ws, conn, id, topic), since);
      return;
    }
    // `since` on a topic without history: nothing can be recovered, and the ack says so.
    const fields = since === undefined ? undefined : { recovered: false };
    ws.subscribe(topic);
    const ready = hub.ensure(topic);
    if (ready === undefined) {
      ws.send(encodeAck(id, fields));
      return;
    }
    ready.then(
      () => this.later(ws, conn, encodeAck(id, fields)),
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
    // A history subscribe still being carried out is abandoned: its socket never joins.
    else if (conn.inProgress?.delete(topic) === true) conn.subscriptions--;
    ws.send(encodeAck(id));
  }

  /**
   * The socket as a history topic's stream sees it while it carries out one
   * subscribe (history/streams.ts). Lives only until the socket has joined.
   */
  private subscriber(ws: ClientSocket, conn: Connection, id: FrameId, topic: string): Subscriber {
    const token = {};
    (conn.inProgress ??= new Map()).set(topic, token);
    const current = (): boolean => !conn.closed && conn.inProgress?.get(topic) === token;
    const finish = (): void => {
      conn.inProgress?.delete(topic);
      if (conn.inProgress?.size === 0) conn.inProgress = undefined;
    };
    const { maxBackpressure } = this.deps.limits;
    return {
      get gone() {
        return !current();
      },
      send: (frames) => {
        if (!current()) return;
        ws.cork(() => {
          for (const frame of frames) ws.send(frame);
        });
      },
      join: () => {
        if (!current()) return;
        finish();
        ws.subscribe(topic);
      },
      fail: (message) => {
        if (!current()) return;
        finish();
        conn.subscriptions--;
        this.failLater(ws, conn, id, 'unavailable', `cannot subscribe to ${topic} now: ${message}`);
      },
      reset: () => {
        if (!current()) return;
        finish();
        conn.subscriptions--;
        this.later(ws, conn, encodeUnsubscribed(topic, 'reset'));
      },
      ack: (position, recovered) => encodeAck(id, { offset: position.offset, epoch: position.epoch, recovered }),
      capacity: () => maxBackpressure - ws.getBufferedAmount(),
    };
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
    this.deps.publisher.publish(topic, { data: json, ts: Date.now() }).then(
      (published) => this.later(ws, conn, encodeAck(id, published.offset === undefined ? undefined : { offset: published.offset, epoch: published.epoch! })),
      () => this.failLater(ws, conn, id, 'unavailable', 'message not published: broker unavailable'),
    );
  }

  /**
   * Verifications run side by side, but their outcomes apply in frame order:
   * a slow JWKS fetch for one token can never overwrite a later token that was
   * already acknowledged, and the last `auth` frame's token is the one in force.
   */
  /** Who is in a topic: allowed to whoever may subscribe to it. */
  private presence(ws: ClientSocket, conn: Connection, identity: Identity, id: FrameId, topic: string, countOnly: boolean): void {
    if (!isValidTopic(topic)) return this.fail(ws, id, 'invalid_topic', `"${topic.slice(0, 300)}" is not a valid topic`);
    if (!identity.grants.canSubscribe(topic, identity.sub)) return this.fail(ws, id, 'forbidden', `the token does not allow subscribing to ${topic}, so neither asking who is in it`);
    const presence = this.deps.presence;
    if (presence === undefined || !presence.policies.has(topic)) return this.fail(ws, id, 'no_presence', `topic ${topic} has no presence (see HERALD_PRESENCE)`);
    const announce = presence.policies.announces(topic);
    const reply = countOnly
      ? presence.store.count(topic, announce).then((count) => encodePresenceCount(id, topic, count.users, count.connections))
      : presence.store.list(topic, announce).then((users) => encodePresence(id, topic, users));
    reply.then(
      (frame) => this.later(ws, conn, frame),
      () => this.failLater(ws, conn, id, 'unavailable', 'presence unavailable; retry later'),
    );
  }

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
