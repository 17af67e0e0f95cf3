/**
 * Tenants, on OX Engage's paths: POST /api/tenants/?createDB=true, GET /api/tenants,
 * GET /api/tenants/{id}, DELETE /api/tenants/{id}/?dropDB=true (a trailing slash or none, alike).
 * Creating, listing and deleting are admin-only; reading one tenant is open to its own tokens.
 *
 * Responses are views (tenants/view.ts): secrets are never returned. Must never write anything
 * before every check on the request has passed.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  CreateTenantQuerySchema,
  DeleteTenantQuerySchema,
  TenantInputSchema,
  TenantParamsSchema,
  TenantViewListSchema,
  TenantViewSchema,
  type CreateTenantQuery,
  type DeleteTenantQuery,
  type TenantInput,
  type TenantParams,
} from '@inlay/schemas';
import type { Store } from '../store/store.js';
import { requireTenant } from '../store/store-errors.js';
import { checkDomainsFree, tenantFromInput } from '../tenants/rules.js';
import { toTenantView } from '../tenants/view.js';
import { BODY_ERRORS, errorResponses } from './responses.js';
import type { AddressGuard } from '../delivery/address-guard.js';
import { checkPointAddresses } from '../delivery/save-check.js';

export interface StoreOptions {
  readonly store: Store;
}

export interface TenantRouteOptions extends StoreOptions {
  /** Conversion point URLs to internal addresses are refused (delivery/save-check.ts). */
  readonly guard?: AddressGuard;
}

const tags = ['tenants'];

export const tenantRoutes = fp(
  async (app: FastifyInstance, { store, guard }: TenantRouteOptions) => {
    app.post(
      '/api/tenants',
      {
        config: { access: 'admin' },
        schema: {
          tags,
          summary: 'Create a tenant',
          description:
            "The body is OX Engage's tenant JSON. With createDB=true the tenant's keyspace and tables are created; " +
            'without it the keyspace must exist (its tables are created in it), else 409 INLAY_MW_KEYSPACE_MISSING. ' +
            'The tenant "default" serves users whose tenant cannot be resolved. configuration.domains (an Inlay extension) lists the mail domains ' +
            'whose users belong to the tenant; a domain another tenant lists is 409 INLAY_MW_DOMAIN_IN_USE.',
          querystring: CreateTenantQuerySchema,
          body: TenantInputSchema,
          response: { 201: TenantViewSchema, ...errorResponses(...BODY_ERRORS, 409) },
        },
      },
      async (request, reply) => {
        const createDB = (request.query as CreateTenantQuery).createDB ?? false;
        const tenant = tenantFromInput(request.body as TenantInput);
        if (tenant.configuration.domains?.length) checkDomainsFree(tenant, await store.listTenants());
        if (guard) await checkPointAddresses(guard, tenant.conversionPoints, 'body.conversionPoints');
        await request.audited(
          () => store.createTenant(tenant, { createDB }),
          () => ({ action: 'tenant.create', tenantId: tenant.id, target: { type: 'tenant', id: tenant.id }, before: null, after: tenant }),
        );
        request.log.info({ tenant: tenant.id, keyspace: tenant.keyspaceName, createDB }, 'tenant created');
        return reply.code(201).header('location', `/api/tenants/${tenant.id}`).send(toTenantView(tenant));
      },
    );

    app.get(
      '/api/tenants',
      {
        config: { access: 'admin' },
        schema: { tags, summary: 'List all tenants', response: { 200: TenantViewListSchema, ...errorResponses() } },
      },
      async () => (await store.listTenants()).map(toTenantView),
    );

    app.get(
      '/api/tenants/:id',
      {
        config: { access: 'tenant' },
        schema: { tags, summary: 'Read a tenant', params: TenantParamsSchema, response: { 200: TenantViewSchema, ...errorResponses(400, 404) } },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const tenant = await requireTenant(store, id);
        return toTenantView(tenant);
      },
    );

    app.delete(
      '/api/tenants/:id',
      {
        config: { access: 'admin' },
        schema: {
          tags,
          summary: "Delete a tenant's configuration",
          description: 'Removes the configuration and the tenant tokens; the keyspace is kept unless dropDB=true.',
          params: TenantParamsSchema,
          querystring: DeleteTenantQuerySchema,
          response: { 204: { type: 'null', description: 'deleted' }, ...errorResponses(400, 404) },
        },
      },
      async (request, reply) => {
        const { id } = request.params as TenantParams;
        const dropDB = (request.query as DeleteTenantQuery).dropDB ?? false;
        // Read first for the entry: it is written inside the delete's transaction where the store can.
        const existing = await requireTenant(store, id);
        const tenant = await request.audited(
          () => store.deleteTenant(id, { dropDB }),
          () => ({ action: dropDB ? 'tenant.delete-with-keyspace' : 'tenant.delete', tenantId: id, target: { type: 'tenant', id }, before: existing, after: null }),
        );
        request.log.info({ tenant: id, keyspace: tenant.keyspaceName, dropDB }, 'tenant deleted');
        return reply.code(204).send();
      },
    );
  },
  { name: 'inlay-tenant-routes' },
);
