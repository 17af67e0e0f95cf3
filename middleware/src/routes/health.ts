/**
 * Liveness and readiness for systemd's watchdog, Kubernetes probes and load balancers, on the API
 * port and on the metrics listener alike, without a token (a probe carries none).
 * - GET /healthz: the process answers HTTP (restart it if not).
 * - GET /readyz: the store answers a read within the probe's time (send it no traffic if not).
 * Must never do work that grows with the data: one small read, bounded in time.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { ErrorBodySchema } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import type { Store } from '../store/store.js';

/** Under Kubernetes' default probe timeout of 1 s, so a slow store reads as "not ready" rather
 *  than as a probe that timed out with nothing said. */
export const READY_STORE_TIMEOUT_MS = 900;

export interface HealthOptions {
  readonly store: Store;
}

/** Resolves null when the store answered a small read in time, else why not. */
export async function storeReadiness(store: Store): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the store did not answer within ${READY_STORE_TIMEOUT_MS} ms`), READY_STORE_TIMEOUT_MS);
  });
  try {
    const read = store.getTenant('default').then(
      () => null,
      (err: unknown) => `the store failed a read: ${(err as Error).message}`,
    );
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const probeResponse = {
  type: 'object',
  properties: { status: { type: 'string' } },
  required: ['status'],
} as const;

export const healthRoutes = fp(
  async (app: FastifyInstance, options: HealthOptions) => {
    app.get(
      '/healthz',
      { config: { access: 'public' }, logLevel: 'warn', schema: { summary: 'Liveness: the process answers', tags: ['operations'], security: [], response: { 200: probeResponse } } },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/readyz',
      {
        config: { access: 'public' },
        logLevel: 'warn',
        schema: { summary: 'Readiness: the store answers a read (503 INLAY_MW_STORE_UNAVAILABLE, with the reason, when not)', tags: ['operations'], security: [], response: { 200: probeResponse, 503: ErrorBodySchema } },
      },
      async (request) => {
        const reason = await storeReadiness(options.store);
        if (reason === null) return { status: 'ready' };
        request.log.warn({ code: 'INLAY_MW_STORE_UNAVAILABLE', reason }, 'readiness check failed');
        throw new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE', `not ready: ${reason}`);
      },
    );
  },
  { name: 'inlay-health' },
);
