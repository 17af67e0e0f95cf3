/**
 * The delivery outbox as both stores keep it: one Delivery per (conversion point, event), written
 * in the same write as the event (store/embedded-deliveries.ts, cassandra/cassandra-deliveries.ts),
 * a due queue sharded like events so several middleware nodes can split the work by shard lease,
 * an attempt log per delivery, and a state per conversion point (its secrets and its health).
 *
 * A delivery's id on the wire is the event id: the same on every attempt and every node, so a
 * receiver de-duplicates on `webhook-id`.
 */
import type { TenantRef } from '../store/store.js';

/** Shards of the due queue: the unit a node leases. 16 spreads work over up to 16 nodes. */
export const DELIVERY_SHARDS = 16;

/** pending: waits for its next attempt (or for the first); delivered: a 2xx came back;
 *  dead: the schedule ran out, or the point answered 410. Dead deliveries are kept and can be
 *  resent. */
export type DeliveryState = 'pending' | 'delivered' | 'dead';

export interface Delivery {
  readonly pointId: string;
  readonly eventId: string;
  readonly eventType: string;
  /** The event as delivered (`data` of the webhook body): JSON values only. */
  readonly event: Readonly<Record<string, unknown>>;
  readonly state: DeliveryState;
  /** Attempts made so far. */
  readonly attempts: number;
  /** Failed attempts since the delivery was made or last resent: the position in the retry
   *  schedule (a resend starts the schedule again). */
  readonly step: number;
  /** When the next attempt is due (pending only). */
  readonly dueAtMs: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  /** Status code or error of the last attempt. */
  readonly lastResult?: string;
}

export interface DeliveryAttempt {
  readonly pointId: string;
  readonly eventId: string;
  readonly attempt: number;
  readonly atMs: number;
  readonly latencyMs: number;
  /** HTTP status; absent when there was no answer (network error, timeout, refused address). */
  readonly status?: number;
  /** First 1 KB of the response body, or the error text. */
  readonly response?: string;
  readonly error?: string;
  readonly ok: boolean;
}

export interface PointSecret {
  readonly secret: string;
  readonly createdAtMs: number;
  /** A rotated-out secret still signs until then (24 h), so receivers can roll over. */
  readonly retiresAtMs?: number;
}

export interface PointState {
  readonly secrets: readonly PointSecret[];
  readonly disabled?: { readonly reason: string; readonly atMs: number };
  readonly lastSuccessAtMs?: number;
  readonly lastFailureAtMs?: number;
  /** First failure after the last success: 5 days of that disables the point. */
  readonly failingSinceMs?: number;
  readonly lastError?: string;
}

/** What the dispatcher decided after an attempt, applied atomically with the attempt log entry. */
export interface AttemptOutcome {
  readonly attempt: DeliveryAttempt;
  /** The delivery as it was taken from the queue (its queue entry is replaced). */
  readonly previous: Delivery;
  /** The delivery after the attempt (state, attempts, dueAtMs, lastResult). */
  readonly next: Delivery;
  /** Point health changes this attempt causes. */
  readonly point: PointStateChange;
}

export type PointStateChange =
  | { readonly kind: 'none' }
  | { readonly kind: 'success'; readonly atMs: number }
  | { readonly kind: 'failure'; readonly atMs: number; readonly error: string; readonly disable?: string };

export type RecoverWhich = 'failed' | 'pending';

export interface DeliveryListQuery {
  readonly pointId: string;
  readonly limit: number;
  readonly state?: DeliveryState;
}

/**
 * The delivery tables of one store. Every method that changes more than one row does it
 * atomically (LMDB transaction / logged batch): a delivery and its queue entry never disagree
 * for longer than a crash between them, and the queue is repaired from the delivery row.
 */
export interface DeliveryStore {
  /** Leases `shard` of the tenant's queue to `owner` for `ttlMs` (or extends its own lease).
   *  False when another owner holds it. */
  leaseShard(tenant: TenantRef, shard: number, owner: string, ttlMs: number): Promise<boolean>;
  /** Pending deliveries of one shard due at or before `nowMs`, earliest first, from at most
   *  `limit` queue entries. Entries `skip` names (attempts the caller has in flight, still first in
   *  the queue) are passed over without reading their delivery. */
  dueDeliveries(tenant: TenantRef, shard: number, nowMs: number, limit: number, skip?: (pointId: string, eventId: string) => boolean): Promise<Delivery[]>;
  /** Writes the attempt log entry, the delivery's next state and its queue entry, and the point's health. */
  recordAttempt(tenant: TenantRef, outcome: AttemptOutcome, retentionMs: number): Promise<void>;
  getDelivery(tenant: TenantRef, pointId: string, eventId: string): Promise<Delivery | undefined>;
  /** Newest first. */
  listDeliveries(tenant: TenantRef, query: DeliveryListQuery): Promise<Delivery[]>;
  /** Oldest first. */
  listAttempts(tenant: TenantRef, pointId: string, eventId: string): Promise<DeliveryAttempt[]>;
  /** Makes the delivery pending and due now (resend); false if there is none. */
  requeue(tenant: TenantRef, pointId: string, eventId: string, nowMs: number): Promise<boolean>;
  /** Makes due now every delivery of the point created at or after `sinceMs` that is `which`
   *  (failed: dead, or pending after a failed attempt; pending: every pending one, as when a
   *  disabled point is enabled); returns how many. */
  recover(tenant: TenantRef, pointId: string, sinceMs: number, nowMs: number, which: RecoverWhich): Promise<number>;
  /** Pending deliveries of the point. */
  backlog(tenant: TenantRef, pointId: string): Promise<number>;
  getPointState(tenant: TenantRef, pointId: string): Promise<PointState | undefined>;
  /** Atomically replaces the point's state with `change(current)`; returns the new state. */
  changePointState(tenant: TenantRef, pointId: string, change: (current: PointState | undefined) => PointState): Promise<PointState>;
  /** Removes attempt logs and finished deliveries older than `beforeMs` (embedded: Cassandra's
   *  TTL does this itself). Returns how many rows went. */
  sweep(tenant: TenantRef, beforeMs: number): Promise<number>;
}
