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
import type { AddressGuard } from '../delivery/address-guard.js';
import { checkPointAddresses } from '../delivery/save-check.js';
import { ensurePointSecret } from '../delivery/dispatcher.js';
import { pointView, restorePasswords } from '../delivery/point-view.js';

const tags = ['conversionPoints'];

export const conversionPointRoutes = fp(
  async (app: FastifyInstance, { store, guard }: StoreOptions & { readonly guard: AddressGuard }) => {
    app.get(
      '/api/tenants/:id/conversionPoints',
      {
        config: { access: 'tenant' },
        schema: { tags, summary: "List a tenant's conversion points", params: TenantParamsSchema, response: { 200: ConversionPointListSchema, ...errorResponses(400, 404) } },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const tenant = await requireTenant(store, id);
        return tenant.conversionPoints.map(pointView);
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
        const replaced = (await requireTenant(store, id)).conversionPoints;
        const conversionPoints = restorePasswords(request.body as ConversionPoint[], replaced);
        checkConversionPoints(conversionPoints, 'body');
        await checkPointAddresses(guard, conversionPoints, 'body');
        const stored = await request.audited(
          () => store.replaceConversionPoints(id, conversionPoints),
          () => ({ action: 'conversionPoints.replace', tenantId: id, target: { type: 'conversionPoints', id }, before: replaced, after: conversionPoints }),
        );
        // Each point gets its signing secret when it is made (kept apart from the tenant, so a
        // tenant GET never shows it).
        const tenant = await requireTenant(store, id);
        for (const point of stored) await ensurePointSecret(store, tenant, point.id);
        request.log.info({ tenant: id, conversionPoints: stored.length }, 'conversion points replaced');
        return stored.map(pointView);
      },
    );
  },
  { name: 'inlay-conversion-point-routes' },
);
