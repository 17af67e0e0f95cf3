// Campaigns end to end over real HTTP (fetch) on the Cassandra the integration setup starts: the
// middleware's application listening on port 0 with the Cassandra store, a tenant created with
// createDB=true, and a campaign taken from the minimal body through its whole lifecycle.
// Every keyspace carries a random tag and is dropped at the end.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../middleware/src/app.ts';
import { openTestCassandraStore, type TestCassandraStore } from '../helpers/cassandra-store.ts';
import { seedTenant } from '../../middleware/src/testing/test-app.ts';

const info = inject('cassandra');
const tag = randomBytes(3).toString('hex');
const tenantId = `camp-${tag}`;
const ADMIN = `inlay_a_campaigns-${tag}`;

let app: FastifyInstance;
let db: TestCassandraStore | undefined;
let baseUrl: string;

beforeAll(async () => {
  db = await openTestCassandraStore(info, 'campaigns');
  app = await buildApp({ store: db.store, adminToken: ADMIN });
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await db?.cleanUp();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text), headers: response.headers };
}

const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

test('a campaign from the minimal body goes through its lifecycle on Cassandra', async () => {
  expect((await call('POST', '/api/tenants/?createDB=true', seedTenant(tenantId))).status).toBe(201);
  const base = `/api/tenants/${tenantId}/campaigns`;
  const minimal = {
    name: 'Cassandra campaign ✓',
    template: { subject: 'Hi {{displayName}}', from: 'News <news@example.com>', html: '<p>Hi {{displayName}}</p>', text: 'Hi' },
    audience: { type: 'all' },
    schedule: { startAt: iso(3_600_000), endAt: iso(7_200_000) },
  };

  const created = await call('POST', base, minimal);
  expect(created.status).toBe(201);
  const id = created.json.id as string;
  expect(created.headers.get('location')).toBe(`${base}/${id}`);
  expect(created.json).toMatchObject({ status: 'draft', revision: 1, frequency: { maxVisibleUnseen: 1, minDelayMinutes: 0 } });

  const second = await call('POST', base, { ...minimal, name: 'second', schedule: { startAt: iso(-3_600_000), endAt: iso(3_600_000) } });
  expect(second.status).toBe(201);

  expect((await call('POST', `${base}/${id}/schedule`)).json).toMatchObject({ status: 'scheduled', revision: 2 });
  expect((await call('POST', `${base}/${second.json.id}/schedule`)).json).toMatchObject({ status: 'running' });
  expect((await call('GET', base)).json.map((campaign: any) => campaign.name)).toEqual(['Cassandra campaign ✓', 'second']);
  expect((await call('GET', `${base}?status=running`)).json.map((campaign: any) => campaign.id)).toEqual([second.json.id]);

  // Concurrent pauses: the compare-and-set lets exactly one apply.
  const pauses = await Promise.all([1, 2, 3].map(() => call('POST', `${base}/${id}/pause`)));
  expect(pauses.map((response) => response.status).sort()).toEqual([200, 409, 409]);

  const edited = await call('PUT', `${base}/${id}`, { ...minimal, name: 'edited', priority: 4 });
  expect(edited.json).toMatchObject({ name: 'edited', priority: 4, status: 'paused', revision: 4 });
  expect((await call('GET', `${base}/${id}`)).json).toEqual(edited.json);

  const running = await call('PUT', `${base}/${second.json.id}`, minimal);
  expect(running.status).toBe(409);
  expect(running.json.code).toBe('INLAY_MW_CAMPAIGN_STATE');

  // The preview over real HTTP: the message as that user would get it, composed as RFC 822.
  const preview = await fetch(`${baseUrl}${base}/${id}/preview?user=reader%40example.org`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(preview.status).toBe(200);
  expect(preview.headers.get('content-type')).toMatch(/^message\/rfc822/);
  const message = await preview.text();
  expect(message).toMatch(/^From: News <news@example\.com>\r$/m);
  expect(message).toMatch(/^To: reader@example\.org\r$/m);
  expect(message).toContain('<p>Hi </p>');

  expect((await call('POST', `${base}/${id}/end`)).json).toMatchObject({ status: 'ended', actions: [] });
  expect((await call('DELETE', `${base}/${id}`)).status).toBe(204);
  expect((await call('GET', `${base}/${id}`)).status).toBe(404);
  expect((await call('GET', base)).json.map((campaign: any) => campaign.name)).toEqual(['second']);
});
