// The audit trail over real HTTP: every route of the served OpenAPI document that changes
// something (POST, PUT, PATCH, DELETE outside /internal/) is called with a valid request and must
// leave an entry naming the token, the caller's address, the route and the target, with no secret
// anywhere in the trail. A new route without auditing fails here (and answers 500: the guard).
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AuditEntryView, AuditPage } from '@inlay/schemas';
import { startTestApp, type TestApp } from '../testing/test-app.js';
import { auditEveryChange, auditPage as pageOf, everyAuditEntry, setUpAuditSweep, type AuditSweep } from '../testing/audit-sweep.js';
import { EmbeddedStore } from '../store/embedded-store.js';
import { auditPlugin } from '../audit/audit-plugin.js';
import { SECRET_MASK } from '../audit/mask.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TENANT = 'aud-a';
const DOOMED = 'aud-del';
const TOKEN_NAME = 'Jäne’s export script';

let t: TestApp;
let sweep: AuditSweep;
let tenantToken: string;
let tenantTokenId: string;
let secrets: Set<string>;

const auditPage = (query: string, token?: string): Promise<AuditPage> => pageOf(t, query, token);
const everyEntry = (query = ''): Promise<AuditEntryView[]> => everyAuditEntry(t, query);

beforeAll(async () => {
  t = await startTestApp({ overHttp: true });
  sweep = await setUpAuditSweep(t, TENANT, DOOMED, TOKEN_NAME);
  ({ tenantToken, tenantTokenId, secrets } = sweep);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe('every change is audited', () => {
  test('each POST/PUT/PATCH/DELETE of the OpenAPI document outside /internal/ leaves an entry with actor, address, target, and no secret', async () => {
    expect((await auditEveryChange(t, sweep)).length).toBeGreaterThanOrEqual(19);
  }, 120_000);

  test('what changed: a data source PUT shows the changed bucket and a changed secret only as masked', async () => {
    const list = (await t.request('GET', `/api/tenants/${TENANT}/dataSources`)).json() as Array<{ awsConnectionInformation: Record<string, unknown> }>;
    const edited = list.map((source) => ({ ...source, awsConnectionInformation: { ...source.awsConnectionInformation, bucket: 'new-bucket', secretKey: 'ROTATED-S3-SECRET' } }));
    expect((await t.request('PUT', `/api/tenants/${TENANT}/dataSources`, { body: edited })).statusCode).toBe(200);
    const [entry] = (await auditPage(`tenant=${TENANT}&action=dataSources.replace&limit=1`)).entries;
    expect(entry!.changes).toEqual(
      expect.arrayContaining([
        { path: expect.stringMatching(/\.awsConnectionInformation\.bucket$/), before: expect.any(String), after: 'new-bucket' },
        { path: expect.stringMatching(/\.awsConnectionInformation\.secretKey$/), before: SECRET_MASK, after: SECRET_MASK },
      ]),
    );
    expect(JSON.stringify(entry)).not.toContain('ROTATED-S3-SECRET');
  });

  test('conversion point URLs keep their placeholders; passwords and key parameters are masked', async () => {
    const points = [{ id: 'read', type: 'ongage', eventType: 'read', connectionInformation: { url: 'https://bob:URL-PASSWORD@track.example/r?e={{eventId}}&apikey=URL-KEY' } }];
    const response = await t.request('PUT', `/api/tenants/${TENANT}/conversionPoints`, { body: points });
    expect(response.statusCode, response.body).toBe(200);
    const [entry] = (await auditPage(`tenant=${TENANT}&action=conversionPoints.replace&limit=1`)).entries;
    expect(entry!.after).toEqual([expect.objectContaining({ connectionInformation: { url: `https://bob:${SECRET_MASK}@track.example/r?e={{eventId}}&apikey=${SECRET_MASK}` } })]);
    expect(JSON.stringify(entry)).not.toMatch(/URL-PASSWORD|URL-KEY/);
  });

  test('a rejected change leaves no entry', async () => {
    const before = (await everyEntry()).length;
    expect((await t.request('PUT', `/api/tenants/${TENANT}/dataSources`, { body: [{ id: 'x' }] })).statusCode).toBe(400);
    expect((await t.request('DELETE', `/api/tenants/${TENANT}/campaigns/00000000-0000-1000-8000-000000000bad`, { token: tenantToken })).statusCode).toBe(404);
    expect((await t.request('POST', `/api/tenants/${TENANT}/tokens`, { token: tenantToken })).statusCode).toBe(403);
    expect((await everyEntry()).length).toBe(before);
  });
});

test('a token without a name is named after its tenant; token names are listed, and a bad name is a 400', async () => {
  const created = await t.request('POST', `/api/tenants/${TENANT}/tokens`);
  expect(created.statusCode).toBe(201);
  const { token, id } = created.json() as { token: string; id: string };
  secrets.add(token);
  expect((await t.request('PUT', `/api/tenants/${TENANT}/conversionPoints`, { token, body: [] })).statusCode).toBe(200);
  const [entry] = (await auditPage(`tenant=${TENANT}&actor=${id}`)).entries;
  expect(entry!.actor).toEqual({ kind: 'tenant', tokenId: id, name: `token of ${TENANT}` });
  const listed = (await t.request('GET', `/api/tenants/${TENANT}/tokens`)).json() as Array<{ id: string; name?: string }>;
  expect(listed.find((item) => item.id === tenantTokenId)?.name).toBe(TOKEN_NAME);
  expect(listed.find((item) => item.id === id)?.name).toBeUndefined();
  for (const body of [{ name: '' }, { name: 'a\u0000b' }, { name: 'x'.repeat(201) }, { label: 'x' }]) {
    expect((await t.request('POST', `/api/tenants/${TENANT}/tokens`, { body })).statusCode, JSON.stringify(body)).toBe(400);
  }
});

describe('reading the trail', () => {
  test('newest first, paged by cursor without loss or repeat, filtered', async () => {
    const whole = await everyEntry();
    expect(whole.length).toBeGreaterThan(20);
    const times = whole.map((entry) => Date.parse(entry.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const paged: AuditEntryView[] = [];
    let cursor: string | undefined;
    do {
      const page = await auditPage(`limit=3${cursor === undefined ? '' : `&cursor=${cursor}`}`);
      paged.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(paged.map((entry) => entry.id)).toEqual(whole.map((entry) => entry.id));

    const byAdmin = await everyEntry('&actor=admin');
    expect(byAdmin.length).toBeGreaterThan(0);
    expect(byAdmin.every((entry) => entry.actor.tokenId === 'admin')).toBe(true);
    const campaigns = await everyEntry(`&tenant=${TENANT}&targetType=campaign`);
    expect(campaigns.length).toBeGreaterThan(4);
    expect(campaigns.every((entry) => entry.target.type === 'campaign' && entry.tenantId === TENANT)).toBe(true);
    const oldest = whole.at(-1)!;
    expect((await everyEntry(`&to=${encodeURIComponent(new Date(Date.parse(oldest.at) + 1).toISOString())}`)).map((entry) => entry.id)).toContain(oldest.id);
    expect(await everyEntry(`&from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).toEqual([]);
  });

  test('a tenant token reads only its own tenant, and must name it', async () => {
    const own = await auditPage(`tenant=${TENANT}&limit=1000`, tenantToken);
    expect(own.entries.length).toBeGreaterThan(0);
    expect(own.entries.every((entry) => entry.tenantId === TENANT)).toBe(true);
    for (const query of ['limit=5', `tenant=${DOOMED}`, 'tenant=no-such-tenant']) {
      const response = await t.request('GET', `/api/audit?${query}`, { token: tenantToken });
      expect(response.statusCode, query).toBe(403);
      expect(response.json().code).toBe('INLAY_MW_FORBIDDEN');
    }
    expect((await t.request('GET', `/api/tenants/${DOOMED}/history`, { token: tenantToken })).statusCode).toBe(403);
  });

  test("a tenant's history: configuration changes only, kept after the tenant is gone", async () => {
    const history = (await t.request('GET', `/api/tenants/${TENANT}/history?limit=1000`, { token: tenantToken })).json() as AuditPage;
    expect(new Set(history.entries.map((entry) => entry.target.type))).toEqual(new Set(['tenant', 'dataSources', 'conversionPoints', 'campaign']));
    expect(history.entries.at(-1)!.action).toBe('tenant.create');
    // DOOMED was deleted by the route sweep above; its history still answers to the admin.
    const gone = (await t.request('GET', `/api/tenants/${DOOMED}/history`)).json() as AuditPage;
    expect(gone.entries.map((entry) => entry.action)).toEqual(['tenant.delete-with-keyspace', 'tenant.create']);
    expect(gone.entries[0]!.after).toBeNull();
    const campaignsOnly = (await t.request('GET', `/api/tenants/${TENANT}/history?targetType=campaign&limit=2`)).json() as AuditPage;
    expect(campaignsOnly.entries.every((entry) => entry.target.type === 'campaign')).toBe(true);
  });

  test('bad queries are clear 400s, and the next good one is answered', async () => {
    for (const query of ['cursor=bm9wZQ', 'from=yesterday', 'limit=0', 'targetType=secret', 'color=red']) {
      const response = await t.request('GET', `/api/audit?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().code).toBe('INLAY_MW_VALIDATION');
    }
    expect((await t.request('GET', `/api/tenants/${TENANT}/history?targetType=token`)).statusCode).toBe(400);
    expect((await t.request('GET', '/api/audit?limit=1')).statusCode).toBe(200);
  });
});

describe('the guard', () => {
  async function guardedApp(append?: () => Promise<void>) {
    const dir = await mkdtemp(join(tmpdir(), 'inlay-audit-'));
    const store = EmbeddedStore.open(dir);
    if (append) (store.audit as { append: () => Promise<void> }).append = append;
    const app = Fastify();
    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (request) => {
      request.principal = { kind: 'admin' };
    });
    await app.register(auditPlugin, { store, retentionMs: 86_400_000 });
    app.post('/api/forgetful', async () => ({ done: true }));
    app.post('/api/careful', async (request) => {
      await request.audit({ action: 'tenant.touch', tenantId: 't', target: { type: 'tenant', id: 't' }, before: null, after: { secretKey: 'x' } });
      return { done: true };
    });
    app.post('/internal/v1/anything', async () => ({ done: true }));
    const tenant = { id: 'rolled-back', name: 'x', keyspaceName: 'ks_rolled_back', configuration: { secretKey: 'k', hashedEmailAddresses: false }, conversionPoints: [], dataSources: [] };
    app.post('/api/unbuildable', async (request) => {
      await request.audited(
        () => store.createTenant(tenant, { createDB: true }),
        () => {
          throw new Error('the entry cannot be built');
        },
      );
      return { done: true };
    });
    app.post('/api/refused', async (_request, reply) => reply.code(409).send({ code: 'X', message: 'no' }));
    return {
      app,
      store,
      close: async () => {
        await app.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  test('a change answered without an entry becomes a 500; internal routes and failures pass', async () => {
    const { app, store, close } = await guardedApp();
    try {
      const forgetful = await app.inject({ method: 'POST', url: '/api/forgetful' });
      expect(forgetful.statusCode).toBe(500);
      expect(forgetful.json().code).toBe('INLAY_MW_AUDIT_NOT_RECORDED');
      expect((await app.inject({ method: 'POST', url: '/api/careful' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/internal/v1/anything' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/api/refused' })).statusCode).toBe(409);
      const { entries } = await store.audit.query({ since: new Date(0), until: new Date(Date.now() + 1000), limit: 10 });
      expect(entries.map((entry) => [entry.action, entry.route, entry.after])).toEqual([['tenant.touch', 'POST /api/careful', { secretKey: SECRET_MASK }]]);
    } finally {
      await close();
    }
  });

  test('embedded store: the entry is part of the change\'s transaction — one that cannot be made rolls the change back', async () => {
    const { app, store, close } = await guardedApp();
    try {
      expect((await app.inject({ method: 'POST', url: '/api/unbuildable' })).statusCode).toBe(500);
      expect(await store.getTenant('rolled-back')).toBeUndefined();
    } finally {
      await close();
    }
  });

  test('embedded store: changes made in one store call need no separate append; others fail without it', async () => {
    const original = t.store.audit.append.bind(t.store.audit);
    (t.store.audit as { append: () => Promise<void> }).append = async () => {
      throw new Error('no separate append');
    };
    try {
      const list = await t.request('GET', `/api/tenants/${TENANT}/dataSources`);
      expect((await t.request('PUT', `/api/tenants/${TENANT}/dataSources`, { body: list.json() })).statusCode).toBe(200);
      // An import record is a plain write (no transaction): its entry needs the append.
      const resent = await t.request('POST', `/api/tenants/${TENANT}/imports`, { body: { objectKey: 'lists/users.csv' } });
      expect(resent.statusCode).toBe(500);
      expect(resent.json().code).toBe('INLAY_MW_AUDIT_NOT_RECORDED');
    } finally {
      (t.store.audit as { append: typeof original }).append = original;
    }
    const [entry] = (await auditPage(`tenant=${TENANT}&limit=1`)).entries;
    expect(entry!.action).toBe('dataSources.replace');
  });

  test('an entry that cannot be written fails the request (never a success without its entry)', async () => {
    const { app, close } = await guardedApp(async () => {
      throw new Error('disk full');
    });
    try {
      const response = await app.inject({ method: 'POST', url: '/api/careful' });
      expect(response.statusCode).toBe(500);
      expect(response.json().code).toBe('INLAY_MW_AUDIT_NOT_RECORDED');
    } finally {
      await close();
    }
  });
});
