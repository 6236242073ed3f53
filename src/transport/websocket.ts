/**
 * The WebSocket transport: admission (origin, connection limit, draining,
 * token) at upgrade, the life of each socket, and the node-wide sweeps that
 * enforce token expiry and shed slow consumers. What frames mean is
 * client.ts's business.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, WebSocketBehavior } from 'uWebSockets.js';
import type { Authenticator, AuthOutcome } from '../auth/authenticator.js';
import { ClientProtocol, type ClientDeps, type ClientSocket, type Connection } from '../client.js';
import type { Limits } from '../config.js';
import { CloseCode, type AuthFailure } from '../errors.js';
import type { Hub } from '../hub.js';
import { ExpiryWheel } from '../lifecycle/expiry.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { JoinedSocket } from '../history/streams.js';
import type { PresenceTracker } from '../presence/tracker.js';
import { encodeUnsubscribed, encodeWelcome } from '../protocol/frames.js';
import { sendError } from './http.js';

export const WEBSOCKET_PATH = '/ws';
const SUBPROTOCOL = 'herald.v1';
/** How often expiry is checked: tokens are enforced within this of their `exp`. */
const EXPIRY_TICK_MS = 250;
/** How often buffered output is compared with HERALD_MAX_BACKPRESSURE. */
const BACKPRESSURE_SWEEP_MS = 1000;
/** A shed consumer that never reads its backlog is cut off after this. */
const SHED_GRACE_MS = 10_000;
/** Closes due within this of each other go out together, so a drain of 100,000 sockets is not 100,000 timers. */
const DRAIN_MIN_STEP_MS = 5;
/** Close codes reported as themselves in herald_disconnections_total; others are "other", to bound the label. */
const KNOWN_CLOSE_CODES = new Set([1000, 1001, 1005, 1006, 1009, 1011, 4001, 4008, 4029]);

export interface WebSocketDeps {
  readonly nodeId: string;
  readonly limits: Limits;
  readonly allowedOrigins: readonly string[];
  readonly authenticator: Authenticator;
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly publisher: ClientDeps['publisher'];
  readonly presence: ClientDeps['presence'];
  /** Undefined when no topic has presence. */
  readonly tracker: PresenceTracker | undefined;
}

