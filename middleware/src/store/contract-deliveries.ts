/**
 * The delivery part of the Store contract (contract.ts runs it for every store): events recorded
 * with their deliveries, a repeated record that changes nothing made, the due queue by shard,
 * attempts moving a delivery along, exclusive shard leases, resend, recover, the listing and the
 * backlog, and point state by compare-and-set. Test support only: imports vitest.
 */
import { describe, expect, test } from 'vitest';
import type { ConversionPoint, Tenant } from '@inlay/schemas';
import type { Store } from './store.js';
import { eventId } from '../engine/events.js';
import type { EngineEventRecord } from './view-types.js';
import { DELIVERY_SHARDS, type Delivery } from '../delivery/delivery-types.js';
import { deliveryShard } from '../delivery/plan.js';
import { decideOutcome } from '../delivery/outcome.js';

const RETENTION_MS = 90 * 86_400_000;

function point(id: string, eventType: ConversionPoint['eventType']): ConversionPoint {
  return { id, type: 'webhook', eventType, connectionInformation: { url: `https://hooks.example/${id}` } };
}

function event(tenant: Tenant, type: EngineEventRecord['type'], uid: number, occurredAtMs: number): EngineEventRecord {
  const subject = { tenantId: tenant.id, view: { keyspaceName: tenant.keyspaceName, userKey: 'u@example.org', mailbox: 'INBOX' }, uidValidity: 3 };
  return {
    eventId: eventId(subject, uid, type, occurredAtMs),
    type,
    tenantId: tenant.id,
    userKey: 'u@example.org',
    mailbox: 'INBOX',
    uidValidity: 3,
    uid,
    campaignId: '6c5a3f10-4e2b-11ef-8000-0242ac120002',
    variantId: null,
    objectId: `3:${uid}`,
    messageId: `<m${uid}@example.org>`,
    occurredAt: new Date(occurredAtMs),
  };
}

