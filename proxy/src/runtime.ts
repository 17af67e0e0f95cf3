/**
 * Everything a connection needs that is derived once from the configuration at start-up:
 * parsed upstream, TLS material and policy, trusted and limit-exempt networks. Built before
 * listening, so a bad certificate path, cipher list or CIDR stops start-up with a clear line
 * instead of failing a login.
 */
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { proxyEngineUrl, type InlayConfig, type ProxyLimits } from '@inlay/schemas';
import { networkMatcher } from './imap-id.js';
import { loadUpstreamTls, parseUpstream, type UpstreamTarget, type UpstreamTlsSettings } from './upstream.js';
import { createProxyMetrics, type ProxyMetrics } from './ops/metrics.js';
import { PROXY_VERSION } from './version.js';
import { EngineClient } from './engine-client.js';
import { ServerTls, clientTlsPolicy, type TlsMaterial } from './server-tls.js';
import { UserAddressSessions } from './user-address-limit.js';

export type { TlsMaterial } from './server-tls.js';

export interface ProxyRuntime {
  readonly log: Logger;
  readonly limits: ProxyLimits;
  readonly upstream: UpstreamTarget;
  readonly upstreamTls: UpstreamTlsSettings;
  /** Present when tlsCert/tlsKey are configured: enables STARTTLS and the implicit-TLS listener;
   *  SIGHUP reloads it. Listeners take their options from it (`listenerOptions`, `follow`). */
  readonly serverTls: ServerTls | null;
  /** The context for a handshake starting now: the reloaded one after SIGHUP. */
  readonly secureContext: SecureContext | null;
  /** The current certificate and key as PEM. */
  readonly tlsMaterial: TlsMaterial | null;
  readonly loginRequiresTls: boolean;
  readonly isTrusted: (address: string) => boolean;
  /** Addresses the per-address limit does not count: trustedNetworks and limits.exemptNetworks. */
  readonly isExemptFromAddressLimit: (address: string) => boolean;
  /** Logged-in sessions per user and client address (limits.maxConnectionsPerUserAddress). */
  readonly userAddressSessions: UserAddressSessions;
  readonly proxyTtl: number;
  readonly idName: string;
  readonly idVersion: string;
  /** The middleware's engine API, or null when injection is off (INBOX UIDs are still translated). */
  readonly engine: EngineClient | null;
  /** How often an idling client's view is looked at again. */
  readonly idleRefreshMs: number;
  /** Prometheus figures; kept whether or not proxy.metricsListen serves them. */
  readonly metrics: ProxyMetrics;
}

/** An idling client learns of withdrawals at most this late, even with a long view cache. */
const IDLE_REFRESH_MAX_MS = 30_000;

/** `internalToken`: the token resolved at start-up (config or `<dataDir>/internal-token`). */
export function buildRuntime(config: InlayConfig, log: Logger, internalToken: string | undefined = config.internalToken): ProxyRuntime {
  const engineUrl = proxyEngineUrl(config);
  checkProxyCombinations(config, engineUrl, internalToken);
  const clientPolicy = clientTlsPolicy(config);
  const serverTls = config.tlsCert && config.tlsKey ? ServerTls.load(config.tlsCert, config.tlsKey, clientPolicy) : null;
  const { trustedNetworks, limits } = config.proxy;
  const isTrusted = networkMatcher(trustedNetworks, 'proxy.trustedNetworks');
  const isExempt = networkMatcher(limits.exemptNetworks, 'proxy.limits.exemptNetworks (INLAY_PROXY_LIMITS_EXEMPT_NETWORKS)');
  const metrics = createProxyMetrics();
  return {
    log,
    limits,
    upstream: parseUpstream(config.upstream),
    upstreamTls: loadUpstreamTls(config.upstreamTls),
    serverTls,
    get secureContext() {
      return serverTls?.context ?? null;
    },
    get tlsMaterial() {
      return serverTls?.pem ?? null;
    },
    loginRequiresTls: config.proxy.loginRequiresTls,
    isTrusted,
    isExemptFromAddressLimit: (address) => isTrusted(address) || isExempt(address),
    userAddressSessions: new UserAddressSessions(limits.maxConnectionsPerUserAddress),
    proxyTtl: config.proxy.proxyTtl,
    idName: config.proxy.idName,
    idVersion: config.proxy.idVersion ?? PROXY_VERSION,
    engine: engineUrl ? new EngineClient({ ...config.proxy.engine, url: engineUrl }, internalToken!, log, metrics.engine) : null,
    idleRefreshMs: Math.min(Math.max(config.proxy.engine.viewCacheMs, 1000), IDLE_REFRESH_MAX_MS),
    metrics,
  };
}

/** The proxy's own rules across keys: it must listen somewhere, and TLS needs a certificate. */
function checkProxyCombinations(config: InlayConfig, engineUrl: string, internalToken: string | undefined): void {
  const wantsTls = Boolean(config.proxy.tlsListen) || config.proxy.loginRequiresTls;
  if (wantsTls && !(config.tlsCert && config.tlsKey)) {
    throw new Error('tlsCert and tlsKey must both be set (INLAY_TLS_CERT, INLAY_TLS_KEY) when proxy.tlsListen or proxy.loginRequiresTls is used');
  }
  if (engineUrl && !internalToken) {
    throw new Error('internalToken (INLAY_INTERNAL_TOKEN) must be set when proxy.engine.url is: the middleware only answers the proxy with it');
  }
  if (engineUrl && !/^https?:\/\/[^/]+/.test(engineUrl)) {
    throw new Error(`proxy.engine.url must be an http:// or https:// URL of the middleware`);
  }
  if (!config.proxy.listen && !config.proxy.tlsListen) {
    throw new Error('proxy.listen and proxy.tlsListen are both empty: the proxy would listen nowhere');
  }
}

/** TLS 1.2 is the floor of what may be configured (tlsMinVersion): RFC 8996 retired 1.0 and 1.1,
 *  and RFC 8314 asks mail to follow. Listeners take the configured minimum from `serverTls`. */
export const MIN_TLS_VERSION = 'TLSv1.2';
