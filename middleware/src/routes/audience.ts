/**
 * GET /api/tenants/{id}/audience/count?audience=<JSON> — how many of the tenant's known users an
 * audience matches, by the engine's own targeting (campaigns/audience-count.ts), so the campaign
 * editor can show the reach of its rules before saving. A GET because it changes nothing: the
 * audit guard only asks changes for an audit entry. Open to the admin and the tenant's own tokens.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  AudienceCountQuerySchema,
  AudienceCountSchema,
  AudienceSchema,
  TenantParamsSchema,
  type Audience,
  type AudienceCountQuery,
  type TenantParams,
} from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { countAudience, DEFAULT_AUDIENCE_COUNT_LIMITS, type AudienceCountLimits } from '../campaigns/audience-count.js';
import { requireTenant } from '../store/store-errors.js';
import type { Store } from '../store/store.js';
import { compileJsonCheck } from '../validation.js';
import { errorResponses } from './responses.js';

export interface AudienceRouteOptions {
  readonly store: Store;
  /** Tests lower the bounds to see `exact: false`. */
  readonly limits?: AudienceCountLimits;
}

const checkAudience = compileJsonCheck(AudienceSchema);

/** The `audience` parameter as an Audience, or a 400 saying what to fix. */
export function parseAudienceParameter(text: string): Audience {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MiddlewareError('INLAY_MW_VALIDATION', 'querystring.audience must be JSON (URL-encoded), e.g. {"type":"rules","rules":[{"attribute":"plan","op":"eq","value":"gold"}]}');
  }
  const problem = checkAudience(value, 'querystring.audience');
  if (problem !== undefined) throw new MiddlewareError('INLAY_MW_VALIDATION', problem);
  return value as Audience;
}

export const audienceRoutes = fp(
  async (app: FastifyInstance, { store, limits = DEFAULT_AUDIENCE_COUNT_LIMITS }: AudienceRouteOptions) => {
    app.get(
      '/api/tenants/:id/audience/count',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['campaigns'],
          summary: 'How many known users an audience matches (bounded: exact is false when the scan stopped early)',
          params: TenantParamsSchema,
          querystring: AudienceCountQuerySchema,
          response: { 200: AudienceCountSchema, ...errorResponses(400, 404) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const audience = parseAudienceParameter((request.query as AudienceCountQuery).audience);
        const tenant = await requireTenant(store, id);
        return countAudience(store, { id: tenant.id, keyspaceName: tenant.keyspaceName }, audience, limits);
      },
    );
  },
  { name: 'inlay-audience-routes' },
);
