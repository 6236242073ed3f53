/**
 * The connection state machine. One client holds at most one socket at any
 * time; it reconnects by the close-code policy (close-codes.ts) with backoff
 * (backoff.ts), restores every subscription of the registry on each new
 * connection, refreshes its token ahead of expiry, and notices dead
 * connections (liveness.ts).
 *
 *   closed --connect()--> connecting --welcome--> connected
 *      ^                    |   ^                    |
 *      |   stop / close()   |   | delay elapsed      | socket lost
 *      +--------------------+   +-- disconnected <---+
 */
import { backoff, reconnectDelay, type Delays } from './backoff.js';
import { closeAction } from './close-codes.js';
import { decode, encode, type ClientFrame, type WelcomeFrame } from './codec.js';
import { Emitter, type Listener } from './emitter.js';
import { HeraldError } from './errors.js';
import { Liveness } from './liveness.js';
import { Registry } from './registry.js';
import { Requests, type Done } from './requests.js';
import { Subscription, type Link, type Message, type SubscribeOptions } from './subscription.js';
import { refreshDelay, tokenExp } from './token.js';
import { dropSocket, findWebSocket, openSocket, withToken, type WebSocketConstructor, type WebSocketLike } from './transport.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface HeraldClientOptions {
  /** Herald's WebSocket endpoint, or several, tried in turn: each reconnect goes to the next. */
  readonly url: string | readonly string[];
  /** The first token. Without `getToken`, the client stops (state `closed`) when it is refused. */
  readonly token?: string;
  /** Called for the first token when `token` is absent, ahead of each expiry, and after a 4001 close. */
  readonly getToken?: () => string | Promise<string>;
  /** WebSocket constructor; default the global one (browsers, React Native, Node 22+). Node 20: `WebSocket` from `ws`. */
  readonly WebSocket?: WebSocketConstructor;
  /** Connect in the constructor instead of waiting for connect(). Default false. */
  readonly autoConnect?: boolean;
  /** Backoff floor and ceiling. Default 500 ms and 20 s. */
  readonly minReconnectDelayMs?: number;
  readonly maxReconnectDelayMs?: number;
  /** Ping after this long without a frame from the server; 0 turns liveness checks off. Default 20 s. */
  readonly pingIntervalMs?: number;
  /** Reconnect when nothing arrives this long after a ping. Default 10 s. */
  readonly pongTimeoutMs?: number;
  /** Longest wait for a reply (ack, error) and for the welcome frame. Default 10 s. */
  readonly timeoutMs?: number;
  /** Refresh the token this long before its `exp` (halfway through, for shorter tokens). Default 30 s. */
  readonly refreshSkewMs?: number;
}

export interface ConnectedEvent {
  readonly node: string;
  readonly sub: string;
  readonly exp: number | null;
}

export interface DisconnectedEvent {
  /** The close code (docs/protocol.md); 1006 when the client gave the connection up itself, or it never opened. */
  readonly code: number;
  readonly reason: string;
  readonly willReconnect: boolean;
  /** When it will reconnect: after this many milliseconds. */
  readonly delayMs?: number;
}

export interface ClientEvents {
  state: ConnectionState;
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  /** Errors that belong to no call: a failed token refresh, an error frame without id. */
  error: HeraldError;
}

export const DEFAULTS = {
  minReconnectDelayMs: 500,
  maxReconnectDelayMs: 20_000,
  pingIntervalMs: 20_000,
  pongTimeoutMs: 10_000,
  timeoutMs: 10_000,
  refreshSkewMs: 30_000,
} as const;

type Settings = { readonly [K in keyof typeof DEFAULTS]: number };

/** A connection that stayed up this long resets the backoff. */
export const STABLE_MS = 5000;

export class HeraldClient extends Emitter<ClientEvents> {
  state: ConnectionState = 'closed';
  private readonly settings: Settings;
  private readonly delays: Delays;
  private readonly urls: readonly string[];
  private readonly WebSocket: WebSocketConstructor;
  private readonly getToken: (() => string | Promise<string>) | undefined;
  private readonly registry = new Registry();
  private readonly requests = new Requests();
  private readonly liveness: Liveness;
  private readonly link: Link;
  private socket: WebSocketLike | undefined;
  private token: string | undefined;
  /** Expiry of `token` in unix seconds; null when it has none or it cannot be read. */
  private exp: number | null = null;
  private urlIndex = -1;
  private attempts = 0;
  private connectedAt = 0;
  /** Bumped whenever a connection ends: asynchronous work started for an earlier one checks it and stops. */
  private run = 0;
  private timer: unknown;
  private refreshTimer: unknown;