export function describeDeliveryContract(store: () => Store, newTenant: (overrides: Partial<Tenant>) => Tenant): void {
  describe('deliveries', () => {
    async function tenantWithPoints(): Promise<Tenant> {
      const tenant = newTenant({ conversionPoints: [point('reads', 'read'), point('reads-too', 'read'), point('gone', 'expunged')] });
      await store().createTenant(tenant, { createDB: true });
      return tenant;
    }

    async function allDue(tenant: Tenant, nowMs: number): Promise<Delivery[]> {
      const due: Delivery[] = [];
      for (let shard = 0; shard < DELIVERY_SHARDS; shard++) due.push(...(await store().deliveries.dueDeliveries(tenant, shard, nowMs, 1000)));
      return due;
    }

    test('an event is recorded with one delivery per point taking its type; recording it again makes nothing new', async () => {
      const tenant = await tenantWithPoints();
      const read = event(tenant, 'read', 1, Date.now() - 1000);
      const injected = event(tenant, 'injected', 1, Date.now() - 1000);
      await store().recordEvents(tenant, [read, injected]);
      // After the write: a store may stage deliveries due at the time it writes them.
      const now = Date.now();
      const due = await allDue(tenant, now);
      expect(due.map((delivery) => delivery.pointId).sort()).toEqual(['reads', 'reads-too']);
      expect(due[0]).toMatchObject({ eventId: read.eventId, eventType: 'read', state: 'pending', attempts: 0, event: { id: read.eventId, uid: 1, occurredAt: read.occurredAt.toISOString() } });
      expect(await store().deliveries.dueDeliveries(tenant, deliveryShard(read.eventId), now, 1000)).toHaveLength(2);

      const delivered = decideOutcome(due[0]!, { ok: true, latencyMs: 4, status: 200, response: 'ok' }, [5000], now);
      await store().deliveries.recordAttempt(tenant, delivered, RETENTION_MS);
      await store().recordEvents(tenant, [read]);
      expect(await store().deliveries.getDelivery(tenant, due[0]!.pointId, read.eventId)).toMatchObject({ state: 'delivered', attempts: 1 });
      expect((await allDue(tenant, now)).map((delivery) => delivery.pointId)).toEqual([due[1]!.pointId]);
      expect(await store().deliveries.listAttempts(tenant, due[0]!.pointId, read.eventId)).toEqual([{ pointId: due[0]!.pointId, eventId: read.eventId, attempt: 1, atMs: now, latencyMs: 4, status: 200, response: 'ok', ok: true }]);
      expect((await store().deliveries.getPointState(tenant, due[0]!.pointId))?.lastSuccessAtMs).toBe(now);
    });

    test('a failed attempt moves the delivery to its next due time; resend and recover make it due now', async () => {
      const tenant = await tenantWithPoints();
      const gone = event(tenant, 'expunged', 2, Date.now() - 5000);
      await store().recordEvents(tenant, [gone]);
      const now = Date.now();
      const [due] = await allDue(tenant, now);
      const failed = decideOutcome(due!, { ok: false, latencyMs: 1, error: 'ECONNREFUSED' }, [60_000], now, () => 0.5);
      await store().deliveries.recordAttempt(tenant, failed, RETENTION_MS);
      expect(await allDue(tenant, now)).toEqual([]);
      expect(await allDue(tenant, now + 60_000)).toMatchObject([{ eventId: gone.eventId, attempts: 1, step: 1, lastResult: 'ECONNREFUSED' }]);
      expect(await store().deliveries.backlog(tenant, 'gone')).toBe(1);
      expect(await store().deliveries.getPointState(tenant, 'gone')).toMatchObject({ lastFailureAtMs: now, lastError: 'ECONNREFUSED' });

      const dead = decideOutcome(failed.next, { ok: false, latencyMs: 1, status: 500 }, [60_000], now + 60_000);
      await store().deliveries.recordAttempt(tenant, dead, RETENTION_MS);
      expect(dead.next.state).toBe('dead');
      expect(await store().deliveries.backlog(tenant, 'gone')).toBe(0);
      expect(await store().deliveries.listDeliveries(tenant, { pointId: 'gone', limit: 10, state: 'dead' })).toMatchObject([{ eventId: gone.eventId, attempts: 2 }]);
      expect(await store().deliveries.recover(tenant, 'gone', gone.occurredAt.getTime() + 1, now, 'failed')).toBe(0);
      expect(await store().deliveries.recover(tenant, 'gone', now - 60_000, now, 'failed')).toBe(1);
      expect(await allDue(tenant, now)).toMatchObject([{ eventId: gone.eventId, state: 'pending', step: 0, attempts: 2 }]);
      expect(await store().deliveries.requeue(tenant, 'gone', gone.eventId, now + 5)).toBe(true);
      expect(await allDue(tenant, now)).toEqual([]);
      expect(await allDue(tenant, now + 5)).toHaveLength(1);
      expect(await store().deliveries.requeue(tenant, 'gone', '5f0c1d00-e000-11ee-8000-0123456789ab', now)).toBe(false);
    });

    test('a point failing for 5 days without a success is disabled and says why; a success in between keeps it enabled', async () => {
      const tenant = await tenantWithPoints();
      const now = Date.now();
      const DAY = 86_400_000;
      // Each point's first secret dates from six days ago (the dispatcher makes one before the first attempt).
      for (const pointId of ['reads', 'reads-too']) await store().deliveries.changePointState(tenant, pointId, () => ({ secrets: [{ secret: `whsec_${pointId}`, createdAtMs: now - 6 * DAY }] }));
      const [first, second] = [event(tenant, 'read', 40, now - 6 * DAY + 1000), event(tenant, 'read', 41, now - 6 * DAY + 2000)];
      await store().recordEvents(tenant, [first!, second!]);
      const fail = async (pointId: string, eventId: string, atMs: number, ok = false): Promise<void> => {
        const delivery = (await store().deliveries.getDelivery(tenant, pointId, eventId))!;
        await store().deliveries.recordAttempt(tenant, decideOutcome(delivery, ok ? { ok: true, latencyMs: 1, status: 204 } : { ok: false, latencyMs: 1, status: 503 }, [3_600_000, 3_600_000, 3_600_000], atMs), RETENTION_MS);
      };
      await fail('reads', first!.eventId, now - 6 * DAY + 3_600_000);
      await fail('reads-too', first!.eventId, now - 6 * DAY + 3_600_000);
      await fail('reads-too', second!.eventId, now - DAY, true);
      await fail('reads', second!.eventId, now);
      await fail('reads-too', first!.eventId, now);
      expect((await store().deliveries.getPointState(tenant, 'reads'))?.disabled).toMatchObject({ reason: 'every delivery failed for 5 days without a success' });
      expect((await store().deliveries.getPointState(tenant, 'reads-too'))?.disabled).toBeUndefined();
    });

    test('a shard lease is held by one owner at a time', async () => {
      const tenant = await tenantWithPoints();
      expect(await store().deliveries.leaseShard(tenant, 3, 'node-a', 30_000)).toBe(true);
      expect(await store().deliveries.leaseShard(tenant, 3, 'node-b', 30_000)).toBe(false);
      expect(await store().deliveries.leaseShard(tenant, 3, 'node-a', 30_000)).toBe(true);
      expect(await store().deliveries.leaseShard(tenant, 4, 'node-b', 30_000)).toBe(true);
      const contenders = await Promise.all(['x', 'y', 'z'].map((owner) => store().deliveries.leaseShard(tenant, 5, owner, 30_000)));
      expect(contenders.filter(Boolean)).toHaveLength(1);
    });

    test('point state changes by compare-and-set: concurrent changes are all kept', async () => {
      const tenant = await tenantWithPoints();
      expect(await store().deliveries.getPointState(tenant, 'reads')).toBeUndefined();
      await Promise.all(
        [1, 2, 3, 4].map((n) => store().deliveries.changePointState(tenant, 'reads', (current) => ({ ...(current ?? { secrets: [] }), secrets: [...(current?.secrets ?? []), { secret: `whsec_${n}`, createdAtMs: n }] }))),
      );
      expect((await store().deliveries.getPointState(tenant, 'reads'))?.secrets.map((secret) => secret.secret).sort()).toEqual(['whsec_1', 'whsec_2', 'whsec_3', 'whsec_4']);
    });
  });
}
