// The built middleware as a real process on the embedded store, killed with SIGKILL while
// deliveries are in flight and started again: every event is still delivered, and a delivery
// sent twice is sent with the same webhook-id (test/helpers/delivery-kill.ts; the same scenario
// on Cassandra: delivery-cassandra-kill.test.ts). Events are recorded by this test process into
// the same LMDB file (LMDB serves several processes), as the engine would record them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../middleware/src/testing/webhook-receiver.ts';
import { killWhileDelivering } from '../helpers/delivery-kill.ts';
import type { RunningMiddleware } from '../helpers/middleware.ts';

let dataDir: string;
let receiver: WebhookReceiver;
let middleware: RunningMiddleware | undefined;

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
  await killWhileDelivering({
    tenantId: 'kill',
    adminToken: 'kill-test-admin-token-0123456789abcdef',
    events: 400,
    concurrency: 16,
    receiver,
    env: { INLAY_DATA_DIR: dataDir },
    onNode: (node) => (middleware = node),
    async record(tenantId, events) {
      const store = EmbeddedStore.open(dataDir);
      try {
        await store.recordEvents((await store.getTenant(tenantId))!, events);
      } finally {
        await store.close();
      }
    },
  });
}, 180_000);
