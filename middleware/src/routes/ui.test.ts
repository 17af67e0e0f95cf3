// The web UI's pieces of the middleware through app.inject(): GET /api/session says who a token
// is; the built UI is served at / with a strict CSP, its routes fall back to index.html, hashed
// assets are cached for good, and /api/… keeps its JSON 404; the preview's bytes are the same on
// every call, so the UI can show what a client will fetch.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { EmbeddedStore } from '../store/embedded-store.js';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../testing/test-app.js';
import { UI_CONTENT_SECURITY_POLICY } from './ui.js';

describe('GET /api/session', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    expect((await t.createTenant('acme')).statusCode).toBe(201);
  });
  afterAll(() => t.close());

  test('names the admin, or the tenant a tenant token belongs to', async () => {
    expect((await t.request('GET', '/api/session')).json()).toEqual({ kind: 'admin' });
    const token = await t.tenantToken('acme');
    const tenant = await t.request('GET', '/api/session', { token });
    expect(tenant.statusCode).toBe(200);
    expect(tenant.json()).toEqual({ kind: 'tenant', tenantId: 'acme' });
  });

  test('401 without a token or with a revoked one', async () => {
    expect((await t.request('GET', '/api/session', { token: null })).statusCode).toBe(401);
    expect((await t.request('GET', '/api/session', { token: 'inlay_t_unknown-token-0000000000000000000000000' })).statusCode).toBe(401);
  });

  test('the preview of one user is the same bytes on every call (boundaries from the Message-ID)', async () => {
    const day = 86_400_000;
    const created = await t.request('POST', '/api/tenants/acme/campaigns', {
      body: {
        name: 'Same bytes',
        template: { subject: 'Hi {{address}}', from: 'News <news@acme.example>', html: '<p>Hi</p>', text: 'Hi' },
        audience: { type: 'all' },
        position: { type: 'fixedDate', date: '2030-01-01T10:00:00Z' },
        schedule: { startAt: new Date(Date.now() + day).toISOString(), endAt: new Date(Date.now() + 2 * day).toISOString() },
      },
    });
    const cid = (created.json() as { id: string }).id;
    const url = `/api/tenants/acme/campaigns/${cid}/preview?user=bob%40acme.example`;
    const first = await t.request('GET', url);
    const second = await t.request('GET', url);
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('multipart/alternative');
    expect(second.rawPayload.equals(first.rawPayload)).toBe(true);
  });
});

describe('the web UI at /', () => {
  let dir: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inlay-ui-'));
    const ui = join(dir, 'ui');
    await mkdir(join(ui, 'assets'), { recursive: true });
    await writeFile(join(ui, 'index.html'), '<!doctype html><title>Inlay</title><script type="module" src="/assets/app-abc123.js"></script>');
    await writeFile(join(ui, 'assets', 'app-abc123.js'), 'console.log(1)');
    app = await buildApp({ store: EmbeddedStore.open(join(dir, 'store')), adminToken: TEST_ADMIN_TOKEN, dataDir: dir, uiRoot: ui });
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('/ and any UI route answer index.html with the CSP, not cached', async () => {
    for (const url of ['/', '/t/acme/campaigns', '/signin?next=%2F']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.body).toContain('<title>Inlay</title>');
    }
    expect(UI_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(UI_CONTENT_SECURITY_POLICY).not.toMatch(/script-src[^;]*unsafe-inline/);
  });

  test('hashed assets are immutable for a year; a missing one is 404; no escape from the folder', async () => {
    const asset = await app.inject({ url: '/assets/app-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await app.inject({ url: '/assets/nope.js' })).statusCode).toBe(404);
    const escape = await app.inject({ url: '/assets/..%2f..%2fstore%2finlay.mdb' });
    expect([403, 404]).toContain(escape.statusCode);
  });

  test('/api/… is never shadowed: unknown API paths keep the JSON 404, known ones their auth', async () => {
    const unknown = await app.inject({ url: '/api/nothing-here' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'INLAY_MW_ROUTE_NOT_FOUND' });
    expect((await app.inject({ url: '/internal/v1/nothing' })).json()).toMatchObject({ code: 'INLAY_MW_ROUTE_NOT_FOUND' });
    expect((await app.inject({ url: '/api/tenants' })).statusCode).toBe(401);
  });
});

describe('POST /api/tenants/{id}/dataSources/{dsid}/test', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    expect((await t.createTenant('acme')).statusCode).toBe(201);
  });
  afterAll(() => t.close());

  test('a bucket that cannot be reached is a 200 with ok false and the reason, no secret', async () => {
    const response = await t.request('POST', '/api/tenants/acme/dataSources/default/test');
    expect(response.statusCode).toBe(200);
    const result = response.json() as { ok: boolean; message: string; latencyMs: number };
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/data source "default"/);
    expect(response.body).not.toContain('<secretKey>');
  });

  test('an unknown data source is 404; another tenant is 403', async () => {
    expect((await t.request('POST', '/api/tenants/acme/dataSources/nope/test')).json()).toMatchObject({ code: 'INLAY_MW_DATA_SOURCE_NOT_FOUND' });
    expect((await t.createTenant('other')).statusCode).toBe(201);
    const token = await t.tenantToken('other');
    expect((await t.request('POST', '/api/tenants/acme/dataSources/default/test', { token })).statusCode).toBe(403);
  });
});
