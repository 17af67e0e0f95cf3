/**
 * User-data imports of a tenant: POST names a CSV or JSON-lines object in one of its data
 * sources and answers 202 at once; the import runs in the background (imports/import-runner.ts).
 * GET lists imports (newest first) or shows one with its per-row errors.
 *
 * Must never wait for the file in the request (a million rows take minutes), and never return a
 * data source's secret.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  ImportParamsSchema,
  ImportRequestSchema,
  ImportViewListSchema,
  ImportViewSchema,
  TenantParamsSchema,
  type ImportParams,
  type ImportRequest,
  type ImportView,
  type TenantParams,
} from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { ImportRunner, MAX_STORED_ROW_ERRORS, formatFromKey, newImportId } from '../imports/import-runner.js';
import type { ImportRecord, ImportRowError, Store } from '../store/store.js';
import { requireTenant } from '../store/store-errors.js';
import { BODY_ERRORS, errorResponses } from './responses.js';

const tags = ['imports'];
/** The list route shows the newest imports only; older ones stay readable by id. */
const LIST_LIMIT = 100;

export interface ImportRouteOptions {
  readonly store: Store;
  readonly importRunner: ImportRunner;
}

export function toImportView(record: ImportRecord, errors?: readonly ImportRowError[]): ImportView {
  return {
    id: record.importId,
    dataSourceId: record.dataSourceId,
    objectKey: record.objectKey,
    format: record.format,
    status: record.status,
    rowsRead: record.rowsRead,
    rowsImported: record.rowsImported,
    rowsFailed: record.rowsFailed,
    createdAt: record.createdAt.toISOString(),
    ...(record.startedAt ? { startedAt: record.startedAt.toISOString() } : {}),
    ...(record.finishedAt ? { finishedAt: record.finishedAt.toISOString() } : {}),
    ...(record.error === undefined ? {} : { error: record.error }),
    ...(record.objectDeleted === undefined ? {} : { objectDeleted: record.objectDeleted }),
    ...(errors === undefined ? {} : { errors: errors.map((error) => ({ row: error.rowNumber, reason: error.reason })), errorsOmitted: Math.max(0, record.rowsFailed - errors.length) }),
  };
}

