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
import { parsePop3Upstream, type Pop3Target } from './pop3/upstream.js';

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
  /** The POP3 listener's settings, or null when proxy.pop3 listens nowhere. */
  readonly pop3: Pop3Settings | null;
}

export interface Pop3Settings {
  readonly listen: string;
  readonly tlsListen: string;
  readonly target: Pop3Target;
  /** How long a POP3 login waits for the campaign view: an IMAP login and STATUS on the
   *  upstream, then up to three engine calls (view, reveal, assign) of engine.timeoutMs each. */
  readonly campaignDeadlineMs: number;
}

/** What an IMAP login and two STATUS commands on a healthy upstream take, with room to spare. */
const POP3_IMAP_PROBE_MS = 2000;

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
    pop3:
      config.proxy.pop3.listen || config.proxy.pop3.tlsListen
        ? {
            listen: config.proxy.pop3.listen,
            tlsListen: config.proxy.pop3.tlsListen,
            target: parsePop3Upstream(config.proxy.pop3.upstream),
            campaignDeadlineMs: POP3_IMAP_PROBE_MS + 3 * config.proxy.engine.timeoutMs,
          }
        : null,
  };
}

/** The proxy's own rules across keys: it must listen somewhere, and TLS needs a certificate. */
function checkProxyCombinations(config: InlayConfig, engineUrl: string, internalToken: string | undefined): void {
  const wantsTls = Boolean(config.proxy.tlsListen) || config.proxy.loginRequiresTls;
  if (wantsTls && !(config.tlsCert && config.tlsKey)) {
    throw new Error('tlsCert and tlsKey must both be set (INLAY_TLS_CERT, INLAY_TLS_KEY) when proxy.tlsListen or proxy.loginRequiresTls is used');
  }
  if (config.proxy.pop3.tlsListen && !(config.tlsCert && config.tlsKey)) {
    throw new Error('tlsCert and tlsKey must both be set (INLAY_TLS_CERT, INLAY_TLS_KEY) when proxy.pop3.tlsListen is used');
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
