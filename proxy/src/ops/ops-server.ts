/**
 * The proxy's operations listener (proxy.metricsListen): plain HTTP with three read-only paths.
 * - GET /metrics — Prometheus text format.
 * - GET /healthz — 200 while the process runs its event loop (liveness: restart me if not).
 * - GET /readyz — 200 when the upstream IMAP server accepts a TCP connection, else 503
 *   (readiness: send me no new clients). The campaign side is never part of readiness: mail
 *   works without it.
 *
 * Must never answer anything but these, never take a request body, and never let a slow scrape
 * or a probe hold the IMAP listeners up: it is its own server with its own small limits.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { OPS_LOG_CODES } from '../errors.js';
import type { UpstreamTarget } from '../upstream.js';
import type { ProxyMetrics } from './metrics.js';

/** A readiness probe waits this long for the upstream's TCP handshake: Kubernetes' default probe
 *  timeout is 1 s, and an upstream slower than that to accept is not ready for new clients. */
const READY_CONNECT_TIMEOUT_MS = 900;
/** Probes from several kubelets and load balancers share one check within this window, so the
 *  upstream sees at most a few probe connections per second from each proxy. */
const READY_CACHE_MS = 1000;
/** Scrapes and probes are tiny; a client that has sent no full request in this long is cut. */
const OPS_REQUEST_TIMEOUT_MS = 5000;

export interface OpsServerOptions {
  readonly metrics: ProxyMetrics;
  readonly upstream: UpstreamTarget;
  readonly log: Logger;
}

interface ReadyCheck {
  readonly at: number;
  readonly result: Promise<string | null>;
}

/** Resolves null when the upstream accepts a TCP connection in time, else why not. */
function upstreamAccepts(target: UpstreamTarget): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const done = (reason: string | null): void => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(READY_CONNECT_TIMEOUT_MS, () => done(`no TCP handshake from ${target.host}:${target.port} within ${READY_CONNECT_TIMEOUT_MS} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(`${target.host}:${target.port}: ${err.code ?? err.message}`));
  });
}

export class OpsServer {
  private readonly server: Server;
  private lastReady: ReadyCheck | null = null;

  constructor(private readonly options: OpsServerOptions) {
    this.server = createServer({ requestTimeout: OPS_REQUEST_TIMEOUT_MS }, (request, response) => {
      void this.answer(request, response).catch((err: unknown) => {
        options.log.error({ err: (err as Error).message, path: request.url }, 'operations request failed');
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('internal error\n');
      });
    });
  }

  /** Binds `host:port`; resolves the address bound (port 0 picks a free one). */
  listen(address: string): Promise<string> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    return new Promise((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`proxy.metricsListen ${address}: cannot listen (${err.code ?? err.message})`)));
      this.server.listen({ host, port }, () => {
        const bound = this.server.address() as AddressInfo;
        resolve(bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`);
      });
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET\n');
      return;
    }
    switch (path) {
      case '/metrics': {
        const registry = this.options.metrics.registry;
        const body = await registry.metrics();
        response.writeHead(200, { 'content-type': registry.contentType }).end(body);
        return;
      }
      case '/healthz':
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const reason = await this.readiness();
        if (reason === null) response.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else response.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: upstream IMAP server unreachable (${reason})\n`);
        return;
      }
      default:
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics, /healthz, /readyz\n');
    }
  }

  private readiness(): Promise<string | null> {
    const now = Date.now();
    if (this.lastReady !== null && now - this.lastReady.at < READY_CACHE_MS) return this.lastReady.result;
    const result = upstreamAccepts(this.options.upstream);
    this.lastReady = { at: now, result };
    void result.then((reason) => {
      if (reason !== null) this.options.log.warn({ code: OPS_LOG_CODES.notReady, reason }, 'readiness check: upstream unreachable');
    });
    return result;
  }
}
