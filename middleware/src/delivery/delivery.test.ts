// Deliveries on the embedded store, end to end inside one process: events recorded through the
// store, the dispatcher delivering them to a local receiver that verifies signatures with the
// reference Standard Webhooks verifier, retries, Retry-After, 410, redirects, refused addresses,
// secret rotation and the operator's routes.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig, WebhookBodySchema, type ConversionPoint, type Tenant } from '@inlay/schemas';
import { Ajv } from 'ajv';
import { Webhook } from 'standardwebhooks';
import { startTestApp, type TestApp } from '../testing/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../testing/webhook-receiver.js';
import { deliveryConfig, makeEvent, waitFor } from '../testing/delivery-fixture.js';
import { AddressGuard } from './address-guard.js';
import { createDeliveryService, type DeliveryService } from './delivery-service.js';
import { decideOutcome } from './outcome.js';
import { deliveryShard } from './plan.js';

let t: TestApp;
let receiver: WebhookReceiver;
let service: DeliveryService | undefined;
let tenantCount = 0;

beforeAll(async () => {
  t = await startTestApp({ deliveryGuard: new AddressGuard(['127.0.0.0/8']) });
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  await service?.close();
  service = undefined;
  receiver.answer = () => ({ status: 204 });
});
afterAll(async () => {
  await receiver.close();
  await t.close();
});

const webhookPoint = (id: string, eventType: ConversionPoint['eventType'], url = receiver.url(`/${id}`)): ConversionPoint => ({ id, type: 'webhook', eventType, connectionInformation: { url } });

/** A new tenant with these points (through the API, so the save checks run), and its secrets handed to the receiver. */
async function tenantWith(points: ConversionPoint[]): Promise<Tenant> {
  const id = `dl-${++tenantCount}`;
  const created = await t.createTenant(id, { conversionPoints: points });
  expect(created.statusCode, created.body).toBe(201);
  for (const point of points) {
    const secret = await t.request('GET', `/api/tenants/${id}/conversionPoints/${point.id}/secret`);
    expect(secret.statusCode).toBe(200);
    receiver.secrets.push((secret.json() as { secret: string }).secret);
  }
  return (await t.store.getTenant(id))!;
}

function startDelivery(overrides: Parameters<typeof deliveryConfig>[0] = {}): DeliveryService {
  service = createDeliveryService(t.store, deliveryConfig(overrides), undefined);
  service.dispatcher.start();
  return service;
}

const requestsTo = (path: string) => receiver.requests.filter((request) => request.url === path);

