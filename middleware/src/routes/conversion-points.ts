/**
 * A tenant's conversion points (where injected / reinjected / read / expunged events are
 * delivered): GET lists them, PUT replaces the whole list, as for data sources. Ids must be
 * unique; several points may take the same event type. Must never store a list it has not
 * checked whole: a PUT is all or nothing.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { ConversionPointListSchema, TenantParamsSchema, type ConversionPoint, type TenantParams } from '@inlay/schemas';
import { requireTenant } from '../store/store-errors.js';
import { checkConversionPoints } from '../tenants/rules.js';
import { BODY_ERRORS, errorResponses } from './responses.js';
import type { StoreOptions } from './tenants.js';

const tags = ['conversionPoints'];

export const conversionPointRoutes = fp(
  async (app: FastifyInstance, { store }: StoreOptions) => {
    app.get(
      '/api/tenants/:id/conversionPoints',
      {
        config: { access: 'tenant' },
        schema: { tags, summary: "List a tenant's conversion points", params: TenantParamsSchema, response: { 200: ConversionPointListSchema, ...errorResponses(400, 404) } },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const tenant = await requireTenant(store, id);
        return tenant.conversionPoints;
      },
    );

    app.put(
      '/api/tenants/:id/conversionPoints',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: "Replace a tenant's conversion points",
          params: TenantParamsSchema,
          body: ConversionPointListSchema,
          response: { 200: ConversionPointListSchema, ...errorResponses(...BODY_ERRORS, 404) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const conversionPoints = request.body as ConversionPoint[];
        checkConversionPoints(conversionPoints, 'body');
        const stored = await store.replaceConversionPoints(id, conversionPoints);
        request.log.info({ tenant: id, conversionPoints: stored.length }, 'conversion points replaced');
        return stored;
      },
    );
  },
  { name: 'inlay-conversion-point-routes' },
);
