// User-data imports end to end on the real services: a CSV and a JSON-lines file in S3Proxy,
// imported through the REST API into tenants on Cassandra; counts, per-row errors, users, and
// deleteTemporaryImportFiles. Every keyspace and bucket carries a random tag.
import { randomBytes } from 'node:crypto';
import { s3ClientFor } from '../services/s3proxy.ts';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../middleware/src/app.ts';
import type { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import { openTestCassandraStore, type TestCassandraStore } from '../helpers/cassandra-store.ts';
import { hashAddress } from '../../middleware/src/users/user-key.ts';

const s3Info = inject('s3');
const cassandraInfo = inject('cassandra');
const tag = randomBytes(3).toString('hex');
const bucket = `imports-${tag}`;
const ADMIN = 'inlay_a_imports-test-token-0123456789';
const s3 = s3ClientFor(s3Info);
let db: TestCassandraStore;
let store: CassandraStore;
let app: FastifyInstance;

function tenantBody(id: string, hashed: boolean, deleteTemporaryImportFiles: boolean, secretKey = s3Info.secretKey) {
  return {
    id,
    name: `Imports ${id}`,
    keyspaceName: id.replaceAll('-', '_'),
    configuration: { secretKey: 'hmac-key', hashedEmailAddresses: hashed },
    conversionPoints: [],
    dataSources: [
      {
        id: 'default',
        type: 'ongage',
        defaultDataSource: true,
        deleteTemporaryImportFiles,
        awsConnectionInformation: { authorizationType: 'aws', accessKey: s3Info.accessKey, secretKey, endpoint: s3Info.endpoint, bucket, pathStyle: true },
      },
    ],
  };
}

let baseUrl = '';

/** Over real HTTP: the app listens on a free loopback port and is called with fetch. */
async function call(method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown): Promise<{ statusCode: number; json: () => any }> {
  const response = await fetch(`${baseUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { statusCode: response.status, json: () => JSON.parse(text) };
}

async function waitForImport(tenantId: string, importId: string): Promise<Record<string, any>> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const shown = (await call('GET', `/api/tenants/${tenantId}/imports/${importId}`)).json();
    if (shown.status === 'completed' || shown.status === 'failed' || Date.now() > deadline) return shown;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  db = await openTestCassandraStore(cassandraInfo, 'imports');
  store = db.store;
  app = await buildApp({ store, adminToken: ADMIN });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await db?.cleanUp();
  s3.destroy();
});

test('a 3,000-row CSV with bad rows: completed, counted, errors listed, users stored, file deleted', async () => {
  const tenantId = `imp-csv-${tag}`;
  expect((await call('POST', '/api/tenants/?createDB=true', tenantBody(tenantId, false, true))).statusCode).toBe(201);
  const lines = ['address,displayName,plan,city'];
  const bad = new Map<number, string>();
  for (let index = 0; index < 3000; index++) {
    const line = lines.length + 1;
    if (index % 500 === 7) {
      lines.push(`not-an-address-${index},Bad,gold,X`);
      bad.set(line, 'local part');
    } else if (index % 500 === 8) {
      lines.push(`short${index}@example.org,Short`);
      bad.set(line, 'as many fields');
    } else {
      lines.push(`User${index}@Example.org,"User ${index}, Jr.",${index % 2 ? 'gold' : 'silver'},Köln`);
    }
  }
  const key = `lists/${tag}/users.csv`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${lines.join('\n')}\n` }));

  const posted = await call('POST', `/api/tenants/${tenantId}/imports`, { objectKey: key });
  expect(posted.statusCode).toBe(202);
  const importId = posted.json().id as string;
  const shown = await waitForImport(tenantId, importId);
  expect(shown).toMatchObject({ status: 'completed', format: 'csv', rowsRead: 3000, rowsImported: 3000 - bad.size, rowsFailed: bad.size, objectDeleted: true, errorsOmitted: 0 });
  expect(shown['errors']).toHaveLength(bad.size);
  for (const [index, error] of (shown['errors'] as { row: number; reason: string }[]).entries()) {
    const expectedLine = [...bad.keys()][index]!;
    expect(error.row).toBe(expectedLine);
    expect(error.reason).toContain(bad.get(expectedLine));
  }
  expect(new Date(shown['finishedAt']).getTime()).toBeGreaterThanOrEqual(new Date(shown['startedAt']).getTime());

  const tenant = (await store.getTenant(tenantId))!;
  expect(await store.getUser(tenant, 'user2999@example.org')).toMatchObject({ displayName: 'User 2999, Jr.', attributes: { plan: 'gold', city: 'Köln' }, lists: [importId] });
  expect(await store.getUser(tenant, 'user0@example.org')).toMatchObject({ attributes: { plan: 'silver' } });
  await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });

  const listed = (await call('GET', `/api/tenants/${tenantId}/imports`)).json();
  expect(listed[0]).toMatchObject({ id: importId, status: 'completed' });
});

