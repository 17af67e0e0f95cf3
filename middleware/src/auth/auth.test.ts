// Authentication and authorization through app.inject(): 401 vs 403, tenant tokens confined to
// their tenant on every route (table-driven over the whole API), token lifecycle.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROUTES, routeName } from '../testing/route-table.js';
import { TEST_ADMIN_TOKEN, TEST_INTERNAL_TOKEN, startTestApp, type TestApp } from '../testing/test-app.js';
import { hashToken } from './tokens.js';

let t: TestApp;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  t = await startTestApp();
  for (const id of ['tenant-a', 'tenant-b']) expect((await t.createTenant(id)).statusCode).toBe(201);
  tokenA = await t.tenantToken('tenant-a');
  tokenB = await t.tenantToken('tenant-b');
});
afterAll(async () => {
  await t.close();
});

const send = (route: (typeof ROUTES)[number], tenantId: string, token: string | null, headers: Record<string, string> = {}) =>
  t.request(route.method, route.url(tenantId), { token, body: route.body?.(tenantId), headers });

test('the route table covers every route of the OpenAPI document', async () => {
  const document = (await t.request('GET', '/api/openapi.json', { token: null })).json() as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
  // The OpenAPI document does not describe itself; every other route, public ones included, is in it.
  const tabled = ROUTES.filter((route) => route.template !== '/api/openapi.json').map(routeName);
  expect(new Set(documented)).toEqual(new Set(tabled));
});

// GET /api/session ('signedIn') answers every admin and tenant token: routes/ui.test.ts tests it.
describe.each(ROUTES.filter((route) => route.access !== 'public' && route.access !== 'signedIn').map((route) => [routeName(route), route] as const))('%s', (_name, route) => {
  test('without a token: 401 with WWW-Authenticate: Bearer', async () => {
    const response = await send(route, 'tenant-b', null);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="inlay"');
    expect(response.json().code).toBe('INLAY_MW_UNAUTHENTICATED');
  });

  test.each([
    ['an unknown tenant token', 'inlay_t_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Bearer realm="inlay", error="invalid_token"'],
    ['a wrong admin token', `${TEST_ADMIN_TOKEN}x`, 'Bearer realm="inlay", error="invalid_token"'],
  ])('with %s: 401', async (_what, token, challenge) => {
    const response = await send(route, 'tenant-b', token);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe(challenge);
  });

  test.each([['Basic dXNlcjpwYXNz'], ['Bearer'], ['Bearer two tokens'], [`Bearer ${'a'.repeat(600)}`]])('with "Authorization: %s": 401', async (header) => {
    const response = await send(route, 'tenant-b', null, { authorization: header });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="inlay"/);
  });

  test("a token of tenant A: 403 on tenant B's route, which stays unchanged", async () => {
    const before = await t.snapshot();
    const response = await send(route, 'tenant-b', tokenA);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('INLAY_MW_FORBIDDEN');
    expect(response.headers['www-authenticate']).toBeUndefined();
    expect(await t.snapshot()).toEqual(before);
  });

  test('a token of tenant A: 403 on a tenant that does not exist (no probing for ids)', async () => {
    expect((await send(route, 'no-such-tenant', tokenA)).statusCode).toBe(403);
  });

  if (route.access === 'tenant') {
    test('a token of tenant A may use the route for tenant A', async () => {
      await route.prepare?.(t, 'tenant-a');
      expect((await send(route, 'tenant-a', tokenA)).statusCode).toBeLessThan(300);
    });
  } else {
    test(`a token of tenant A: 403 even for tenant A (${route.access} only)`, async () => {
      expect((await send(route, 'tenant-a', tokenA)).statusCode).toBe(403);
    });
  }

  if (route.access === 'internal') {
    test('the admin token: 403 (the engine API is the proxy\'s alone)', async () => {
      const response = await send(route, 'tenant-a', TEST_ADMIN_TOKEN);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('INLAY_MW_FORBIDDEN');
    });
  } else {
    test('the internal token: 403, and the store stays unchanged', async () => {
      const before = await t.snapshot();
      const response = await send(route, 'tenant-a', TEST_INTERNAL_TOKEN);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('INLAY_MW_FORBIDDEN');
      expect(await t.snapshot()).toEqual(before);
    });
  }

  test('authentication comes before validation: no token and a bad body is still 401', async () => {
    const response = await t.request(route.method, route.url('tenant-b'), { token: null, body: '{"broken' });
    expect(response.statusCode).toBe(401);
  });
});

test('the admin token may use every route but the internal ones; the internal token those', async () => {
  expect((await t.createTenant('admin-target')).statusCode).toBe(201);
  // Deletion last, so every other route still finds the tenant.
  for (const route of [...ROUTES].filter((entry) => entry.access !== 'internal').sort((a, b) => Number(a.template === '/api/tenants/{id}' && a.method === 'DELETE') - Number(b.template === '/api/tenants/{id}' && b.method === 'DELETE'))) {
    await route.prepare?.(t, 'admin-target');
    const response = await send(route, 'admin-target', TEST_ADMIN_TOKEN);
    // The table's DELETE of a token names one that does not exist: 404 is the route working.
    expect([200, 201, 202, 204, 404], routeName(route)).toContain(response.statusCode);
  }
  expect((await t.createTenant('internal-target')).statusCode).toBe(201);
  for (const route of ROUTES.filter((entry) => entry.access === 'internal')) {
    await route.prepare?.(t, 'internal-target');
    const response = await send(route, 'internal-target', TEST_INTERNAL_TOKEN);
    expect(response.statusCode, `${routeName(route)}: ${response.body.slice(0, 300)}`).toBe(200);
    expect(response.json(), routeName(route)).toMatchObject({ known: true });
  }
});

