/**
 * Test support: every route of the API once, with who may call it and a request that succeeds
 * for an existing tenant. Auth and fuzz tests iterate over it; a test checks it against the
 * OpenAPI document, so a new route cannot be forgotten here. Must never list a route twice.
 */
import type { Campaign, StoredCampaignStatus } from '@inlay/schemas';
import type { Method, TestApp } from './test-app.js';
import { TEST_INTERNAL_TOKEN, TEST_MAILBOX, seedTenant, tableLogin } from './test-app.js';
import { DELIVERY_ROUTES } from './delivery-route-table.js';

export interface RouteCase {
  readonly method: Method;
  /** As OpenAPI writes it: `/api/tenants/{id}/dataSources`. */
  readonly template: string;
  readonly access: 'public' | 'admin' | 'tenant' | 'signedIn' | 'internal';
  /** The URL for tenant `id`. */
  readonly url: (id: string) => string;
  /** A body that is valid for the route, if it takes one. */
  readonly body?: (id: string) => unknown;
  /** Makes the request succeed for tenant `id` when the URL names something that must exist
   *  first (a campaign in a status that allows the action). Tests that expect success call it. */
  readonly prepare?: (t: TestApp, id: string) => Promise<void>;
}

export const UNKNOWN_TOKEN_ID = '00000000-0000-4000-8000-000000000000';
/** The import the table's GET of one import names; `prepare` puts it into the store. */
export const TABLE_IMPORT_ID = '00000000-0000-1000-8000-00000000001a';

/** The failed import the table's retry route names. */
export const TABLE_FAILED_IMPORT_ID = '00000000-0000-1000-8000-00000000001b';

async function prepareTableImport(t: TestApp, id: string): Promise<void> {
  await saveTableImport(t, id, TABLE_IMPORT_ID, 'completed');
}

async function prepareFailedImport(t: TestApp, id: string): Promise<void> {
  await saveTableImport(t, id, TABLE_FAILED_IMPORT_ID, 'failed');
}

async function saveTableImport(t: TestApp, id: string, importId: string, status: 'completed' | 'failed'): Promise<void> {
  const tenant = await t.store.getTenant(id);
  if (!tenant) return;
  await t.store.saveImport(tenant, {
    importId,
    dataSourceId: tenant.dataSources.find((source) => source.defaultDataSource)?.id ?? 'default',
    objectKey: 'lists/users.csv',
    format: 'csv',
    status,
    rowsRead: 2,
    rowsImported: 1,
    rowsFailed: 1,
    createdAt: new Date(Date.UTC(2030, 0, 1)),
  });
}

/** The campaign the table's campaign routes name; `prepare` puts it into the store. */
export const TABLE_CAMPAIGN_ID = '00000000-0000-1000-8000-00000000ca11';

function validCampaign(): Record<string, unknown> {
  const day = 86_400_000;
  return {
    name: 'Table campaign',
    template: { subject: 'Hi {{displayName}}', from: 'News <news@example.com>', html: '<p>Hi</p>', text: 'Hi' },
    audience: { type: 'all' },
    schedule: { startAt: new Date(Date.now() + day).toISOString(), endAt: new Date(Date.now() + 2 * day).toISOString() },
  };
}

/** Stores TABLE_CAMPAIGN_ID for tenant `id` with `status` (replacing any earlier one); `running`
 *  is a scheduled campaign that started an hour ago, for the engine routes to inject. */
const campaignIn =
  (status: StoredCampaignStatus | 'running') =>
  async (t: TestApp, id: string): Promise<void> => {
    const tenant = await t.store.getTenant(id);
    if (!tenant) return;
    const ref = { id, keyspaceName: tenant.keyspaceName };
    await t.store.deleteCampaign(ref, TABLE_CAMPAIGN_ID).catch(() => undefined);
    const now = new Date().toISOString();
    const { name, template, audience, schedule: future } = validCampaign() as Pick<Campaign, 'name' | 'template' | 'audience'> & { schedule: Omit<Campaign['schedule'], 'timeZone'> };
    const schedule = status === 'running' ? { startAt: new Date(Date.now() - 3_600_000).toISOString(), endAt: future.endAt } : future;
    const campaign: Campaign = {
      id: TABLE_CAMPAIGN_ID,
      status: status === 'running' ? 'scheduled' : status,
      revision: 1,
      createdAt: now,
      updatedAt: now,
      name,
      template,
      audience,
      schedule: { ...schedule, timeZone: 'UTC' },
      position: { type: 'newest' },
      frequency: { maxVisibleUnseen: 1, minDelayMinutes: 0 },
      reinjection: { policy: 'never' },
      priority: 0,
    };
    await t.store.createCampaign(ref, campaign);
  };
