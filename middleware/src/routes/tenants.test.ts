// Tenant routes through app.inject(): the seed's JSON verbatim, conflicts, validation errors that
// name the field, write-only secrets, delete with and without dropDB.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { SEED_TENANT_JSON } from '../testing/seed-tenant.js';
import { seedTenant, startTestApp, type TestApp } from '../testing/test-app.js';

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp();
});
afterEach(async () => {
  await t.close();
});

/** Secret values of the seed and of seedTenant(); none may ever appear in a response. */
function expectNoSecrets(body: string): void {
  expect(body).not.toContain('"secretKey"');
  expect(body).not.toContain('<secretKey>');
}

describe('POST /api/tenants/?createDB=true', () => {
  test("accepts OX Engage's tenant JSON verbatim and creates its keyspace", async () => {
    const response = await t.request('POST', '/api/tenants/?createDB=true', { body: SEED_TENANT_JSON });
    expect(response.statusCode).toBe(201);
    expect(response.headers['location']).toBe('/api/tenants/default');
    expectNoSecrets(response.body);
    const view = response.json();
    expect(view).toMatchObject({
      id: 'default',
      name: 'default',
      keyspaceName: 'mim_default',
      configuration: { secretKeySet: true, hashedEmailAddresses: true },
    });
    expect(view.conversionPoints.map((point: { eventType: string }) => point.eventType)).toEqual(['injected', 'reinjected', 'read', 'expunged']);
    expect(view.dataSources[0].awsConnectionInformation).toEqual({
      authorizationType: 'rados',
      accessKey: '<accessKey>',
      secretKeySet: true,
      endpoint: '<endpoint>',
      bucket: '<bucket>',
    });
    // Stored with its secrets, keyspace created.
    const stored = await t.store.getTenant('default');
    expect(stored?.configuration.secretKey).toBe('<secretKey>');
    expect(stored?.dataSources[0]?.awsConnectionInformation.secretKey).toBe('<secretKey>');
    expect(await t.store.tenantSchemaExists({ keyspaceName: 'mim_default' })).toBe(true);
  });

  test('the path without the trailing slash is the same route', async () => {
    const response = await t.request('POST', '/api/tenants?createDB=true', { body: seedTenant('no-slash') });
    expect(response.statusCode).toBe(201);
  });

  test('without createDB a missing keyspace is 409 INLAY_MW_KEYSPACE_MISSING, naming it and the fix', async () => {
    for (const url of ['/api/tenants/', '/api/tenants/?createDB=false']) {
      const response = await t.request('POST', url, { body: seedTenant('nokeyspace') });
      expect(response.statusCode).toBe(409);
      expect(response.json()).toEqual({ code: 'INLAY_MW_KEYSPACE_MISSING', message: expect.stringMatching(/"ks_nokeyspace".*createDB=true/) });
    }
    expect((await t.request('GET', '/api/tenants/nokeyspace')).statusCode).toBe(404);
  });

  test('without createDB an existing keyspace is used', async () => {
    await t.store.ensureTenantSchema({ keyspaceName: 'ks_prepared' });
    expect((await t.request('POST', '/api/tenants/', { body: seedTenant('prepared') })).statusCode).toBe(201);
  });

  test('a duplicate id is 409 INLAY_MW_TENANT_EXISTS, another tenant\'s keyspace 409 INLAY_MW_KEYSPACE_IN_USE', async () => {
    expect((await t.createTenant('acme')).statusCode).toBe(201);
    const before = await t.snapshot();
    const duplicate = await t.createTenant('acme', { name: 'Another' });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.json().code).toBe('INLAY_MW_TENANT_EXISTS');
    const sharing = await t.createTenant('other', { keyspaceName: 'ks_acme' });
    expect(sharing.statusCode).toBe(409);
    expect(sharing.json().code).toBe('INLAY_MW_KEYSPACE_IN_USE');
    expect(await t.snapshot()).toEqual(before);
  });

  const invalid: [string, (body: Record<string, unknown>) => void, RegExp][] = [
    ['a missing object', (body) => delete body['configuration'], /^body\.configuration is required$/],
    ['a bad id', (body) => (body['id'] = 'Bad Id!'), /^body\.id must be a lowercase letter or digit/],
    ['an id over 48 characters', (body) => (body['id'] = 'a'.repeat(49)), /^body\.id must be/],
    ['a keyspace of Cassandra\'s', (body) => (body['keyspaceName'] = 'system_auth'), /^body\.keyspaceName must be .*not starting with "system"/],
    ['a keyspace that is no CQL identifier', (body) => (body['keyspaceName'] = 'mim-default'), /^body\.keyspaceName must be/],
    ['an empty name', (body) => (body['name'] = ''), /^body\.name must NOT have fewer than 1 characters$/],
    ['a name over 200 characters', (body) => (body['name'] = 'n'.repeat(201)), /^body\.name must NOT have more than 200 characters$/],
    ['a NUL in the name', (body) => (body['name'] = 'a\u0000b'), /^body\.name must be text without control characters/],
    ['a lone surrogate in the name', (body) => (body['name'] = 'a\ud800b'), /^body\.name must be text without control characters or unpaired surrogates$/],
    ['a string for a boolean', (body) => ((body['configuration'] as Record<string, unknown>)['hashedEmailAddresses'] = 'true'), /^body\.configuration\.hashedEmailAddresses must be boolean$/],
    ['an unknown field', (body) => (body['colour'] = 'red'), /^body has an unknown field "colour"$/],
    ['an unknown nested field', (body) => ((body['configuration'] as Record<string, unknown>)['extra'] = 1), /^body\.configuration has an unknown field "extra"$/],
    [
      'an unknown event type',
      (body) => ((body['conversionPoints'] as Record<string, unknown>[])[1]!['eventType'] = 'clicked'),
      /^body\.conversionPoints\[1\]\.eventType must be one of "injected", "reinjected", "read", "expunged"$/,
    ],
    [
      'whitespace in an endpoint',
      (body) => ((body['dataSources'] as { awsConnectionInformation: Record<string, unknown> }[])[0]!.awsConnectionInformation['endpoint'] = 'http://a b'),
      /^body\.dataSources\[0\]\.awsConnectionInformation\.endpoint must be a value without whitespace/,
    ],
    ['a list that is an object', (body) => (body['dataSources'] = {}), /^body\.dataSources must be array$/],
    ['too many conversion points', (body) => (body['conversionPoints'] = Array.from({ length: 65 }, (_, i) => ({ id: `p${i}`, type: 't', eventType: 'read', connectionInformation: { url: 'u' } }))), /^body\.conversionPoints must NOT have more than 64 items$/],
  ];
  test.each(invalid)('%s is 400 INLAY_MW_VALIDATION naming the field', async (_name, mutate, message) => {
    const body = seedTenant('invalid');
    (body['configuration'] as Record<string, unknown>)['secretKey'] = 'TOP-SECRET-VALUE';
    mutate(body);
    const response = await t.request('POST', '/api/tenants/?createDB=true', { body });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code: 'INLAY_MW_VALIDATION', message: expect.stringMatching(message) });
    expect(response.body).not.toContain('TOP-SECRET-VALUE');
    expect(await t.store.listTenants()).toEqual([]);
  });

  test('query parameters are checked too', async () => {
    const maybe = await t.request('POST', '/api/tenants/?createDB=maybe', { body: seedTenant('q') });
    expect(maybe.json()).toEqual({ code: 'INLAY_MW_VALIDATION', message: 'querystring.createDB must be boolean' });
    const typo = await t.request('POST', '/api/tenants/?createdb=true', { body: seedTenant('q') });
    expect(typo.json()).toEqual({ code: 'INLAY_MW_VALIDATION', message: 'querystring has an unknown field "createdb"' });
  });

  test('list rules: unique ids, exactly one default data source, a secret for every new data source', async () => {
    const twoDefaults = seedTenant('rules');
    const [first] = twoDefaults['dataSources'] as Record<string, unknown>[];
    twoDefaults['dataSources'] = [first, { ...first, id: 'second' }];
    expect((await t.request('POST', '/api/tenants/?createDB=true', { body: twoDefaults })).json()).toEqual({
      code: 'INLAY_MW_DEFAULT_DATA_SOURCE',
      message: 'exactly one entry of body.dataSources must have defaultDataSource true; body.dataSources[0], body.dataSources[1] have',
    });

    const sameIds = seedTenant('rules');
    const points = sameIds['conversionPoints'] as Record<string, unknown>[];
    points[2] = { ...points[2], id: 'injection' };
    const duplicate = await t.request('POST', '/api/tenants/?createDB=true', { body: sameIds });
    expect(duplicate.statusCode).toBe(400);
    expect(duplicate.json()).toEqual({ code: 'INLAY_MW_DUPLICATE_ID', message: expect.stringContaining('body.conversionPoints[2].id repeats the id "injection" of body.conversionPoints[0]') });

    const noSecret = seedTenant('rules');
    delete (noSecret['dataSources'] as { awsConnectionInformation: Record<string, unknown> }[])[0]!.awsConnectionInformation['secretKey'];
    const secret = await t.request('POST', '/api/tenants/?createDB=true', { body: noSecret });
    expect(secret.statusCode).toBe(400);
    expect(secret.json()).toEqual({ code: 'INLAY_MW_SECRET_REQUIRED', message: expect.stringContaining('body.dataSources[0].awsConnectionInformation.secretKey is required') });
    expect(await t.store.listTenants()).toEqual([]);
  });

  test('a tenant without data sources or conversion points is fine; defaults are filled in', async () => {
    const body = { id: 'bare', name: 'Bare', keyspaceName: 'ks_bare', configuration: { secretKey: 'k' } };
    const response = await t.request('POST', '/api/tenants/?createDB=true', { body });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ ...body, configuration: { secretKeySet: true, hashedEmailAddresses: false }, conversionPoints: [], dataSources: [] });
  });

  test('configuration.domains (an Inlay extension) is kept and shown; a domain belongs to one tenant', async () => {
    const body = { id: 'hosted', name: 'Hosted', keyspaceName: 'ks_hosted', configuration: { secretKey: 'k', domains: ['hosted.example', 'xn--bcher-kva.example'] } };
    const response = await t.request('POST', '/api/tenants/?createDB=true', { body });
    expect(response.statusCode).toBe(201);
    expect(response.json().configuration).toEqual({ secretKeySet: true, hashedEmailAddresses: false, domains: ['hosted.example', 'xn--bcher-kva.example'] });
    expect((await t.request('GET', '/api/tenants/hosted')).json().configuration.domains).toEqual(['hosted.example', 'xn--bcher-kva.example']);

    const taken = await t.request('POST', '/api/tenants/?createDB=true', { body: { ...body, id: 'squatter', keyspaceName: 'ks_squatter', configuration: { secretKey: 'k', domains: ['free.example', 'xn--bcher-kva.example'] } } });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toEqual({ code: 'INLAY_MW_DOMAIN_IN_USE', message: 'body.configuration.domains[1] is already served by tenant "hosted"; a domain belongs to one tenant' });
    expect(await t.store.getTenant('squatter')).toBeUndefined();
    expect(await t.store.tenantSchemaExists({ keyspaceName: 'ks_squatter' })).toBe(false);

    const upper = await t.request('POST', '/api/tenants/?createDB=true', { body: { ...body, id: 'upper', keyspaceName: 'ks_upper', configuration: { secretKey: 'k', domains: ['Upper.Example'] } } });
    expect(upper.statusCode).toBe(400);
    expect(upper.json().message).toBe('body.configuration.domains[0] must be a lowercase domain name such as "example.org" (internationalized names in their xn-- form)');
  });
});