describe('webhook delivery', () => {
  test('a receiver refusing each first attempt gets exactly one accepted delivery per event and point, each retried once, signatures valid', async () => {
    const tenant = await tenantWith([webhookPoint('inj', 'injected'), webhookPoint('read-a', 'read'), webhookPoint('read-b', 'read'), webhookPoint('exp', 'expunged')]);
    receiver.answer = (request) => (request.nth === 1 ? { status: 503 } : { status: 200, body: 'ok' });
    const events = [makeEvent(tenant.id, 'injected', 1), makeEvent(tenant.id, 'read', 1), makeEvent(tenant.id, 'expunged', 1), makeEvent(tenant.id, 'read', 2)];
    await t.store.recordEvents(tenant, events);
    // Recording the same events again (another session's report) makes no second delivery.
    await t.store.recordEvents(tenant, events);
    startDelivery();
    const expected = ['/inj', '/read-a', '/read-b', '/exp'];
    await waitFor('every delivery accepted', () => expected.every((path) => requestsTo(path).filter((request) => request.status === 200).length === (path.startsWith('/read') ? 2 : 1)));

    for (const path of expected) {
      const requests = requestsTo(path);
      const ids = [...new Set(requests.map((request) => request.id))];
      expect(ids.length).toBe(path.startsWith('/read') ? 2 : 1);
      for (const id of ids) {
        const forId = requests.filter((request) => request.id === id);
        expect(forId.map((request) => request.status)).toEqual([503, 200]);
        expect(forId.every((request) => request.verified && request.method === 'POST')).toBe(true);
      }
    }
    const first = requestsTo('/exp')[0]!;
    const body = JSON.parse(first.body) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(body).toMatchObject({ type: 'inlay.expunged', timestamp: events[2]!.occurredAt.toISOString(), data: { id: events[2]!.eventId, type: 'expunged', tenantId: tenant.id, uid: 1, messageId: '<m1@campaign.example>' } });
    expect(first.id).toBe(events[2]!.eventId);
    // One representation: the body is a WebhookBody, and its data is the event exactly as the REST API lists it.
    const isWebhookBody = new Ajv({ strict: false, logger: false }).compile(WebhookBodySchema);
    expect(isWebhookBody(body), JSON.stringify(isWebhookBody.errors)).toBe(true);
    const listed = (await t.request('GET', `/api/tenants/${tenant.id}/events?type=expunged`)).json() as { events: unknown[] };
    expect(listed.events).toEqual([body.data]);
    const openapi = (await t.request('GET', '/api/openapi.json', { token: null })).json() as { webhooks: { event: { post: { requestBody: { content: Record<string, { schema: { properties: { data: { properties: Record<string, unknown> } } } }> } } } } };
    expect(Object.keys(openapi.webhooks.event.post.requestBody.content['application/json']!.schema.properties.data.properties)).toEqual(expect.arrayContaining(['id', 'type', 'userKey', 'occurredAt']));
    // The receiver answered before the outcome was written.
    await waitFor('the outcomes recorded', async () => (await t.store.deliveries.backlog(tenant, 'read-b')) === 0 && (await t.store.deliveries.getDelivery(tenant, 'exp', events[2]!.eventId))?.state === 'delivered');
    const log = await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/exp/deliveries/${events[2]!.eventId}`);
    expect(log.json()).toMatchObject({ state: 'delivered', attempts: 2, log: [{ attempt: 1, ok: false, status: 503 }, { attempt: 2, ok: true, status: 200, response: 'ok' }] });
    expect((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/exp/health`)).json()).toMatchObject({ health: 'healthy', backlog: 0 });
  }, 30_000);

  test('a receiver down for the whole retry window but the last step gets the delivery when it comes back', async () => {
    const down = await startWebhookReceiver();
    const port = down.port;
    await down.close();
    const tenant = await tenantWith([webhookPoint('late', 'read', `http://127.0.0.1:${port}/late`)]);
    const event = makeEvent(tenant.id, 'read', 1);
    await t.store.recordEvents(tenant, [event]);
    startDelivery({ retrySchedule: '1,1,1,3' });
    await waitFor('four failed attempts', async () => (await t.store.deliveries.getDelivery(tenant, 'late', event.eventId))?.attempts === 4);
    expect((await t.store.deliveries.getDelivery(tenant, 'late', event.eventId))?.state).toBe('pending');
    expect((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/late/health`)).json()).toMatchObject({ health: 'failing', backlog: 1 });
    const back = await startWebhookReceiver({ port });
    back.secrets = receiver.secrets;
    try {
      await waitFor('the delivery after the receiver came back', async () => (await t.store.deliveries.getDelivery(tenant, 'late', event.eventId))?.state === 'delivered');
      expect(back.requests.map((request) => [request.id, request.verified])).toEqual([[event.eventId, true]]);
      expect((await t.store.deliveries.getDelivery(tenant, 'late', event.eventId))?.attempts).toBe(5);
    } finally {
      await back.close();
    }
  }, 30_000);

  test('the schedule used up makes the delivery dead, kept and resendable with the same webhook-id', async () => {
    const tenant = await tenantWith([webhookPoint('dead', 'read')]);
    receiver.answer = () => ({ status: 500, body: 'x'.repeat(5000) });
    const event = makeEvent(tenant.id, 'read', 1);
    await t.store.recordEvents(tenant, [event]);
    startDelivery({ retrySchedule: '1' });
    await waitFor('the delivery dead', async () => (await t.store.deliveries.getDelivery(tenant, 'dead', event.eventId))?.state === 'dead');
    const detail = (await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/dead/deliveries/${event.eventId}`)).json() as { log: { response: string }[] };
    expect(detail.log.map((attempt) => attempt.response.length)).toEqual([1024, 1024]);
    expect((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/dead/deliveries?state=dead`)).json()).toMatchObject([{ deliveryId: event.eventId, state: 'dead', attempts: 2 }]);

    receiver.answer = () => ({ status: 204 });
    const recovered = await t.request('POST', `/api/tenants/${tenant.id}/conversionPoints/dead/recover`, { body: { since: new Date(Date.now() - 60_000).toISOString() } });
    expect(recovered.json()).toEqual({ requeued: 1 });
    await waitFor('the recovered delivery', async () => (await t.store.deliveries.getDelivery(tenant, 'dead', event.eventId))?.state === 'delivered');
    const resent = await t.request('POST', `/api/tenants/${tenant.id}/conversionPoints/dead/deliveries/${event.eventId}/resend`);
    expect(resent.statusCode).toBe(202);
    await waitFor('the resent delivery', () => requestsTo('/dead').filter((request) => request.status === 204).length === 2);
    expect(new Set(requestsTo('/dead').map((request) => request.id))).toEqual(new Set([event.eventId]));
  }, 30_000);

  test('Retry-After is honoured within bounds; 410 disables the point and parks its deliveries until it is enabled', async () => {
    const tenant = await tenantWith([webhookPoint('slow', 'read'), webhookPoint('gone', 'expunged')]);
    receiver.answer = (request) => (request.url === '/slow' ? { status: 429, headers: { 'retry-after': '120' } } : { status: 410 });
    const read = makeEvent(tenant.id, 'read', 1);
    const expunged = makeEvent(tenant.id, 'expunged', 1);
    await t.store.recordEvents(tenant, [read, expunged]);
    startDelivery();
    await waitFor('both first attempts', () => requestsTo('/slow').length === 1 && requestsTo('/gone').length === 1);
    await waitFor('both recorded', async () => (await t.store.deliveries.getDelivery(tenant, 'gone', expunged.eventId))?.state === 'dead' && (await t.store.deliveries.getDelivery(tenant, 'slow', read.eventId))?.attempts === 1);
    const slow = (await t.store.deliveries.getDelivery(tenant, 'slow', read.eventId))!;
    // The schedule says 1 s; the receiver asked for 120 s.
    expect(slow.dueAtMs - slow.updatedAtMs).toBe(120_000);
    expect((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/gone/health`)).json()).toMatchObject({ health: 'disabled', disabledReason: 'the receiver answered 410 Gone' });

    const later = makeEvent(tenant.id, 'expunged', 2);
    await t.store.recordEvents(tenant, [later]);
    await waitFor('the later delivery parked', async () => ((await t.store.deliveries.getDelivery(tenant, 'gone', later.eventId))?.dueAtMs ?? 0) > Date.now() + 60_000);
    expect(requestsTo('/gone').length).toBe(1);
    receiver.answer = () => ({ status: 200 });
    const enabled = await t.request('POST', `/api/tenants/${tenant.id}/conversionPoints/gone/enable`);
    expect(enabled.json()).toMatchObject({ health: 'healthy' });
    await waitFor('the parked delivery sent', () => requestsTo('/gone').some((request) => request.id === later.eventId && request.status === 200));
  }, 30_000);

  test('an attempt without an answer within the attempt timeout (15 s by default) fails and is retried under the same webhook-id', async () => {
    expect(loadConfig({ env: {} }).config.delivery.attemptTimeoutMs).toBe(15_000);
    const tenant = await tenantWith([webhookPoint('slow', 'read')]);
    receiver.answer = (request) => (request.nth === 1 ? { status: 204, delayMs: 3000 } : { status: 204 });
    const event = makeEvent(tenant.id, 'read', 1);
    await t.store.recordEvents(tenant, [event]);
    startDelivery({ attemptTimeoutMs: 500 });
    await waitFor('the retried delivery', async () => (await t.store.deliveries.getDelivery(tenant, 'slow', event.eventId))?.state === 'delivered');
    const attempts = await t.store.deliveries.listAttempts(tenant, 'slow', event.eventId);
    expect(attempts.map((attempt) => [attempt.ok, attempt.error ?? attempt.status])).toEqual([[false, 'error: no answer within 500 ms'], [true, 204]]);
    expect(attempts[0]!.latencyMs).toBeLessThan(3000);
    expect(receiver.requests.filter((request) => request.id === event.eventId).map((request) => request.url)).toEqual(['/slow', '/slow']);
  }, 30_000);

  test('a redirect is not followed: the attempt fails with the 3xx', async () => {
    const target = await startWebhookReceiver();
    try {
      const tenant = await tenantWith([webhookPoint('moved', 'read')]);
      receiver.answer = () => ({ status: 302, headers: { location: target.url('/elsewhere') } });
      const event = makeEvent(tenant.id, 'read', 1);
      await t.store.recordEvents(tenant, [event]);
      startDelivery({ retrySchedule: '60' });
      await waitFor('the first attempt recorded', async () => (await t.store.deliveries.getDelivery(tenant, 'moved', event.eventId))?.attempts === 1);
      expect((await t.store.deliveries.getDelivery(tenant, 'moved', event.eventId))).toMatchObject({ state: 'pending', lastResult: 'HTTP 302' });
      expect(target.requests).toEqual([]);
    } finally {
      await target.close();
    }
  }, 30_000);

  test('a rotated secret signs alongside the new one; both verify with the reference verifier', async () => {
    const tenant = await tenantWith([webhookPoint('rot', 'read')]);
    const old = ((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/rot/secret`)).json() as { secret: string }).secret;
    const rotated = await t.request('POST', `/api/tenants/${tenant.id}/conversionPoints/rot/secret/rotate`);
    const fresh = (rotated.json() as { secret: string }).secret;
    expect(fresh).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(fresh).not.toBe(old);
    expect(((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/rot/secret`)).json() as { secret: string }).secret).toBe(fresh);
    const event = makeEvent(tenant.id, 'read', 1);
    await t.store.recordEvents(tenant, [event]);
    startDelivery();
    await waitFor('the delivery', () => requestsTo('/rot').length === 1);
    const request = requestsTo('/rot')[0]!;
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [old, fresh]) expect(new Webhook(secret).verify(request.body, request.headers as Record<string, string>)).toMatchObject({ type: 'inlay.read' });
    // Secrets never show in the tenant.
    expect((await t.request('GET', `/api/tenants/${tenant.id}`)).body).not.toContain('whsec_');
    expect((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints`)).body).not.toContain('whsec_');
  });
});

test('finished deliveries and their attempts are swept after the retention; pending ones stay', async () => {
  const tenant = await tenantWith([webhookPoint('swept', 'read')]);
  const done = makeEvent(tenant.id, 'read', 1);
  const waiting = makeEvent(tenant.id, 'read', 2);
  await t.store.recordEvents(tenant, [done, waiting]);
  const [first] = await t.store.deliveries.dueDeliveries(tenant, deliveryShard(done.eventId), Date.now(), 100).then((due) => due.filter((delivery) => delivery.eventId === done.eventId));
  await t.store.deliveries.recordAttempt(tenant, decideOutcome(first!, { ok: true, latencyMs: 1, status: 200 }, [1000], Date.now()), 1000);
  expect(await t.store.deliveries.sweep(tenant, Date.now() - 60_000)).toBe(0);
  expect(await t.store.deliveries.sweep(tenant, Date.now() + 60_000)).toBe(1);
  expect(await t.store.deliveries.getDelivery(tenant, 'swept', done.eventId)).toBeUndefined();
  expect(await t.store.deliveries.listAttempts(tenant, 'swept', done.eventId)).toEqual([]);
  expect((await t.store.deliveries.getDelivery(tenant, 'swept', waiting.eventId))?.state).toBe('pending');
});

test('a point saved without a type is a webhook point', async () => {
  const tenant = await tenantWith([]);
  const saved = await t.request('PUT', `/api/tenants/${tenant.id}/conversionPoints`, { body: [{ id: 'plain', eventType: 'read', connectionInformation: { url: receiver.url('/plain') } }] });
  expect(saved.json()).toEqual([{ id: 'plain', type: 'webhook', eventType: 'read', connectionInformation: { url: receiver.url('/plain') } }]);
  expect(((await t.request('GET', `/api/tenants/${tenant.id}/conversionPoints/plain/secret`)).json() as { secret: string }).secret).toMatch(/^whsec_/);
});

describe('seed compatibility', () => {
  test("the seed's ongage points are a GET of the filled URL, placeholders URL-encoded", async () => {
    const url = `${receiver.url('/pixel')}?id={{eventId}}&type={{eventType}}&c={{campaignId}}&u={{email}}&m={{messageId}}&at={{occurredAt}}`;
    // The seed's own payload shape: type "ongage", connectionInformation.url.
    const tenant = await tenantWith([{ id: 'read', type: 'ongage', eventType: 'read', description: 'Dovecot Read Tracking', connectionInformation: { url } }]);
    const event = makeEvent(tenant.id, 'read', 4, 'Jane Doe+x@example.org');
    await t.store.recordEvents(tenant, [event]);
    startDelivery();
    await waitFor('the pixel request', () => receiver.requests.some((request) => request.url.startsWith('/pixel')));
    const request = receiver.requests.find((candidate) => candidate.url.startsWith('/pixel'))!;
    expect(request.method).toBe('GET');
    expect(request.body).toBe('');
    expect(request.url).toBe(
      `/pixel?id=${event.eventId}&type=read&c=${event.campaignId}&u=Jane%20Doe%2Bx%40example.org&m=%3Cm4%40campaign.example%3E&at=${encodeURIComponent(event.occurredAt.toISOString())}`,
    );
    expect(request.headers['webhook-id']).toBe(event.eventId);
  });
});

describe('refused addresses', () => {
  test('metadata, private, IPv6 loopback and a name resolving to loopback are refused at save unless their network is allowed', async () => {
    const strict = await startTestApp({ deliveryGuard: new AddressGuard([]) });
    try {
      expect((await strict.createTenant('ssrf')).statusCode).toBe(201);
      for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/hook', 'http://[::1]:8080/hook', 'http://localhost:8080/hook', 'http://127.0.0.1:9/x', 'http://[::ffff:127.0.0.1]/x']) {
        const response = await strict.request('PUT', '/api/tenants/ssrf/conversionPoints', { body: [webhookPoint('p', 'read', url)] });
        expect(response.statusCode, url).toBe(400);
        expect((response.json() as { code: string }).code).toBe('INLAY_MW_DELIVERY_ADDRESS_REFUSED');
      }
      const seeded = await strict.createTenant('ssrf-seed', { conversionPoints: [webhookPoint('p', 'read', 'http://10.1.2.3/')] });
      expect((seeded.json() as { code: string }).code).toBe('INLAY_MW_DELIVERY_ADDRESS_REFUSED');
    } finally {
      await strict.close();
    }
    const allowing = await startTestApp({ deliveryGuard: new AddressGuard(['127.0.0.0/8', '::1/128', '10.0.0.0/8']) });
    try {
      expect((await allowing.createTenant('ssrf')).statusCode).toBe(201);
      for (const url of ['http://10.0.0.1/hook', 'http://[::1]:8080/hook', 'http://localhost:8080/hook']) {
        expect((await allowing.request('PUT', '/api/tenants/ssrf/conversionPoints', { body: [webhookPoint('p', 'read', url)] })).statusCode, url).toBe(200);
      }
    } finally {
      await allowing.close();
    }
  }, 30_000);

  test('at connect time, after DNS: a point stored before the rule (or by a name that moved) is refused without a request', async () => {
    const tenant = await tenantWith([webhookPoint('moved-name', 'read')]);
    // Written past the save check, as a name that resolved elsewhere when it was saved.
    await t.store.replaceConversionPoints(tenant.id, [webhookPoint('moved-name', 'read', `http://localhost:${receiver.port}/by-name`), webhookPoint('meta', 'read', 'http://169.254.169.254/latest')]);
    const event = makeEvent(tenant.id, 'read', 1);
    await t.store.recordEvents(tenant, [event]);
    startDelivery({ allowedNetworks: [], retrySchedule: '60' });
    await waitFor('both attempts recorded', async () => (await t.store.deliveries.getDelivery(tenant, 'moved-name', event.eventId))?.attempts === 1 && (await t.store.deliveries.getDelivery(tenant, 'meta', event.eventId))?.attempts === 1);
    expect(requestsTo('/by-name')).toEqual([]);
    const attempts = await t.store.deliveries.listAttempts(tenant, 'moved-name', event.eventId);
    expect(attempts[0]?.error).toMatch(/^refused: localhost resolves to/);
    expect((await t.store.deliveries.listAttempts(tenant, 'meta', event.eventId))[0]?.error).toMatch(/^refused: 169\.254\.169\.254 is a loopback, private, link-local/);
  });
});
