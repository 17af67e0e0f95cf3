/**
 * The delivery outbox in the embedded (LMDB) store, under the tenant's key prefix like every
 * table of the plan (so dropDB removes it):
 *
 * - ['row', ks, 'deliveries', pointId, eventId]                        the delivery
 * - ['row', ks, 'delivery_queue', shard, dueAtMs, pointId, eventId]    pending ones, by due time
 * - ['row', ks, 'delivery_log', pointId, createdAtMs, eventId]         for newest-first listing
 * - ['row', ks, 'delivery_attempts', pointId, eventId, attempt]       every attempt
 * - ['row', ks, 'delivery_points', pointId]                            secrets and health
 * - ['row', ks, 'delivery_leases', shard]                              which process works a shard
 *
 * `stageDeliveries` runs inside the transaction that records the events (embedded-views.ts), so
 * an event and its deliveries are committed together. A delivery already staged is left alone:
 * recording an event again must not reset a delivery that was made.
 */
import type { Key, RootDatabase } from 'lmdb';
import type { Tenant } from '@inlay/schemas';
import { atomically } from './embedded-atomic.js';
import type { TenantRef } from './store.js';
import type { EngineEventRecord } from './view-types.js';
import { DELIVERY_SHARDS, type AttemptOutcome, type Delivery, type DeliveryAttempt, type DeliveryListQuery, type DeliveryStore, type PointState, type RecoverWhich } from '../delivery/delivery-types.js';
import { deliveryShard, plannedDeliveries } from '../delivery/plan.js';
import { applyPointChange, isRecovered, requeued } from '../delivery/point-health.js';

interface Lease {
  readonly owner: string;
  readonly untilMs: number;
}

const row = (tenant: TenantRef, table: string, ...rest: (string | number)[]): Key[] => ['row', tenant.keyspaceName, table, ...rest];

/** Must run inside the `atomically` that writes the events. */
export function stageDeliveries(db: RootDatabase<unknown, Key>, tenant: TenantRef, events: readonly EngineEventRecord[], nowMs: number): void {
  const byTenant = new Map<string, Tenant | undefined>();
  for (const event of events) {
    if (!byTenant.has(event.tenantId)) byTenant.set(event.tenantId, db.get(['tenant', event.tenantId]) as Tenant | undefined);
    const points = byTenant.get(event.tenantId)?.conversionPoints ?? [];
    for (const delivery of plannedDeliveries(points, event, nowMs)) {
      if (db.get(row(tenant, 'deliveries', delivery.pointId, delivery.eventId)) !== undefined) continue;
      putDelivery(db, tenant, delivery, undefined);
      void db.put(row(tenant, 'delivery_log', delivery.pointId, delivery.createdAtMs, delivery.eventId), null);
    }
  }
}

/** Writes the delivery and moves its queue entry; must run inside `atomically`. */
function putDelivery(db: RootDatabase<unknown, Key>, tenant: TenantRef, next: Delivery, previous: Delivery | undefined): void {
  const shard = deliveryShard(next.eventId);
  if (previous?.state === 'pending') void db.remove(row(tenant, 'delivery_queue', shard, previous.dueAtMs, previous.pointId, previous.eventId));
  if (next.state === 'pending') void db.put(row(tenant, 'delivery_queue', shard, next.dueAtMs, next.pointId, next.eventId), null);
  void db.put(row(tenant, 'deliveries', next.pointId, next.eventId), next);
}

export class EmbeddedDeliveries implements DeliveryStore {
  constructor(private readonly db: RootDatabase<unknown, Key>) {}

  leaseShard(tenant: TenantRef, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    return atomically(this.db, () => {
      const now = Date.now();
      const key = row(tenant, 'delivery_leases', shard);
      const current = this.db.get(key) as Lease | undefined;
      if (current !== undefined && current.owner !== owner && current.untilMs > now) return false;
      void this.db.put(key, { owner, untilMs: now + ttlMs } satisfies Lease);
      return true;
    });
  }

  async dueDeliveries(tenant: TenantRef, shard: number, nowMs: number, limit: number, skip?: (pointId: string, eventId: string) => boolean): Promise<Delivery[]> {
    const due: Delivery[] = [];
    let seen = 0;
    for (const { key } of this.range(row(tenant, 'delivery_queue', shard))) {
      if (seen++ >= limit || Number(key[4]) > nowMs) break;
      if (skip?.(String(key[5]), String(key[6])) === true) continue;
      const delivery = this.db.get(row(tenant, 'deliveries', String(key[5]), String(key[6]))) as Delivery | undefined;
      if (delivery?.state === 'pending') due.push(delivery);
    }
    return due;
  }