describe('GET /api/tenants and /api/tenants/{id}', () => {
  test('lists every tenant in id order, without secrets', async () => {
    await t.createTenant('zeta');
    await t.createTenant('alpha');
    const response = await t.request('GET', '/api/tenants');
    expect(response.statusCode).toBe(200);
    expectNoSecrets(response.body);
    expect(response.json().map((tenant: { id: string }) => tenant.id)).toEqual(['alpha', 'zeta']);
    expect((await t.request('GET', '/api/tenants/')).json()).toHaveLength(2);
  });

  test('reads one tenant; an unknown one is 404 INLAY_MW_TENANT_NOT_FOUND', async () => {
    await t.createTenant('acme');
    const response = await t.request('GET', '/api/tenants/acme');
    expect(response.statusCode).toBe(200);
    expectNoSecrets(response.body);
    expect(response.json().id).toBe('acme');
    const missing = await t.request('GET', '/api/tenants/nobody');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ code: 'INLAY_MW_TENANT_NOT_FOUND', message: 'tenant "nobody" does not exist' });
  });

  test('an id that cannot be a tenant id is 400 naming the parameter', async () => {
    const response = await t.request('GET', '/api/tenants/NOT_VALID');
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/^params\.id must be/);
  });
});

describe('DELETE /api/tenants/{id}/', () => {
  test('removes the configuration and keeps the keyspace; dropDB=true drops it', async () => {
    await t.createTenant('keep');
    await t.createTenant('drop');
    const kept = await t.request('DELETE', '/api/tenants/keep/');
    expect(kept.statusCode).toBe(204);
    expect(kept.body).toBe('');
    expect((await t.request('GET', '/api/tenants/keep')).statusCode).toBe(404);
    expect(await t.store.tenantSchemaExists({ keyspaceName: 'ks_keep' })).toBe(true);
    // The kept keyspace takes the tenant back without createDB.
    expect((await t.request('POST', '/api/tenants/', { body: seedTenant('keep') })).statusCode).toBe(201);

    expect((await t.request('DELETE', '/api/tenants/drop?dropDB=true')).statusCode).toBe(204);
    expect(await t.store.tenantSchemaExists({ keyspaceName: 'ks_drop' })).toBe(false);
  });

  test('an unknown tenant is 404; a second delete too', async () => {
    await t.createTenant('once');
    expect((await t.request('DELETE', '/api/tenants/once/')).statusCode).toBe(204);
    const again = await t.request('DELETE', '/api/tenants/once/');
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('INLAY_MW_TENANT_NOT_FOUND');
  });

  test('the tenant "default" is an ordinary tenant', async () => {
    await t.request('POST', '/api/tenants/?createDB=true', { body: SEED_TENANT_JSON });
    expect((await t.request('DELETE', '/api/tenants/default/?dropDB=true')).statusCode).toBe(204);
    expect(await t.store.listTenants()).toEqual([]);
  });
});
