// The fault from issue 15: S3 stopped during an import. A real S3Proxy (its own instance, so
// stopping it disturbs no other test file) serves a CSV of IMPORT_ROWS users; the import starts
// through the REST API, S3Proxy is stopped with SIGTERM while the import is reading, and the
// import must end `failed` with a reason that names S3 and the line it got to — not stay
// `running`. S3Proxy is started again, the import is retried under the same id, and every user
// is then there once, in that one list.
//
// To stop S3Proxy at a known point rather than a lucky one, the store's first user write is held
// until S3Proxy is down: the import has read the first rows and the rest of the file is still in
// S3Proxy (far more than the socket buffers between them hold). The store itself is the real
// embedded store; only the timing of one write is held.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../middleware/src/app.ts';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import type { Store } from '../../middleware/src/store/store.ts';
import { s3ClientFor, startS3Proxy, type S3ProxyServer } from '../services/s3proxy.ts';

/** About 20 MiB: several times what loopback socket buffers and S3Proxy's own buffers hold. */
const IMPORT_ROWS = 400_000;
const ADMIN = 'inlay_a_import-fault-token-0123456789';
const BUCKET = 'fault';
const KEY = 'lists/users.csv';
const TENANT = 'import-fault';

let s3: S3ProxyServer;
let dataDir: string;
let embedded: EmbeddedStore;
let app: FastifyInstance;
let baseUrl = '';
/** Resolved by the test once S3Proxy is down; the first user write waits for it. */
let releaseFirstWrite: () => void = () => undefined;
let firstWriteHeld: Promise<void> = Promise.resolve();
let firstWriteArrived: () => void = () => undefined;

