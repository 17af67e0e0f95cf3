// Two built middleware processes on one embedded store (LMDB serves several processes of one
// host): they split the delivery outbox by shard lease, every event is delivered, and no delivery
// is ever attempted by both at once (the receiver watches for two requests of one webhook-id in
// flight together). The Cassandra form, with 10,000 events and a kill: delivery-cassandra.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../middleware/src/testing/webhook-receiver.ts';
import { makeEvent, waitFor } from '../../middleware/src/testing/delivery-fixture.ts';
import { seedTenant } from '../../middleware/src/testing/test-app.ts';
import { startMiddleware, type RunningMiddleware } from '../helpers/middleware.ts';

const adminToken = 'two-nodes-admin-token-0123456789abcdef';
const EVENTS = 2000;
let dataDir: string;
let receiver: WebhookReceiver;
const nodes: RunningMiddleware[] = [];

const env = (): Record<string, string> => ({
  INLAY_DATA_DIR: dataDir,
  INLAY_ADMIN_TOKEN: adminToken,
  INLAY_DELIVERY_ALLOWED_NETWORKS: '127.0.0.0/8',
  INLAY_DELIVERY_RETRY_SCHEDULE: '1,1,1,1,1',
  INLAY_DELIVERY_CONCURRENCY: '32',
});

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-two-'));
  // Answers take a while, so both nodes have attempts in flight at once.
  receiver = await startWebhookReceiver({ answer: () => ({ status: 200, delayMs: 20 }) });
});

afterAll(async () => {
  for (const node of nodes) await node.stop();
  await receiver.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('two nodes on one embedded store deliver every event, none attempted by both at once, repeats rare and under the same id', async () => {
  nodes.push(await startMiddleware(env()));
  const created = await fetch(`${nodes[0]!.baseUrl}/api/tenants/?createDB=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(seedTenant('two', { conversionPoints: [{ id: 'hook', type: 'webhook', eventType: 'read', connectionInformation: { url: receiver.url('/hook') } }] })),
  });
  expect(created.status).toBe(201);
  const secret = await fetch(`${nodes[0]!.baseUrl}/api/tenants/two/conversionPoints/hook/secret`, { headers: { authorization: `Bearer ${adminToken}` } });
  receiver.secrets = [((await secret.json()) as { secret: string }).secret];
  nodes.push(await startMiddleware(env()));

  const events = Array.from({ length: EVENTS }, (_, index) => makeEvent('two', 'read', index + 1, `u${index % 37}@example.org`));
  const store = EmbeddedStore.open(dataDir);
  try {
    const tenant = (await store.getTenant('two'))!;
    for (let start = 0; start < events.length; start += 100) await store.recordEvents(tenant, events.slice(start, start + 100));
  } finally {
    await store.close();
  }
  const ids = events.map((event) => event.eventId);
  await waitFor('every event delivered', () => ids.every((id) => receiver.accepted().has(id)), 120_000, () => `${receiver.accepted().size} of ${EVENTS}`);

  expect(receiver.overlaps).toEqual(new Set());
  expect(receiver.requests.every((request) => request.verified)).toBe(true);
  // At-least-once on the wire: a node stalled past its shard lease (seen once in a loaded CI run)
  // hands the shard over, and a delivery it had sent but not yet recorded goes out again, after
  // it and under the same webhook-id, never beside it (the overlap check above). Such repeats
  // stay rare: at most one per hundred events.
  const repeats = [...receiver.accepted().values()].reduce((sum, count) => sum + count - 1, 0);
  expect(repeats).toBeLessThanOrEqual(EVENTS / 100);
  expect(receiver.requests).toHaveLength(EVENTS + repeats);
}, 180_000);
