// Two built middleware processes on one Cassandra share the delivery outbox: 10,000 events
// recorded (as the engine records them, through the Cassandra store), each delivered, and no
// delivery ever attempted by both at once (the receiver watches for two requests of one
// webhook-id in flight together). One node is then killed with SIGKILL while delivering; the
// other takes its shards over when their leases run out and delivers the rest.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import cassandra from 'cassandra-driver';
import { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../middleware/src/testing/webhook-receiver.ts';
import { makeEvent, waitFor } from '../../middleware/src/testing/delivery-fixture.ts';
import { seedTenant } from '../../middleware/src/testing/test-app.ts';
import { startMiddleware, type RunningMiddleware } from '../helpers/middleware.ts';

const info = inject('cassandra');
const registry = `reg_dl_${randomBytes(3).toString('hex')}`;
const adminToken = `dl-admin-${randomBytes(16).toString('hex')}`;
const EVENTS = 10_000;
let dataDirs: string[] = [];
let receiver: WebhookReceiver;
let nodes: RunningMiddleware[] = [];
let store: CassandraStore;

const env = (dataDir: string): Record<string, string> => ({
  INLAY_DATA_DIR: dataDir,
  INLAY_ADMIN_TOKEN: adminToken,
  INLAY_STORAGE_KIND: 'cassandra',
  INLAY_STORAGE_CASSANDRA_CONTACT_POINTS: `${info.host}:${info.port}`,
  INLAY_STORAGE_CASSANDRA_LOCAL_DATA_CENTER: info.localDataCenter,
  INLAY_STORAGE_CASSANDRA_REGISTRY_KEYSPACE: registry,
  INLAY_DELIVERY_ALLOWED_NETWORKS: '127.0.0.0/8',
  INLAY_DELIVERY_RETRY_SCHEDULE: '1,1,1,1,1,1',
  INLAY_DELIVERY_ATTEMPT_TIMEOUT_MS: '3000',
  INLAY_DELIVERY_LEASE_MS: '10000',
});

beforeAll(async () => {
  receiver = await startWebhookReceiver({ answer: () => ({ status: 200, delayMs: 2 }) });
  dataDirs = [await mkdtemp(join(tmpdir(), 'inlay-dl-a-')), await mkdtemp(join(tmpdir(), 'inlay-dl-b-'))];
});

afterAll(async () => {
  for (const node of nodes) await node.stop();
  await store?.close();
  const admin = new cassandra.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
  for (const keyspace of ['ks_dl_two', registry]) await admin.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`, [], { readTimeout: 60_000 });
  await admin.shutdown();
  await receiver.close();
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

test('two nodes on one Cassandra deliver 10,000 events, each once, none attempted by both at once; a killed node’s share goes on', async () => {
  nodes.push(await startMiddleware(env(dataDirs[0]!), 120_000));
  const created = await fetch(`${nodes[0]!.baseUrl}/api/tenants/?createDB=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(seedTenant('dl-two', { conversionPoints: [{ id: 'hook', type: 'webhook', eventType: 'read', connectionInformation: { url: receiver.url('/hook') } }] })),
  });
  expect(created.status).toBe(201);
  const secret = await fetch(`${nodes[0]!.baseUrl}/api/tenants/dl-two/conversionPoints/hook/secret`, { headers: { authorization: `Bearer ${adminToken}` } });
  receiver.secrets = [((await secret.json()) as { secret: string }).secret];
  nodes.push(await startMiddleware(env(dataDirs[1]!), 120_000));

  store = await CassandraStore.open({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter, registryKeyspace: registry, replication: { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] } });
  const tenant = (await store.getTenant('dl-two'))!;
  const base = Date.now();
  const events = Array.from({ length: EVENTS }, (_, index) => makeEvent('dl-two', 'read', index + 1, `u${index % 97}@example.org`, base + (index % 1000)));
  const recordStart = Date.now();
  for (let start = 0; start < events.length; start += 200) await store.recordEvents(tenant, events.slice(start, start + 200));
  console.log(`[delivery-cassandra] ${EVENTS} events recorded in ${Date.now() - recordStart} ms`);
  const ids = events.map((event) => event.eventId);
  expect(new Set(ids).size).toBe(EVENTS);

  const progress = (): string => `${receiver.accepted().size} of ${EVENTS} accepted, ${receiver.requests.length} requests`;
  await waitFor('half of the events delivered', () => receiver.accepted().size >= EVENTS / 2, 300_000, progress);
  // One node dies mid-work: its leases run out and the other takes its shards.
  process.kill(nodes[1]!.pid, 'SIGKILL');
  await nodes[1]!.stop();
  await waitFor('every event delivered', () => {
    const accepted = receiver.accepted();
    return ids.every((id) => accepted.has(id));
  }, 300_000, progress);

  console.log(`[delivery-cassandra] all delivered ${Date.now() - recordStart} ms after recording began`);
  expect(receiver.overlaps).toEqual(new Set());
  const known = new Set(ids);
  expect(receiver.requests.every((request) => known.has(request.id) && request.verified)).toBe(true);
  const repeated = [...receiver.accepted().values()].filter((count) => count > 1).length;
  // Only attempts in flight on the killed node when it died can be sent again.
  expect(repeated).toBeLessThanOrEqual(128);
}, 900_000);
