/**
 * Test support: the delivery routes (routes/deliveries.ts) for the route table, on the seed
 * tenant's `read` conversion point; `prepare` records a read event, so its delivery exists.
 */
import type { RouteCase } from './route-table.js';
import type { TestApp } from './test-app.js';

/** The event (and delivery) the table's delivery routes name. */
export const TABLE_EVENT_ID = '5f0c1d00-e000-11ee-8000-0123456789ab';
const point = (id: string, rest = ''): string => `/api/tenants/${id}/conversionPoints/read${rest}`;

async function recordTableEvent(t: TestApp, id: string): Promise<void> {
  const tenant = await t.store.getTenant(id);
  if (!tenant) return;
  await t.store.recordEvents(tenant, [
    {
      eventId: TABLE_EVENT_ID,
      type: 'read',
      tenantId: id,
      userKey: 'reader@example.org',
      mailbox: 'INBOX',
      uidValidity: 1,
      uid: 17,
      campaignId: '00000000-0000-1000-8000-00000000ca11',
      variantId: null,
      objectId: '1:17',
      messageId: '<table@example.org>',
      occurredAt: new Date(Date.UTC(2030, 0, 1)),
    },
  ]);
}

export const DELIVERY_ROUTES: readonly RouteCase[] = [
  { method: 'GET', template: '/api/tenants/{id}/conversionPoints/{cpid}/secret', access: 'tenant', url: (id) => point(id, '/secret') },
  { method: 'POST', template: '/api/tenants/{id}/conversionPoints/{cpid}/secret/rotate', access: 'tenant', url: (id) => point(id, '/secret/rotate') },
  { method: 'GET', template: '/api/tenants/{id}/conversionPoints/{cpid}/health', access: 'tenant', url: (id) => point(id, '/health') },
  { method: 'GET', template: '/api/tenants/{id}/conversionPoints/{cpid}/deliveries', access: 'tenant', url: (id) => point(id, '/deliveries?state=pending') },
  { method: 'GET', template: '/api/tenants/{id}/conversionPoints/{cpid}/deliveries/{deliveryId}', access: 'tenant', url: (id) => point(id, `/deliveries/${TABLE_EVENT_ID}`), prepare: recordTableEvent },
  {
    method: 'POST',
    template: '/api/tenants/{id}/conversionPoints/{cpid}/deliveries/{deliveryId}/resend',
    access: 'tenant',
    url: (id) => point(id, `/deliveries/${TABLE_EVENT_ID}/resend`),
    prepare: recordTableEvent,
  },
  { method: 'POST', template: '/api/tenants/{id}/conversionPoints/{cpid}/recover', access: 'tenant', url: (id) => point(id, '/recover'), body: () => ({ since: '2030-01-01T00:00:00Z' }) },
  { method: 'POST', template: '/api/tenants/{id}/conversionPoints/{cpid}/enable', access: 'tenant', url: (id) => point(id, '/enable') },
  { method: 'POST', template: '/api/tenants/{id}/conversionPoints/{cpid}/disable', access: 'tenant', url: (id) => point(id, '/disable') },
];