  constructor(options: HeraldClientOptions) {
    super();
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.settings = { ...DEFAULTS, ...given } as Settings;
    this.delays = { minMs: this.settings.minReconnectDelayMs, maxMs: this.settings.maxReconnectDelayMs };
    this.urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (this.urls.length === 0) throw new TypeError('HeraldClient needs a url');
    if (options.token === undefined && options.getToken === undefined) throw new TypeError('HeraldClient needs a token or getToken');
    this.WebSocket = findWebSocket(options.WebSocket);
    this.getToken = options.getToken;
    if (options.token !== undefined) this.setToken(options.token);
    this.liveness = new Liveness(this.settings.pingIntervalMs, this.settings.pongTimeoutMs, () => this.send({ type: 'ping' }), () => this.abandon('no_pong'));
    const client = this;
    this.link = {
      get connected() {
        return client.state === 'connected';
      },
      request: (frame, done) => this.request(frame, done),
      forget: (subscription, tell) => {
        if (this.registry.remove(subscription) && tell && this.state === 'connected') this.request({ type: 'unsubscribe', topic: subscription.topic }, () => undefined);
      },
      retryDelay: (attempt) => backoff(attempt, this.delays),
    };
    if (options.autoConnect) this.connect();
  }

  /** Starts connecting, unless already connecting or connected. */
  connect(): void {
    if (this.state !== 'closed') return;
    this.attempts = 0;
    void this.open();
  }

  /** Closes the connection and stops reconnecting. Subscriptions stay registered for a later connect(). */
  close(): void {
    if (this.state === 'closed') return;
    this.teardown();
    this.setState('closed');
    this.emit('disconnected', { code: 1000, reason: 'client', willReconnect: false });
  }

  /**
   * Subscribes now if connected, else as soon as a connection is up, and again
   * after every reconnect, until unsubscribe(). One subscription per topic.
   */
  subscribe(topic: string, onMessage?: Listener<Message>, options: SubscribeOptions = {}): Subscription {
    if (this.registry.get(topic) !== undefined) {
      throw new HeraldError('already_subscribed', `already subscribed to ${topic}: use getSubscription(), or unsubscribe first`);
    }
    const subscription = new Subscription(topic, this.link, options);
    if (onMessage !== undefined) subscription.on('message', onMessage);
    this.registry.add(subscription);
    subscription.send();
    return subscription;
  }

  getSubscription(topic: string): Subscription | undefined {
    return this.registry.get(topic);
  }

  /**
   * Resolves when Herald acknowledged the message; rejects with the error's
   * code. Not connected: rejects at once with `not_connected`; nothing is
   * queued to be sent later.
   */
  publish(topic: string, data: unknown): Promise<void> {
    return this.ask({ type: 'publish', topic, data });
  }

  private ask(frame: ClientFrame): Promise<void> {
    return new Promise((resolve, reject) => this.request(frame, (error) => (error ? reject(error) : resolve())));
  }

  private request(frame: ClientFrame, done: Done): void {
    if (this.state !== 'connected') return done(new HeraldError('not_connected', `not connected (${this.state})`));
    this.requests.open((id) => this.send(frame, id), this.settings.timeoutMs, done);
  }

