// `amqp` conversion points against the RabbitMQ the integration setup starts: events published
// to an exchange with publisher confirms, the routing key filled from its template, the event
// id as message id; a message no queue takes is a failed attempt, retried until a queue is
// bound; a broker address the guard refuses is never connected to.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { connect, type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import type { ConversionPoint, Tenant } from '@inlay/schemas';
import { startTestApp, type TestApp } from '../../middleware/src/testing/test-app.ts';
import { AddressGuard } from '../../middleware/src/delivery/address-guard.ts';
import { AmqpSender } from '../../middleware/src/delivery/amqp-sender.ts';
import type { Delivery } from '../../middleware/src/delivery/delivery-types.ts';
import { createDeliveryService, type DeliveryService } from '../../middleware/src/delivery/delivery-service.ts';
import { deliveryConfig, makeEvent, waitFor } from '../../middleware/src/testing/delivery-fixture.ts';

const rabbit = inject('rabbitmq');
const exchange = `inlay-events-${randomBytes(3).toString('hex')}`;
let t: TestApp;
let model: ChannelModel;
let channel: Channel;
let service: DeliveryService;
const received: ConsumeMessage[] = [];

beforeAll(async () => {
  t = await startTestApp({ deliveryGuard: new AddressGuard(['127.0.0.0/8']) });
  model = await connect(rabbit.url);
  channel = await model.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
  service = createDeliveryService(t.store, deliveryConfig({ retrySchedule: '1,1,1,1,1,1,1,1' }), undefined);
  service.dispatcher.start();
});

afterAll(async () => {
  await service?.close();
  await channel?.deleteExchange(exchange).catch(() => undefined);
  await model?.close();
  await t?.close();
});

async function tenantWith(id: string, points: ConversionPoint[]): Promise<Tenant> {
  const created = await t.createTenant(id, { conversionPoints: points });
  expect(created.statusCode, created.body).toBe(201);
  return (await t.store.getTenant(id))!;
}

test('each event is published to the exchange with confirms, under its routing key, the event id as message id', async () => {
  const queue = (await channel.assertQueue('', { exclusive: true })).queue;
  await channel.bindQueue(queue, exchange, 'inlay.read.#');
  await channel.consume(queue, (message) => message && received.push(message), { noAck: true });
  const tenant = await tenantWith('amqp-a', [{ id: 'broker', type: 'amqp', eventType: 'read', connectionInformation: { url: rabbit.url, exchange, routingKey: 'inlay.{{eventType}}.{{campaignId}}' } }]);
  const events = [makeEvent(tenant.id, 'read', 1), makeEvent(tenant.id, 'read', 2)];
  await t.store.recordEvents(tenant, events);
  await waitFor('both messages', () => received.length === 2);
  await waitFor('both recorded', async () => (await t.store.deliveries.backlog(tenant, 'broker')) === 0);
  const byId = new Map(received.map((message) => [message.properties.messageId as string, message]));
  for (const event of events) {
    const message = byId.get(event.eventId)!;
    expect(message.fields.routingKey).toBe(`inlay.read.${event.campaignId}`);
    expect(message.properties).toMatchObject({ contentType: 'application/json', type: 'inlay.read', deliveryMode: 2 });
    expect(JSON.parse(message.content.toString())).toMatchObject({ type: 'inlay.read', data: { id: event.eventId, uid: event.uid } });
    expect(await t.store.deliveries.getDelivery(tenant, 'broker', event.eventId)).toMatchObject({ state: 'delivered', attempts: 1 });
  }
  // The tenant shows the point, exchange and routing key included; the URL's password is not shown.
  const shown = (await t.request('GET', '/api/tenants/amqp-a/conversionPoints')).json() as ConversionPoint[];
  expect(shown[0]?.connectionInformation).toMatchObject({ exchange, routingKey: 'inlay.{{eventType}}.{{campaignId}}' });
  expect(JSON.stringify(shown)).not.toContain('guest:guest');
});

