// Audience counts through app.inject(): the count equals the users the engine's targeting
// matches (all, list, rules with all/any), the bound turns it into a lower bound, a bad audience
// is a 400 naming what to fix, and counting is a read (no audit entry, no write).
import { afterEach, describe, expect, test } from 'vitest';
import { audienceMatches } from '../engine/targeting.js';
import { startTestApp, type TestApp, type TestAppOptions } from '../testing/test-app.js';

let t: TestApp;
afterEach(async () => {
  await t.close();
});

type Json = Record<string, any>;

const PLANS = ['gold', 'silver', 'bronze'];

/** 250 users over two imports: plan by index, an age, and a city on every fourth. */
async function setUp(options: TestAppOptions = {}): Promise<void> {
  t = await startTestApp(options);
  expect((await t.createTenant('acme')).statusCode).toBe(201);
  const tenant = (await t.store.getTenant('acme'))!;
  const ref = { id: 'acme', keyspaceName: tenant.keyspaceName };
  const users = Array.from({ length: 250 }, (_, index) => ({
    userKey: `user-${String(index).padStart(3, '0')}@example.org`,
    attributes: { plan: PLANS[index % 3]!, age: String(18 + (index % 60)), ...(index % 4 === 0 ? { city: 'Köln' } : {}) },
  }));
  await t.store.upsertUsers(ref, users.slice(0, 100), 'import-a');
  await t.store.upsertUsers(ref, users.slice(100), 'import-b');
}

const count = (audience: unknown, tenant = 'acme') =>
  t.request('GET', `/api/tenants/${tenant}/audience/count?audience=${encodeURIComponent(typeof audience === 'string' ? audience : JSON.stringify(audience))}`);

/** What the engine's targeting says, user by user, read back through getUser. */
async function expectedMatches(audience: any): Promise<number> {
  const tenant = (await t.store.getTenant('acme'))!;
  let matching = 0;
  for (let index = 0; index < 250; index++) {
    const user = await t.store.getUser({ id: 'acme', keyspaceName: tenant.keyspaceName }, `user-${String(index).padStart(3, '0')}@example.org`);
    if (user && audienceMatches(audience, user)) matching++;
  }
  return matching;
}

describe('audience count', () => {
  test.each([
    ['all', { type: 'all' }],
    ['a list', { type: 'list', importId: 'import-a' }],
    ['an unknown list', { type: 'list', importId: 'import-z' }],
    ['rules, all must hold', { type: 'rules', rules: [{ attribute: 'plan', op: 'eq', value: 'gold' }, { attribute: 'age', op: 'gt', value: 40 }] }],
    ['rules, any may hold', { type: 'rules', match: 'any', rules: [{ attribute: 'city', op: 'exists' }, { attribute: 'plan', op: 'in', value: ['silver'] }] }],
    ['rules with ne (missing counts)', { type: 'rules', rules: [{ attribute: 'city', op: 'ne', value: 'Köln' }] }],
  ])('%s: the count is what the targeting matches', async (_name, audience) => {
    await setUp();
    const response = await count(audience);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ matching: await expectedMatches(audience), scanned: 250, exact: true });
  });

  test('the known numbers: 84 gold users, 100 in the first import, 250 in all', async () => {
    await setUp();
    expect((await count({ type: 'rules', rules: [{ attribute: 'plan', op: 'eq', value: 'gold' }] })).json()).toEqual({ matching: 84, scanned: 250, exact: true });
    expect((await count({ type: 'list', importId: 'import-a' })).json()).toMatchObject({ matching: 100 });
    expect((await count({ type: 'all' })).json()).toMatchObject({ matching: 250 });
  });

  test('past the row bound the answer is a lower bound over what was scanned', async () => {
    await setUp({ audienceCountLimits: { maxUsers: 120, maxMs: 60_000, pageSize: 50 } });
    const body = (await count({ type: 'all' })).json() as Json;
    expect(body).toEqual({ matching: 120, scanned: 120, exact: false });
  });

  test('a bound met by the last user is still exact', async () => {
    await setUp({ audienceCountLimits: { maxUsers: 250, maxMs: 60_000, pageSize: 50 } });
    expect((await count({ type: 'all' })).json()).toEqual({ matching: 250, scanned: 250, exact: true });
  });

  test('past the time bound the answer is a lower bound', async () => {
    await setUp({ audienceCountLimits: { maxUsers: 1_000_000, maxMs: 0, pageSize: 10 } });
    const body = (await count({ type: 'all' })).json() as Json;
    expect(body['exact']).toBe(false);
    expect(body['scanned']).toBe(10);
  });

  test('a tenant without users counts 0, exactly', async () => {
    t = await startTestApp();
    expect((await t.createTenant('empty')).statusCode).toBe(201);
    expect((await count({ type: 'all' }, 'empty')).json()).toEqual({ matching: 0, scanned: 0, exact: true });
  });

  test.each([
    ['not JSON', '{type:all}', /querystring\.audience must be JSON/],
    ['an unknown type', { type: 'some' }, /querystring\.audience/],
    ['a rule without attribute', { type: 'rules', rules: [{ op: 'eq', value: 'x' }] }, /querystring\.audience\.rules\[0\]/],
    ['no rules', { type: 'rules', rules: [] }, /querystring\.audience\.rules/],
  ])('a bad audience (%s) is a 400 saying what to fix, and the next request is answered', async (_name, audience, message) => {
    await setUp();
    const response = await count(audience);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ code: 'INLAY_MW_VALIDATION', message: expect.stringMatching(message) });
    expect((await count({ type: 'all' })).statusCode).toBe(200);
  });

  test('a missing audience parameter is a 400, an unknown tenant a 404', async () => {
    await setUp();
    expect((await t.request('GET', '/api/tenants/acme/audience/count')).statusCode).toBe(400);
    expect((await count({ type: 'all' }, 'nobody')).json()).toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
  });

  test('counting is a read: no audit entry', async () => {
    await setUp();
    const before = (await t.request('GET', '/api/audit')).json() as Json;
    expect((await count({ type: 'all' })).statusCode).toBe(200);
    expect((await t.request('GET', '/api/audit')).json()).toEqual(before);
  });
});
