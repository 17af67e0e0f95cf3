// The audit trail on the real Cassandra, over real HTTP: every route of the served OpenAPI
// document that changes something leaves an entry with the right actor, address and target and
// no secret (the same sweep as middleware/src/routes/audit.test.ts runs on the embedded store),
// and the listings page through Cassandra's month partitions newest first.
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { openTestCassandraStore, type TestCassandraStore } from '../helpers/cassandra-store.ts';
import { startTestApp, type TestApp } from '../../middleware/src/testing/test-app.ts';
import { auditEveryChange, everyAuditEntry, setUpAuditSweep } from '../../middleware/src/testing/audit-sweep.ts';

const info = inject('cassandra');
let db: TestCassandraStore;
let t: TestApp;

beforeAll(async () => {
  db = await openTestCassandraStore(info, 'audit');
  t = await startTestApp({ store: db.store, overHttp: true });
});

afterAll(async () => {
  await db?.cleanUp();
  await t?.close();
});

test('every change through the API is in the trail, with actor, address and target, secrets masked', async () => {
  const sweep = await setUpAuditSweep(t, 'audc-a', 'audc-del', 'Cassandra sweep token');
  expect((await auditEveryChange(t, sweep)).length).toBeGreaterThanOrEqual(19);

  // The tenant's index (its own partitions) lists what the overall one lists for it, in order.
  const whole = await everyAuditEntry(t);
  const tenantOnly = await everyAuditEntry(t, '&tenant=audc-a');
  expect(tenantOnly.map((entry) => entry.id)).toEqual(whole.filter((entry) => entry.tenantId === 'audc-a').map((entry) => entry.id));
  const history = (await t.request('GET', '/api/tenants/audc-del/history')).json() as { entries: { action: string }[] };
  expect(history.entries.map((entry) => entry.action)).toEqual(['tenant.delete-with-keyspace', 'tenant.create']);
});

test('a token change carries its entry in its own logged batch; a lightweight-transaction change appends it after', async () => {
  expect((await t.createTenant('audc-b')).statusCode).toBe(201);
  const original = db.store.audit.append.bind(db.store.audit);
  (db.store.audit as unknown as { append: () => Promise<void> }).append = async () => {
    throw new Error('no separate append');
  };
  let tokenId: string;
  try {
    const created = await t.request('POST', '/api/tenants/audc-b/tokens', { body: { name: 'batched' } });
    expect(created.statusCode, created.body).toBe(201);
    tokenId = (created.json() as { id: string }).id;
    expect((await t.request('DELETE', `/api/tenants/audc-b/tokens/${tokenId}`)).statusCode).toBe(204);
    const list = await t.request('GET', '/api/tenants/audc-b/dataSources');
    const replaced = await t.request('PUT', '/api/tenants/audc-b/dataSources', { body: list.json() });
    expect(replaced.statusCode).toBe(500);
    expect(replaced.json().code).toBe('INLAY_MW_AUDIT_NOT_RECORDED');
  } finally {
    (db.store.audit as unknown as { append: typeof original }).append = original;
  }
  const entries = await everyAuditEntry(t, '&tenant=audc-b');
  expect(entries.map((entry) => [entry.action, entry.target.id])).toEqual([
    ['token.revoke', tokenId],
    ['token.create', tokenId],
    ['tenant.create', 'audc-b'],
  ]);
});

