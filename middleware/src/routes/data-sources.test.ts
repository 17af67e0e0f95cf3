// Data sources and conversion points through app.inject(): "list, modify, PUT back" keeps the
// stored S3 secret; list rules; unknown tenants; secrets never returned.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startTestApp, type TestApp } from '../testing/test-app.js';

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp();
  expect((await t.createTenant('acme')).statusCode).toBe(201);
});
afterEach(async () => {
  await t.close();
});

type Json = Record<string, any>;

function newDataSource(id: string, extra: Json = {}): Json {
  return {
    id,
    type: 'ongage',
    defaultDataSource: false,
    deleteTemporaryImportFiles: true,
    awsConnectionInformation: { authorizationType: 'aws', accessKey: 'AKIA', secretKey: `secret-of-${id}`, endpoint: 'http://127.0.0.1:9000', bucket: 'b', region: 'us-east-1', pathStyle: true },
    ...extra,
  };
}

describe('GET/PUT /api/tenants/{id}/dataSources', () => {
  test('lists the data sources without their secrets', async () => {
    const response = await t.request('GET', '/api/tenants/acme/dataSources');
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('secretKey"');
    expect(response.json()).toEqual([
      {
        id: 'default',
        type: 'ongage',
        defaultDataSource: true,
        deleteTemporaryImportFiles: false,
        awsConnectionInformation: { authorizationType: 'rados', accessKey: '<accessKey>', secretKeySet: true, endpoint: '<endpoint>', bucket: '<bucket>' },
      },
    ]);
  });

  test('the list result, modified and PUT back, keeps the stored secret', async () => {
    const list = (await t.request('GET', '/api/tenants/acme/dataSources')).json() as Json[];
    list[0]!['awsConnectionInformation']['bucket'] = 'renamed-bucket';
    list.push(newDataSource('archive'));
    const response = await t.request('PUT', '/api/tenants/acme/dataSources', { body: list });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('secretKey"');
    expect(response.json().map((entry: Json) => [entry['id'], entry['awsConnectionInformation']['bucket'], entry['awsConnectionInformation']['secretKeySet']])).toEqual([
      ['default', 'renamed-bucket', true],
      ['archive', 'b', true],
    ]);
    const stored = (await t.store.getTenant('acme'))!.dataSources;
    expect(stored.map((entry) => entry.awsConnectionInformation.secretKey)).toEqual(['<secretKey>', 'secret-of-archive']);
    expect(stored[0]).not.toHaveProperty('awsConnectionInformation.secretKeySet');
    expect((await t.request('GET', '/api/tenants/acme/dataSources')).json()).toEqual(response.json());
  });

  test('a PUT with a secret replaces the stored one', async () => {
    const response = await t.request('PUT', '/api/tenants/acme/dataSources', { body: [newDataSource('default', { defaultDataSource: true })] });
    expect(response.statusCode).toBe(200);
    expect((await t.store.getTenant('acme'))!.dataSources[0]!.awsConnectionInformation.secretKey).toBe('secret-of-default');
  });

  test('a new data source without a secret is 400 INLAY_MW_SECRET_REQUIRED naming it; nothing is written', async () => {
    const before = await t.snapshot();
    const fresh = newDataSource('fresh', { defaultDataSource: true });
    delete fresh['awsConnectionInformation']['secretKey'];
    const response = await t.request('PUT', '/api/tenants/acme/dataSources', { body: [fresh] });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code: 'INLAY_MW_SECRET_REQUIRED', message: expect.stringContaining('body[0].awsConnectionInformation.secretKey is required') });
    expect(await t.snapshot()).toEqual(before);
  });

  test.each([
    ['no default', [newDataSource('a'), newDataSource('b')], 'INLAY_MW_DEFAULT_DATA_SOURCE', 'exactly one entry of body must have defaultDataSource true; none has'],
    ['two defaults', [newDataSource('a', { defaultDataSource: true }), newDataSource('b', { defaultDataSource: true })], 'INLAY_MW_DEFAULT_DATA_SOURCE', 'exactly one entry of body must have defaultDataSource true; body[0], body[1] have'],
    ['duplicate ids', [newDataSource('a', { defaultDataSource: true }), newDataSource('a')], 'INLAY_MW_DUPLICATE_ID', 'body[1].id repeats the id "a" of body[0]; ids must be unique'],
    ['not a list', { id: 'a' }, 'INLAY_MW_VALIDATION', 'body must be array'],
    ['a wrong type deep inside', [newDataSource('a', { defaultDataSource: 'yes' })], 'INLAY_MW_VALIDATION', 'body[0].defaultDataSource must be boolean'],
    ['too many', Array.from({ length: 33 }, (_, i) => newDataSource(`d${i}`, { defaultDataSource: i === 0 })), 'INLAY_MW_VALIDATION', 'body must NOT have more than 32 items'],
  ])('%s is 400 %s; nothing is written', async (_name, body, code, message) => {
    const before = await t.snapshot();
    const response = await t.request('PUT', '/api/tenants/acme/dataSources', { body });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code, message });
    expect(await t.snapshot()).toEqual(before);
  });

  test('an empty list is allowed', async () => {
    const response = await t.request('PUT', '/api/tenants/acme/dataSources', { body: [] });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual([]);
  });

  test('an unknown tenant is 404 for GET and PUT', async () => {
    expect((await t.request('GET', '/api/tenants/nobody/dataSources')).json().code).toBe('INLAY_MW_TENANT_NOT_FOUND');
    const put = await t.request('PUT', '/api/tenants/nobody/dataSources', { body: [newDataSource('a', { defaultDataSource: true })] });
    expect(put.statusCode).toBe(404);
    expect(put.json().code).toBe('INLAY_MW_TENANT_NOT_FOUND');
  });
});

