/**
 * The middleware's operations listener (metricsListen): /metrics, /healthz and /readyz over plain
 * HTTP on a port of its own, so Prometheus needs no API token and the figures can stay on an
 * operations network while the API faces the CMP. /healthz and /readyz also answer on the API
 * port (routes/health.ts). Must never serve anything else and never take a request body.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { storeReadiness } from '../routes/health.js';
import type { MiddlewareMetrics } from './metrics.js';

/** Scrapes and probes are tiny; a client that has sent no full request in this long is cut. */
const OPS_REQUEST_TIMEOUT_MS = 5000;

export function startOpsServer(address: string, metrics: MiddlewareMetrics, store: Store, log: Logger): Promise<{ server: Server; bound: string }> {
  const server = createServer({ requestTimeout: OPS_REQUEST_TIMEOUT_MS }, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const answer = async (): Promise<void> => {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET\n');
        return;
      }
      if (path === '/metrics') {
        const body = await metrics.registry.metrics();
        response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
      } else if (path === '/healthz') {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const reason = await storeReadiness(store);
        if (reason === null) response.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else response.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${reason}\n`);
      } else {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /metrics, /healthz, /readyz\n');
      }
    };
    answer().catch((err: unknown) => {
      log.error({ err: (err as Error).message, path }, 'operations request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('internal error\n');
    });
  });
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`metricsListen ${address}: cannot listen (${err.code ?? err.message})`)));
    server.listen({ host, port }, () => {
      const info = server.address() as AddressInfo;
      resolve({ server, bound: info.family === 'IPv6' ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}` });
    });
  });
}