test('JSON lines for a hashing tenant: addresses hashed, given hashes kept; the file stays when not configured', async () => {
  const tenantId = `imp-jsonl-${tag}`;
  expect((await call('POST', '/api/tenants/?createDB=true', tenantBody(tenantId, true, false))).statusCode).toBe(201);
  const givenHash = hashAddress('hmac-key', 'given@example.org');
  const body = [
    JSON.stringify({ address: 'Plain@Example.org', displayName: 'Plain', attributes: { tier: 2, vip: true } }),
    JSON.stringify({ hashedAddress: givenHash }),
    JSON.stringify({ hashedAddress: 'not-hex' }),
    '{broken',
  ].join('\n');
  const key = `lists/${tag}/users.ndjson`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const importId = (await call('POST', `/api/tenants/${tenantId}/imports`, { objectKey: key })).json().id as string;
  const shown = await waitForImport(tenantId, importId);
  expect(shown).toMatchObject({ status: 'completed', format: 'jsonl', rowsRead: 4, rowsImported: 2, rowsFailed: 2 });
  expect(shown['objectDeleted']).toBeUndefined();
  expect(shown['errors']).toEqual([
    { row: 3, reason: expect.stringContaining('64 hexadecimal') },
    { row: 4, reason: 'the line is not valid JSON' },
  ]);
  const tenant = (await store.getTenant(tenantId))!;
  expect(await store.getUser(tenant, hashAddress('hmac-key', 'plain@example.org'))).toMatchObject({ displayName: 'Plain', attributes: { tier: '2', vip: 'true' } });
  expect(await store.getUser(tenant, 'plain@example.org')).toBeUndefined();
  expect(await store.getUser(tenant, givenHash)).toMatchObject({ lists: [importId] });
  await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).resolves.toBeDefined();
});

test('a missing file and a wrong S3 secret fail the import with a reason and no secret', async () => {
  const tenantId = `imp-fail-${tag}`;
  const wrongSecret = `wrong-${randomBytes(8).toString('hex')}`;
  expect((await call('POST', '/api/tenants/?createDB=true', tenantBody(tenantId, false, true))).statusCode).toBe(201);
  const missing = (await call('POST', `/api/tenants/${tenantId}/imports`, { objectKey: 'lists/none.csv' })).json().id as string;
  expect(await waitForImport(tenantId, missing)).toMatchObject({ status: 'failed', error: expect.stringContaining(`s3://${bucket}/lists/none.csv`) });

  const key = `lists/${tag}/denied.csv`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'address\na@example.org\n' }));
  const dataSources = tenantBody(tenantId, false, true, wrongSecret).dataSources;
  expect((await call('PUT', `/api/tenants/${tenantId}/dataSources`, dataSources)).statusCode).toBe(200);
  const denied = (await call('POST', `/api/tenants/${tenantId}/imports`, { objectKey: key })).json().id as string;
  const shown = await waitForImport(tenantId, denied);
  expect(shown).toMatchObject({ status: 'failed', error: expect.stringContaining('SignatureDoesNotMatch') });
  expect(JSON.stringify(shown)).not.toContain(wrongSecret);
  // Not deleted: the import failed.
  await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).resolves.toBeDefined();
});
