// Hostile input at every route: malformed JSON, wrong types, huge and deeply nested bodies,
// unicode edge cases (unpaired surrogates, NUL, RTL marks, 10k-character strings), random
// mutations of valid bodies, odd content types and query strings. The answer is always a
// {code, message} 4xx or a success — never a 5xx — and a rejected request leaves the store
// exactly as it was.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROUTES, routeName, type RouteCase } from './testing/route-table.js';
import { TEST_ADMIN_TOKEN, TEST_INTERNAL_TOKEN, seedTenant, startTestApp, type TestApp } from './testing/test-app.js';

const TARGET = 'fuzz-target';
/** Random requests per route; about 1 ms each with the store snapshots around them. */
const RUNS_PER_ROUTE = 120;
/** Hundreds of requests per test: seconds on an idle machine, several times that on a loaded
 *  one. A timed-out test keeps running and would race the next one's snapshots. */
const TEST_TIMEOUT_MS = 60_000;

let t: TestApp;
let tenantToken: string;

beforeAll(async () => {
  t = await startTestApp();
  await restoreTarget();
});
afterAll(async () => {
  await t.close();
});

/** A successful DELETE or PUT changes the target; the next request should find it as before. */
async function restoreTarget(): Promise<void> {
  if (await t.store.getTenant(TARGET)) await t.store.deleteTenant(TARGET, { dropDB: true });
  for (const tenant of await t.store.listTenants()) await t.store.deleteTenant(tenant.id, { dropDB: true });
  expect((await t.createTenant(TARGET)).statusCode).toBe(201);
  tenantToken = await t.tenantToken(TARGET);
}

interface HostileRequest {
  readonly url: string;
  readonly body?: string | Buffer | undefined;
  readonly contentType?: string | undefined;
  readonly asTenant?: boolean;
}

/** The token that may use the route: the internal one for the engine API, else the admin's. */
const tokenFor = (route: RouteCase): string => (route.access === 'internal' ? TEST_INTERNAL_TOKEN : TEST_ADMIN_TOKEN);