  private send(frame: ClientFrame, id?: number): void {
    this.socket?.send(encode(frame, id));
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private setToken(token: string): void {
    this.token = token;
    this.exp = tokenExp(token) ?? null;
  }

  private async open(): Promise<void> {
    const run = ++this.run;
    this.setState('connecting');
    // An expired token would only earn a 4001: get a fresh one first (a phone waking up hours later).
    if (this.getToken && (this.token === undefined || (this.exp !== null && this.exp * 1000 < Date.now() + 1000))) {
      let token: string;
      try {
        token = await this.getToken();
        if (typeof token !== 'string' || token === '') throw new Error('getToken returned no token');
      } catch (error) {
        if (run === this.run) this.stop(new HeraldError('token_unavailable', `getToken failed: ${(error as Error)?.message ?? error}`, error));
        return;
      }
      if (run !== this.run) return;
      this.setToken(token);
    }
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const socket: WebSocketLike = openSocket(
      this.WebSocket,
      withToken(this.urls[this.urlIndex]!, this.token!),
      (data) => socket === this.socket && this.receive(data),
      (code, reason) => socket === this.socket && this.lost(code, reason),
    );
    this.socket = socket;
    this.timer = setTimeout(() => this.abandon('no_welcome'), this.settings.timeoutMs);
  }

  private receive(data: unknown): void {
    this.liveness.received();
    const frame = decode(data);
    if (frame === undefined) return;
    switch (frame.type) {
      case 'welcome':
        return this.welcomed(frame);
      case 'error':
        if (frame.id === undefined) return this.emit('error', new HeraldError(frame.code, frame.message));
      // falls through: an error with an id answers a request
      case 'ack':
      case 'pong':
      case 'presence':
      case 'presence_count':
        return this.requests.settle(frame);
      default:
        return this.registry.route(frame);
    }
  }

  private welcomed(welcome: WelcomeFrame): void {
    if (this.state !== 'connecting') return;
    clearTimeout(this.timer);
    this.connectedAt = Date.now();
    // The server's reading of the token's expiry is the one it enforces.
    this.exp = welcome.exp;
    this.setState('connected');
    this.liveness.start();
    this.scheduleRefresh(0);
    this.registry.restore();
    this.emit('connected', { node: welcome.node, sub: welcome.sub, exp: welcome.exp });
  }

  /** The client gives the socket up itself (no welcome, no pong): reported as an abnormal closure. */
  private abandon(reason: string): void {
    this.lost(1006, reason);
  }

  private lost(code: number, reason: string): void {
    if (this.state === 'connected' && Date.now() - this.connectedAt >= STABLE_MS) this.attempts = 0;
    this.teardown();
    let action = closeAction(code);
    if (action === 'token') {
      if (this.getToken === undefined) action = 'stop';
      else this.token = undefined;
    }
    if (action === 'stop') {
      this.setState('closed');
      this.emit('disconnected', { code, reason, willReconnect: false });
      return;
    }
    const delayMs = reconnectDelay(action, this.attempts++, this.delays);
    this.timer = setTimeout(() => void this.open(), delayMs);
    this.setState('disconnected');
    if (this.state === 'disconnected') this.emit('disconnected', { code, reason, willReconnect: true, delayMs });
  }

  /** Gives up: no token could be had. */
  private stop(error: HeraldError): void {
    this.teardown();
    this.setState('closed');
    this.emit('error', error);
    this.emit('disconnected', { code: 4001, reason: 'token_unavailable', willReconnect: false });
  }

  private teardown(): void {
    this.run++;
    clearTimeout(this.timer);
    clearTimeout(this.refreshTimer);
    this.liveness.stop();
    if (this.socket !== undefined) dropSocket(this.socket);
    this.socket = undefined;
    this.requests.failAll('connection_lost');
    this.registry.interrupted();
  }

  /**
   * Proactive refresh over the `auth` frame. A failed attempt is retried with
   * backoff while the current token lasts; after that the server closes with
   * 4001 and the reconnect gets a new token.
   */
  private scheduleRefresh(failures: number): void {
    if (this.getToken === undefined || this.exp === null) return;
    const now = Date.now();
    const delay = failures === 0 ? refreshDelay(this.exp, now, this.settings.refreshSkewMs) : backoff(failures - 1, this.delays);
    if (failures > 0 && now + delay > this.exp * 1000 - 1000) return;
    this.refreshTimer = setTimeout(() => void this.refresh(failures), delay);
  }

  private async refresh(failures: number): Promise<void> {
    const run = this.run;
    try {
      const token = await this.getToken!();
      if (run !== this.run) return;
      const exp = tokenExp(token);
      if (typeof token !== 'string' || token === '' || (exp !== undefined && this.exp !== null && exp <= this.exp)) {
        throw new HeraldError('token_unavailable', 'getToken returned no token, or one that expires no later than the current one');
      }
      await this.ask({ type: 'auth', token });
      if (run !== this.run) return;
      this.setToken(token);
      this.scheduleRefresh(0);
    } catch (error) {
      if (run !== this.run) return;
      this.emit('error', error instanceof HeraldError ? error : new HeraldError('token_unavailable', `getToken failed: ${(error as Error)?.message ?? error}`, error));
      this.scheduleRefresh(failures + 1);
    }
  }
}
