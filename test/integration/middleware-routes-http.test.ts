// Every route of the REST API over real HTTP (a listening server and fetch) on the real
// Cassandra, driven by the same route table as the isolation and fuzz tests, so a new route is
// covered here without anyone remembering to add it (the internal engine routes with the
// internal token, the others with the admin token). The S3 side of imports is exercised over
// HTTP against S3Proxy in middleware-imports.test.ts.
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { openTestCassandraStore, type TestCassandraStore } from '../helpers/cassandra-store.ts';
import { ROUTES, routeName } from '../../middleware/src/testing/route-table.ts';
import { TEST_ADMIN_TOKEN, TEST_INTERNAL_TOKEN, startTestApp, type TestApp } from '../../middleware/src/testing/test-app.ts';

const info = inject('cassandra');
let db: TestCassandraStore;
let t: TestApp;

beforeAll(async () => {
  db = await openTestCassandraStore(info, 'routes');
  t = await startTestApp({ store: db.store, overHttp: true });
});

afterAll(async () => {
  // Drops the keyspaces while the store is open; closing the app closes the store after it.
  await db?.cleanUp();
  await t?.close();
});

test('every route answers over HTTP on Cassandra', async () => {
  expect((await t.createTenant('http-target')).statusCode).toBe(201);
  // Deleting the tenant last, so every other route still finds it.
  const ordered = [...ROUTES].sort((a, b) => Number(a.template === '/api/tenants/{id}' && a.method === 'DELETE') - Number(b.template === '/api/tenants/{id}' && b.method === 'DELETE'));
  for (const route of ordered) {
    await route.prepare?.(t, 'http-target');
    const body = route.body?.('http-target');
    const token = route.access === 'public' ? null : route.access === 'internal' ? TEST_INTERNAL_TOKEN : TEST_ADMIN_TOKEN;
    const response = await t.request(route.method, route.url('http-target'), { token, ...(body === undefined ? {} : { body }) });
    // The table's DELETE of a token names one that does not exist: 404 is that route working.
    expect([200, 201, 202, 204, 404], `${routeName(route)}: ${response.body.slice(0, 300)}`).toContain(response.statusCode);
  }
});
