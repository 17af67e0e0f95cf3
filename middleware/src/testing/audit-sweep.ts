/**
 * Test support: the audit trail's sweep over the API — every route of the served OpenAPI document
 * that changes something (POST, PUT, PATCH, DELETE outside /internal/) called once with a valid
 * request from the route table, each leaving an entry with the right actor, address, route, tenant
 * and target, and no secret sent or shown anywhere in the trail. Run on the embedded store
 * (routes/audit.test.ts) and on Cassandra (test/integration/middleware-audit-cassandra.test.ts).
 * Imports vitest; nothing in the running middleware imports it.
 */
import { expect } from 'vitest';
import type { AuditEntryView, AuditPage } from '@inlay/schemas';
import { ROUTES, routeName, type RouteCase } from './route-table.js';
import { TEST_ADMIN_TOKEN, seedTenant, tenantDomain, type Method, type TestApp } from './test-app.js';
import { SECRET_MASK } from '../audit/mask.js';

export interface AuditSweep {
  /** The tenant every route but the tenant DELETE works on. */
  readonly tenant: string;
  /** The tenant the tenant DELETE removes. */
  readonly doomed: string;
  readonly tenantToken: string;
  readonly tenantTokenId: string;
  readonly tokenName: string;
  /** Every secret the run sent or was shown: none may appear in the trail. */
  readonly secrets: Set<string>;
}

/** The seed tenant with secrets the sweep can look for. */
export function auditTenantBody(id: string): Record<string, unknown> {
  return seedTenant(id, {
    configuration: { secretKey: `hmac-SECRET-of-${id}`, hashedEmailAddresses: true, domains: [tenantDomain(id)] },
    dataSources: [
      {
        id: 'default',
        type: 'ongage',
        defaultDataSource: true,
        deleteTemporaryImportFiles: false,
        awsConnectionInformation: { authorizationType: 'aws', accessKey: `AKIA-${id}`, secretKey: `S3-SECRET-of-${id}`, endpoint: 'http://s3.local', bucket: 'b' },
      },
    ],
  });
}

/** Creates both tenants and a named token of the first, through the API. */
export async function setUpAuditSweep(t: TestApp, tenant: string, doomed: string, tokenName: string): Promise<AuditSweep> {
  for (const id of [tenant, doomed]) expect((await t.request('POST', '/api/tenants/?createDB=true', { body: auditTenantBody(id) })).statusCode).toBe(201);
  const created = await t.request('POST', `/api/tenants/${tenant}/tokens`, { body: { name: tokenName } });
  expect(created.statusCode).toBe(201);
  const { token, id } = created.json() as { token: string; id: string };
  const secrets = new Set([token, TEST_ADMIN_TOKEN, 'table-secret', '<secretKey>', '<accessKey>']);
  for (const id of [tenant, doomed]) for (const secret of [`hmac-SECRET-of-${id}`, `S3-SECRET-of-${id}`, `AKIA-${id}`]) secrets.add(secret);
  return { tenant, doomed, tenantToken: token, tenantTokenId: id, tokenName, secrets };
}

export async function auditPage(t: TestApp, query: string, token: string = TEST_ADMIN_TOKEN): Promise<AuditPage> {
  const response = await t.request('GET', `/api/audit?${query}`, { token });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as AuditPage;
}

/** Every entry the query matches, page by page (50 a page). */
export async function everyAuditEntry(t: TestApp, query = ''): Promise<AuditEntryView[]> {
  const entries: AuditEntryView[] = [];
  let cursor: string | undefined;
  do {
    const page = await auditPage(t, `limit=50${query}${cursor === undefined ? '' : `&cursor=${cursor}`}`);
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return entries;
}

/** The route's parameters as the URL filled them in. */
function paramsOf(template: string, url: string): Record<string, string> {
  const names: string[] = [];
  const pattern = template.replace(/\{([A-Za-z]+)\}/g, (_whole, name: string) => {
    names.push(name);
    return '([^/?]+)';
  });
  const match = new RegExp(`^${pattern}/?(?:\\?|$)`).exec(url);
  if (match === null) throw new Error(`${url} does not fit ${template}`);
  return Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(match[index + 1]!)]));
}