/** The embedded store, with its first upsertUsers held until the test releases it. */
function holdingFirstWrite(store: EmbeddedStore): Store {
  let held = false;
  const arrived = new Promise<void>((resolve) => (firstWriteArrived = resolve));
  firstWriteHeld = arrived;
  const release = new Promise<void>((resolve) => (releaseFirstWrite = resolve));
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'upsertUsers') {
        return async (...args: Parameters<Store['upsertUsers']>) => {
          if (!held) {
            held = true;
            firstWriteArrived();
            await release;
          }
          return target.upsertUsers(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store;
}

async function call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ statusCode: number; json: () => any }> {
  const response = await fetch(`${baseUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { statusCode: response.status, json: () => JSON.parse(text) };
}

async function waitForImport(importId: string, until: (shown: Record<string, any>) => boolean): Promise<Record<string, any>> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const shown = (await call('GET', `/api/tenants/${TENANT}/imports/${importId}`)).json();
    if (until(shown) || Date.now() > deadline) return shown;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  s3 = await startS3Proxy();
  const client = s3ClientFor(s3);
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const lines = ['address,displayName,plan'];
  for (let index = 0; index < IMPORT_ROWS; index++) lines.push(`fault${index}@example.org,User ${index},${index % 2 ? 'gold' : 'silver'}`);
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: `${lines.join('\n')}\n` }));
  client.destroy();

  dataDir = await mkdtemp(join(tmpdir(), 'inlay-import-fault-'));
  embedded = EmbeddedStore.open(dataDir);
  app = await buildApp({ store: holdingFirstWrite(embedded), adminToken: ADMIN, dataDir });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const tenant = {
    id: TENANT,
    name: 'Import fault',
    keyspaceName: 'import_fault',
    configuration: { secretKey: 'hmac-key', hashedEmailAddresses: false },
    conversionPoints: [],
    dataSources: [
      {
        id: 'default',
        type: 'ongage',
        defaultDataSource: true,
        deleteTemporaryImportFiles: false,
        awsConnectionInformation: { authorizationType: 'aws', accessKey: s3.accessKey, secretKey: s3.secretKey, endpoint: s3.endpoint, bucket: BUCKET, pathStyle: true },
      },
    ],
  };
  expect((await call('POST', '/api/tenants/?createDB=true', tenant)).statusCode).toBe(201);
}, 180_000);

afterAll(async () => {
  releaseFirstWrite();
  await app?.close();
  await embedded?.close();
  await s3?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('S3 stopped during an import: the import fails with a clear reason, and a retry imports every row exactly once', async () => {
  const posted = await call('POST', `/api/tenants/${TENANT}/imports`, { objectKey: KEY });
  expect(posted.statusCode).toBe(202);
  const importId = posted.json().id as string;

  // The import has read its first batch and is writing it: stop S3 now.
  await firstWriteHeld;
  expect((await call('GET', `/api/tenants/${TENANT}/imports/${importId}`)).json()).toMatchObject({ status: 'running' });
  await s3.kill();
  releaseFirstWrite();

  const failed = await waitForImport(importId, (shown) => shown.status !== 'running' && shown.status !== 'queued');
  expect(failed).toMatchObject({ status: 'failed' });
  expect(failed['error']).toMatch(new RegExp(`^reading s3://${BUCKET}/${KEY} \\(data source "default" at 127\\.0\\.0\\.1:\\d+\\) broke off after line \\d+ \\(\\d+ bytes\\): .+; retry the import`));
  const brokeAt = Number(/after line (\d+)/.exec(failed['error'])![1]);
  expect(brokeAt).toBeGreaterThan(1);
  expect(brokeAt).toBeLessThan(IMPORT_ROWS + 1);
  expect(failed['rowsImported']).toBeLessThan(IMPORT_ROWS);
  expect(JSON.stringify(failed)).not.toContain(s3.secretKey);

  // Only a failed import can be retried, and only once at a time.
  const bogus = await call('POST', `/api/tenants/${TENANT}/imports/00000000-0000-1000-8000-000000000001/retry`);
  expect(bogus.json()).toMatchObject({ code: 'INLAY_MW_IMPORT_NOT_FOUND' });

  // While S3 is still down a retry fails the same way (and does not hang).
  expect((await call('POST', `/api/tenants/${TENANT}/imports/${importId}/retry`)).statusCode).toBe(202);
  const stillDown = await waitForImport(importId, (shown) => shown.status === 'failed' || shown.status === 'completed');
  expect(stillDown).toMatchObject({ status: 'failed', error: expect.stringContaining(`s3://${BUCKET}/${KEY}`) });

  await s3.restart();
  const retried = await call('POST', `/api/tenants/${TENANT}/imports/${importId}/retry`);
  expect(retried.statusCode).toBe(202);
  expect(retried.json()).toMatchObject({ id: importId, status: 'queued', rowsRead: 0 });
  const again = await call('POST', `/api/tenants/${TENANT}/imports/${importId}/retry`);
  expect(again.statusCode).toBe(409);
  expect(again.json()).toMatchObject({ code: 'INLAY_MW_IMPORT_STATE' });

  const completed = await waitForImport(importId, (shown) => shown.status === 'completed' || shown.status === 'failed');
  expect(completed).toMatchObject({ id: importId, status: 'completed', rowsRead: IMPORT_ROWS, rowsImported: IMPORT_ROWS, rowsFailed: 0, errors: [] });
  expect(completed['error']).toBeUndefined();
  expect((await call('POST', `/api/tenants/${TENANT}/imports/${importId}/retry`)).json()).toMatchObject({ code: 'INLAY_MW_IMPORT_STATE' });

  // Every row once: each user is there, in exactly this one list, with its row's values — the
  // rows imported before the failure were upserted again, not added twice.
  const tenant = (await embedded.getTenant(TENANT))!;
  const missing: number[] = [];
  const wrong: number[] = [];
  for (let index = 0; index < IMPORT_ROWS; index++) {
    const user = await embedded.getUser(tenant, `fault${index}@example.org`);
    if (user === undefined) missing.push(index);
    else if (user.lists.length !== 1 || user.lists[0] !== importId || user.displayName !== `User ${index}` || user.attributes['plan'] !== (index % 2 ? 'gold' : 'silver')) wrong.push(index);
  }
  expect({ missing: missing.slice(0, 5), wrong: wrong.slice(0, 5) }).toEqual({ missing: [], wrong: [] });
  expect(await embedded.getUser(tenant, `fault${IMPORT_ROWS}@example.org`)).toBeUndefined();
  // One import, not one per attempt.
  const listed = (await call('GET', `/api/tenants/${TENANT}/imports`)).json() as { id: string }[];
  expect(listed.map((entry) => entry.id)).toEqual([importId]);
}, 600_000);