describe('GET/PUT /api/tenants/{id}/conversionPoints', () => {
  const point = (id: string, eventType = 'read'): Json => ({ id, type: 'ongage', eventType, description: 'Tracking', connectionInformation: { url: `https://track.example/${id}` } });

  test('lists, replaces wholesale, and lists the new list', async () => {
    const listed = await t.request('GET', '/api/tenants/acme/conversionPoints');
    expect(listed.statusCode).toBe(200);
    expect(listed.json().map((entry: Json) => entry['id'])).toEqual(['injection', 'reinjection', 'read', 'expunged']);
    const next = [point('read-a'), point('read-b'), point('gone', 'expunged')];
    const replaced = await t.request('PUT', '/api/tenants/acme/conversionPoints', { body: next });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toEqual(next);
    expect((await t.request('GET', '/api/tenants/acme/conversionPoints/')).json()).toEqual(next);
  });

  test('duplicate ids and unknown event types are 400; nothing is written', async () => {
    const before = await t.snapshot();
    const duplicate = await t.request('PUT', '/api/tenants/acme/conversionPoints', { body: [point('x'), point('x')] });
    expect(duplicate.json()).toEqual({ code: 'INLAY_MW_DUPLICATE_ID', message: 'body[1].id repeats the id "x" of body[0]; ids must be unique' });
    const event = await t.request('PUT', '/api/tenants/acme/conversionPoints', { body: [point('x', 'clicked')] });
    expect(event.json()).toEqual({ code: 'INLAY_MW_VALIDATION', message: 'body[0].eventType must be one of "injected", "reinjected", "read", "expunged"' });
    const url = await t.request('PUT', '/api/tenants/acme/conversionPoints', { body: [{ ...point('x'), connectionInformation: {} }] });
    expect(url.json()).toEqual({ code: 'INLAY_MW_VALIDATION', message: 'body[0].connectionInformation.url is required' });
    expect(await t.snapshot()).toEqual(before);
  });

  test('an unknown tenant is 404 for GET and PUT', async () => {
    expect((await t.request('GET', '/api/tenants/nobody/conversionPoints')).statusCode).toBe(404);
    expect((await t.request('PUT', '/api/tenants/nobody/conversionPoints', { body: [] })).statusCode).toBe(404);
  });
});
