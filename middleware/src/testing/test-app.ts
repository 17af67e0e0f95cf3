/**
 * Test support: the real application on an embedded store in a throw-away directory, with a known
 * admin token and helpers to call it through app.inject(). Nothing in the running middleware
 * imports this module, and it must never listen on a port unless a test asks for one.
 */
import type { AudienceCountLimits } from '../campaigns/audience-count.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Tenant } from '@inlay/schemas';
import { buildApp } from '../app.js';
import type { AddressGuard } from '../delivery/address-guard.js';
import { EmbeddedStore } from '../store/embedded-store.js';
import type { Store } from '../store/store.js';
import { SEED_TENANT_JSON } from './seed-tenant.js';
import { userKeyFor } from '../users/user-key.js';

const DAY_MS = 86_400_000;

/** The user the route table's engine requests are about, at tenant `id`'s domain. */
export function tableLogin(id: string): string {
  return `reader@${tenantDomain(id)}`;
}

export const TEST_ADMIN_TOKEN = 'inlay_a_test-admin-token-0123456789abcdef';
/** The internal engine API's token in tests (the proxy's INLAY_INTERNAL_TOKEN). */
export const TEST_INTERNAL_TOKEN = 'test-internal-token-0123456789abcdef';
/** The mailbox and UIDVALIDITY the route table's engine requests name. */
export const TEST_MAILBOX = 'INBOX';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: Store;
  /** Sends a request; `body` objects go as JSON, strings as they are. */
  request(method: Method, url: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  /** Creates a tenant (the seed's, with the given id and keyspace) through the API. */
  createTenant(id: string, overrides?: Record<string, unknown>): Promise<LightMyRequestResponse>;
  /** A new API token of the tenant, through the API. */
  tenantToken(tenantId: string): Promise<string>;
  /** Every tenant with its secrets and tokens: what "the store is unchanged" compares. */
  snapshot(): Promise<unknown>;
  close(): Promise<void>;
}

/** The mail domain seedTenant(id) serves: logins at it resolve to that tenant. */
export function tenantDomain(id: string): string {
  return `${id.replaceAll('_', '-')}.example`;
}

/** The seed tenant, parsed, with another id and keyspace, serving tenantDomain(id). */
export function seedTenant(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const seed = JSON.parse(SEED_TENANT_JSON) as { configuration: Record<string, unknown> } & Record<string, unknown>;
  return {
    ...seed,
    id,
    name: `Tenant ${id}`,
    keyspaceName: `ks_${id.replaceAll('-', '_')}`,
    configuration: { ...seed.configuration, domains: [tenantDomain(id)] },
    ...overrides,
  };
}

export interface TestAppOptions {
  readonly bodyLimitBytes?: number;
  readonly store?: Store;
  /** Listen on a free loopback port and send requests with fetch, through Node's HTTP stack,
   *  instead of app.inject(). */
  readonly overHttp?: boolean;
  /** The internal token; null: the internal API is off. Default TEST_INTERNAL_TOKEN. */
  readonly internalToken?: string | null;
  /** The engine's clock (default: the real one). Its caches are off in tests. */
  readonly clock?: () => Date;
  /** What conversion point URLs may reach (default: no internal network). */
  readonly deliveryGuard?: AddressGuard;
  /** Bounds of an audience count (default: the production ones). */
  readonly audienceCountLimits?: AudienceCountLimits;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-app-'));
  const store = options.store ?? EmbeddedStore.open(dir);
  const internalToken = options.internalToken === undefined ? TEST_INTERNAL_TOKEN : (options.internalToken ?? undefined);
  const app = await buildApp({
    store,
    adminToken: TEST_ADMIN_TOKEN,
    internalToken,
    dataDir: dir,
    engine: { cacheMs: 0, ...(options.clock ? { clock: options.clock } : {}) },
    ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
    ...(options.deliveryGuard ? { deliveryGuard: options.deliveryGuard } : {}),
    ...(options.audienceCountLimits ? { audienceCountLimits: options.audienceCountLimits } : {}),
  });
  const baseUrl = options.overHttp ? await app.listen({ host: '127.0.0.1', port: 0 }) : null;

  const request: TestApp['request'] = (method, url, { token = TEST_ADMIN_TOKEN, body, headers = {} } = {}) => {
    const allHeaders: Record<string, string> = { ...headers };
    if (token !== null) allHeaders['authorization'] = `Bearer ${token}`;
    if (body !== undefined && allHeaders['content-type'] === undefined) allHeaders['content-type'] = 'application/json';
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (baseUrl === null) return app.inject({ method, url, headers: allHeaders, ...(payload === undefined ? {} : { payload }) });
    return fetchAsInjectResponse(`${baseUrl}${url}`, method, allHeaders, payload);
  };

  return {
    app,
    store,
    request,
    createTenant: (id, overrides = {}) => request('POST', '/api/tenants/?createDB=true', { body: seedTenant(id, overrides) }),
    async tenantToken(tenantId) {
      const response = await request('POST', `/api/tenants/${tenantId}/tokens`);
      if (response.statusCode !== 201) throw new Error(`token for ${tenantId}: ${response.statusCode} ${response.body}`);
      return (response.json() as { token: string }).token;
    },
    async snapshot() {
      const tenants: Tenant[] = await store.listTenants();
      return Promise.all(
        tenants.map(async (tenant) => ({
          tenant,
          tokens: await store.listTenantTokens(tenant.id),
          schema: await store.tenantSchemaExists(tenant),
          campaigns: await store.listCampaigns(tenant),
          // What the internal routes of the route table write.
          view: await store.getView({ ...tenant, userKey: userKeyFor(tenant, tableLogin(tenant.id)), mailbox: TEST_MAILBOX }),
          events: await store.listEvents(tenant, { since: new Date(Date.now() - DAY_MS), until: new Date(Date.now() + DAY_MS) }),
        })),
      );
    },
    async close() {
      await app.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fetch answer in the shape of app.inject()'s, so tests read both alike. */
async function fetchAsInjectResponse(url: string, method: Method, headers: Record<string, string>, payload: string | Buffer | undefined): Promise<LightMyRequestResponse> {
  const response = await fetch(url, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
  const body = await response.text();
  const headerRecord: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headerRecord[name] = value;
  });
  return { statusCode: response.status, headers: headerRecord, body, payload: body, json: () => JSON.parse(body) } as unknown as LightMyRequestResponse;
}
