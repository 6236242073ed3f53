/**
 * Builds one Herald node from its configuration and wires the parts:
 *
 *   client frame → transport/websocket (admission) → client (protocol, auth/grants)
 *     → hub (local subscriptions) → broker (between nodes)
 *     → hub.deliver (encode once) → uWebSockets.js fan-out
 *
 * Every part receives only the narrow dependencies it uses.
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { ApiKeys } from './auth/api-keys.js';
import { JwtAuthenticator } from './auth/authenticator.js';
import type { Broker } from './broker/broker.js';
import { MemoryBroker } from './broker/memory.js';
import { RedisBroker } from './broker/redis/broker.js';
import type { Config } from './config.js';
import { HistoryPolicies, type History } from './history/history.js';
import { MemoryHistory } from './history/memory.js';
import { RedisHistory } from './history/redis.js';
import { Hub } from './hub.js';
import { MemoryPresence } from './presence/memory.js';
import { PresencePolicies, type PresenceStore } from './presence/presence.js';
import { RedisPresence } from './presence/redis.js';
import { PresenceTracker } from './presence/tracker.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Publisher } from './publisher.js';
import { attachDemoRoutes, startDemoTicker } from './transport/demo.js';
import { attachHttpRoutes } from './transport/http.js';
import { attachMetricsRoutes } from './transport/metrics-server.js';
import { WebSocketTransport } from './transport/websocket.js';
import { loadUws } from './uws.js';

export interface HeraldOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Defaults to the broker the configuration selects. */
  readonly broker?: Broker;
}

export interface RunningHerald {
  readonly nodeId: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly metrics: Metrics;
  /** Graceful stop: not ready at once, connections closed with 1001 over HERALD_DRAIN_SECONDS, then everything released. */
  shutdown(): Promise<void>;
  /** Immediate stop without a drain. */
  close(): Promise<void>;
}

type ClosableApp = TemplatedApp & { close(): void };

/** The broker the configuration selects: in-memory for a single node, else Redis in one of its modes. */
export function createBroker(config: Config, log: Logger, metrics: Metrics): Broker {
  if (config.broker.kind === 'memory') return new MemoryBroker();
  const invalid = metrics.dropped.labels({ reason: 'invalid' });
  return new RedisBroker(config.broker, log, { onInvalid: () => invalid.inc() }, `herald:${config.nodeId}`);
}

/** The presence store beside a broker, as the history is. */
function presenceBeside(broker: Broker): PresenceStore {
  if (broker instanceof MemoryBroker) return new MemoryPresence(broker);
  if (broker instanceof RedisBroker) return new RedisPresence(broker.connections, broker.channelPrefix);
  throw new Error(`HERALD_PRESENCE is set, but the ${broker.kind} broker has no presence`);
}

/** The history that lives beside a broker, over its storage: memory beside memory, Redis beside Redis. */
function historyBeside(broker: Broker): History {
  if (broker instanceof MemoryBroker) return new MemoryHistory(broker);
  if (broker instanceof RedisBroker) return new RedisHistory(broker.connections, broker.channelPrefix);
  throw new Error(`HERALD_HISTORY is set, but the ${broker.kind} broker has no history`);
}

