// The event listing, report and tracking routes over the real engine and embedded store: events
// made by the internal API (with the proxy's origin) are listed newest first with filters and
// cursors, a report counts them (JSON and CSV), tracking answers for an address — hashed first
// for a hashing tenant, whose store never sees the address — and every bad query is a clear 400.
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { TEST_INTERNAL_TOKEN, seedTenant, startTestApp, tenantDomain, type TestApp } from '../testing/test-app.js';
import { prefersCsv } from './events.js';

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp();
});
afterEach(async () => {
  await t.close();
});

/** The seed tenant hashes addresses; this one keeps them, so its user keys are the addresses. */
const createPlainTenant = (id: string) => t.createTenant(id, { configuration: { ...(seedTenant(id)['configuration'] as object), hashedEmailAddresses: false } });

const ORIGIN = { clientAddress: '198.51.100.4', clientName: 'Thunderbird', clientVersion: '128.3' };

async function runningCampaign(tenantId: string, name = 'Spring'): Promise<string> {
  const day = 86_400_000;
  const created = await t.request('POST', `/api/tenants/${tenantId}/campaigns`, {
    body: {
      name,
      template: { subject: `${name} news`, from: 'News <news@example.com>', html: '<p>Hi</p>', text: 'Hi' },
      audience: { type: 'all' },
      schedule: { startAt: new Date(Date.now() - 60_000).toISOString(), endAt: new Date(Date.now() + day).toISOString() },
    },
  });
  expect(created.statusCode).toBe(201);
  const id = (created.json() as { id: string }).id;
  expect((await t.request('POST', `/api/tenants/${tenantId}/campaigns/${id}/schedule`)).statusCode).toBe(200);
  return id;
}

/** Injects, reads and expunges the campaign message for `login`; returns its UID. */
async function showReadExpunge(login: string): Promise<number> {
  const key = { login, mailbox: 'INBOX', serverUidValidity: 9 };
  const internal = (path: string, body: unknown) => t.request('POST', `/internal/v1/views${path}`, { token: TEST_INTERNAL_TOKEN, body });
  const assigned = await internal('/assign', { ...key, epoch: 0, anchorServerUid: 3, origin: { ...ORIGIN, node: 'proxy-1' } });
  const [uid] = (assigned.json() as { assigned: number[] }).assigned;
  expect(uid).toBeDefined();
  expect((await internal('/flags', { ...key, changes: [{ uid, mode: 'add', flags: ['\\Seen'] }], origin: { node: 'proxy-2', clientAddress: '2001:db8::5' } })).statusCode).toBe(200);
  expect((await internal('/expunge', { ...key, uids: [uid], origin: { node: 'proxy-2', clientAddress: '2001:db8::5' } })).statusCode).toBe(200);
  return uid!;
}

