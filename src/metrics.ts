/**
 * Every Prometheus metric Herald exposes, in one place. Label values are
 * bounded sets (close codes, reasons, error codes, sources): never a topic or
 * a user id, which would give Prometheus one series per user.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuthFailure, ErrorCode } from './errors.js';
import { CloseCode, ERRORS } from './errors.js';

export type PublishSource = 'http' | 'client' | 'broker';
/** Why a message, or a connection's share of messages, was not delivered. */
export type DropReason = 'invalid' | 'no_subscribers' | 'slow_consumer';

/** Counts the node keeps anyway; the gauges read them when scraped instead of being updated per event. */
export interface LiveCounts {
  connections(): number;
  subscriptions(): number;
  topics(): number;
  shards(): readonly { readonly index: number; readonly up: boolean }[];
  presenceUsers?(): number;
}

function liveGauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export class Metrics {
  readonly registry = new Registry();
  private live: LiveCounts | undefined;

  readonly connections = liveGauge(this.registry, 'herald_connections', 'Open authenticated WebSocket connections', () => this.live?.connections() ?? 0);
  readonly connectionsOpened = new Counter({ name: 'herald_connections_opened_total', help: 'Authenticated WebSocket connections opened', registers: [this.registry] });
  readonly disconnections = new Counter({ name: 'herald_disconnections_total', help: 'Authenticated WebSocket connections closed, by close code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly subscriptions = liveGauge(this.registry, 'herald_subscriptions', 'Topic subscriptions held by local connections', () => this.live?.subscriptions() ?? 0);
  readonly topics = liveGauge(this.registry, 'herald_topics', 'Local topics with at least one subscriber', () => this.live?.topics() ?? 0);
  readonly published = new Counter({ name: 'herald_messages_published_total', help: 'Messages entering this node, by source', labelNames: ['source'] as const, registers: [this.registry] });
  readonly delivered = new Counter({ name: 'herald_messages_delivered_total', help: 'Message frames handed to sockets', registers: [this.registry] });
  readonly dropped = new Counter({ name: 'herald_messages_dropped_total', help: 'Messages not delivered, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly publishLatency = new Histogram({
    name: 'herald_publish_latency_seconds',
    help: 'Time from a message\'s publish timestamp to its hand-off to uWebSockets.js',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({ name: 'herald_auth_failures_total', help: 'Rejected tokens, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly clientErrors = new Counter({ name: 'herald_client_errors_total', help: 'Error frames sent to clients, by code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly brokerUp = new Gauge({ name: 'herald_broker_up', help: '1 when messages flow through the broker (every shard answers and delivers), else 0', registers: [this.registry] });
  readonly brokerShardUp = new Gauge({
    name: 'herald_broker_shard_up',
    help: '1 per broker shard (Redis master, by slot order) that answers and delivers, else 0',
    labelNames: ['shard'] as const,
    registers: [this.registry],
    collect: () => {
      this.brokerShardUp.reset();
      for (const shard of this.live?.shards() ?? []) this.brokerShardUp.set({ shard: String(shard.index) }, shard.up ? 1 : 0);
    },
  });
  readonly brokerReconnects = new Counter({ name: 'herald_broker_reconnects_total', help: 'Times the broker connection came back after being lost', registers: [this.registry] });
  readonly draining = new Gauge({ name: 'herald_draining', help: '1 while the node drains before shutdown', registers: [this.registry] });
  readonly historyRecoveries = new Counter({ name: 'herald_history_recoveries_total', help: 'Subscribes with `since` on history topics, by outcome', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly historyReplayed = new Counter({ name: 'herald_history_replayed_messages_total', help: 'Stored messages sent from the history: to recovering clients (by="client") or to fill a gap in the node\'s live stream (by="node")', labelNames: ['by'] as const, registers: [this.registry] });
  readonly historyGapsFilled = new Counter({ name: 'herald_history_gaps_filled_total', help: 'Gaps in a history topic\'s live stream (lost pub/sub messages) that the node filled from the history', registers: [this.registry] });
  readonly historyResets = new Counter({ name: 'herald_history_resets_total', help: 'History topics whose local subscribers were reset (epoch changed, or missed messages no longer stored)', registers: [this.registry] });
  readonly historyUnsequenced = new Counter({ name: 'herald_history_unsequenced_total', help: 'Messages on history topics without an offset (a plain PUBLISH into Redis): delivered live, not stored', registers: [this.registry] });
  readonly presenceWrites = new Counter({ name: 'herald_presence_writes_total', help: 'Presence store calls (one per topic per batch or refresh, however many connections they carry)', registers: [this.registry] });
  readonly presenceEvents = new Counter({ name: 'herald_presence_events_total', help: 'Join and leave events received for local subscribers, by event', labelNames: ['event'] as const, registers: [this.registry] });
  readonly presenceUsers = liveGauge(this.registry, 'herald_presence_local_users', 'Users with a local connection (or in their leave grace) per presence topic, summed over topics', () => this.live?.presenceUsers?.() ?? 0);
  readonly historyReads = new Counter({ name: 'herald_history_reads_total', help: 'History reads issued by this node (recovery windows and gap fills)', registers: [this.registry] });

  /** Where the connection, subscription and topic gauges read their values. */
  readLiveCounts(live: LiveCounts): void {
    this.live = live;
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    // Start every known series at zero so that rates and alerts work before the first event.
    for (const source of ['http', 'client', 'broker'] satisfies PublishSource[]) this.published.inc({ source }, 0);
    for (const reason of ['invalid', 'no_subscribers', 'slow_consumer'] satisfies DropReason[]) this.dropped.inc({ reason }, 0);
    for (const reason of ['token_missing', 'token_invalid', 'token_expired'] satisfies AuthFailure[]) this.authFailures.inc({ reason }, 0);
    for (const code of Object.keys(ERRORS) as ErrorCode[]) if (ERRORS[code].surfaces.includes('websocket')) this.clientErrors.inc({ code }, 0);
    for (const code of Object.values(CloseCode)) this.disconnections.inc({ code: String(code) }, 0);
    for (const outcome of ['recovered', 'not_recovered']) this.historyRecoveries.inc({ outcome }, 0);
    for (const by of ['client', 'node']) this.historyReplayed.inc({ by }, 0);
    for (const event of ['join', 'leave']) this.presenceEvents.inc({ event }, 0);
  }
}