test('without an internal token configured the internal routes answer 503 to everyone, the others work', async () => {
  const off = await startTestApp({ internalToken: null });
  try {
    for (const route of ROUTES.filter((entry) => entry.access === 'internal')) {
      for (const token of [TEST_INTERNAL_TOKEN, TEST_ADMIN_TOKEN, null]) {
        const response = await off.request(route.method, route.url('x'), { token, body: route.body?.('x') });
        expect(response.statusCode, routeName(route)).toBe(503);
        expect(response.json()).toEqual({ code: 'INLAY_MW_INTERNAL_API_DISABLED', message: expect.stringContaining('INLAY_INTERNAL_TOKEN') });
      }
    }
    expect((await off.request('GET', '/api/tenants')).statusCode).toBe(200);
    expect((await off.request('GET', '/api/tenants', { token: TEST_INTERNAL_TOKEN })).statusCode).toBe(401);
  } finally {
    await off.close();
  }
});

test('the OpenAPI document needs no token and declares the bearer scheme', async () => {
  const response = await t.request('GET', '/api/openapi.json', { token: null });
  expect(response.statusCode).toBe(200);
  const document = response.json();
  expect(document.openapi).toBe('3.1.0');
  expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  expect(document.security).toEqual([{ bearer: [] }]);
  // Secrets are write-only: no response schema has a secretKey.
  const responses = JSON.stringify(Object.values(document.paths).flatMap((methods: any) => Object.values(methods).map((operation: any) => operation.responses)));
  expect(responses).not.toContain('"secretKey"');
  expect(responses).toContain('"secretKeySet"');
});

describe('tenant tokens', () => {
  test('are returned once, prefixed, 256 bits, and never listed or stored in clear', async () => {
    const created = await t.request('POST', '/api/tenants/tenant-a/tokens');
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const { id, token, createdAt } = created.json();
    expect(token).toMatch(/^inlay_t_[A-Za-z0-9_-]{43}$/);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(createdAt)).not.toBeNaN();

    const listed = await t.request('GET', '/api/tenants/tenant-a/tokens');
    expect(listed.json()).toContainEqual({ id, createdAt });
    expect(listed.body).not.toContain(token);
    expect(listed.body).not.toContain(hashToken(token));
    expect(JSON.stringify(await t.snapshot())).not.toContain(token);
    expect(await t.store.findTenantTokenByHash(hashToken(token))).toMatchObject({ tenantId: 'tenant-a', tokenId: id });
  });

  test('revoked, a token is 401; revoking it again is 404 INLAY_MW_TOKEN_NOT_FOUND', async () => {
    const created = (await t.request('POST', '/api/tenants/tenant-a/tokens')).json();
    expect((await t.request('GET', '/api/tenants/tenant-a', { token: created.token })).statusCode).toBe(200);
    expect((await t.request('DELETE', `/api/tenants/tenant-a/tokens/${created.id}`)).statusCode).toBe(204);
    expect((await t.request('GET', '/api/tenants/tenant-a', { token: created.token })).statusCode).toBe(401);
    const again = await t.request('DELETE', `/api/tenants/tenant-a/tokens/${created.id}`);
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('INLAY_MW_TOKEN_NOT_FOUND');
  });

  test("a token cannot be revoked through another tenant's path", async () => {
    const created = (await t.request('POST', '/api/tenants/tenant-a/tokens')).json();
    expect((await t.request('DELETE', `/api/tenants/tenant-b/tokens/${created.id}`)).statusCode).toBe(404);
    expect((await t.request('GET', '/api/tenants/tenant-a', { token: created.token })).statusCode).toBe(200);
  });

  test('tokens of an unknown tenant: 404 to create or list', async () => {
    expect((await t.request('POST', '/api/tenants/nobody/tokens')).statusCode).toBe(404);
    expect((await t.request('GET', '/api/tenants/nobody/tokens')).statusCode).toBe(404);
    expect((await t.request('DELETE', '/api/tenants/nobody/tokens/not-a-uuid')).json()).toEqual({
      code: 'INLAY_MW_VALIDATION',
      message: 'params.tokenId must be a lowercase UUID',
    });
  });

  test('deleting a tenant revokes its tokens', async () => {
    expect((await t.createTenant('short-lived')).statusCode).toBe(201);
    const token = await t.tenantToken('short-lived');
    expect((await t.request('GET', '/api/tenants/short-lived', { token })).statusCode).toBe(200);
    expect((await t.request('DELETE', '/api/tenants/short-lived/?dropDB=true')).statusCode).toBe(204);
    expect((await t.createTenant('short-lived')).statusCode).toBe(201);
    expect((await t.request('GET', '/api/tenants/short-lived', { token })).statusCode).toBe(401);
  });

  test('tenant B keeps working with its own token throughout', async () => {
    expect((await t.request('GET', '/api/tenants/tenant-b/dataSources', { token: tokenB })).statusCode).toBe(200);
  });
});
