/**
 * The proxy's Prometheus metrics. Figures that the proxy already keeps (live sessions, the engine
 * client's counters) are read when Prometheus scrapes, so the hot path pays nothing for them;
 * only events with no other counter (logins by result) are counted where they happen.
 *
 * Must never label by user, address or mailbox: every label here has a small fixed set of values.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineStats } from '../engine-client.js';

/** Default metrics that are gauges with a counter's suffix. */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export type LoginResult = 'ok' | 'refused' | 'failed';

export interface ProxyMetrics {
  readonly registry: Registry;
  /** A login's outcome: the upstream said OK, said NO/BAD, or could not be asked. */
  countLogin(result: LoginResult): void;
  /** Where the scrape-time figures come from; the server registers itself once it exists. */
  observe(sources: ProxyMetricSources): void;
}

/** What the metrics read at scrape time. */
export interface ProxyMetricSources {
  readonly connections: () => { plain: number; tls: number };
  readonly engine: EngineStats | null;
}

/**
 * A counter mirrored from a cumulative figure kept elsewhere: at each scrape it is raised by what
 * the figure grew since the last one, so it stays a true counter (never goes down).
 */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number | null): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now === null || now <= seen) return;
      this.inc(now - seen);
      seen = now;
    },
  });
}

export function createProxyMetrics(): ProxyMetrics {
  const registry = new Registry();
  let observed: ProxyMetricSources | null = null;
  const sources = (): ProxyMetricSources | null => observed;
  collectDefaultMetrics({ register: registry, prefix: 'inlay_proxy_' });
  // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool
  // rejects them); the handles and requests they count are in the process figures anyway.
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`inlay_proxy_${name}`);
  new Gauge({
    name: 'inlay_proxy_connections',
    help: 'Client connections open now, by listener',
    labelNames: ['listener'] as const,
    registers: [registry],
    collect() {
      const current = sources();
      if (current === null) return;
      const { plain, tls } = current.connections();
      this.set({ listener: 'plain' }, plain);
      this.set({ listener: 'tls' }, tls);
    },
  });
  const engine = (pick: (stats: EngineStats) => number) => () => {
    const stats = sources()?.engine;
    return stats ? pick(stats) : null;
  };
  mirroredCounter(registry, 'inlay_proxy_engine_calls_total', 'Calls made to the middleware engine API', engine((s) => s.calls));
  mirroredCounter(registry, 'inlay_proxy_engine_failures_total', 'Engine calls that failed (timeout, refused, bad answer); sessions went on without injection', engine((s) => s.failures));
  mirroredCounter(registry, 'inlay_proxy_engine_view_cache_hits_total', 'User views answered from this node\'s cache', engine((s) => s.cacheHits));
  mirroredCounter(registry, 'inlay_proxy_engine_suspended_calls_total', 'Engine calls not made because the engine was suspended after failures', engine((s) => s.suspendedCalls));
  const logins = new Counter({
    name: 'inlay_proxy_logins_total',
    help: 'Logins relayed to the upstream, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // Present from the first scrape, so a rate() over them works before the first login.
  for (const result of ['ok', 'refused', 'failed'] as const) logins.inc({ result }, 0);
  return {
    registry,
    countLogin: (result) => logins.inc({ result }),
    observe: (next) => {
      observed = next;
    },
  };
}
