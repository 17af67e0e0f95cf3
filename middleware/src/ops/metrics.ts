/**
 * The middleware's Prometheus metrics: HTTP requests by route template and status with their
 * latency, the engine API (views) by call, events, deliveries, imports and store operations
 * (store-metrics.ts counts those at the Store interface), and the process's own figures.
 *
 * Every label is bounded: routes are labelled by their template (`/api/tenants/:id/campaigns`),
 * never by the URL, so no tenant or campaign id becomes a label, and requests that matched no
 * route count under `unmatched`; engine calls, event types, outcomes and store operations come
 * from fixed lists (the route table, ENGINE_EVENT_TYPES, the Store interface's method names).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ENGINE_EVENT_TYPES } from '@inlay/schemas';
import type { Store } from '../store/store.js';
import { DeliveryBacklog } from './delivery-backlog.js';

/** Default metrics that are gauges with a counter's suffix. */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Latency buckets in seconds: engine views answer in a few ms, report queries in tens. */
const HTTP_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Store operations: an LMDB read in microseconds, a Cassandra LWT in tens of ms. */
const STORE_BUCKETS_SECONDS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
/** The engine API's routes, by the name the proxy's metrics use for the same call. */
const ENGINE_ROUTE_PREFIX = '/internal/v1/views';

export type DeliveryAttemptOutcome = 'delivered' | 'retry' | 'dead';

export interface MiddlewareMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly engineRequests: Counter<'call' | 'result'>;
  readonly engineDuration: Histogram<'call'>;
  readonly events: Counter<'type'>;
  readonly deliveryAttempts: Counter<'outcome'>;
  readonly importRows: Counter<'result'>;
  readonly storeDuration: Histogram<'store' | 'operation'>;
  readonly storeErrors: Counter<'store' | 'operation'>;
  /** Where the delivery backlog gauges read from at scrape time (delivery-backlog.ts). */
  observeDeliveries(store: Store): void;
}

export function createMiddlewareMetrics(): MiddlewareMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'inlay_mw_' });
  // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool
  // rejects them); the handles and requests they count are in the process figures anyway.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`inlay_mw_${name}`);
  const registers = [registry];
  let backlog: DeliveryBacklog | null = null;
  new Gauge({
    name: 'inlay_mw_delivery_backlog',
    help: 'Deliveries pending (waiting for their first attempt or a retry), all tenants',
    registers,
    async collect() {
      if (backlog !== null) this.set((await backlog.current()).pending);
    },
  });
  new Gauge({
    name: 'inlay_mw_delivery_oldest_pending_age_seconds',
    help: 'Age (since its event) of the oldest delivery that is due and not made yet; 0 when none is due',
    registers,
    async collect() {
      if (backlog !== null) this.set((await backlog.current()).oldestDueAgeSeconds);
    },
  });
  const metrics: MiddlewareMetrics = {
    registry,
    httpRequests: new Counter({ name: 'inlay_mw_http_requests_total', help: 'HTTP requests answered, by method, route template and status code', labelNames: ['method', 'route', 'status'] as const, registers }),
    httpDuration: new Histogram({
      name: 'inlay_mw_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being sent, by method and route template',
      labelNames: ['method', 'route'] as const,
      buckets: HTTP_BUCKETS_SECONDS,
      registers,
    }),
    engineRequests: new Counter({
      name: 'inlay_mw_engine_view_requests_total',
      help: 'Engine API calls from proxies (view, assign, reveal, flags, expunge), by call and result (ok: 2xx, error: any other status)',
      labelNames: ['call', 'result'] as const,
      registers,
    }),
    engineDuration: new Histogram({
      name: 'inlay_mw_engine_view_duration_seconds',
      help: 'Engine API calls from arrival to answer, by call',
      labelNames: ['call'] as const,
      buckets: HTTP_BUCKETS_SECONDS,
      registers,
    }),
    events: new Counter({
      name: 'inlay_mw_events_total',
      help: 'Engine events handed to the store, by type (a retried event whose id is stored already counts again)',
      labelNames: ['type'] as const,
      registers,
    }),
    deliveryAttempts: new Counter({
      name: 'inlay_mw_delivery_attempts_total',
      help: 'Delivery attempts to conversion points, by outcome (delivered, retry: failed and rescheduled, dead: failed for good)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    importRows: new Counter({ name: 'inlay_mw_import_rows_total', help: 'User-list import rows, by result (imported, rejected)', labelNames: ['result'] as const, registers }),
    storeDuration: new Histogram({
      name: 'inlay_mw_store_operation_duration_seconds',
      help: 'Store operations, by store (embedded, cassandra) and operation (a Store method)',
      labelNames: ['store', 'operation'] as const,
      buckets: STORE_BUCKETS_SECONDS,
      registers,
    }),
    storeErrors: new Counter({ name: 'inlay_mw_store_operation_errors_total', help: 'Store operations that failed, by store and operation', labelNames: ['store', 'operation'] as const, registers }),
    observeDeliveries: (store) => {
      backlog = new DeliveryBacklog(store);
    },
  };
  // Present from the first scrape, so rate() and ratios over them work before the first event.
  for (const type of ENGINE_EVENT_TYPES) metrics.events.inc({ type }, 0);
  for (const outcome of ['delivered', 'retry', 'dead'] as const) metrics.deliveryAttempts.inc({ outcome }, 0);
  for (const result of ['imported', 'rejected'] as const) metrics.importRows.inc({ result }, 0);
  for (const result of ['ok', 'error'] as const) metrics.engineRequests.inc({ call: 'view', result }, 0);
  metrics.engineDuration.zero({ call: 'view' });
  return metrics;
}

/** `/internal/v1/views/assign` → `assign`; the bare path is the view itself. */
function engineCallOf(route: string): string | null {
  if (!route.startsWith(ENGINE_ROUTE_PREFIX)) return null;
  const rest = route.slice(ENGINE_ROUTE_PREFIX.length);
  return rest === '' ? 'view' : rest.replace(/^\//, '');
}

/** Counts every answered request; registered before the routes so each one is seen. */
export const metricsPlugin = fp(
  async (app: FastifyInstance, metrics: MiddlewareMetrics) => {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      const seconds = reply.elapsedTime / 1000;
      metrics.httpRequests.inc({ method, route, status: String(reply.statusCode) });
      metrics.httpDuration.observe({ method, route }, seconds);
      const call = engineCallOf(route);
      if (call === null) return;
      metrics.engineRequests.inc({ call, result: reply.statusCode < 300 ? 'ok' : 'error' });
      metrics.engineDuration.observe({ call }, seconds);
    });
  },
  { name: 'inlay-metrics' },
);
