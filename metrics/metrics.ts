import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Warden's Prometheus metrics (prom-client), one set per process. Like the audit trail they are
 * process-wide: the places where things happen count them here, and the role's entry point
 * serves them (metrics/server.ts) or, under `warden start`, hands them to the supervisor, which
 * sums every worker's (prom-client's AggregatorRegistry): counters and histograms are then
 * cluster totals, and so are the gauges (connections, subscriptions, connected workers).
 *
 * Every label takes a small, fixed set of values (an error's `reason` or name, a credential
 * kind, an action type): a client cannot create series at will.
 *
 * @example
 *   metrics.logins.inc({ kind: 'password', result: 'success' });
 */
export const PREFIX = 'warden_';

/** Warden's own metrics. */
export const registry = new Registry();

/** What the gauges read at scrape time: the worker's live sockets (metrics/socket-metrics.ts). */
export interface LiveSource {
  connections(): { authenticated: number; anonymous: number };
  subscriptions(): number;
  brokerConnected(): boolean;
}

let live: LiveSource | null = null;

/** Sets (or, with null, clears) what the gauges read; one per process. */
export function setLiveSource(source: LiveSource | null): void {
  live = source;
}

const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  connections: new Gauge({
    name: `${PREFIX}connections`,
    help: 'Open WebSocket connections, by whether they are authenticated',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      if (live === null) return;
      const { authenticated, anonymous } = live.connections();
      this.set({ state: 'authenticated' }, authenticated);
      this.set({ state: 'anonymous' }, anonymous);
    },
  }),
  subscriptions: new Gauge({
    name: `${PREFIX}subscriptions`,
    help: 'Channel subscriptions of the open sockets',
    registers: [registry],
    collect() {
      if (live !== null) this.set(live.subscriptions());
    },
  }),
  brokerConnected: new Gauge({
    name: `${PREFIX}broker_connected`,
    help: 'Workers connected to the broker layer (1 per connected worker; 0 while it is not)',
    registers: [registry],
    collect() {
      if (live !== null) this.set(live.brokerConnected() ? 1 : 0);
    },
  }),
  handshakes: new Counter({
    name: `${PREFIX}handshakes_total`,
    help: 'WebSocket handshakes, by result (authenticated, unauthenticated, refused) and reason',
    labelNames: ['result', 'reason'] as const,
    registers: [registry],
  }),
  logins: new Counter({
    name: `${PREFIX}logins_total`,
    help: 'Logins, by credential kind and result (success, failure, rate_limited)',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  }),
  loginDuration: new Histogram({
    name: `${PREFIX}login_duration_seconds`,
    help: 'Time to accept or refuse a login credential (password hashing included)',
    labelNames: ['kind'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10],
    registers: [registry],
  }),
  storeDuration: new Histogram({
    name: `${PREFIX}store_duration_seconds`,
    help: 'Time of a user store operation, by operation and result (ok, error)',
    labelNames: ['operation', 'result'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  }),
  denials: new Counter({
    name: `${PREFIX}denials_total`,
    help: 'Refused publish, subscribe, invoke, transmit and authenticate actions, by op and reason',
    labelNames: ['op', 'reason'] as const,
    registers: [registry],
  }),
  renewals: new Counter({
    name: `${PREFIX}renewals_total`,
    help: 'Tokens reissued to connected sockets',
    registers: [registry],
  }),
  renewalFailures: new Counter({
    name: `${PREFIX}renewal_failures_total`,
    help: 'Renewals that did not happen, by reason (store-unavailable, session-ended, user-gone, error)',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  revocations: new Counter({
    name: `${PREFIX}revocations_total`,
    help: 'Revocations this worker started, by kind (token, session, user)',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  revocationPropagation: new Histogram({
    name: `${PREFIX}revocation_propagation_seconds`,
    help: 'From a revocation on one worker to its arrival on another (control channel)',
    buckets: latencyBuckets,
    registers: [registry],
  }),
  rateLimitHits: new Counter({
    name: `${PREFIX}rate_limit_hits_total`,
    help: 'Requests and actions refused by a rate limit, by limit',
    labelNames: ['limit'] as const,
    registers: [registry],
  }),
};

/** Every metric name Warden itself defines (the dashboard test checks against a real scrape). */
export const WARDEN_METRIC_NAMES: readonly string[] = Object.values(metrics).map(
  (metric) => (metric as unknown as { name: string }).name,
);

let defaultsStarted = false;

/**
 * Starts the runtime metrics (CPU, memory, event-loop delay, GC, handles) with the `warden_`
 * prefix: `warden_process_cpu_seconds_total`, `warden_nodejs_eventloop_lag_seconds`, ... Once
 * per process, by the role's entry point (an in-process test worker does without).
 */
export function startRuntimeMetrics(): void {
  if (defaultsStarted) return;
  defaultsStarted = true;
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
}

/** Seconds since `startNs` (process.hrtime.bigint()). */
export function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}