const campaignUrl = (id: string, suffix = ''): string => `/api/tenants/${id}/campaigns/${TABLE_CAMPAIGN_ID}${suffix}`;

/** A body naming the table's user in tenant `id`'s INBOX. */
const viewKey = (id: string) => ({ login: tableLogin(id), mailbox: TEST_MAILBOX, serverUidValidity: 7 });
/** The UID the table's campaign gets: the first slot after server UID 1. */
const TABLE_VIRTUAL_UID = 17;

/** The running campaign, injected into the table user's view (as TABLE_VIRTUAL_UID), so flag and
 *  expunge requests meet a real message. */
async function assignedMessage(t: TestApp, id: string): Promise<void> {
  await campaignIn('running')(t, id);
  if (!(await t.store.getTenant(id))) return;
  const response = await t.request('POST', '/internal/v1/views/assign', { token: TEST_INTERNAL_TOKEN, body: { ...viewKey(id), epoch: 0, anchorServerUid: 1 } });
  if (response.statusCode !== 200) throw new Error(`assign for ${id}: ${response.statusCode} ${response.body}`);
}

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
  { method: 'GET', template: '/api/session', access: 'signedIn', url: () => '/api/session' },
  { method: 'GET', template: '/api/tenants/{id}', access: 'tenant', url: (id) => `/api/tenants/${id}` },
  { method: 'DELETE', template: '/api/tenants/{id}', access: 'admin', url: (id) => `/api/tenants/${id}/` },
  { method: 'GET', template: '/api/tenants/{id}/dataSources', access: 'tenant', url: (id) => `/api/tenants/${id}/dataSources` },
  {
    method: 'POST',
    template: '/api/tenants/{id}/dataSources/{dsid}/test',
    access: 'tenant',
    url: (id) => `/api/tenants/${id}/dataSources/main/test`,
    // Whatever ran before, the tenant has the table's data source (id "main") to test.
    prepare: async (t, id) => void (await t.request('PUT', `/api/tenants/${id}/dataSources`, { body: validDataSources })),
  },
  { method: 'PUT', template: '/api/tenants/{id}/dataSources', access: 'tenant', url: (id) => `/api/tenants/${id}/dataSources`, body: () => validDataSources },
  { method: 'GET', template: '/api/tenants/{id}/conversionPoints', access: 'tenant', url: (id) => `/api/tenants/${id}/conversionPoints` },
  { method: 'PUT', template: '/api/tenants/{id}/conversionPoints', access: 'tenant', url: (id) => `/api/tenants/${id}/conversionPoints`, body: () => validConversionPoints },
  { method: 'POST', template: '/api/tenants/{id}/tokens', access: 'admin', url: (id) => `/api/tenants/${id}/tokens` },
  { method: 'GET', template: '/api/tenants/{id}/tokens', access: 'admin', url: (id) => `/api/tenants/${id}/tokens` },
  { method: 'DELETE', template: '/api/tenants/{id}/tokens/{tokenId}', access: 'admin', url: (id) => `/api/tenants/${id}/tokens/${UNKNOWN_TOKEN_ID}` },
  { method: 'POST', template: '/api/tenants/{id}/imports', access: 'tenant', url: (id) => `/api/tenants/${id}/imports`, body: () => ({ objectKey: 'lists/users.csv' }) },
  { method: 'GET', template: '/api/tenants/{id}/imports', access: 'tenant', url: (id) => `/api/tenants/${id}/imports` },
  { method: 'GET', template: '/api/tenants/{id}/imports/{importId}', access: 'tenant', url: (id) => `/api/tenants/${id}/imports/${TABLE_IMPORT_ID}`, prepare: prepareTableImport },
  { method: 'POST', template: '/api/tenants/{id}/imports/{importId}/retry', access: 'tenant', url: (id) => `/api/tenants/${id}/imports/${TABLE_FAILED_IMPORT_ID}/retry`, prepare: prepareFailedImport },
  { method: 'POST', template: '/api/tenants/{id}/campaigns', access: 'tenant', url: (id) => `/api/tenants/${id}/campaigns`, body: validCampaign },
  { method: 'GET', template: '/api/tenants/{id}/campaigns', access: 'tenant', url: (id) => `/api/tenants/${id}/campaigns?status=draft` },
  { method: 'GET', template: '/api/tenants/{id}/campaigns/{cid}', access: 'tenant', url: (id) => campaignUrl(id), prepare: campaignIn('draft') },
  { method: 'PUT', template: '/api/tenants/{id}/campaigns/{cid}', access: 'tenant', url: (id) => campaignUrl(id), body: validCampaign, prepare: campaignIn('draft') },
  { method: 'DELETE', template: '/api/tenants/{id}/campaigns/{cid}', access: 'tenant', url: (id) => campaignUrl(id), prepare: campaignIn('draft') },
  { method: 'POST', template: '/api/tenants/{id}/campaigns/{cid}/schedule', access: 'tenant', url: (id) => campaignUrl(id, '/schedule'), prepare: campaignIn('draft') },
  { method: 'POST', template: '/api/tenants/{id}/campaigns/{cid}/pause', access: 'tenant', url: (id) => campaignUrl(id, '/pause'), prepare: campaignIn('scheduled') },
  { method: 'POST', template: '/api/tenants/{id}/campaigns/{cid}/resume', access: 'tenant', url: (id) => campaignUrl(id, '/resume'), prepare: campaignIn('paused') },
  { method: 'POST', template: '/api/tenants/{id}/campaigns/{cid}/end', access: 'tenant', url: (id) => campaignUrl(id, '/end'), prepare: campaignIn('draft') },
  {
    method: 'GET',
    template: '/api/tenants/{id}/audience/count',
    access: 'tenant',
    url: (id) => `/api/tenants/${id}/audience/count?audience=${encodeURIComponent(JSON.stringify({ type: 'rules', rules: [{ attribute: 'plan', op: 'eq', value: 'gold' }] }))}`,
  },
  { method: 'GET', template: '/api/tenants/{id}/campaigns/{cid}/preview', access: 'tenant', url: (id) => campaignUrl(id, '/preview?user=reader%40example.org'), prepare: campaignIn('draft') },
  { method: 'POST', template: '/internal/v1/views', access: 'internal', url: () => '/internal/v1/views', body: viewKey, prepare: campaignIn('running') },
  {
    method: 'POST',
    template: '/internal/v1/views/assign',
    access: 'internal',
    url: () => '/internal/v1/views/assign',
    body: (id) => ({ ...viewKey(id), epoch: 0, anchorServerUid: 1 }),
    prepare: campaignIn('running'),
  },
  { method: 'POST', template: '/internal/v1/views/reveal', access: 'internal', url: () => '/internal/v1/views/reveal', body: viewKey, prepare: campaignIn('running') },
  {
    method: 'POST',
    template: '/internal/v1/views/flags',
    access: 'internal',
    url: () => '/internal/v1/views/flags',
    body: (id) => ({ ...viewKey(id), changes: [{ uid: TABLE_VIRTUAL_UID, mode: 'add', flags: ['\\Seen', '$Important'] }] }),
    prepare: assignedMessage,
  },
  {
    method: 'POST',
    template: '/internal/v1/views/expunge',
    access: 'internal',
    url: () => '/internal/v1/views/expunge',
    body: (id) => ({ ...viewKey(id), uids: [TABLE_VIRTUAL_UID] }),
    prepare: assignedMessage,
  },
  { method: 'GET', template: '/api/tenants/{id}/events', access: 'tenant', url: (id) => `/api/tenants/${id}/events?type=injected&limit=5`, prepare: assignedMessage },
  { method: 'GET', template: '/api/tenants/{id}/campaigns/{cid}/report', access: 'tenant', url: (id) => campaignUrl(id, '/report?bucket=hour'), prepare: assignedMessage },
  { method: 'GET', template: '/api/tenants/{id}/reports', access: 'tenant', url: (id) => `/api/tenants/${id}/reports`, prepare: assignedMessage },
  { method: 'GET', template: '/api/tenants/{id}/tracking', access: 'tenant', url: (id) => `/api/tenants/${id}/tracking?user=${encodeURIComponent(tableLogin(id))}`, prepare: assignedMessage },
  {
    method: 'GET',
    template: '/api/tenants/{id}/tracking/message.eml',
    access: 'tenant',
    url: (id) => `/api/tenants/${id}/tracking/message.eml?user=${encodeURIComponent(tableLogin(id))}&objectId=7:${TABLE_VIRTUAL_UID}`,
    prepare: assignedMessage,
  },
  ...DELIVERY_ROUTES,
  { method: 'GET', template: '/api/audit', access: 'tenant', url: (id) => `/api/audit?tenant=${id}&limit=5` },
  { method: 'GET', template: '/api/tenants/{id}/history', access: 'tenant', url: (id) => `/api/tenants/${id}/history?limit=5` },
  { method: 'GET', template: '/api/openapi.json', access: 'public', url: () => '/api/openapi.json' },
  { method: 'GET', template: '/healthz', access: 'public', url: () => '/healthz' },
  { method: 'GET', template: '/readyz', access: 'public', url: () => '/readyz' },
];

export const routeName = (route: RouteCase): string => `${route.method} ${route.template}`;
