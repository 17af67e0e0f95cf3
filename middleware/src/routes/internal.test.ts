// The internal engine routes through app.inject(): a campaign's way from the REST API into a
// user's view and out again, validation errors that name the field, unknown users, and the
// OpenAPI document. Who may call them is in auth/auth.test.ts (table-driven with every route).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AssignResult, InboxView } from '@inlay/schemas';
import { TEST_INTERNAL_TOKEN, startTestApp, tenantDomain, type TestApp } from '../testing/test-app.js';

let t: TestApp;
const key = { login: `Reader@${tenantDomain('engine-routes').toUpperCase()}`, mailbox: 'INBOX', serverUidValidity: 42 };

const post = async <T = InboxView>(path: string, body: unknown): Promise<{ status: number; json: T & { code?: string; message?: string } }> => {
  const response = await t.request('POST', `/internal/v1/views${path}`, { token: TEST_INTERNAL_TOKEN, body });
  return { status: response.statusCode, json: response.json() };
};

beforeAll(async () => {
  t = await startTestApp();
  expect((await t.createTenant('engine-routes')).statusCode).toBe(201);
});
afterAll(async () => {
  await t.close();
});

describe('a campaign through the engine routes', () => {
  test('scheduled over REST → pending → assigned → read → expunged → gone, with its events', async () => {
    expect((await post('', key)).json).toEqual({ known: true, epoch: 0, messages: [], keywords: [], pending: 0, ttlMs: 5000 });
    const created = await t.request('POST', '/api/tenants/engine-routes/campaigns', {
      body: {
        name: 'Welcome',
        template: { subject: 'Welcome {{address}}', from: 'Team <team@example.com>', html: '<p>Hi</p>', text: 'Hi' },
        audience: { type: 'all' },
        schedule: { startAt: new Date(Date.now() - 60_000).toISOString(), endAt: new Date(Date.now() + 86_400_000).toISOString() },
      },
    });
    const { id } = created.json() as { id: string };
    expect((await t.request('POST', `/api/tenants/engine-routes/campaigns/${id}/schedule`)).statusCode).toBe(200);

    const view = await post('', key);
    expect(view).toMatchObject({ status: 200, json: { known: true, epoch: 0, pending: 1 } });
    const assigned = await post<AssignResult>('/assign', { ...key, epoch: 0, anchorServerUid: 10 });
    expect(assigned.json).toMatchObject({ applied: true, assigned: [161], pending: 0, messages: [{ uid: 161, campaignId: id, variantId: null, flags: [] }] });
    expect(Buffer.from(assigned.json.messages[0]!.rfc822, 'base64').toString()).toMatch(/^Subject: Welcome reader@engine-routes\.example\r$/m);

    const revealed = await post('/reveal', key);
    expect(revealed.json).toMatchObject({ epoch: 1, messages: [{ uid: 161 }] });
    const stale = await post<AssignResult>('/assign', { ...key, epoch: 0, anchorServerUid: 11 });
    expect(stale.json).toMatchObject({ applied: false, assigned: [], epoch: 1 });

    const flagged = await post('/flags', { ...key, changes: [{ uid: 161, mode: 'add', flags: ['\\seen', '$Later'] }, { uid: 999, mode: 'add', flags: ['\\Seen'] }] });
    expect(flagged.json.messages[0]?.flags).toEqual(['$Later', '\\Seen']);
    const expunged = await post('/expunge', { ...key, uids: [161, 999] });
    expect(expunged.json).toMatchObject({ messages: [], pending: 0 });

    const tenant = (await t.store.getTenant('engine-routes'))!;
    const events = await t.store.listEvents(tenant, { since: new Date(Date.now() - 3_600_000), until: new Date(Date.now() + 3_600_000) });
    expect(events.map((event) => [event.type, event.uid, event.campaignId, event.userKey.length])).toEqual([
      ['injected', 161, id, 64],
      ['read', 161, id, 64],
      ['expunged', 161, id, 64],
    ]);
  });

  test('an unknown user gets an empty view, never an error', async () => {
    for (const path of ['', '/reveal']) expect((await post(path, { ...key, login: 'someone@nowhere.example' })).json).toEqual({ known: false, epoch: 0, messages: [], keywords: [], pending: 0, ttlMs: 5000 });
    expect((await post('/assign', { ...key, login: 'x', epoch: 0, anchorServerUid: 0 })).json).toMatchObject({ known: false, applied: false, assigned: [] });
    expect((await post('/flags', { ...key, login: 'x', changes: [{ uid: 1, mode: 'set', flags: [] }] })).status).toBe(200);
    expect((await post('/expunge', { ...key, login: 'x', uids: [1] })).status).toBe(200);
  });
});

describe('validation', () => {
  test.each([
    ['', { ...key, mailbox: 'Sent' }, /^body\.mailbox /],
    ['', { login: key.login, mailbox: 'INBOX' }, /^body\.serverUidValidity is required$/],
    ['', { ...key, serverUidValidity: 0 }, /^body\.serverUidValidity must be >= 1$/],
    ['', { ...key, login: '' }, /^body\.login /],
    ['', { ...key, extra: 1 }, /^body has an unknown field "extra"$/],
    ['/assign', { ...key, epoch: -1, anchorServerUid: 0 }, /^body\.epoch must be >= 0$/],
    ['/assign', { ...key, epoch: 0, anchorServerUid: 0x1000_0000 }, /^body\.anchorServerUid must be <= 268435455$/],
    ['/assign', key, /^body\.epoch is required$/],
    ['/flags', { ...key, changes: [] }, /^body\.changes must NOT have fewer than 1 items$/],
    ['/flags', { ...key, changes: [{ uid: 1, mode: 'toggle', flags: [] }] }, /^body\.changes\[0\]\.mode /],
    ['/flags', { ...key, changes: [{ uid: 1, mode: 'add', flags: ['two words'] }] }, /^body\.changes\[0\]\.flags\[0\] /],
    ['/expunge', { ...key, uids: [0] }, /^body\.uids\[0\] must be >= 1$/],
    ['/expunge', { ...key, uids: Array.from({ length: 1001 }, (_, index) => index + 1) }, /^body\.uids must NOT have more than 1000 items$/],
  ])('%s %j is 400 naming the field', async (path, body, message) => {
    const response = await post(path, body);
    expect(response.status).toBe(400);
    expect(response.json.code).toBe('INLAY_MW_VALIDATION');
    expect(response.json.message).toMatch(message);
  });
});

test('the OpenAPI document lists the five engine routes under the tag "internal"', async () => {
  const document = (await t.request('GET', '/api/openapi.json', { token: null })).json() as { paths: Record<string, Record<string, { tags: string[]; requestBody?: unknown }>> };
  const internal = Object.entries(document.paths).filter(([path]) => path.startsWith('/internal/'));
  expect(internal.map(([path]) => path).sort()).toEqual(['/internal/v1/views', '/internal/v1/views/assign', '/internal/v1/views/expunge', '/internal/v1/views/flags', '/internal/v1/views/reveal']);
  for (const [, methods] of internal) {
    expect(Object.keys(methods)).toEqual(['post']);
    expect(methods['post']?.tags).toEqual(['internal']);
    expect(methods['post']?.requestBody).toBeDefined();
  }
});
