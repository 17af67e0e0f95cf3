/**
 * A tenant's data sources (S3 buckets with templates and user lists): GET lists them, PUT
 * replaces the whole list — OX Engage's "use the result of the list call, modify accordingly and
 * provide the whole new list". S3 secret keys are write-only: a GET shows `secretKeySet`, and a
 * PUT that leaves a secret out keeps the stored one of the data source with the same id.
 *
 * Must never return a secret, and never store a list with duplicate ids or without exactly one
 * default (an empty list is allowed).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { DataSourceInputListSchema, DataSourceViewListSchema, TenantParamsSchema, type DataSource, type DataSourceInput, type TenantParams } from '@inlay/schemas';
import { requireTenant } from '../store/store-errors.js';
import { checkDataSources, mergeDataSourceSecrets } from '../tenants/rules.js';
import { toDataSourceView } from '../tenants/view.js';
import { BODY_ERRORS, errorResponses } from './responses.js';
import type { StoreOptions } from './tenants.js';

const tags = ['dataSources'];

export const dataSourceRoutes = fp(
  async (app: FastifyInstance, { store }: StoreOptions) => {
    app.get(
      '/api/tenants/:id/dataSources',
      {
        config: { access: 'tenant' },
        schema: { tags, summary: "List a tenant's data sources", params: TenantParamsSchema, response: { 200: DataSourceViewListSchema, ...errorResponses(400, 404) } },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const tenant = await requireTenant(store, id);
        return tenant.dataSources.map(toDataSourceView);
      },
    );

    app.put(
      '/api/tenants/:id/dataSources',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: "Replace a tenant's data sources",
          description: 'The whole new list: unique ids, exactly one defaultDataSource (unless empty). A data source that leaves out secretKey keeps the stored one.',
          params: TenantParamsSchema,
          body: DataSourceInputListSchema,
          response: { 200: DataSourceViewListSchema, ...errorResponses(...BODY_ERRORS, 404, 409) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const incoming = request.body as DataSourceInput[];
        checkDataSources(incoming, 'body');
        // The change may run more than once (a compare-and-set retried): the last run saw what was replaced.
        let replaced: readonly DataSource[] = [];
        let next: readonly DataSource[] = [];
        const stored = await request.audited(
          () =>
            store.replaceDataSources(id, (current) => {
              replaced = current;
              next = mergeDataSourceSecrets(current, incoming, 'body');
              return [...next];
            }),
          () => ({ action: 'dataSources.replace', tenantId: id, target: { type: 'dataSources', id }, before: replaced, after: next }),
        );
        request.log.info({ tenant: id, dataSources: stored.length }, 'data sources replaced');
        return stored.map(toDataSourceView);
      },
    );
  },
  { name: 'inlay-data-source-routes' },
);