  async recordAttempt(tenant: TenantRef, outcome: AttemptOutcome, _retentionMs: number): Promise<void> {
    const { attempt, next } = outcome;
    await atomically(this.db, () => {
      const previous = this.db.get(row(tenant, 'deliveries', next.pointId, next.eventId)) as Delivery | undefined;
      void this.db.put(row(tenant, 'delivery_attempts', attempt.pointId, attempt.eventId, attempt.attempt), attempt);
      putDelivery(this.db, tenant, next, previous);
      const pointKey = row(tenant, 'delivery_points', next.pointId);
      void this.db.put(pointKey, applyPointChange(this.db.get(pointKey) as PointState | undefined, outcome.point));
    });
  }

  async getDelivery(tenant: TenantRef, pointId: string, eventId: string): Promise<Delivery | undefined> {
    return this.db.get(row(tenant, 'deliveries', pointId, eventId)) as Delivery | undefined;
  }

  async listDeliveries(tenant: TenantRef, query: DeliveryListQuery): Promise<Delivery[]> {
    const prefix = row(tenant, 'delivery_log', query.pointId);
    const found: Delivery[] = [];
    for (const entry of this.db.getRange({ start: [...prefix, Number.MAX_SAFE_INTEGER] as Key, end: prefix as Key, reverse: true })) {
      const key = entry.key as Key[];
      if (!samePrefix(key, prefix) || found.length >= query.limit) break;
      const delivery = this.db.get(row(tenant, 'deliveries', query.pointId, String(key[5]))) as Delivery | undefined;
      if (delivery !== undefined && (query.state === undefined || delivery.state === query.state)) found.push(delivery);
    }
    return found;
  }

  async listAttempts(tenant: TenantRef, pointId: string, eventId: string): Promise<DeliveryAttempt[]> {
    return [...this.range(row(tenant, 'delivery_attempts', pointId, eventId))].map(({ value }) => value as DeliveryAttempt);
  }

  requeue(tenant: TenantRef, pointId: string, eventId: string, nowMs: number): Promise<boolean> {
    return atomically(this.db, () => {
      const current = this.db.get(row(tenant, 'deliveries', pointId, eventId)) as Delivery | undefined;
      if (current === undefined) return false;
      putDelivery(this.db, tenant, requeued(current, nowMs), current);
      return true;
    });
  }

  recover(tenant: TenantRef, pointId: string, sinceMs: number, nowMs: number, which: RecoverWhich): Promise<number> {
    return atomically(this.db, () => {
      let count = 0;
      for (const { key } of [...this.range(row(tenant, 'delivery_log', pointId))]) {
        if (Number(key[4]) < sinceMs) continue;
        const current = this.db.get(row(tenant, 'deliveries', pointId, String(key[5]))) as Delivery | undefined;
        if (current === undefined || !isRecovered(current, which)) continue;
        putDelivery(this.db, tenant, requeued(current, nowMs), current);
        count++;
      }
      return count;
    });
  }

  async backlog(tenant: TenantRef, pointId: string): Promise<number> {
    let count = 0;
    for (let shard = 0; shard < DELIVERY_SHARDS; shard++) {
      for (const { key } of this.range(row(tenant, 'delivery_queue', shard))) if (key[5] === pointId) count++;
    }
    return count;
  }

  async getPointState(tenant: TenantRef, pointId: string): Promise<PointState | undefined> {
    return this.db.get(row(tenant, 'delivery_points', pointId)) as PointState | undefined;
  }

  changePointState(tenant: TenantRef, pointId: string, change: (current: PointState | undefined) => PointState): Promise<PointState> {
    return atomically(this.db, () => {
      const key = row(tenant, 'delivery_points', pointId);
      const next = change(this.db.get(key) as PointState | undefined);
      void this.db.put(key, next);
      return next;
    });
  }

  sweep(tenant: TenantRef, beforeMs: number): Promise<number> {
    return atomically(this.db, () => {
      let removed = 0;
      for (const { key, value } of [...this.range(row(tenant, 'deliveries'))]) {
        const delivery = value as Delivery;
        if (delivery.state === 'pending' || delivery.updatedAtMs >= beforeMs) continue;
        for (const attempt of [...this.range(row(tenant, 'delivery_attempts', delivery.pointId, delivery.eventId))]) void this.db.remove(attempt.key);
        void this.db.remove(row(tenant, 'delivery_log', delivery.pointId, delivery.createdAtMs, delivery.eventId));
        void this.db.remove(key);
        removed++;
      }
      return removed;
    });
  }

  /** Entries under `prefix` (strictly longer keys), in key order. */
  private *range(prefix: readonly Key[]): Generator<{ key: Key[]; value: unknown }> {
    for (const entry of this.db.getRange({ start: prefix as Key })) {
      const key = entry.key as Key[];
      if (!samePrefix(key, prefix)) return;
      if (key.length === prefix.length) continue;
      yield { key, value: entry.value };
    }
  }
}

function samePrefix(key: unknown, prefix: readonly unknown[]): key is Key[] {
  return Array.isArray(key) && prefix.every((part, index) => key[index] === part);
}
