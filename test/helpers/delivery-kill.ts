/**
 * The SIGKILL scenario of issue 12 ("the middleware killed with SIGKILL while deliveries are in
 * flight, restarted → every event delivered, duplicates only with the same webhook-id"), shared by
 * the embedded store (delivery-kill.test.ts) and Cassandra (delivery-cassandra-kill.test.ts): the
 * built middleware as a real process delivers to a slow receiver, is killed mid-work, and is
 * started again on the same store. Events are recorded by the test process through the store, as
 * the engine records them. Test support only: imports vitest.
 */
import { expect } from 'vitest';
import type { EngineEventRecord } from '../../middleware/src/store/view-types.ts';
import type { WebhookReceiver } from '../../middleware/src/testing/webhook-receiver.ts';
import { makeEvent, waitFor } from '../../middleware/src/testing/delivery-fixture.ts';
import { seedTenant } from '../../middleware/src/testing/test-app.ts';
import { startMiddleware, type RunningMiddleware } from './middleware.ts';

export interface KillScenario {
  readonly tenantId: string;
  readonly adminToken: string;
  readonly events: number;
  /** Attempts in flight per node (INLAY_DELIVERY_CONCURRENCY): the most that may come twice. */
  readonly concurrency: number;
  /** The receiver answers slowly enough that the kill finds attempts in flight. */
  readonly receiver: WebhookReceiver;
  /** INLAY_* variables of the node (store, data directory); the delivery settings are added. */
  readonly env: Record<string, string>;
  readonly startupTimeoutMs?: number;
  /** Records the events through the store, as the engine would. */
  record(tenantId: string, events: EngineEventRecord[]): Promise<void>;
  /** Where the test keeps the running node, so its afterAll can stop it. */
  onNode(node: RunningMiddleware): void;
}

export async function killWhileDelivering(scenario: KillScenario): Promise<void> {
  const env = {
    ...scenario.env,
    INLAY_ADMIN_TOKEN: scenario.adminToken,
    INLAY_DELIVERY_ALLOWED_NETWORKS: '127.0.0.0/8',
    INLAY_DELIVERY_RETRY_SCHEDULE: '1,1,1,1,1',
    // A restarted node takes the dead one's shards once its lease ran out: short leases need short attempts.
    INLAY_DELIVERY_ATTEMPT_TIMEOUT_MS: '2000',
    INLAY_DELIVERY_LEASE_MS: '8000',
    INLAY_DELIVERY_CONCURRENCY: String(scenario.concurrency),
  };
  let node = await startMiddleware(env, scenario.startupTimeoutMs);
  scenario.onNode(node);
  const created = await fetch(`${node.baseUrl}/api/tenants/?createDB=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${scenario.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(seedTenant(scenario.tenantId, { conversionPoints: [{ id: 'hook', type: 'webhook', eventType: 'read', connectionInformation: { url: scenario.receiver.url('/hook') } }] })),
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const secret = await fetch(`${node.baseUrl}/api/tenants/${scenario.tenantId}/conversionPoints/hook/secret`, { headers: { authorization: `Bearer ${scenario.adminToken}` } });
  scenario.receiver.secrets = [((await secret.json()) as { secret: string }).secret];

  const events = Array.from({ length: scenario.events }, (_, index) => makeEvent(scenario.tenantId, 'read', index + 1));
  for (let start = 0; start < events.length; start += 50) await scenario.record(scenario.tenantId, events.slice(start, start + 50));
  const ids = events.map((event) => event.eventId);

  await waitFor('some deliveries', () => scenario.receiver.requests.length >= Math.min(40, scenario.events / 10), 60_000);
  process.kill(node.pid, 'SIGKILL');
  await node.stop();
  expect(scenario.receiver.accepted().size).toBeLessThan(scenario.events);

  node = await startMiddleware(env, scenario.startupTimeoutMs);
  scenario.onNode(node);
  const progress = (): string => `${scenario.receiver.accepted().size} of ${scenario.events} accepted`;
  await waitFor('every event delivered after the restart', () => ids.every((id) => scenario.receiver.accepted().has(id)), 120_000, progress);

  const known = new Set(ids);
  expect(scenario.receiver.requests.every((request) => known.has(request.id) && request.verified)).toBe(true);
  expect(scenario.receiver.overlaps).toEqual(new Set());
  const repeated = [...scenario.receiver.accepted().entries()].filter(([, count]) => count > 1);
  // Only what was in flight at the kill (or answered but not yet recorded) may come twice, and
  // always under its own webhook-id: every request above carried a known event id.
  expect(repeated.length).toBeLessThanOrEqual(scenario.concurrency);
}