export async function startHerald(options: HeraldOptions): Promise<RunningHerald> {
  const { config, log } = options;
  const uws = loadUws();
  const metrics = new Metrics();
  const broker = options.broker ?? createBroker(config, log.child({ component: 'broker' }), metrics);
  const app = uws.App() as ClosableApp;
  const metricsApp = uws.App() as ClosableApp;

  const policies = new HistoryPolicies(config.history);
  const history = policies.enabled ? historyBeside(broker) : undefined;
  // The transport exists only after the hub; a reset reaches its sockets through this late binding.
  let transport: WebSocketTransport | undefined;
  const hub = new Hub(
    broker,
    { publish: (topic, frame) => app.publish(topic, frame, false, false), numSubscribers: (topic) => app.numSubscribers(topic) },
    metrics,
    log.child({ component: 'hub' }),
    config.subscriptionLingerMs,
    history === undefined ? undefined : { history, policies, maxRecovery: config.history.maxRecovery, forEachJoined: (topic, visit) => transport?.forEachJoined(topic, visit) },
  );
  const brokerLog = log.child({ component: 'broker', broker: broker.kind });
  let wasUp = false;
  const presencePolicies = new PresencePolicies(config.presence);
  const presenceStore = presencePolicies.enabled ? presenceBeside(broker) : undefined;
  const presence = presenceStore === undefined ? undefined : { store: presenceStore, policies: presencePolicies };
  const tracker = presenceStore === undefined
    ? undefined
    : new PresenceTracker(presenceStore, presencePolicies, { nodeId: config.nodeId, ttlMs: config.presence.ttlSeconds * 1000, graceMs: config.presence.leaveGraceSeconds * 1000 }, metrics, log.child({ component: 'presence' }));
  await broker.start(hub.deliver, (up) => {
    metrics.brokerUp.set(up ? 1 : 0);
    if (up) {
      if (wasUp) {
        metrics.brokerReconnects.inc();
        // Pub/sub lost whatever was published meanwhile: history topics catch up from the history.
        hub.resync();
      }
      wasUp = true;
      brokerLog.info('broker connected');
    } else {
      brokerLog.error('broker unavailable: publishes fail with 503/unavailable until it returns; connections stay open');
    }
  }, hub.deliverEvent);
  metrics.brokerUp.set(broker.isUp() ? 1 : 0);

  const publisher = new Publisher(broker, history, policies);
  transport = new WebSocketTransport({
    nodeId: config.nodeId,
    limits: config.limits,
    allowedOrigins: config.allowedOrigins,
    authenticator: new JwtAuthenticator(config.jwt),
    hub,
    publisher,
    presence,
    tracker,
    metrics,
    log: log.child({ component: 'ws' }),
  });
  transport.attach(app);
  const sockets = transport;
  metrics.readLiveCounts({
    connections: () => sockets.connectionCount,
    subscriptions: () => sockets.subscriptions,
    topics: () => hub.localTopicCount,
    shards: () => broker.shards(),
    presenceUsers: () => tracker?.entries ?? 0,
  });

  let draining = false;
  // Before the HTTP routes: they end with the catch-all 404.
  if (config.demo) {
    const devSecret = config.mode === 'development' && config.generated.jwtSecret ? config.jwt.secret : undefined;
    attachDemoRoutes(app, { mode: config.mode, devSecret, log: log.child({ component: 'demo' }) });
  }
  attachHttpRoutes(app, {
    apiKeys: new ApiKeys(config.apiKeys),
    publisher,
    history,
    policies,
    presence,
    metrics,
    log: log.child({ component: 'http' }),
    maxMessageSize: config.limits.maxMessageSize,
    notReadyReason: () => (draining ? 'draining' : broker.isUp() ? undefined : 'broker_unavailable'),
  });
  attachMetricsRoutes(metricsApp, metrics.registry);

  let listenSocket: us_listen_socket;
  let metricsSocket: us_listen_socket;
  try {
    listenSocket = await listen(app, config.host, config.port, 'HERALD_PORT');
    metricsSocket = await listen(metricsApp, config.host, config.metricsPort, 'HERALD_METRICS_PORT');
  } catch (error) {
    app.close();
    metricsApp.close();
    transport.close();
    await broker.close();
    throw error;
  }
  const stopTicker = config.demo && config.mode === 'development' ? startDemoTicker(publisher, log.child({ component: 'demo' })) : () => undefined;

  let closed: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (closed ??= (async () => {
      stopTicker();
      tracker?.close();
      transport.close();
      uws.us_listen_socket_close(listenSocket);
      uws.us_listen_socket_close(metricsSocket);
      app.close();
      metricsApp.close();
      hub.close();
      await broker.close();
    })());

  return {
    nodeId: config.nodeId,
    port: uws.us_socket_local_port(listenSocket as never),
    metricsPort: uws.us_socket_local_port(metricsSocket as never),
    metrics,
    async shutdown() {
      if (!draining) {
        draining = true;
        metrics.draining.set(1);
        log.info({ connections: transport.connectionCount, seconds: config.drainSeconds }, 'draining: closing connections with 1001');
        // Before the closes: this node's users keep counting for the leave grace, so those who
        // reconnect elsewhere within it are no leave and join.
        tracker?.drain();
        await transport.drain(config.drainSeconds);
      }
      await release();
    },
    close: release,
  };
}

function listen(app: TemplatedApp, host: string, port: number, variable: string): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`cannot listen on ${host}:${port} (${variable}): address in use or not available`));
    });
  });
}
