#!/usr/bin/env node
/**
 * inlay-middleware: reads the configuration once, opens the store, listens on http.listen, and
 * shuts down gracefully on SIGTERM or SIGINT (in-flight requests finish, the store is closed).
 * A configuration error ends start-up with one line naming the key (exit code 78, EX_CONFIG, so
 * systemd does not restart in a loop on a config that can never work).
 *
 * The start-up line says where it listens and where the admin token comes from — never the token.
 */
import { ConfigError, describeInternalTokenSource, InternalTokenError, loadConfig, resolveInternalToken, type InlayConfig } from '@inlay/schemas';
import type { Logger } from 'pino';
import { AdminTokenError, describeAdminTokenSource, resolveAdminToken } from './admin-token.js';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import { createMiddlewareMetrics } from './ops/metrics.js';
import { instrumentStore } from './ops/store-metrics.js';
import { startOpsServer } from './ops/ops-server.js';
import { startEventSweeps } from './events/retention.js';
import { startAuditSweeps } from './audit/retention.js';
import { createDeliveryService, type DeliveryService } from './delivery/delivery-service.js';
import { createLogger } from './log.js';
import { checkStorageConfig, describeStore, openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { MIDDLEWARE_VERSION } from './version.js';

const EX_CONFIG = 78;
/** In-flight requests get this long after SIGTERM; systemd's TimeoutStopSec is larger. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

function fail(message: string, code: number): never {
  process.stderr.write(`inlay-middleware: ${message}\n`);
  process.exit(code);
}

/** `host:port` or `[v6]:port` (the config schema has checked the form). */
function parseListenAddress(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  return { host: listen.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(listen.slice(colon + 1)) };
}

function loadMiddlewareConfig(): { config: Readonly<InlayConfig>; warnings: readonly string[] } {
  const configFile = process.argv.includes('--config') ? process.argv[process.argv.indexOf('--config') + 1] : undefined;
  try {
    const loaded = loadConfig({ file: configFile });
    if (loaded.config.http.listen === '') throw new ConfigError('http.listen (INLAY_HTTP_LISTEN) is empty: the middleware would listen nowhere');
    checkInternalToken(loaded.config);
    checkStorageConfig(loaded.config);
    return loaded;
  } catch (err) {
    return fail(`configuration error: ${(err as Error).message}`, err instanceof ConfigError ? EX_CONFIG : 1);
  }
}

/** The internal token travels as a bearer token: only token68 characters (RFC 6750 §2.1) fit, and
 *  it must differ from the admin token, or one secret would open both doors. */
function checkInternalToken(config: Readonly<InlayConfig>): void {
  const token = config.internalToken;
  if (token === undefined) return;
  if (!/^[A-Za-z0-9._~+/-]+=*$/.test(token) || token.length > 512) {
    throw new ConfigError('internalToken (INLAY_INTERNAL_TOKEN) must be 16 to 512 characters of A–Z, a–z, 0–9 and -._~+/ (it is sent as a bearer token)');
  }
  if (token === config.adminToken) throw new ConfigError('internalToken (INLAY_INTERNAL_TOKEN) must differ from adminToken (INLAY_ADMIN_TOKEN)');
}

async function main(): Promise<void> {
  const { config, warnings } = loadMiddlewareConfig();
  const log: Logger = createLogger(config.logLevel, 'inlay-middleware');
  for (const warning of warnings) log.warn(warning);

  let adminToken;
  try {
    adminToken = await resolveAdminToken(config.adminToken, config.dataDir);
  } catch (err) {
    return fail(`${(err as Error).message}`, err instanceof AdminTokenError ? EX_CONFIG : 1);
  }
  if (adminToken.source.kind === 'token-file' && adminToken.source.warning) log.warn(adminToken.source.warning);
  // The internal engine API is always on: with INLAY_INTERNAL_TOKEN unset, the token is the one
  // in the data directory that the proxy of `npm start` reads too.
  let internal;
  try {
    internal = await resolveInternalToken(config.internalToken, config.dataDir);
  } catch (err) {
    return fail(`${(err as Error).message}`, err instanceof InternalTokenError ? EX_CONFIG : 1);
  }
  if (internal.source.kind === 'token-file' && internal.source.warning) log.warn(internal.source.warning);

  const metrics = createMiddlewareMetrics();
  let store: Store;
  try {
    store = instrumentStore(await openStore(config), metrics);
  } catch (err) {
    log.fatal({ err: (err as Error).message, ...describeStore(config) }, 'cannot open the store');
    return fail(`cannot open the store: ${(err as Error).message}`, err instanceof ConfigError ? EX_CONFIG : 1);
  }

  if (internal.token === adminToken.token) {
    return fail('configuration error: internalToken (INLAY_INTERNAL_TOKEN) must differ from the admin token', EX_CONFIG);
  }
  const eventRetentionMs = config.events.retentionDays * 86_400_000;
  const auditRetentionMs = config.audit.retentionDays * 86_400_000;
  let delivery: DeliveryService;
  try {
    delivery = createDeliveryService(store, config.delivery, log);
  } catch (err) {
    await store.close().catch(() => undefined);
    return fail(`configuration error: ${(err as Error).message}`, err instanceof ConfigError ? EX_CONFIG : 1);
  }
  metrics.observeDeliveries(store);
  const app = await buildApp({
    store,
    adminToken: adminToken.token,
    internalToken: internal.token,
    logger: log,
    dataDir: config.dataDir,
    // The UI is built beside the middleware in this repository (npm run build); a deployment
    // without it serves the API alone.
    uiRoot: fileURLToPath(new URL('../../cmp-ui/dist/', import.meta.url)),
    eventRetentionMs,
    auditRetentionMs,
    metrics,
    engine: { cacheMs: config.engine.campaignCacheMs },
    deliveryGuard: delivery.guard,
    onDeliveryRequeue: () => delivery.dispatcher.nudge(),
  });
  // Cassandra expires events by TTL; the embedded store sweeps.
  const stopEventSweeps = store.kind === 'embedded' ? startEventSweeps(store, eventRetentionMs, log) : () => undefined;
  const stopAuditSweeps = store.kind === 'embedded' ? startAuditSweeps(store, auditRetentionMs, log) : () => undefined;
  const stopSweeps = (): void => {
    stopEventSweeps();
    stopAuditSweeps();
  };
  let ops: { server: Server; bound: string } | null = null;
  if (config.metricsListen) {
    try {
      ops = await startOpsServer(config.metricsListen, metrics, store, log);
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'cannot listen');
      stopSweeps();
      await store.close().catch(() => undefined);
      return fail((err as Error).message, 1);
    }
  }
  const { host, port } = parseListenAddress(config.http.listen);
  try {
    await app.listen({ host, port, listenTextResolver: (address) => `HTTP server bound to ${address}` });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot listen');
    await store.close().catch(() => undefined);
    return fail(`cannot listen on ${config.http.listen}: ${(err as Error).message}`, 1);
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutdown requested');
    ops?.server.close();
    const forced = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    forced.unref();
    stopSweeps();
    void app
      .close()
      .then(() => delivery.close())
      .then(() => store.close())
      .then(() => {
        log.info('shutdown complete');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  delivery.dispatcher.start();

  const bound = app.server.address();
  const address = typeof bound === 'object' && bound !== null ? (bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`) : String(bound);
  const adminTokenText = describeAdminTokenSource(adminToken.source);
  // Last, so whoever waits for this line may send requests at once.
  log.info(
    {
      event: 'listening',
      address,
      url: `http://${address}/api/`,
      metrics: ops?.bound ?? null,
      ...describeStore(config),
      adminTokenSource: adminToken.source.kind,
      ...(adminToken.source.kind === 'token-file' ? { adminTokenFile: adminToken.source.path } : {}),
      internalApi: 'on',
      internalTokenSource: internal.source.kind,
      version: MIDDLEWARE_VERSION,
    },
    `inlay-middleware listening on http://${address}/api/ (OpenAPI at /api/openapi.json); ${adminTokenText}; ` +
      `internal engine API on at /internal/v1/ (${describeInternalTokenSource(internal.source)})`,
  );
}

void main();
