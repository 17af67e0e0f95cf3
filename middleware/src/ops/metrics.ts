/**
 * The middleware's Prometheus metrics: HTTP requests by route template and status with their
 * latency, and the process's own figures. Routes are labelled by their template
 * (`/api/tenants/:id/campaigns`), never by the URL, so no tenant or campaign id becomes a label
 * and the label set stays bounded; requests that matched no route count under `unmatched`.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Default metrics that are gauges with a counter's suffix. */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Latency buckets in seconds: engine views answer in a few ms, report queries in tens. */
const HTTP_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export interface MiddlewareMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
}

export function createMiddlewareMetrics(): MiddlewareMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'inlay_mw_' });
  // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool
  // rejects them); the handles and requests they count are in the process figures anyway.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`inlay_mw_${name}`);
  return {
    registry,
    httpRequests: new Counter({
      name: 'inlay_mw_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'inlay_mw_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being sent, by method and route template',
      labelNames: ['method', 'route'] as const,
      buckets: HTTP_BUCKETS_SECONDS,
      registers: [registry],
    }),
  };
}

/** Counts every answered request; registered before the routes so each one is seen. */
export const metricsPlugin = fp(
  async (app: FastifyInstance, metrics: MiddlewareMetrics) => {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      metrics.httpRequests.inc({ method, route, status: String(reply.statusCode) });
      metrics.httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
    });
  },
  { name: 'inlay-metrics' },
);