export class WebSocketTransport {
  /** Open, authenticated sockets: walked only by the sweeps and the drain, never per message. */
  readonly sockets = new Set<ClientSocket>();
  private readonly expiry = new ExpiryWheel<ClientSocket>(Date.now() / 1000);
  private readonly protocol: ClientProtocol;
  private readonly origins: ReadonlySet<string>;
  private pendingUpgrades = 0;
  /** Subscriptions held by local sockets, kept from uWebSockets.js's subscription events. */
  private subscriptionCount = 0;
  private nextId = 1;
  private draining = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: WebSocketDeps) {
    this.origins = new Set(deps.allowedOrigins);
    this.protocol = new ClientProtocol({ ...deps, expiry: this.expiry });
  }

  /** Registers /ws on the app and starts the sweeps. */
  attach(app: TemplatedApp): void {
    const { limits } = this.deps;
    const behavior: WebSocketBehavior<Connection> = {
      // Frames between the configured limit and twice it reach Herald, which closes with 1009;
      // beyond that uWebSockets.js drops the connection itself.
      maxPayloadLength: limits.maxPayload * 2,
      maxBackpressure: limits.maxBackpressure,
      closeOnBackpressureLimit: 0,
      idleTimeout: limits.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, bytes, isBinary) => this.protocol.handleFrame(ws, ws.getUserData(), bytes, isBinary),
      drain: (ws) => this.drained(ws),
      close: (ws, code) => this.closed(ws, code),
      subscription: (ws, topic, newCount, oldCount) => this.subscriptionChanged(ws, topic, newCount, oldCount),
    };
    app.ws(WEBSOCKET_PATH, behavior);
    this.timers.push(setInterval(() => this.expireTokens(), EXPIRY_TICK_MS).unref());
    this.timers.push(setInterval(() => this.sweepBackpressure(), BACKPRESSURE_SWEEP_MS).unref());
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  get subscriptions(): number {
    return this.subscriptionCount;
  }

  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    if (this.draining) return sendError(res, 'unavailable', 'node is draining; connect to another node', true);
    const origin = req.getHeader('origin');
    if (this.origins.size > 0 && origin !== '' && !this.origins.has(origin.toLowerCase())) {
      return sendError(res, 'forbidden', 'origin not allowed', true);
    }
    const max = this.deps.limits.maxConnections;
    if (max > 0 && this.sockets.size + this.pendingUpgrades >= max) {
      return sendError(res, 'unavailable', 'node is at its connection limit; connect to another node', true);
    }
    // Everything the upgrade needs from the request must be read now: req does not outlive this call.
    const key = req.getHeader('sec-websocket-key');
    const extensions = req.getHeader('sec-websocket-extensions');
    const protocol = chooseSubprotocol(req.getHeader('sec-websocket-protocol'));
    const token = tokenFrom(req);

    const upgradeWith = (identity: AuthOutcome | undefined): void => {
      const conn: Connection = {
        id: this.nextId++,
        identity: identity?.ok ? identity.identity : undefined,
        authFailure: identity === undefined ? 'token_missing' : identity.ok ? undefined : identity.reason,
        subscriptions: 0,
        tokens: this.deps.limits.clientBurst,
        refilledAt: Date.now(),
        strikes: 0,
        strikesSince: 0,
        repliedAt: 0,
        authQueue: undefined,
        inProgress: undefined,
        closed: false,
        shedding: false,
        shedAt: 0,
      };
      res.upgrade(conn, key, protocol, extensions, context);
    };

    if (token === undefined) return upgradeWith(undefined);
    if (token === MALFORMED_BEARER) return upgradeWith(MALFORMED_OUTCOME);
    const outcome = this.deps.authenticator.verify(token);
    if (!('then' in outcome)) return upgradeWith(outcome);

    // Verification went asynchronous (a JWKS key fetch): uWebSockets.js requires an abort handler meanwhile.
    let aborted = false;
    this.pendingUpgrades++;
    res.onAborted(() => {
      aborted = true;
    });
    void outcome.then((settled) => {
      this.pendingUpgrades--;
      if (!aborted) res.cork(() => upgradeWith(settled));
    });
  }

  private open(ws: ClientSocket): void {
    const conn = ws.getUserData();
    const identity = conn.identity;
    if (identity === undefined) {
      const reason: AuthFailure = conn.authFailure ?? 'token_invalid';
      this.deps.metrics.authFailures.inc({ reason });
      this.deps.log.info({ conn: conn.id, reason }, 'connection rejected: authentication failed');
      conn.closed = true;
      ws.end(CloseCode.auth, reason);
      return;
    }
    if (this.draining) {
      conn.closed = true;
      ws.end(CloseCode.draining, 'draining');
      return;
    }
    this.sockets.add(ws);
    if (identity.exp !== null) this.expiry.add(ws, identity.exp);
    this.deps.metrics.connectionsOpened.inc();
    this.deps.log.debug({ conn: conn.id, sub: identity.sub }, 'connection opened');
    ws.send(encodeWelcome(this.deps.nodeId, identity.sub, identity.exp));
  }

  private closed(ws: ClientSocket, code: number): void {
    const conn = ws.getUserData();
    const wasOpen = this.sockets.delete(ws);
    conn.closed = true;
    if (!wasOpen) return;
    if (conn.identity?.exp != null) this.expiry.remove(ws, conn.identity.exp);
    this.deps.metrics.disconnections.inc({ code: KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other' });
    this.deps.log.debug({ conn: conn.id, sub: conn.identity?.sub, code }, 'connection closed');
  }

  /**
   * uWebSockets.js reports every subscribe and unsubscribe of every socket,
   * also those of a closing socket (before its close handler), with the
   * topic's new and old local counts.
   */
  private subscriptionChanged(ws: ClientSocket, topicBytes: ArrayBuffer, newCount: number, oldCount: number): void {
    const { hub, tracker } = this.deps;
    const gained = newCount > oldCount;
    if (gained) this.subscriptionCount++;
    else this.subscriptionCount--;
    const edge = gained ? oldCount === 0 : newCount === 0;
    if (!edge && tracker === undefined) return;
    const topic = Buffer.from(topicBytes).toString('latin1');
    if (tracker !== undefined) {
      const identity = ws.getUserData().identity;
      if (identity !== undefined) {
        if (gained) tracker.joined(topic, identity.sub, identity.info);
        else tracker.left(topic, identity.sub);
      }
    }
    if (edge) {
      if (gained) hub.topicGained(topic);
      else hub.topicLost(topic);
    }
  }

  /**
   * Every open socket joined to `topic`, as a history reset needs them: it
   * tells each `unsubscribed` (reason `reset`) and takes it out of the topic.
   * Walks every socket, which is why only resets (rare) use it.
   */
  forEachJoined(topic: string, visit: (socket: JoinedSocket) => void): void {
    for (const ws of this.sockets) {
      if (!ws.isSubscribed(topic)) continue;
      visit({
        reset: () => {
          const conn = ws.getUserData();
          if (conn.closed) return;
          ws.cork(() => {
            if (ws.unsubscribe(topic)) conn.subscriptions--;
            ws.send(encodeUnsubscribed(topic, 'reset'));
          });
        },
      });
    }
  }

  private expireTokens(): void {
    const now = Date.now() / 1000;
    for (const ws of this.expiry.expire(now)) {
      const conn = ws.getUserData();
      if (conn.closed) continue;
      // A refreshed token moved the socket to a later bucket; anything still here has expired.
      this.deps.log.info({ conn: conn.id, sub: conn.identity?.sub, reason: 'token_expired' }, 'closing connection: token expired');
      this.deps.metrics.authFailures.inc({ reason: 'token_expired' });
      ws.end(CloseCode.auth, 'token_expired');
    }
  }

  /**
   * Slow consumers. uWebSockets.js stops queueing frames for a socket over
   * HERALD_MAX_BACKPRESSURE; the sweep finds such sockets, unsubscribes them
   * (so nothing more is queued), and closes them with 4008 once their backlog
   * has flushed, which is the only way the close frame can reach the client.
   */
  private sweepBackpressure(): void {
    const limit = this.deps.limits.maxBackpressure;
    const now = Date.now();
    for (const ws of this.sockets) {
      const conn = ws.getUserData();
      if (conn.shedding) {
        if (now - conn.shedAt > SHED_GRACE_MS) ws.end(CloseCode.slowConsumer, 'slow_consumer');
        continue;
      }
      if (ws.getBufferedAmount() < limit) continue;
      conn.shedding = true;
      conn.shedAt = now;
      this.deps.metrics.dropped.inc({ reason: 'slow_consumer' });
      this.deps.log.info({ conn: conn.id, sub: conn.identity?.sub, buffered: ws.getBufferedAmount() }, 'shedding slow consumer');
      for (const topic of ws.getTopics()) ws.unsubscribe(topic);
      // History subscribes still catching up are abandoned too: they never join.
      conn.inProgress = undefined;
      conn.subscriptions = 0;
    }
  }

  private drained(ws: ClientSocket): void {
    const conn = ws.getUserData();
    if (conn.shedding && ws.getBufferedAmount() === 0) ws.end(CloseCode.slowConsumer, 'slow_consumer');
  }

  /**
   * Refuses new connections and closes the open ones with 1001, spread evenly
   * over `seconds` whatever their number (socket i of n at i/n of the window),
   * so that clients do not all reconnect to the remaining nodes in the same
   * instant. Resolves when every socket is closed.
   */
  async drain(seconds: number): Promise<void> {
    this.draining = true;
    const sockets = [...this.sockets];
    const total = sockets.length;
    const windowMs = seconds * 1000;
    const start = Date.now();
    let next = 0;
    while (next < total) {
      const elapsed = Date.now() - start;
      // Every socket whose slot (i * window / n) has come.
      const due = windowMs === 0 ? total : Math.min(total, Math.floor((elapsed * total) / windowMs) + 1);
      for (; next < due; next++) {
        const ws = sockets[next]!;
        if (!ws.getUserData().closed) ws.end(CloseCode.draining, 'draining');
      }
      if (next < total) {
        const wait = Math.max(DRAIN_MIN_STEP_MS, (next * windowMs) / total - (Date.now() - start));
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Closes every socket at once without a close frame (tests and the end of a drain). */
  close(): void {
    this.draining = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const ws of [...this.sockets]) ws.close();
  }
}

/**
 * Where the upgrade's token is: an `Authorization: Bearer` header, else the
 * `token` query parameter. A header of another scheme (Basic credentials for a
 * proxy, say) is not Herald's and is ignored; a Bearer header that is
 * malformed is a bad token, not a missing one.
 */
function tokenFrom(req: HttpRequest): string | undefined | typeof MALFORMED_BEARER {
  const authorization = req.getHeader('authorization');
  if (/^bearer(\s|$)/i.test(authorization)) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match === null ? MALFORMED_BEARER : match[1];
  }
  const query = req.getQuery('token');
  return query === undefined || query === '' ? undefined : query;
}

const MALFORMED_BEARER = Symbol('malformed bearer header');
const MALFORMED_OUTCOME: AuthOutcome = { ok: false, reason: 'token_invalid', detail: 'malformed Authorization: Bearer header' };

/** Echo "herald.v1" when offered, else the first offered protocol: browsers fail a handshake that offered protocols and got none back. */
function chooseSubprotocol(header: string): string {
  if (header === '') return '';
  const offered = header.split(',').map((p) => p.trim());
  return offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : offered[0] ?? '';
}