describe('events, reports and tracking', () => {
  test('events are listed newest first with their origin, filtered, and paged by cursor', async () => {
    expect((await createPlainTenant('acme')).statusCode).toBe(201);
    const campaign = await runningCampaign('acme');
    const alice = `alice@${tenantDomain('acme')}`;
    await showReadExpunge(alice);
    await showReadExpunge(`bob@${tenantDomain('acme')}`);

    const all = await t.request('GET', `/api/tenants/acme/events?campaignId=${campaign}`);
    expect(all.statusCode).toBe(200);
    const events = (all.json() as { events: { type: string; userKey: string; occurredAt: string; node?: string; clientAddress?: string; clientName?: string }[] }).events;
    expect(events).toHaveLength(6);
    expect(events.map((event) => event.occurredAt)).toEqual([...events.map((event) => event.occurredAt)].sort().reverse());
    const injected = events.find((event) => event.type === 'injected' && event.userKey === alice)!;
    expect(injected).toMatchObject({ node: 'proxy-1', ...ORIGIN });

    const alices = (await t.request('GET', `/api/tenants/acme/events?user=${encodeURIComponent(alice.toUpperCase())}&type=read`)).json() as { events: { userKey: string; clientAddress: string }[] };
    expect(alices.events).toEqual([expect.objectContaining({ userKey: alice, clientAddress: '2001:db8::5' })]);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await t.request('GET', `/api/tenants/acme/events?limit=4${cursor ? `&cursor=${cursor}` : ''}`)).json() as { events: { id: string }[]; nextCursor?: string };
      seen.push(...page.events.map((event) => event.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(events.map((event) => (event as unknown as { id: string }).id));

    const future = await t.request('GET', `/api/tenants/acme/events?from=${new Date(Date.now() + 3_600_000).toISOString()}`);
    expect(future.json()).toEqual({ events: [] });
  });

  test('the report counts what happened, as JSON and as CSV; the overview lists every campaign', async () => {
    expect((await createPlainTenant('acme')).statusCode).toBe(201);
    const campaign = await runningCampaign('acme');
    await showReadExpunge(`alice@${tenantDomain('acme')}`);
    await showReadExpunge(`bob@${tenantDomain('acme')}`);
    const report = (await t.request('GET', `/api/tenants/acme/campaigns/${campaign}/report?bucket=hour`)).json() as Record<string, unknown>;
    expect(report).toMatchObject({ totals: { injected: 2, reinjected: 0, read: 2, expunged: 2 }, uniqueUsers: { injected: 2, read: 2, expunged: 2 }, readRate: 1, expungeRate: 1 });
    expect(report['variants']).toEqual([expect.objectContaining({ variantId: null, totals: { injected: 2, reinjected: 0, read: 2, expunged: 2 } })]);

    const csv = await t.request('GET', `/api/tenants/acme/campaigns/${campaign}/report?bucket=hour`, { headers: { accept: 'text/csv' } });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe('start,injected,reinjected,read,expunged');
    expect(lines.slice(1).some((line) => line.endsWith(',2,0,2,2'))).toBe(true);

    await runningCampaign('acme', 'Quiet');
    const overview = (await t.request('GET', '/api/tenants/acme/reports')).json() as { campaigns: { name: string; totals: Record<string, number> }[] };
    expect(overview.campaigns.map((entry) => [entry.name, entry.totals['injected']])).toEqual([
      ['Spring', 2],
      ['Quiet', 0],
    ]);
  });

  test('tracking lists what a user was shown, and the EML is the rendered message; a hashed tenant hashes the address first and never stores it', async () => {
    const secretKey = 'hash-key-for-tracking';
    const tenant = seedTenant('hashed');
    expect((await t.createTenant('hashed', { configuration: { ...(tenant['configuration'] as object), secretKey, hashedEmailAddresses: true } })).statusCode).toBe(201);
    const campaign = await runningCampaign('hashed');
    const address = `carol@${tenantDomain('hashed')}`;
    const uid = await showReadExpunge(address);

    const tracking = await t.request('GET', `/api/tenants/hashed/tracking?user=${encodeURIComponent(address)}`);
    const { messages } = tracking.json() as { messages: { userKey: string; objectId: string; campaignId: string; uid: number; events: { type: string; node: string; clientAddress: string; clientName: string | null }[] }[] };
    const hashed = createHmac('sha256', secretKey).update(address).digest('hex');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ userKey: hashed, campaignId: campaign, uid, objectId: `9:${uid}` });
    expect(messages[0]!.events.map((event) => [event.type, event.node, event.clientAddress, event.clientName])).toEqual([
      ['injected', 'proxy-1', ORIGIN.clientAddress, ORIGIN.clientName],
      ['read', 'proxy-2', '2001:db8::5', null],
      ['expunged', 'proxy-2', '2001:db8::5', null],
    ]);
    expect(tracking.body).not.toContain('carol');

    const byCampaign = (await t.request('GET', `/api/tenants/hashed/tracking?campaignId=${campaign}`)).json() as { messages: unknown[] };
    expect(byCampaign.messages).toEqual(messages);

    const eml = await t.request('GET', `/api/tenants/hashed/tracking/message.eml?user=${encodeURIComponent(address)}&objectId=9:${uid}`);
    expect(eml.statusCode).toBe(200);
    expect(eml.headers['content-type']).toMatch(/^message\/rfc822/);
    expect(eml.body).toContain('Subject: Spring news');
    const missing = await t.request('GET', `/api/tenants/hashed/tracking/message.eml?user=${encodeURIComponent(address)}&objectId=9:${uid + 1}`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'INLAY_MW_TRACKED_MESSAGE_NOT_FOUND' });

    // Nothing the store keeps for this tenant holds the address.
    const stored = JSON.stringify(await t.store.queryEvents({ id: 'hashed', keyspaceName: 'ks_hashed' }, { index: { kind: 'all', value: '' }, range: { since: new Date(0), until: new Date(Date.now() + 60_000) }, limit: 100 }));
    expect(stored).not.toContain('carol');
  });

  test('bad queries are clear 400s, and the next good one is answered', async () => {
    expect((await createPlainTenant('acme')).statusCode).toBe(201);
    const campaign = await runningCampaign('acme');
    for (const url of [
      '/api/tenants/acme/events?cursor=bm90LWEtY3Vyc29y',
      '/api/tenants/acme/events?from=yesterday',
      '/api/tenants/acme/events?type=clicked',
      '/api/tenants/acme/events?limit=100000',
      '/api/tenants/acme/tracking',
      '/api/tenants/acme/tracking/message.eml?user=a%40b.example&objectId=..%2Fx',
      `/api/tenants/acme/campaigns/${campaign}/report?bucket=week`,
      `/api/tenants/acme/campaigns/${campaign}/report?bucket=hour&from=2020-01-01T00:00:00Z`,
    ]) {
      const response = await t.request('GET', url);
      expect(response.statusCode, url).toBe(400);
      expect(response.json(), url).toMatchObject({ code: 'INLAY_MW_VALIDATION' });
    }
    expect((await t.request('GET', '/api/tenants/acme/events')).statusCode).toBe(200);
    expect((await t.request('GET', '/api/tenants/nobody/events')).statusCode).toBe(404);
    expect((await t.request('GET', '/api/tenants/acme/campaigns/00000000-0000-1000-8000-000000000bad/report')).statusCode).toBe(404);
  });

  test('Accept: CSV only when it ranks above JSON', () => {
    expect(prefersCsv('text/csv')).toBe(true);
    expect(prefersCsv('text/csv, application/json;q=0.5')).toBe(true);
    expect(prefersCsv('application/json, text/csv')).toBe(false);
    expect(prefersCsv('*/*')).toBe(false);
    expect(prefersCsv(undefined)).toBe(false);
  });
});
