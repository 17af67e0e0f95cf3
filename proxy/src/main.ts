#!/usr/bin/env node
/**
 * inlay-proxy: reads the configuration once, listens, reloads its TLS certificate on SIGHUP, and
 * shuts down gracefully on SIGTERM or SIGINT. A configuration error ends start-up with one line naming the key (exit code 78,
 * EX_CONFIG, so systemd does not restart in a loop on a config that can never work).
 */
import { Pop3Server, type Pop3Addresses } from './pop3/listener.js';
import { describeInternalTokenSource, loadConfig, proxyEngineUrl, resolveInternalToken, type InternalTokenSource } from '@inlay/schemas';
import { ENGINE_LOG_CODES, PROXY_ERRORS, TLS_LOG_CODES } from './errors.js';
import { createLogger, flushLogs } from './log.js';
import { buildRuntime } from './runtime.js';
import { ProxyServer } from './server.js';
import { OpsServer } from './ops/ops-server.js';
import { PROXY_VERSION } from './version.js';

const EX_CONFIG = 78;
/** Time given to V8's background sweeper between the two collections of a stats request. */
const STATS_SETTLE_MS = 200;

async function main(): Promise<void> {
  const configFile = process.argv.includes('--config') ? process.argv[process.argv.indexOf('--config') + 1] : undefined;
  let loaded;
  let runtime;
  let tokenSource: InternalTokenSource | undefined;
  try {
    loaded = loadConfig({ file: configFile });
    const log = createLogger(loaded.config.logLevel, 'inlay-proxy');
    // Injection is on unless proxy.engine.url is empty: the token then comes from the config or
    // from the data directory the middleware shares (the first of the two to start writes it).
    // Mail never depends on the campaign side: a token file that cannot be read or written (a
    // read-only or foreign data directory) turns injection off with a warning, not start-up.
    let internalToken = loaded.config.internalToken;
    let config = loaded.config;
    if (proxyEngineUrl(config) !== '') {
      try {
        const resolved = await resolveInternalToken(config.internalToken, config.dataDir);
        internalToken = resolved.token;
        tokenSource = resolved.source;
      } catch (err) {
        log.warn({ code: ENGINE_LOG_CODES.noInternalToken, err: (err as Error).message }, 'no internal token (set INLAY_INTERNAL_TOKEN): injection off');
        config = { ...config, proxy: { ...config.proxy, engine: { ...config.proxy.engine, url: '' } } };
      }
    }
    loaded = { ...loaded, config };
    runtime = buildRuntime(config, log, internalToken);
  } catch (err) {
    process.stderr.write(`inlay-proxy: configuration error: ${(err as Error).message}\n`);
    process.exit(EX_CONFIG);
  }
  const { config, warnings } = loaded;
  const log = runtime.log;
  for (const warning of warnings) log.warn(warning);
  if (tokenSource?.kind === 'token-file' && tokenSource.warning) log.warn(tokenSource.warning);
  log.info(
    { event: 'engine', engineUrl: proxyEngineUrl(config) || null, ...(tokenSource === undefined ? {} : { internalToken: describeInternalTokenSource(tokenSource) }) },
    proxyEngineUrl(config) ? `injecting: the middleware's engine API at ${proxyEngineUrl(config)}` : 'injection off (proxy.engine.url is empty)',
  );

  const server = new ProxyServer(runtime);
  // Engine calls, failures and cache hits since start: what an outage of the campaign side cost.
  const engineStats = runtime.engine?.stats ?? null;
  let addresses;
  const pop3 = runtime.pop3 ? new Pop3Server(runtime, runtime.pop3) : null;
  let pop3Addresses: Pop3Addresses | null = null;
  try {
    addresses = await server.listen(config.proxy.listen, config.proxy.tlsListen);
    if (pop3) pop3Addresses = await pop3.listen();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot listen');
    flushLogs();
    process.stderr.write(`inlay-proxy: ${(err as Error).message}\n`);
    process.exit(1);
  }

  let ops: OpsServer | null = null;
  let opsAddress: string | null = null;
  if (config.proxy.metricsListen) {
    ops = new OpsServer({ metrics: runtime.metrics, upstream: runtime.upstream, log });
    try {
      opsAddress = await ops.listen(config.proxy.metricsListen);
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'cannot listen');
      flushLogs();
      process.stderr.write(`inlay-proxy: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutdown requested');
    ops?.close();
    pop3?.shutdown();
    void server.shutdown().then(() => {
      log.info('shutdown complete');
      flushLogs();
      process.exit(0);
    });
  };
  // Every session guards its own work (relay.ts, session.ts); what still escapes is a bug of
  // ours that must be seen in the log, but one session's bug must not end every other session.
  process.on('unhandledRejection', (reason) => {
    const error = reason instanceof Error ? reason : new Error(String(reason));
    log.error({ code: PROXY_ERRORS.internalError.code, event: 'unhandledRejection', err: error.message, stack: error.stack }, 'unhandled rejection; the process goes on');
  });
  // A renewed certificate is put in place without a restart: new handshakes get it, sessions under
  // way keep theirs, and a pair that cannot be used is refused with the old one kept.
  process.on('SIGHUP', () => {
    const serverTls = runtime.serverTls;
    if (!serverTls) {
      log.info({ event: 'tlsReload' }, 'SIGHUP: no tlsCert/tlsKey configured, nothing to reload');
      return;
    }
    const result = serverTls.reload();
    switch (result.kind) {
      case 'reloaded':
        log.info({ event: 'tlsReload', code: TLS_LOG_CODES.reloaded, fingerprint256: result.fingerprint256, validTo: result.validTo }, 'TLS certificate reloaded');
        break;
      case 'refused':
        log.error({ event: 'tlsReload', code: TLS_LOG_CODES.reloadRefused, reason: result.reason, fingerprint256: serverTls.fingerprint256 }, 'TLS certificate reload refused; the old certificate stays');
        break;
    }
    flushLogs();
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // `kill -USR2` logs connection and memory figures; under --expose-gc it collects first, so
  // the figures show what is live rather than what the collector has not reached yet. V8 frees
  // the memory of collected buffers on a background thread, so it collects, lets that run, and
  // collects again before reporting.
  process.on('SIGUSR2', () => {
    const collect = (globalThis as { gc?: () => void }).gc;
    const report = (): void => {
      log.info({ event: 'stats', connections: server.connectionCount, engine: engineStats, collected: Boolean(collect), memory: process.memoryUsage() }, 'stats');
      flushLogs();
    };
    if (!collect) {
      report();
      return;
    }
    collect();
    setTimeout(() => {
      collect();
      report();
    }, STATS_SETTLE_MS).unref();
  });
  // Last, so whoever waits for this line may signal us at once.
  log.info({ event: 'listening', plain: addresses.plain, tls: addresses.tls, metrics: opsAddress, pop3: pop3Addresses?.plain ?? null, pop3Tls: pop3Addresses?.tls ?? null, upstream: config.upstream, version: PROXY_VERSION }, 'inlay-proxy listening');
  flushLogs();
}

void main();
