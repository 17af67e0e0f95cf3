/**
 * POST /api/tenants/{id}/dataSources/{dsid}/test — the web UI's connection test: a HEAD of the
 * data source's bucket with its stored credentials. The outcome is the answer's data (200 with
 * `ok` and S3's reason), not an HTTP error, because a failing bucket is what the caller asked
 * about. Must never put a secret in the message (s3Failure names host, bucket and S3's code only).
 * Recorded in the audit trail as `dataSource.test` (it uses the stored credentials against an
 * outside system), though it changes nothing.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { DataSourceTestParamsSchema, DataSourceTestResultSchema, type DataSourceTestParams, type DataSourceTestResult } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { requireTenant } from '../store/store-errors.js';
import type { Store } from '../store/store.js';
import { s3ClientFor, s3Failure } from '../templates/s3.js';
import { errorResponses } from './responses.js';

export const dataSourceTestRoutes = fp(
  async (app: FastifyInstance, { store }: { store: Store }) => {
    app.post(
      '/api/tenants/:id/dataSources/:dsid/test',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['dataSources'],
          summary: "Test a data source's connection (HEAD of its bucket)",
          params: DataSourceTestParamsSchema,
          response: { 200: DataSourceTestResultSchema, ...errorResponses(400, 404) },
        },
      },
      async (request): Promise<DataSourceTestResult> => {
        const { id, dsid } = request.params as DataSourceTestParams;
        const result = await testConnection(store, id, dsid);
        await request.audit({ action: 'dataSource.test', tenantId: id, target: { type: 'dataSource', id: dsid }, before: null, after: { ok: result.ok, message: result.message } });
        return result;
      },
    );
  },
  { name: 'inlay-data-source-test-routes' },
);

async function testConnection(store: Store, id: string, dsid: string): Promise<DataSourceTestResult> {
  const tenant = await requireTenant(store, id);
  const dataSource = tenant.dataSources.find((entry) => entry.id === dsid);
  if (!dataSource) throw new MiddlewareError('INLAY_MW_DATA_SOURCE_NOT_FOUND', `tenant "${id}" has no data source "${dsid}"`);
  const started = Date.now();
  let client: ReturnType<typeof s3ClientFor> | undefined;
  try {
    client = s3ClientFor(dataSource);
    await client.send(new HeadBucketCommand({ Bucket: dataSource.awsConnectionInformation.bucket }));
    return { ok: true, message: `bucket "${dataSource.awsConnectionInformation.bucket}" answers`, latencyMs: Date.now() - started };
  } catch (error) {
    return { ok: false, message: s3Failure(error, dataSource, '').message, latencyMs: Date.now() - started };
  } finally {
    client?.destroy();
  }
}
