/**
 * Builds the middleware's HTTP application: Fastify with strict validation, the error registry's
 * handlers, bearer-token auth, and one plugin per resource. Listens nowhere: main.ts does that,
 * and tests drive the same application with app.inject().
 *
 * Must never start without an error handler and auth in place: both are registered before any
 * route, so no route can answer with Fastify's defaults.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { clientErrorHandler, errorHandler, notFoundHandler } from './errors.js';
import { authPlugin } from './auth/auth-plugin.js';
import { openApiPlugin } from './routes/openapi.js';
import { tenantRoutes } from './routes/tenants.js';
import { healthRoutes } from './routes/health.js';
import { createMiddlewareMetrics, metricsPlugin, type MiddlewareMetrics } from './ops/metrics.js';
import { dataSourceRoutes } from './routes/data-sources.js';
import { conversionPointRoutes } from './routes/conversion-points.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { AddressGuard } from './delivery/address-guard.js';
import { tokenRoutes } from './routes/tokens.js';
import { campaignRoutes } from './routes/campaigns.js';
import { importRoutes } from './routes/imports.js';
import { ImportRunner } from './imports/import-runner.js';
import { previewRoutes } from './routes/preview.js';
import { audienceRoutes } from './routes/audience.js';
import type { AudienceCountLimits } from './campaigns/audience-count.js';
import { internalRoutes } from './routes/internal.js';
import { eventRoutes } from './routes/events.js';
import { auditPlugin } from './audit/audit-plugin.js';
import { auditRoutes } from './routes/audit.js';
import { DEFAULT_AUDIT_RETENTION_MS } from './audit/retention.js';
import { sessionRoutes } from './routes/session.js';
import { dataSourceTestRoutes } from './routes/data-source-test.js';
import { uiRoutes } from './routes/ui.js';
import { Engine, type EngineOptions } from './engine/engine.js';
import type { Store } from './store/store.js';
import { validatorCompiler } from './validation.js';
import { MIDDLEWARE_VERSION } from './version.js';

/** A tenant with 32 data sources and 64 conversion points is under 100 KiB of JSON; 1 MiB leaves
 *  room for campaigns with inline templates, and caps what one request can make us parse. User
 *  lists never come as request bodies (imports stream from S3). */
export const BODY_LIMIT_BYTES = 1_048_576;
/** Time a client has to send its whole request (Node's requestTimeout; handling time is not
 *  counted). A 1 MiB body takes well under a second on any real link; 30 s stops clients that
 *  trickle a request byte by byte from holding sockets forever. */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface AppOptions {
  readonly store: Store;
  readonly adminToken: string;
  /** pino logger for request logs; none in tests. */
  readonly logger?: Logger;
  readonly bodyLimitBytes?: number;
  /** Runs user-data imports in the background; one is made (and closed with the app) if absent. */
  readonly importRunner?: ImportRunner;
  /** Where local templates live (config dataDir); ./data when absent. */
  readonly dataDir?: string;
  /** The proxy's token for the internal engine API (config internalToken); absent: that API
   *  answers 503 INLAY_MW_INTERNAL_API_DISABLED. */
  readonly internalToken?: string | undefined;
  /** Prometheus figures the app adds to (HTTP requests); a private set when absent. */
  readonly metrics?: MiddlewareMetrics;
  /** How long events are kept (config events.retentionDays): how far back listings look. */
  readonly eventRetentionMs?: number;
  /** Refuses conversion point URLs to internal addresses (delivery-service.ts); one allowing no
   *  internal network when absent. */
  readonly deliveryGuard?: AddressGuard;
  /** Told when an operator requeued deliveries, so the dispatcher looks at once. */
  readonly onDeliveryRequeue?: () => void;
  /** How long audit entries are kept (config audit.retentionDays): TTL on Cassandra, how far back
   *  listings look. */
  readonly auditRetentionMs?: number;
  /** The built web UI (cmp-ui/dist), served at `/`; absent: the API alone. */
  readonly uiRoot?: string;
  /** Engine settings tests fix: the clock, the cache lifetime. */
  readonly engine?: Pick<EngineOptions, 'clock' | 'cacheMs'>;
  /** Bounds of an audience count (routes/audience.ts); tests lower them. */
  readonly audienceCountLimits?: AudienceCountLimits;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimitBytes ?? BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    routerOptions: { ignoreTrailingSlash: true },
    // Fastify's defaults, stated because they matter: a body with __proto__ or
    // constructor.prototype is refused (400), never merged into an object.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Router-level refusals (a URL that is not UTF-8, an over-long segment) and HTTP parse errors
    // bypass setErrorHandler; these send them through the registry too.
    frameworkErrors: errorHandler,
    clientErrorHandler,
  }) as unknown as FastifyInstance;

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Only JSON bodies: a text/plain body is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');

  await app.register(metricsPlugin, options.metrics ?? createMiddlewareMetrics());
  await app.register(openApiPlugin, { version: MIDDLEWARE_VERSION });
  await app.register(authPlugin, { store: options.store, adminToken: options.adminToken, internalToken: options.internalToken });
  await app.register(healthRoutes, { store: options.store });
  // Before every route that changes something: its guard answers 500 for a change left unaudited.
  const auditRetentionMs = options.auditRetentionMs ?? DEFAULT_AUDIT_RETENTION_MS;
  await app.register(auditPlugin, { store: options.store, retentionMs: auditRetentionMs });
  await app.register(auditRoutes, { store: options.store, retentionMs: auditRetentionMs });
  const deliveryGuard = options.deliveryGuard ?? new AddressGuard([]);
  await app.register(tenantRoutes, { store: options.store, guard: deliveryGuard });
  await app.register(dataSourceRoutes, { store: options.store });
  await app.register(conversionPointRoutes, { store: options.store, guard: deliveryGuard });
  await app.register(deliveryRoutes, { store: options.store, ...(options.onDeliveryRequeue ? { onRequeue: options.onDeliveryRequeue } : {}) });
  await app.register(tokenRoutes, { store: options.store });
  await app.register(campaignRoutes, { store: options.store });
  await app.register(previewRoutes, { store: options.store, dataDir: options.dataDir ?? './data' });
  await app.register(audienceRoutes, { store: options.store, ...(options.audienceCountLimits ? { limits: options.audienceCountLimits } : {}) });
  const importRunner = options.importRunner ?? new ImportRunner(options.store, options.logger);
  // Running imports are aborted and end `failed` before the store closes (main.ts and tests
  // close the app first).
  if (!options.importRunner) app.addHook('onClose', () => importRunner.close());
  await app.register(importRoutes, { store: options.store, importRunner });
  const engine = new Engine({ store: options.store, dataDir: options.dataDir ?? './data', ...(options.logger ? { logger: options.logger } : {}), ...options.engine });
  await app.register(internalRoutes, { engine });
  await app.register(eventRoutes, { store: options.store, ...(options.eventRetentionMs === undefined ? {} : { eventRetentionMs: options.eventRetentionMs }) });
  await app.register(sessionRoutes);
  await app.register(dataSourceTestRoutes, { store: options.store });
  await app.register(uiRoutes, { root: options.uiRoot });
  await app.ready();
  return app;
}