test('a message no queue takes fails the attempt and is retried until a queue is bound', async () => {
  const tenant = await tenantWith('amqp-b', [{ id: 'unbound', type: 'amqp', eventType: 'expunged', connectionInformation: { url: rabbit.url, exchange, routingKey: 'nobody.{{eventType}}' } }]);
  const event = makeEvent(tenant.id, 'expunged', 3);
  await t.store.recordEvents(tenant, [event]);
  await waitFor('a failed attempt', async () => ((await t.store.deliveries.getDelivery(tenant, 'unbound', event.eventId))?.attempts ?? 0) >= 1);
  const attempts = await t.store.deliveries.listAttempts(tenant, 'unbound', event.eventId);
  expect(attempts[0]).toMatchObject({ ok: false, error: `no queue is bound to exchange "${exchange}" for routing key "nobody.expunged"` });
  const queue = (await channel.assertQueue('', { exclusive: true })).queue;
  const late: ConsumeMessage[] = [];
  await channel.bindQueue(queue, exchange, 'nobody.#');
  await channel.consume(queue, (message) => message && late.push(message), { noAck: true });
  await waitFor('the retried publish', () => late.length === 1, 20_000);
  expect(late[0]?.properties.messageId).toBe(event.eventId);
  await waitFor('recorded delivered', async () => (await t.store.deliveries.getDelivery(tenant, 'unbound', event.eventId))?.state === 'delivered');
}, 30_000);

test('a broker at a refused address is never connected to; a broker that is down fails the attempt', async () => {
  const strict = await startTestApp({ deliveryGuard: new AddressGuard([]) });
  try {
    expect((await strict.createTenant('amqp-c')).statusCode).toBe(201);
    const refused = await strict.request('PUT', '/api/tenants/amqp-c/conversionPoints', { body: [{ id: 'meta', type: 'amqp', eventType: 'read', connectionInformation: { url: 'amqp://169.254.169.254', exchange } }] });
    expect((refused.json() as { code: string }).code).toBe('INLAY_MW_DELIVERY_ADDRESS_REFUSED');
  } finally {
    await strict.close();
  }
  const tenant = await tenantWith('amqp-d', [{ id: 'down', type: 'amqp', eventType: 'read', connectionInformation: { url: 'amqp://guest:guest@127.0.0.1:9', exchange } }]);
  await t.store.replaceConversionPoints(tenant.id, [...tenant.conversionPoints, { id: 'private', type: 'amqp', eventType: 'read', connectionInformation: { url: 'amqp://10.0.0.1', exchange } }]);
  const event = makeEvent(tenant.id, 'read', 9);
  await t.store.recordEvents(tenant, [event]);
  await waitFor('both attempted', async () => ((await t.store.deliveries.getDelivery(tenant, 'down', event.eventId))?.attempts ?? 0) >= 1 && ((await t.store.deliveries.getDelivery(tenant, 'private', event.eventId))?.attempts ?? 0) >= 1);
  expect((await t.store.deliveries.listAttempts(tenant, 'down', event.eventId))[0]?.error).toMatch(/ECONNREFUSED/);
  expect((await t.store.deliveries.listAttempts(tenant, 'private', event.eventId))[0]?.error).toMatch(/^refused: 10\.0\.0\.1 is a loopback, private/);
}, 30_000);

test('a returned message fails only its own attempt: the others waiting on the shared channel are confirmed', async () => {
  const sender = new AmqpSender(new AddressGuard(['127.0.0.0/8']), 10_000);
  const queue = (await channel.assertQueue('', { exclusive: true })).queue;
  await channel.bindQueue(queue, exchange, 'taken.#');
  const point: ConversionPoint = { id: 'shared', type: 'amqp', eventType: 'read', connectionInformation: { url: rabbit.url, exchange, routingKey: '{{eventType}}' } };
  const delivery = (i: number, key: string): Delivery => {
    const now = Date.now();
    return { pointId: 'shared', eventId: `shared-${i}`, eventType: key, event: { id: `shared-${i}` }, state: 'pending', attempts: 0, step: 0, dueAtMs: now, createdAtMs: now, updatedAtMs: now };
  };
  try {
    // Published together on one confirm channel, unroutable ones among them.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sender.send(point, delivery(i, i % 2 === 0 ? 'unclaimed.shared' : 'taken.shared'))));
    for (const [i, result] of results.entries()) {
      if (i % 2 === 0) expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^no queue is bound/) });
      else expect(result, `attempt ${i}`).toMatchObject({ ok: true });
    }
  } finally {
    await sender.close();
  }
});
