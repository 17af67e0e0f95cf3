// Preview through app.inject(): the message as the user would get it, composed by MailComposer
// (headers, MIME parts), the user's data from the store (plain and hashed tenants), variants
// stable per user and weighted, and the errors a caller can cause.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startTestApp, type TestApp } from '../testing/test-app.js';
import { userKeyFor } from '../users/user-key.js';

let t: TestApp;
afterEach(async () => {
  await t.close();
});

type Json = Record<string, any>;

function campaignBody(overrides: Json = {}): Json {
  const day = 86_400_000;
  return {
    name: 'Spring sale',
    template: { subject: 'Hello {{displayName}}', from: 'Acme News <news@acme.example>', html: '<p>Hi {{displayName}}, plan {{plan}}</p>', text: 'Hi {{displayName}}, plan {{plan}}' },
    audience: { type: 'all' },
    schedule: { startAt: new Date(Date.now() + day).toISOString(), endAt: new Date(Date.now() + 2 * day).toISOString() },
    ...overrides,
  };
}

async function setUp(tenantOverrides: Json = {}, campaign: Json = campaignBody()): Promise<string> {
  t = await startTestApp();
  expect((await t.createTenant('acme', tenantOverrides)).statusCode).toBe(201);
  const created = await t.request('POST', '/api/tenants/acme/campaigns', { body: campaign });
  expect(created.statusCode, created.body).toBe(201);
  return (created.json() as Json)['id'];
}

const preview = (cid: string, user: string) => t.request('GET', `/api/tenants/acme/campaigns/${cid}/preview?user=${encodeURIComponent(user)}`);

describe('campaign preview', () => {
  test("renders the user's data into a MIME message with both parts", async () => {
    const cid = await setUp({ configuration: { secretKey: 'k', hashedEmailAddresses: false } });
    const tenant = (await t.store.getTenant('acme'))!;
    const ref = { id: 'acme', keyspaceName: tenant.keyspaceName };
    await t.store.upsertUsers(ref, [{ userKey: userKeyFor(tenant, 'Reader@Example.org'), displayName: 'Ada', attributes: { plan: 'gold' } }], 'list-1');

    const response = await preview(cid, ' Reader@Example.org ');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^message\/rfc822/);
    expect(response.headers['x-inlay-variant']).toBe('main');
    const message = response.body;
    expect(message).toMatch(/^Subject: Hello Ada\r$/m);
    expect(message).toMatch(/^From: Acme News <news@acme\.example>\r$/m);
    expect(message).toMatch(/^To: Ada <reader@example\.org>\r$/m);
    expect(message).toMatch(/^Content-Type: multipart\/alternative;/m);
    expect(message).toContain('Hi Ada, plan gold');
    expect(message).toContain('<p>Hi Ada, plan gold</p>');
    // Long headers are folded (RFC 5322 §2.2.3); unfold before reading them.
    expect(message.replace(/\r\n[ \t]+/g, ' ')).toMatch(/^Message-ID: <[^>@]+@inlay\.invalid>\r$/m);
  });

  test('finds the user under the hashed key when the tenant hashes addresses, and escapes HTML', async () => {
    const cid = await setUp({ configuration: { secretKey: 'tenant-secret', hashedEmailAddresses: true } });
    const tenant = (await t.store.getTenant('acme'))!;
    const key = userKeyFor(tenant, 'reader@example.org');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    await t.store.upsertUsers({ id: 'acme', keyspaceName: tenant.keyspaceName }, [{ userKey: key, displayName: '<b>Bob</b>', attributes: {} }], 'list-1');
    const message = (await preview(cid, 'reader@example.org')).body;
    expect(message).toContain('&lt;b&gt;Bob&lt;/b&gt;');
    expect(message).not.toContain(key);
  });

  test('gives each user the same variant every time, in proportion to the weights', async () => {
    const variant = (id: string, weight: number) => ({ id, weight, template: { subject: `Variant ${id}`, from: 'news@acme.example', html: `<p>${id}</p>`, text: id } });
    const cid = await setUp({}, campaignBody({ variants: [variant('a', 1), variant('b', 3)] }));
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 200; i++) {
      const first = await preview(cid, `user${i}@example.org`);
      const again = await preview(cid, `user${i}@example.org`);
      const chosen = String(first.headers['x-inlay-variant']);
      expect(again.headers['x-inlay-variant']).toBe(chosen);
      expect(first.body).toMatch(new RegExp(`^Subject: Variant ${chosen}\\r$`, 'm'));
      counts[chosen]!++;
    }
    // 25 % / 75 % of 200 users; the bounds are five standard deviations wide.
    expect(counts['a']).toBeGreaterThan(20);
    expect(counts['a']).toBeLessThan(80);
  });

  test('refuses a malformed address and answers 404 for an unknown campaign or tenant', async () => {
    const cid = await setUp();
    const bad = await preview(cid, 'no-at-sign');
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as Json)['message']).toMatch(/querystring\.user/);
    expect((await preview('00000000-0000-1000-8000-000000000000', 'a@example.org')).statusCode).toBe(404);
    const unknownTenant = await t.request('GET', `/api/tenants/nobody/campaigns/${cid}/preview?user=a%40example.org`);
    expect(unknownTenant.statusCode).toBe(404);
  });
});
