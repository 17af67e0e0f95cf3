/**
 * GET /api/session — who the caller's token is: `{"kind":"admin"}` or `{"kind":"tenant",
 * "tenantId"}`. The web UI signs in with nothing but a token and must know which tenant a tenant
 * token belongs to; a tenant token carries no tenant id of its own. Reveals nothing a token's
 * holder could not learn by trying routes, and never the token itself.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { SessionSchema, type Session } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { errorResponses } from './responses.js';

export const sessionRoutes = fp(
  async (app: FastifyInstance) => {
    app.get(
      '/api/session',
      {
        config: { access: 'signedIn' },
        schema: { tags: ['session'], summary: 'Who this token is: the admin, or which tenant', response: { 200: SessionSchema, ...errorResponses() } },
      },
      async (request): Promise<Session> => {
        const principal = request.principal;
        switch (principal?.kind) {
          case 'admin':
            return { kind: 'admin' };
          case 'tenant':
            return { kind: 'tenant', tenantId: principal.tenantId };
          default:
            // The auth hook lets only admin and tenant tokens through 'signedIn'.
            throw new MiddlewareError('INLAY_MW_FORBIDDEN', 'only admin and tenant tokens have a session');
        }
      },
    );
  },
  { name: 'inlay-session-routes' },
);