async function expectSafeAnswer(route: RouteCase, request: HostileRequest): Promise<void> {
  const before = await t.snapshot();
  const response = await t.request(route.method, request.url, {
    token: request.asTenant ? tenantToken : tokenFor(route),
    ...(request.body === undefined ? {} : { body: request.body }),
    headers: request.contentType === undefined ? {} : { 'content-type': request.contentType },
  });
  const label = `${routeName(route)} ${request.url.slice(0, 200)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
  expect(response.statusCode, label).toBeLessThan(500);
  if (response.statusCode >= 400) {
    expect(response.json(), label).toEqual({ code: expect.stringMatching(/^INLAY_MW_[A-Z_]+$/), message: expect.any(String) });
    expect(await t.snapshot(), `store changed by a rejected request: ${label}`).toEqual(before);
  } else {
    await restoreTarget();
    await route.prepare?.(t, TARGET);
  }
}

// --- generators ---

const EDGE_STRINGS = [
  '\ud800',
  'a\udfffb',
  '\udc00\ud800',
  '\u0000',
  'x\u0000y',
  '\u200f\u202eevil\u202c',
  'שלום עולם',
  '\ufeffbom',
  'line\u2028separator',
  'e\u0301\u0301\u0301',
  '👩‍👩‍👧‍👦'.repeat(100),
  'x'.repeat(10_000),
  '',
  ' ',
  '\t\r\n',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  "'; DROP KEYSPACE inlay; --",
  '%00%ff',
];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const hostileString = fc.oneof(
  fc.constantFrom(...EDGE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom('\u0000', '\u200f', '\u202e', 'a', '😀')), maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.array(hostileString, { maxLength: 5 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 5 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Every place in a JSON value where another value could go. */
function pathsOf(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  const here = [path];
  if (Array.isArray(value)) return [...here, ...value.flatMap((item, index) => pathsOf(item, [...path, index]))];
  if (typeof value === 'object' && value !== null) return [...here, ...Object.entries(value).flatMap(([key, item]) => pathsOf(item, [...path, key]))];
  return here;
}

type Mutation = { kind: 'replace'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown };

function mutate(body: unknown, path: (string | number)[], mutation: Mutation): unknown {
  if (path.length === 0) return mutation.kind === 'replace' ? mutation.value : body;
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  switch (mutation.kind) {
    case 'replace':
      parent[last] = mutation.value;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      break;
    case 'add': {
      const target = parent[last];
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) (target as Record<string, unknown>)[mutation.key] = mutation.value;
      else parent[last] = mutation.value;
      break;
    }
  }
  return copy;
}

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  hostileValue.map((value) => ({ kind: 'replace', value }) as const),
  fc.constant({ kind: 'delete' } as const),
  fc.record({ kind: fc.constant('add' as const), key: hostileString, value: hostileValue }),
);

function bodyArb(route: RouteCase): fc.Arbitrary<string> {
  const valid = route.body?.(TARGET) ?? seedTenant('fuzz-other');
  const paths = pathsOf(valid);
  const mutated = fc.tuple(fc.constantFrom(...paths), mutationArb, fc.integer({ min: 1, max: 3 })).map(([path, mutation]) => JSON.stringify(mutate(valid, path, mutation)));
  const json = JSON.stringify(valid);
  const truncated = fc.integer({ min: 0, max: json.length - 1 }).map((cut) => json.slice(0, cut));
  return fc.oneof(
    { weight: 6, arbitrary: mutated },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: truncated },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  );
}

/** Percent-encodes the UTF-8 bytes (an unpaired surrogate becomes U+FFFD's bytes). */
const percentEncode = (text: string): string => [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

const queryArb = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?createDB=true', '?createDB=maybe', '?dropDB=1', '?dropDB=true&dropDB=false', '?createdb=true', '?x=%00', '?%ZZ=1', '?createDB[]=true', `?createDB=${'t'.repeat(5000)}`),
  hostileString.map((text) => `?createDB=${percentEncode(text)}`),
);

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(TARGET) },
  { weight: 1, arbitrary: hostileString.filter((text) => text.length > 0).map(percentEncode) },
  // Encoded NUL, a raw surrogate's bytes, overlong UTF-8, a bad escape, traversal, an RTL mark.
  { weight: 1, arbitrary: fc.constantFrom('UPPER', 'a'.repeat(49), '%00', '%ED%A0%80', '%C0%AF', '%ZZ', '%2e%2e', '%2F', '%E2%80%8Fabc', 'default') },
);

function requestArb(route: RouteCase): fc.Arbitrary<HostileRequest> {
  return fc.record({
    url: fc.tuple(idArb, queryArb).map(([id, query]) => `${route.url(id).split('?')[0]}${query}`),
    body: fc.option(bodyArb(route), { nil: undefined, freq: 4 }),
    contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', ''), {
      nil: undefined,
      freq: 3,
    }),
    asTenant: fc.boolean(),
  });
}

// --- the tests ---

describe.each(ROUTES.map((route) => [routeName(route), route] as const))('%s', (_name, route) => {
  // What the route's URL names (a campaign) exists, so hostile input meets the real handler.
  beforeAll(async () => {
    await route.prepare?.(t, TARGET);
  });

  test('fixed hostile bodies: malformed JSON, wrong types, deep nesting, many keys, huge', async () => {
    const url = route.url(TARGET);
    const fixed: HostileRequest[] = [
      ...['{', '[1,', '{"a":}', 'nul', '"\\ud800', '\u0000', '{"a":1}}', '\ufeff{}', '{"a":1,"a":2}'].map((body) => ({ url, body })),
      ...['null', '1', '-0', '1e999', '"text"', 'true', '[]', '{}', '[null]', '[[[]]]', '{"":""}'].map((body) => ({ url, body })),
      { url, body: `${'['.repeat(200_000)}${']'.repeat(200_000)}` },
      { url, body: `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}` },
      { url, body: JSON.stringify(Object.fromEntries(Array.from({ length: 40_000 }, (_, index) => [`k${index}`, index]))) },
      { url, body: JSON.stringify(Array.from({ length: 30_000 }, () => ({}))) },
      { url, body: Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80, 0xc0, 0xaf]) },
    ];
    for (const request of fixed) await expectSafeAnswer(route, request);

    // Over the body limit: refused before parsing.
    const huge = JSON.stringify({ name: 'x'.repeat(1_100_000) });
    const response = await t.request(route.method, url, { body: huge, token: tokenFor(route) });
    expect(response.statusCode).toBeLessThan(500);
    if (route.method === 'POST' || route.method === 'PUT') expect(response.json().code).toBe('INLAY_MW_BODY_TOO_LARGE');
  }, TEST_TIMEOUT_MS);

  test('unicode edge cases in every string of a valid body', async () => {
    const valid = route.body?.(TARGET);
    if (valid === undefined) return;
    const stringPaths = pathsOf(valid).filter((path) => typeof path.reduce<any>((node, key) => node?.[key], valid) === 'string');
    for (const path of stringPaths) {
      for (const edge of EDGE_STRINGS) {
        await expectSafeAnswer(route, { url: route.url(TARGET), body: JSON.stringify(mutate(valid, path, { kind: 'replace', value: edge })) });
      }
    }
  }, TEST_TIMEOUT_MS);

  test('random requests', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb(route), async (request) => {
        await expectSafeAnswer(route, request);
      }),
      { numRuns: RUNS_PER_ROUTE },
    );
  }, TEST_TIMEOUT_MS);
});