export const importRoutes = fp(
  async (app: FastifyInstance, { store, importRunner }: ImportRouteOptions) => {
    app.post(
      '/api/tenants/:id/imports',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: 'Import users from a CSV or JSON-lines file in a data source',
          description:
            'Answers 202 with the queued import; it runs in the background (GET it for progress). CSV: a header with `address` or `hashedAddress`, optional `displayName`, other columns become attributes. JSON lines: `{"address"|"hashedAddress", "displayName"?, "attributes"?}`.',
          params: TenantParamsSchema,
          body: ImportRequestSchema,
          response: { 202: ImportViewSchema, ...errorResponses(...BODY_ERRORS, 404) },
        },
      },
      async (request, reply) => {
        const { id } = request.params as TenantParams;
        const body = request.body as ImportRequest;
        const tenant = await requireTenant(store, id);
        const dataSource =
          body.dataSourceId === undefined ? tenant.dataSources.find((entry) => entry.defaultDataSource) : tenant.dataSources.find((entry) => entry.id === body.dataSourceId);
        if (!dataSource) {
          throw new MiddlewareError(
            'INLAY_MW_DATA_SOURCE_NOT_FOUND',
            body.dataSourceId === undefined ? `tenant "${id}" has no default data source` : `tenant "${id}" has no data source "${body.dataSourceId}"`,
          );
        }
        const format = body.format ?? formatFromKey(body.objectKey);
        if (format === undefined) throw new MiddlewareError('INLAY_MW_IMPORT_FORMAT');
        const record: ImportRecord = {
          importId: newImportId(),
          dataSourceId: dataSource.id,
          objectKey: body.objectKey,
          format,
          status: 'queued',
          rowsRead: 0,
          rowsImported: 0,
          rowsFailed: 0,
          createdAt: new Date(),
        };
        await request.audited(
          () => store.saveImport(tenant, record),
          () => ({ action: 'import.create', tenantId: id, target: { type: 'import', id: record.importId }, before: null, after: toImportView(record) }),
        );
        importRunner.submit({ tenant, dataSource, record });
        request.log.info({ tenant: id, importId: record.importId, dataSource: dataSource.id, format }, 'import queued');
        return reply.code(202).header('location', `/api/tenants/${id}/imports/${record.importId}`).send(toImportView(record));
      },
    );

    app.post(
      '/api/tenants/:id/imports/:importId/retry',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: 'Run a failed import again, under the same id',
          description:
            'Answers 202 with the import queued again. It reads the file from the start; users are upserted by key into the same list (the import id), so rows that were imported before the failure are not duplicated. 409 unless the import is `failed`.',
          params: ImportParamsSchema,
          response: { 202: ImportViewSchema, ...errorResponses(400, 404, 409) },
        },
      },
      async (request, reply) => {
        const { id, importId } = request.params as ImportParams;
        const tenant = await requireTenant(store, id);
        const failed = await store.getImport(tenant, importId);
        if (!failed) throw new MiddlewareError('INLAY_MW_IMPORT_NOT_FOUND', `tenant "${id}" has no import ${importId}`);
        if (failed.status !== 'failed' || importRunner.isActive(importId)) throw new MiddlewareError('INLAY_MW_IMPORT_STATE', `import ${importId} is ${failed.status}; only a failed import can be retried`);
        const dataSource = tenant.dataSources.find((entry) => entry.id === failed.dataSourceId);
        if (!dataSource) throw new MiddlewareError('INLAY_MW_DATA_SOURCE_NOT_FOUND', `tenant "${id}" no longer has data source "${failed.dataSourceId}"`);
        const { error: _error, startedAt: _startedAt, finishedAt: _finishedAt, objectDeleted: _objectDeleted, ...kept } = failed;
        const record: ImportRecord = { ...kept, status: 'queued', rowsRead: 0, rowsImported: 0, rowsFailed: 0 };
        await request.audited(
          () => store.saveImport(tenant, record),
          () => ({ action: 'import.retry', tenantId: id, target: { type: 'import', id: importId }, before: toImportView(failed), after: toImportView(record) }),
        );
        importRunner.submit({ tenant, dataSource, record });
        request.log.info({ tenant: id, importId, dataSource: dataSource.id }, 'import queued again');
        return reply.code(202).header('location', `/api/tenants/${id}/imports/${importId}`).send(toImportView(record));
      },
    );

    app.get(
      '/api/tenants/:id/imports',
      {
        config: { access: 'tenant' },
        schema: { tags, summary: `A tenant's imports, newest first (at most ${LIST_LIMIT})`, params: TenantParamsSchema, response: { 200: ImportViewListSchema, ...errorResponses(400, 404) } },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const tenant = await requireTenant(store, id);
        return (await store.listImports(tenant, LIST_LIMIT)).map((record) => toImportView(record));
      },
    );

    app.get(
      '/api/tenants/:id/imports/:importId',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: 'One import: status, counts and per-row errors',
          description: `errors lists the first ${MAX_STORED_ROW_ERRORS} failed rows; errorsOmitted counts the rest.`,
          params: ImportParamsSchema,
          response: { 200: ImportViewSchema, ...errorResponses(400, 404) },
        },
      },
      async (request) => {
        const { id, importId } = request.params as ImportParams;
        const tenant = await requireTenant(store, id);
        const record = await store.getImport(tenant, importId);
        if (!record) throw new MiddlewareError('INLAY_MW_IMPORT_NOT_FOUND', `tenant "${id}" has no import ${importId}`);
        return toImportView(record, await store.listImportErrors(tenant, importId, MAX_STORED_ROW_ERRORS));
      },
    );
  },
  { name: 'inlay-import-routes' },
);
