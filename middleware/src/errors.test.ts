// The error registry and handlers: framework errors mapped to stable codes, unexpected errors to
// a logged 500 that says nothing of their cause, a store outage to 503, unknown routes to 404.
import { afterEach, expect, test } from 'vitest';
import { ERROR_REGISTRY, MiddlewareError, toErrorResponse } from './errors.js';
import { EmbeddedStore } from './store/embedded-store.js';
import type { Store } from './store/store.js';
import { startTestApp, type TestApp } from './testing/test-app.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type AddressInfo } from 'node:net';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

test('every code is INLAY_MW_-prefixed with a 4xx/5xx status and a sentence', () => {
  for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
    expect(code).toMatch(/^INLAY_MW_[A-Z_]+$/);
    expect(entry.status).toBeGreaterThanOrEqual(400);
    expect(entry.status).toBeLessThan(600);
    expect(entry.message.length).toBeGreaterThan(5);
  }
});

test('an unknown route is 404 INLAY_MW_ROUTE_NOT_FOUND, echoing only a bounded, printable path', async () => {
  t = await startTestApp();
  const response = await t.request('GET', '/api/nothing-here');
  expect(response.statusCode).toBe(404);
  expect(response.json()).toEqual({ code: 'INLAY_MW_ROUTE_NOT_FOUND', message: 'no route GET /api/nothing-here; see /api/openapi.json' });
  const hostile = await t.request('PATCH', `/api/tenants/%E2%80%8F${'x'.repeat(500)}`, { token: null });
  expect(hostile.statusCode).toBe(404);
  expect(hostile.json().message.length).toBeLessThan(200);
});

test.each([
  ['malformed JSON', { body: '{"id": "a",', headers: {} }, 400, 'INLAY_MW_BAD_JSON'],
  ['an empty JSON body', { body: '', headers: { 'content-type': 'application/json' } }, 400, 'INLAY_MW_BAD_JSON'],
  ['a __proto__ key', { body: '{"__proto__": {"admin": true}}', headers: {} }, 400, 'INLAY_MW_BAD_JSON'],
  ['a constructor.prototype key', { body: '{"constructor": {"prototype": {"admin": true}}}', headers: {} }, 400, 'INLAY_MW_BAD_JSON'],
  ['a text/plain body', { body: '{}', headers: { 'content-type': 'text/plain' } }, 415, 'INLAY_MW_UNSUPPORTED_MEDIA_TYPE'],
  ['an XML body', { body: '<tenant/>', headers: { 'content-type': 'application/xml' } }, 415, 'INLAY_MW_UNSUPPORTED_MEDIA_TYPE'],
  ['a body over 1 MiB', { body: JSON.stringify({ name: 'x'.repeat(1_048_577) }), headers: {} }, 413, 'INLAY_MW_BODY_TOO_LARGE'],
] as const)('%s is %i %s', async (_name, request, status, code) => {
  t = await startTestApp();
  const response = await t.request('POST', '/api/tenants/?createDB=true', { body: request.body, headers: { ...request.headers } });
  expect(response.statusCode).toBe(status);
  expect(response.json().code).toBe(code);
  expect(await t.store.listTenants()).toEqual([]);
});

test('a JSON parse error does not quote the body (it may hold a secret)', async () => {
  t = await startTestApp();
  const response = await t.request('POST', '/api/tenants/', { body: '{"configuration": {"secretKey": "hunter2-secret"' });
  expect(response.statusCode).toBe(400);
  expect(response.body).not.toContain('hunter2');
});

/** A store whose every call fails the given way. */
async function failingStore(failure: () => Error): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-failing-'));
  const real = EmbeddedStore.open(dir);
  const store = new Proxy(real, {
    get(target, property, receiver) {
      if (property === 'close') return () => target.close();
      if (property === 'kind') return Reflect.get(target, property, receiver);
      return async () => {
        throw failure();
      };
    },
  });
  return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test('an unexpected error is 500 INLAY_MW_INTERNAL without its message', async () => {
  const { store, cleanup } = await failingStore(() => new Error('disk says: secret path /var/lib/x'));
  t = await startTestApp({ store });
  const response = await t.request('GET', '/api/tenants');
  expect(response.statusCode).toBe(500);
  expect(response.json()).toEqual({ code: 'INLAY_MW_INTERNAL', message: ERROR_REGISTRY.INLAY_MW_INTERNAL.message });
  await cleanup();
});

test('a store outage is 503 INLAY_MW_STORE_UNAVAILABLE, also while authenticating', async () => {
  const { store, cleanup } = await failingStore(() => new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE'));
  t = await startTestApp({ store });
  expect((await t.request('GET', '/api/tenants')).statusCode).toBe(503);
  expect((await t.request('GET', '/api/tenants/a', { token: 'inlay_t_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' })).json().code).toBe('INLAY_MW_STORE_UNAVAILABLE');
  await cleanup();
});

test('toErrorResponse keeps a framework 4xx status but not its message', () => {
  const error = Object.assign(new Error('header "x-evil: <secret>" is bad'), { statusCode: 431 });
  expect(toErrorResponse(error)).toMatchObject({ status: 431, body: { code: 'INLAY_MW_BAD_REQUEST', message: 'the request is malformed' } });
});

test('router refusals go through the registry: a URL that is not UTF-8, an over-long segment', async () => {
  t = await startTestApp();
  const badUrl = await t.request('GET', '/api/tenants/%ZZ');
  expect(badUrl.statusCode).toBe(400);
  expect(badUrl.json()).toEqual({ code: 'INLAY_MW_BAD_REQUEST', message: 'the URL is not valid percent-encoded UTF-8' });
  const long = await t.request('GET', `/api/tenants/${'a'.repeat(500)}/dataSources`);
  expect(long.statusCode).toBe(414);
  expect(long.json().code).toBe('INLAY_MW_URL_TOO_LONG');
});

test('a request the HTTP parser refuses gets a {code, message} 400 and a closed connection', async () => {
  t = await startTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = t.app.server.address() as AddressInfo;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(answer).toContain('Connection: close');
  expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ code: 'INLAY_MW_BAD_REQUEST', message: 'the request is malformed' });
});