/** The sweep; returns the routes it audited (all of the document's changing routes). */
export async function auditEveryChange(t: TestApp, sweep: AuditSweep): Promise<string[]> {
  const document = (await t.request('GET', '/api/openapi.json', { token: null })).json() as { paths: Record<string, Record<string, unknown>> };
  const changing = Object.entries(document.paths)
    .filter(([path]) => !path.startsWith('/internal/'))
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
    .filter((name) => /^(POST|PUT|PATCH|DELETE) /.test(name));
  expect(changing.length).toBeGreaterThanOrEqual(19);

  const audited: string[] = [];
  for (const name of changing) {
    const route: RouteCase | undefined = ROUTES.find((candidate) => routeName(candidate) === name);
    expect(route, `${name} is in the route table`).toBeDefined();
    const deletesTenant = route!.template === '/api/tenants/{id}' && route!.method === 'DELETE';
    const id = deletesTenant ? sweep.doomed : sweep.tenant;
    // The tenant goes with its keyspace, so a shared Cassandra keeps nothing of the run.
    let url = deletesTenant ? `/api/tenants/${id}/?dropDB=true` : route!.url(id);
    if (route!.template === '/api/tenants/{id}/tokens/{tokenId}') {
      const extra = (await t.request('POST', `/api/tenants/${sweep.tenant}/tokens`)).json() as { id: string; token: string };
      sweep.secrets.add(extra.token);
      url = `/api/tenants/${sweep.tenant}/tokens/${extra.id}`;
    }
    await route!.prepare?.(t, id);
    const token = route!.access === 'admin' ? TEST_ADMIN_TOKEN : sweep.tenantToken;
    const startedAt = Date.now();
    const response = await t.request(route!.method as Method, url, { token, body: route!.body?.(id) });
    expect(response.statusCode, `${name}: ${response.body}`).toBeLessThan(300);
    const body = response.body === '' ? {} : (response.json() as Record<string, unknown>);
    for (const key of ['token', 'secret'] as const) if (typeof body[key] === 'string') sweep.secrets.add(body[key]);

    const [entry] = (await auditPage(t, `route=${encodeURIComponent(name)}&limit=1`)).entries;
    expect(entry, `${name} left an audit entry`).toBeDefined();
    const lastParam = Object.values(paramsOf(route!.template, url)).at(-1);
    const createdTenant = route!.template === '/api/tenants' ? (body['id'] as string) : undefined;
    expect(entry!.route).toBe(name);
    expect(entry!.tenantId).toBe(createdTenant ?? id);
    expect(entry!.target.id).toBe(createdTenant ?? (typeof body['id'] === 'string' ? body['id'] : lastParam));
    expect(entry!.actor).toEqual(route!.access === 'admin' ? { kind: 'admin', tokenId: 'admin', name: 'admin' } : { kind: 'tenant', tokenId: sweep.tenantTokenId, name: sweep.tokenName });
    expect(entry!.address).toBe('127.0.0.1');
    expect(Date.parse(entry!.at)).toBeGreaterThanOrEqual(startedAt - 5);
    expect(Date.parse(entry!.at)).toBeLessThanOrEqual(Date.now());
    expect(entry!.action).toMatch(/^[a-zA-Z]+\.[a-zA-Z-]+$/);
    audited.push(name);
  }
  expect([...audited].sort()).toEqual([...changing].sort());

  const trail = JSON.stringify(await everyAuditEntry(t));
  for (const secret of sweep.secrets) expect(trail, 'the trail holds no secret').not.toContain(secret);
  expect(trail).toContain(SECRET_MASK);
  return audited;
}
