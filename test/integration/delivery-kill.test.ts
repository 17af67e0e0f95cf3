// The built middleware as a real process on the embedded store, killed with SIGKILL while
// deliveries are in flight and started again: every event is still delivered, and a delivery
// sent twice is sent with the same webhook-id. Events are recorded by this test process into the
// same LMDB file (LMDB serves several processes), as the engine would record them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../middleware/src/testing/webhook-receiver.ts';
import { makeEvent, waitFor } from '../../middleware/src/testing/delivery-fixture.ts';
import { seedTenant } from '../../middleware/src/testing/test-app.ts';
import { startMiddleware, type RunningMiddleware } from '../helpers/middleware.ts';

const adminToken = 'kill-test-admin-token-0123456789abcdef';
const EVENTS = 400;
let dataDir: string;
let receiver: WebhookReceiver;
let middleware: RunningMiddleware | undefined;

const env = (): Record<string, string> => ({
  INLAY_DATA_DIR: dataDir,
  INLAY_ADMIN_TOKEN: adminToken,
  INLAY_DELIVERY_ALLOWED_NETWORKS: '127.0.0.0/8',
  INLAY_DELIVERY_RETRY_SCHEDULE: '1,1,1,1,1',
  // A restarted node takes the dead one's shards once its lease ran out: short leases need short attempts.
  INLAY_DELIVERY_ATTEMPT_TIMEOUT_MS: '2000',
  INLAY_DELIVERY_LEASE_MS: '8000',
  INLAY_DELIVERY_CONCURRENCY: '16',
});

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-kill-'));
  // Slow answers, so the kill finds attempts in flight.
  receiver = await startWebhookReceiver({ answer: () => ({ status: 200, delayMs: 150 }) });
});

afterAll(async () => {
  await middleware?.stop();
  await receiver.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('SIGKILL with deliveries in flight, then a restart: every event delivered, repeats only under the same webhook-id', async () => {
  middleware = await startMiddleware(env());
  const created = await fetch(`${middleware.baseUrl}/api/tenants/?createDB=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(seedTenant('kill', { conversionPoints: [{ id: 'hook', type: 'webhook', eventType: 'read', connectionInformation: { url: receiver.url('/hook') } }] })),
  });
  expect(created.status).toBe(201);
  const secret = await fetch(`${middleware.baseUrl}/api/tenants/kill/conversionPoints/hook/secret`, { headers: { authorization: `Bearer ${adminToken}` } });
  receiver.secrets = [((await secret.json()) as { secret: string }).secret];

  const store = EmbeddedStore.open(dataDir);
  const ids: string[] = [];
  try {
    const tenant = (await store.getTenant('kill'))!;
    const events = Array.from({ length: EVENTS }, (_, index) => makeEvent('kill', 'read', index + 1));
    for (let start = 0; start < events.length; start += 50) await store.recordEvents(tenant, events.slice(start, start + 50));
    ids.push(...events.map((event) => event.eventId));
  } finally {
    await store.close();
  }

  await waitFor('some deliveries', () => receiver.requests.length >= 40);
  process.kill(middleware.pid, 'SIGKILL');
  await middleware.stop();
  const beforeRestart = receiver.requests.length;
  expect(beforeRestart).toBeLessThan(EVENTS);

  middleware = await startMiddleware(env());
  await waitFor('every event delivered', () => {
    const accepted = receiver.accepted();
    return ids.every((id) => accepted.has(id));
  }, 90_000);

  const known = new Set(ids);
  expect(receiver.requests.every((request) => known.has(request.id) && request.verified)).toBe(true);
  expect(receiver.overlaps).toEqual(new Set());
  const repeated = [...receiver.accepted().entries()].filter(([, count]) => count > 1);
  // Only what was in flight at the kill may come twice.
  expect(repeated.length).toBeLessThanOrEqual(16);
}, 180_000);
