/**
 * Test support: every route of the API once, with who may call it and a request that succeeds
 * for an existing tenant. Auth and fuzz tests iterate over it; a test checks it against the
 * OpenAPI document, so a new route cannot be forgotten here. Must never list a route twice.
 */
import type { Method } from './test-app.js';
import { seedTenant } from './test-app.js';

export interface RouteCase {
  readonly method: Method;
  /** As OpenAPI writes it: `/api/tenants/{id}/dataSources`. */
  readonly template: string;
  readonly access: 'public' | 'admin' | 'tenant';
  /** The URL for tenant `id`. */
  readonly url: (id: string) => string;
  /** A body that is valid for the route, if it takes one. */
  readonly body?: (id: string) => unknown;
}

export const UNKNOWN_TOKEN_ID = '00000000-0000-4000-8000-000000000000';

const validDataSources = [
  {
    id: 'main',
    type: 'ongage',
    defaultDataSource: true,
    deleteTemporaryImportFiles: false,
    awsConnectionInformation: { authorizationType: 'aws', accessKey: 'AKIA', secretKey: 'table-secret', endpoint: 'http://s3.local', bucket: 'b' },
  },
];
const validConversionPoints = [{ id: 'read', type: 'ongage', eventType: 'read', connectionInformation: { url: 'https://track.example/read' } }];

export const ROUTES: readonly RouteCase[] = [
  { method: 'POST', template: '/api/tenants', access: 'admin', url: () => '/api/tenants/?createDB=true', body: (id) => seedTenant(`${id}-new`) },
  { method: 'GET', template: '/api/tenants', access: 'admin', url: () => '/api/tenants' },
  { method: 'GET', template: '/api/tenants/{id}', access: 'tenant', url: (id) => `/api/tenants/${id}` },
  { method: 'DELETE', template: '/api/tenants/{id}', access: 'admin', url: (id) => `/api/tenants/${id}/` },
  { method: 'GET', template: '/api/tenants/{id}/dataSources', access: 'tenant', url: (id) => `/api/tenants/${id}/dataSources` },
  { method: 'PUT', template: '/api/tenants/{id}/dataSources', access: 'tenant', url: (id) => `/api/tenants/${id}/dataSources`, body: () => validDataSources },
  { method: 'GET', template: '/api/tenants/{id}/conversionPoints', access: 'tenant', url: (id) => `/api/tenants/${id}/conversionPoints` },
  { method: 'PUT', template: '/api/tenants/{id}/conversionPoints', access: 'tenant', url: (id) => `/api/tenants/${id}/conversionPoints`, body: () => validConversionPoints },
  { method: 'POST', template: '/api/tenants/{id}/tokens', access: 'admin', url: (id) => `/api/tenants/${id}/tokens` },
  { method: 'GET', template: '/api/tenants/{id}/tokens', access: 'admin', url: (id) => `/api/tenants/${id}/tokens` },
  { method: 'DELETE', template: '/api/tenants/{id}/tokens/{tokenId}', access: 'admin', url: (id) => `/api/tenants/${id}/tokens/${UNKNOWN_TOKEN_ID}` },
  { method: 'GET', template: '/api/openapi.json', access: 'public', url: () => '/api/openapi.json' },
];

export const routeName = (route: RouteCase): string => `${route.method} ${route.template}`;
