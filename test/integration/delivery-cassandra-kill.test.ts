// Issue 12's no-loss cases on Cassandra (the embedded store's: delivery-kill.test.ts and
// middleware/src/delivery/delivery.test.ts):
// - the built middleware on Cassandra killed with SIGKILL while deliveries are in flight and
//   started again: every event delivered, repeats only under the same webhook-id
//   (test/helpers/delivery-kill.ts);
// - a receiver down for the whole retry window but its last step (the schedule shortened by
//   INLAY_DELIVERY_RETRY_SCHEDULE's setting) gets the delivery when it comes back; and on the way,
//   retention by TTL: the event row carries one, the pending delivery none, the finished
//   delivery and its attempts the log retention.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import cassandraDriver from 'cassandra-driver';
import type { Tenant } from '@inlay/schemas';
import { startWebhookReceiver, type WebhookReceiver } from '../../middleware/src/testing/webhook-receiver.ts';
import { deliveryConfig, makeEvent, waitFor } from '../../middleware/src/testing/delivery-fixture.ts';
import { seedTenant } from '../../middleware/src/testing/test-app.ts';
import { createDeliveryService, type DeliveryService } from '../../middleware/src/delivery/delivery-service.ts';
import { ensurePointSecret } from '../../middleware/src/delivery/dispatcher.ts';
import { openTestCassandraStore, type TestCassandraStore } from '../helpers/cassandra-store.ts';
import { killWhileDelivering } from '../helpers/delivery-kill.ts';
import type { RunningMiddleware } from '../helpers/middleware.ts';

const info = inject('cassandra');
let cassandra: TestCassandraStore;
let dataDir: string;
let receiver: WebhookReceiver | undefined;
let middleware: RunningMiddleware | undefined;
let service: DeliveryService | undefined;

beforeAll(async () => {
  cassandra = await openTestCassandraStore(info, 'dkill');
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-ckill-'));
}, 120_000);

afterAll(async () => {
  await middleware?.stop();
  await service?.close();
  await receiver?.close();
  await cassandra?.cleanUp();
  await rm(dataDir, { recursive: true, force: true });
}, 120_000);

test('SIGKILL with deliveries in flight on Cassandra, then a restart: every event delivered, repeats only under the same webhook-id', async () => {
  receiver = await startWebhookReceiver({ answer: () => ({ status: 200, delayMs: 150 }) });
  const registry = cassandra.registry;
  await killWhileDelivering({
    tenantId: `ckill-${randomBytes(2).toString('hex')}`,
    adminToken: `ckill-admin-${randomBytes(16).toString('hex')}`,
    events: 400,
    concurrency: 16,
    receiver,
    startupTimeoutMs: 120_000,
    env: {
      INLAY_DATA_DIR: dataDir,
      INLAY_STORAGE_KIND: 'cassandra',
      INLAY_STORAGE_CASSANDRA_CONTACT_POINTS: `${info.host}:${info.port}`,
      INLAY_STORAGE_CASSANDRA_LOCAL_DATA_CENTER: info.localDataCenter,
      INLAY_STORAGE_CASSANDRA_REGISTRY_KEYSPACE: registry,
    },
    onNode: (node) => (middleware = node),
    async record(tenantId, events) {
      // As the proxy does, a report the store could not take (a lightweight transaction timing
      // out on the loaded single node) is made again: recording is idempotent.
      const tenant = (await cassandra.store.getTenant(tenantId))!;
      for (let attempt = 1; ; attempt++) {
        try {
          return await cassandra.store.recordEvents(tenant, events);
        } catch (error) {
          if (attempt === 5 || (error as { code?: string }).code !== 'INLAY_MW_STORE_UNAVAILABLE') throw error;
        }
      }
    },
  });
  await middleware?.stop();
  middleware = undefined;
}, 400_000);

test('a receiver down for the whole retry window but the last step gets the delivery on Cassandra when it comes back', async () => {
  const down = await startWebhookReceiver();
  const port = down.port;
  await down.close();
  const store = cassandra.store;
  // The guide's tenant JSON, as a REST create would store it.
  const seed = seedTenant(`clate-${randomBytes(2).toString('hex')}`, { conversionPoints: [{ id: 'late', type: 'webhook', eventType: 'read', connectionInformation: { url: `http://127.0.0.1:${port}/late` } }] }) as unknown as Tenant;
  await store.createTenant(seed, { createDB: true });
  const tenant = (await store.getTenant(seed.id))!;
  const secret = (await ensurePointSecret(store, tenant, 'late')).secrets[0]!.secret;
  const event = makeEvent(tenant.id, 'read', 1);
  await store.recordEvents(tenant, [event]);
  const admin = new cassandraDriver.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
  const ttlOf = async (query: string, params: unknown[]): Promise<number | null> => {
    const row = (await admin.execute(query, params, { prepare: true })).first();
    return row === null ? null : (row.get(0) as number | null);
  };
  const ks = `"${tenant.keyspaceName}"`;
  const DAY_S = 86_400;
  // Pending: no TTL, so nothing waiting is lost to one. The event row expires after the events' retention.
  expect(await ttlOf(`SELECT TTL(state) FROM ${ks}.deliveries WHERE point_id = ? AND event_id = ?`, ['late', event.eventId])).toBeNull();
  const eventTtl = await ttlOf(`SELECT TTL(event_type) FROM ${ks}.events WHERE event_id = ? ALLOW FILTERING`, [event.eventId]);
  expect(eventTtl).toBeGreaterThan(0);
  expect(eventTtl).toBeLessThanOrEqual(90 * DAY_S);
  // Four attempts fail against the closed port; the fifth, the schedule's last step, 3 s later, finds it open.
  service = createDeliveryService(store, deliveryConfig({ retrySchedule: '1,1,1,3' }), undefined);
  service.dispatcher.start();
  await waitFor('four failed attempts', async () => (await store.deliveries.getDelivery(tenant, 'late', event.eventId))?.attempts === 4, 60_000);
  expect(await store.deliveries.getDelivery(tenant, 'late', event.eventId)).toMatchObject({ state: 'pending', step: 4 });
  const back = await startWebhookReceiver({ port });
  back.secrets = [secret];
  try {
    await waitFor('the delivery after the receiver came back', async () => (await store.deliveries.getDelivery(tenant, 'late', event.eventId))?.state === 'delivered', 60_000);
    expect(back.requests.map((request) => [request.id, request.verified])).toEqual([[event.eventId, true]]);
    expect((await store.deliveries.getDelivery(tenant, 'late', event.eventId))?.attempts).toBe(5);
    expect((await store.deliveries.listAttempts(tenant, 'late', event.eventId)).map((attempt) => attempt.ok)).toEqual([false, false, false, false, true]);
    // Finished: the delivery and its attempts expire after the log retention (90 days here).
    for (const [query, label] of [
      [`SELECT TTL(state) FROM ${ks}.deliveries WHERE point_id = ? AND event_id = ?`, 'delivery'],
      [`SELECT TTL(ok) FROM ${ks}.delivery_attempts WHERE point_id = ? AND event_id = ? AND attempt = 5`, 'attempt'],
    ] as const) {
      const ttl = await ttlOf(query, ['late', event.eventId]);
      expect(ttl, label).toBeGreaterThan(89 * DAY_S);
      expect(ttl, label).toBeLessThanOrEqual(90 * DAY_S);
    }
  } finally {
    await back.close();
    await admin.shutdown();
  }
}, 120_000);
