/**
 * The delivery outbox on Cassandra (tables in store/delivery-tables.ts).
 *
 * - Staging: `stagingStatements` go into the logged batch that inserts the event
 *   (cassandra-views.ts), so the event and its deliveries land together. They are written with
 *   the event's time as write timestamp: recording the event again rewrites them with the same
 *   old timestamp, which loses against every later change (an attempt, a delete of the queue
 *   entry) — a delivery made is never made pending again by a repeated report.
 * - Leases: one row per shard of the due queue, `IF NOT EXISTS` / `IF owner = ?` with a TTL, so
 *   one node at a time takes a shard's due deliveries, and a dead node's shard is free once its
 *   TTL runs out.
 * - Every change of a delivery rewrites its whole row and moves its queue entry in one logged
 *   batch. Finished rows and attempts carry the retention TTL; pending rows none.
 * - Point health: success and failure times as plain columns written with the attempt's time as
 *   timestamp (the latest wins without a read); secrets and `disabled` as JSON changed by
 *   compare-and-set on `version` (rare: creation, rotation, 410, 5 days failing, operator).
 */
import cassandra from 'cassandra-driver';
import type { ConversionPoint } from '@inlay/schemas';
import { MiddlewareError } from '../../errors.js';
import type { TenantRef } from '../store.js';
import type { EngineEventRecord } from '../view-types.js';
import { DELIVERY_SHARDS, type AttemptOutcome, type Delivery, type DeliveryAttempt, type DeliveryListQuery, type DeliveryStore, type PointState, type RecoverWhich } from '../../delivery/delivery-types.js';
import { deliveryShard, plannedDeliveries } from '../../delivery/plan.js';
import { DISABLE_AFTER_FAILING_MS } from '../../delivery/schedule.js';
import { isRecovered, requeued } from '../../delivery/point-health.js';
import { quoteIdentifier } from './cql-schema.js';
import { translateDriverError } from './cassandra-errors.js';
import { allCqlRows, runCql } from './cql-run.js';

const { consistencies } = cassandra.types;
type Row = cassandra.types.Row;
type Query = { query: string; params: unknown[] };

const DAY_MS = 86_400_000;
/** Compare-and-set rounds on a point's state before CONCURRENT_UPDATE. */
const MAX_POINT_CAS_ATTEMPTS = 20;
/** Delivery rows read at once when a queue page or a log day is resolved. */
const READ_CONCURRENCY = 64;
/** How far back the log listing and recover look: the longest retention allowed. */
const MAX_LOG_DAYS = 3650;

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const ks = (tenant: TenantRef): string => quoteIdentifier(tenant.keyspaceName);
const ttlSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/** A point's last success is written at most this often per node: under load every delivery
 *  succeeds, and one more partition in each attempt's batch cost a fifth of the throughput. */
const SUCCESS_WRITE_EVERY_MS = 1000;

export class CassandraDeliveries implements DeliveryStore {
  private readonly successWrittenAt = new Map<string, number>();

  constructor(private readonly client: cassandra.Client) {}

  /** The statements that stage `event`'s deliveries; empty when no point takes it. */
  stagingStatements(tenant: TenantRef, points: readonly ConversionPoint[], event: EngineEventRecord, nowMs: number): Query[] {
    const timestamp = Math.min(event.occurredAt.getTime(), nowMs) * 1000;
    return plannedDeliveries(points, event, nowMs).flatMap((delivery) => [
      ...this.rowStatements(tenant, delivery, undefined, undefined, timestamp),
      {
        query: `INSERT INTO ${ks(tenant)}.delivery_log (point_id, day, created_at, event_id) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`,
        params: [delivery.pointId, day(delivery.createdAtMs), new Date(delivery.createdAtMs), delivery.eventId, timestamp],
      },
    ]);
  }

  async leaseShard(tenant: TenantRef, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    const ttl = ttlSeconds(ttlMs);
    const inserted = await this.run(`INSERT INTO ${ks(tenant)}.delivery_leases (shard, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?`, [shard, owner, ttl]);
    if (inserted.wasApplied()) return true;
    if (inserted.first()?.get('owner') !== owner) return false;
    const renewed = await this.run(`UPDATE ${ks(tenant)}.delivery_leases USING TTL ? SET owner = ? WHERE shard = ? IF owner = ?`, [ttl, owner, shard, owner]);
    return renewed.wasApplied();
  }

  async dueDeliveries(tenant: TenantRef, shard: number, nowMs: number, limit: number, skip?: (pointId: string, eventId: string) => boolean): Promise<Delivery[]> {
    const entries = (await this.run(`SELECT * FROM ${ks(tenant)}.delivery_queue WHERE shard = ? AND due_at <= ? LIMIT ?`, [shard, new Date(nowMs), limit])).rows.filter(
      (row) => skip?.(String(row.get('point_id')), String(row.get('event_id'))) !== true,
    );
    // An entry carrying its delivery is taken as it is. It can be behind its row only after a
    // crash between a finished attempt's row and the entry's removal (recordAttempt): then the
    // delivery is sent once more under the same webhook-id, and that attempt removes the entry.
    const due: Delivery[] = entries.filter((row) => row.get('event') !== null).map((row) => ({ ...rowToDelivery(row), state: 'pending' as const, dueAtMs: (row.get('due_at') as Date).getTime() }));
    // Entries written before the queue carried deliveries: resolved by reading the row.
    const queued = entries.filter((row) => row.get('event') === null);
    for (let start = 0; start < queued.length; start += READ_CONCURRENCY) {
      const rows = queued.slice(start, start + READ_CONCURRENCY);
      const deliveries = await Promise.all(rows.map((row) => this.getDelivery(tenant, String(row.get('point_id')), String(row.get('event_id')))));
      for (const [index, delivery] of deliveries.entries()) {
        const queuedAt = (rows[index]!.get('due_at') as Date).getTime();
        if (delivery?.state === 'pending' && delivery.dueAtMs === queuedAt) due.push(delivery);
        // A queue entry its row has moved past (the batch that moved it is still being applied,
        // or was applied in part): the row is the truth, the entry goes. A row not visible yet is
        // left alone — its staging batch is on its way.
        else if (delivery !== undefined) await this.run(`DELETE FROM ${ks(tenant)}.delivery_queue WHERE shard = ? AND due_at = ? AND point_id = ? AND event_id = ?`, [shard, new Date(queuedAt), delivery.pointId, delivery.eventId]);
      }
    }
    return due;
  }

  async recordAttempt(tenant: TenantRef, outcome: AttemptOutcome, retentionMs: number): Promise<void> {
    const { attempt, next, previous, point } = outcome;
    const timestamp = attempt.atMs * 1000;
    const statements: Query[] = [
      {
        query: `INSERT INTO ${ks(tenant)}.delivery_attempts (point_id, event_id, attempt, at, ok, status, latency_ms, response, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
        params: [attempt.pointId, attempt.eventId, attempt.attempt, new Date(attempt.atMs), attempt.ok, attempt.status ?? null, attempt.latencyMs, attempt.response ?? null, attempt.error ?? null, ttlSeconds(retentionMs)],
      },
      ...this.rowWrites(tenant, next, retentionMs, undefined),
    ];
    const queueRemoval = this.queueRemoval(tenant, next, previous);
    switch (point.kind) {
      case 'none':
        break;
      case 'success': {
        const key = `${tenant.keyspaceName}\0${next.pointId}`;
        if (point.atMs - (this.successWrittenAt.get(key) ?? 0) < SUCCESS_WRITE_EVERY_MS) break;
        this.successWrittenAt.set(key, point.atMs);
        statements.push({ query: `UPDATE ${ks(tenant)}.delivery_points USING TIMESTAMP ? SET last_success_at = ? WHERE point_id = ?`, params: [timestamp, new Date(point.atMs), next.pointId] });
        break;
      }
      case 'failure':
        // The next success is written whatever the throttle says: the point is healthy again.
        this.successWrittenAt.delete(`${tenant.keyspaceName}\0${next.pointId}`);
        statements.push({ query: `UPDATE ${ks(tenant)}.delivery_points USING TIMESTAMP ? SET last_failure_at = ?, last_error = ? WHERE point_id = ?`, params: [timestamp, new Date(point.atMs), point.error, next.pointId] });
        break;
      default: {
        const never: never = point;
        return never;
      }
    }
    if (next.state === 'pending') {
      // A retry moves the queue entry: the new entry and the row must land together (logged batch),
      // or a row pending at a time no entry names would never be attempted again.
      await this.batch([...statements, ...queueRemoval]);
    } else {
      // Finished (the common case: success). No logged batch — its batch log costs Cassandra about
      // as much as the writes themselves. Order alone keeps it safe: the row (and the attempt, the
      // log entry's TTL, the point's health) first; the queue entry goes only after they landed. A crash in between leaves an entry whose row has moved past
      // it, which dueDeliveries drops without an attempt.
      // The first writes go as one unlogged batch: one request instead of three, no batch log.
      await this.batch(statements, false);
      await Promise.all(queueRemoval.map((statement) => this.run(statement.query, statement.params)));
    }
    if (point.kind === 'failure') {
      const state = await this.getPointState(tenant, next.pointId);
      const failingFor = point.atMs - (state?.failingSinceMs ?? point.atMs);
      const reason = point.disable ?? (failingFor >= DISABLE_AFTER_FAILING_MS ? 'every delivery failed for 5 days without a success' : undefined);
      if (reason !== undefined && state?.disabled === undefined) await this.changePointState(tenant, next.pointId, (current) => ({ ...(current ?? { secrets: [] }), disabled: current?.disabled ?? { reason, atMs: point.atMs } }));
    }
  }

  async getDelivery(tenant: TenantRef, pointId: string, eventId: string): Promise<Delivery | undefined> {
    const row = (await this.run(`SELECT * FROM ${ks(tenant)}.deliveries WHERE point_id = ? AND event_id = ?`, [pointId, eventId])).first();
    return row ? rowToDelivery(row) : undefined;
  }

  async listDeliveries(tenant: TenantRef, query: DeliveryListQuery): Promise<Delivery[]> {
    const found: Delivery[] = [];
    await this.walkLog(tenant, query.pointId, 0, async (deliveries) => {
      for (const delivery of deliveries) {
        if (found.length < query.limit && (query.state === undefined || delivery.state === query.state)) found.push(delivery);
      }
      return found.length < query.limit;
    });
    return found;
  }

  async listAttempts(tenant: TenantRef, pointId: string, eventId: string): Promise<DeliveryAttempt[]> {
    const rows = (await this.run(`SELECT * FROM ${ks(tenant)}.delivery_attempts WHERE point_id = ? AND event_id = ?`, [pointId, eventId])).rows;
    return rows.map((row) => {
      const status = row.get('status') as number | null;
      const response = row.get('response') as string | null;
      const error = row.get('error') as string | null;
      return {
        pointId,
        eventId,
        attempt: Number(row.get('attempt')),
        atMs: (row.get('at') as Date).getTime(),
        ok: Boolean(row.get('ok')),
        latencyMs: Number(row.get('latency_ms')),
        ...(status === null ? {} : { status }),
        ...(response === null ? {} : { response }),
        ...(error === null ? {} : { error }),
      };
    });
  }

  async requeue(tenant: TenantRef, pointId: string, eventId: string, nowMs: number): Promise<boolean> {
    const current = await this.getDelivery(tenant, pointId, eventId);
    if (current === undefined) return false;
    await this.batch(this.rowStatements(tenant, requeued(current, nowMs), current, undefined, undefined));
    return true;
  }

  async recover(tenant: TenantRef, pointId: string, sinceMs: number, nowMs: number, which: RecoverWhich): Promise<number> {
    let count = 0;
    await this.walkLog(tenant, pointId, sinceMs, async (deliveries) => {
      for (const delivery of deliveries) {
        if (delivery.createdAtMs < sinceMs || !isRecovered(delivery, which)) continue;
        await this.batch(this.rowStatements(tenant, requeued(delivery, nowMs), delivery, undefined, undefined));
        count++;
      }
      return true;
    });
    return count;
  }

  async backlog(tenant: TenantRef, pointId: string): Promise<number> {
    let count = 0;
    for (let shard = 0; shard < DELIVERY_SHARDS; shard++) {
      for (const row of await this.allRows(`SELECT point_id FROM ${ks(tenant)}.delivery_queue WHERE shard = ?`, [shard])) if (row.get('point_id') === pointId) count++;
    }
    return count;
  }

  async getPointState(tenant: TenantRef, pointId: string): Promise<PointState | undefined> {
    const row = (await this.run(`SELECT state, last_success_at, last_failure_at, last_error, reset_at FROM ${ks(tenant)}.delivery_points WHERE point_id = ?`, [pointId])).first();
    return row ? rowToPointState(row) : undefined;
  }

  async changePointState(tenant: TenantRef, pointId: string, change: (current: PointState | undefined) => PointState): Promise<PointState> {
    for (let attempt = 0; attempt < MAX_POINT_CAS_ATTEMPTS; attempt++) {
      const row = (await this.run(`SELECT state, version, last_success_at, last_failure_at, last_error, reset_at FROM ${ks(tenant)}.delivery_points WHERE point_id = ?`, [pointId], { consistency: consistencies.localSerial })).first();
      const current = row ? rowToPointState(row) : undefined;
      const version = row ? (row.get('version') as number | null) : null;
      const next = change(current);
      const stored = JSON.stringify({ secrets: next.secrets, ...(next.disabled === undefined ? {} : { disabled: next.disabled }) });
      // A change that ends the failing (enabling the point) starts its health afresh.
      const reset = current?.failingSinceMs !== undefined && next.failingSinceMs === undefined;
      const result =
        version === null
          ? await this.run(`INSERT INTO ${ks(tenant)}.delivery_points (point_id, state, version) VALUES (?, ?, 1) IF NOT EXISTS`, [pointId, stored])
          : await this.run(`UPDATE ${ks(tenant)}.delivery_points SET state = ?, version = ?${reset ? ', last_failure_at = null, reset_at = ?' : ''} WHERE point_id = ? IF version = ?`, [
              stored,
              version + 1,
              ...(reset ? [new Date()] : []),
              pointId,
              version,
            ]);
      if (result.wasApplied()) return next;
    }
    throw new MiddlewareError('INLAY_MW_CONCURRENT_UPDATE', `conversion point "${pointId}" kept changing while it was being updated; retry`);
  }

  async sweep(): Promise<number> {
    return 0; // TTLs expire the logs.
  }

  // --- internals ---

  /** The whole delivery row (with its TTL when finished) and its queue entry moved. */
  private rowStatements(tenant: TenantRef, next: Delivery, previous: Delivery | undefined, retentionMs: number | undefined, timestamp: number | undefined): Query[] {
    return [...this.rowWrites(tenant, next, retentionMs, timestamp), ...this.queueRemoval(tenant, next, previous)];
  }

  /** The old queue entry's removal, when the delivery leaves it (finished, or due at another time). */
  private queueRemoval(tenant: TenantRef, next: Delivery, previous: Delivery | undefined): Query[] {
    if (previous?.state !== 'pending' || (next.state === 'pending' && next.dueAtMs === previous.dueAtMs)) return [];
    return [{ query: `DELETE FROM ${ks(tenant)}.delivery_queue WHERE shard = ? AND due_at = ? AND point_id = ? AND event_id = ?`, params: [deliveryShard(next.eventId), new Date(previous.dueAtMs), next.pointId, next.eventId] }];
  }

  /** The whole delivery row (with its TTL when finished), its log entry's TTL when finished, and its queue entry when pending. */
  private rowWrites(tenant: TenantRef, next: Delivery, retentionMs: number | undefined, timestamp: number | undefined): Query[] {
    const shard = deliveryShard(next.eventId);
    const using = [timestamp === undefined ? '' : `TIMESTAMP ${timestamp}`, next.state !== 'pending' && retentionMs !== undefined ? `TTL ${ttlSeconds(retentionMs)}` : ''].filter(Boolean).join(' AND ');
    const usingClause = using === '' ? '' : ` USING ${using}`;
    const statements: Query[] = [
      {
        query: `INSERT INTO ${ks(tenant)}.deliveries (point_id, event_id, event_type, event, state, attempts, step, due_at, created_at, updated_at, last_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)${usingClause}`,
        params: [next.pointId, next.eventId, next.eventType, JSON.stringify(next.event), next.state, next.attempts, next.step, new Date(next.dueAtMs), new Date(next.createdAtMs), new Date(next.updatedAtMs), next.lastResult ?? null],
      },
    ];
    if (next.state !== 'pending' && retentionMs !== undefined) {
      // The log entry expires with the finished delivery.
      statements.push({
        query: `INSERT INTO ${ks(tenant)}.delivery_log (point_id, day, created_at, event_id) VALUES (?, ?, ?, ?) USING TTL ?`,
        params: [next.pointId, day(next.createdAtMs), new Date(next.createdAtMs), next.eventId, ttlSeconds(retentionMs)],
      });
    }
    if (next.state === 'pending') {
      statements.push({
        query: `INSERT INTO ${ks(tenant)}.delivery_queue (shard, due_at, point_id, event_id, event_type, event, attempts, step, created_at, updated_at, last_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)${timestamp === undefined ? '' : ` USING TIMESTAMP ${timestamp}`}`,
        params: [shard, new Date(next.dueAtMs), next.pointId, next.eventId, next.eventType, JSON.stringify(next.event), next.attempts, next.step, new Date(next.createdAtMs), new Date(next.updatedAtMs), next.lastResult ?? null],
      });
    }
    return statements;
  }

  /** Walks the point's log from today back to `sinceMs`'s day (or the retention limit), a day at a
   *  time, handing each day's deliveries (newest first) to `visit` until it returns false. */
  private async walkLog(tenant: TenantRef, pointId: string, sinceMs: number, visit: (deliveries: Delivery[]) => Promise<boolean>): Promise<void> {
    const today = Date.now();
    const oldest = Math.max(sinceMs, today - MAX_LOG_DAYS * DAY_MS);
    for (let at = today; day(at) >= day(oldest); at -= DAY_MS) {
      const rows = await this.allRows(`SELECT event_id FROM ${ks(tenant)}.delivery_log WHERE point_id = ? AND day = ?`, [pointId, day(at)]);
      const deliveries: Delivery[] = [];
      for (let start = 0; start < rows.length; start += READ_CONCURRENCY) {
        const found = await Promise.all(rows.slice(start, start + READ_CONCURRENCY).map((row) => this.getDelivery(tenant, pointId, String(row.get('event_id')))));
        for (const delivery of found) if (delivery !== undefined) deliveries.push(delivery);
      }
      if (!(await visit(deliveries))) return;
      // Days with nothing are cheap, but ten years of them are not: stop at the first empty
      // stretch of a retention's length when nothing older was asked for.
      if (sinceMs === 0 && rows.length === 0 && today - at > 366 * DAY_MS) return;
    }
  }

  private async batch(statements: Query[], logged = true): Promise<void> {
    try {
      await this.client.batch(statements, { prepare: true, logged: logged && statements.length > 1 });
    } catch (error) {
      throw translateDriverError(error);
    }
  }

  private async run(query: string, params: unknown[], options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
    return runCql(this.client, query, params, options);
  }

  private async allRows(query: string, params: unknown[]): Promise<Row[]> {
    return allCqlRows(this.client, query, params, { fetchSize: 5000 });
  }

}

function rowToDelivery(row: Row): Delivery {
  const lastResult = row.get('last_result') as string | null;
  return {
    pointId: String(row.get('point_id')),
    eventId: String(row.get('event_id')),
    eventType: String(row.get('event_type')),
    event: JSON.parse(String(row.get('event'))) as Record<string, unknown>,
    state: row.get('state') as Delivery['state'],
    attempts: Number(row.get('attempts')),
    step: Number(row.get('step') ?? 0),
    dueAtMs: (row.get('due_at') as Date).getTime(),
    createdAtMs: (row.get('created_at') as Date).getTime(),
    updatedAtMs: (row.get('updated_at') as Date).getTime(),
    ...(lastResult === null ? {} : { lastResult }),
  };
}

/** Health from the time columns: failing while the last failure is newer than the last success,
 *  counted from the last success, the last enabling or the point's first secret, whichever is
 *  latest (an upper bound of the first failure: the 5-day rule never fires early). */
function rowToPointState(row: Row): PointState {
  const stored = row.get('state') as string | null;
  const base = stored === null ? { secrets: [] } : (JSON.parse(stored) as Pick<PointState, 'secrets' | 'disabled'>);
  const lastSuccessAtMs = (row.get('last_success_at') as Date | null)?.getTime();
  const lastFailureAtMs = (row.get('last_failure_at') as Date | null)?.getTime();
  const lastError = row.get('last_error') as string | null;
  const resetAtMs = (row.get('reset_at') as Date | null)?.getTime();
  const failing = lastFailureAtMs !== undefined && lastFailureAtMs > (lastSuccessAtMs ?? 0);
  const healthySinceMs = Math.max(lastSuccessAtMs ?? 0, resetAtMs ?? 0, base.secrets[0]?.createdAtMs ?? 0);
  const failingSinceMs = failing ? Math.min(lastFailureAtMs, healthySinceMs || lastFailureAtMs) : undefined;
  return {
    ...base,
    ...(lastSuccessAtMs === undefined ? {} : { lastSuccessAtMs }),
    ...(lastFailureAtMs === undefined ? {} : { lastFailureAtMs }),
    ...(failingSinceMs === undefined ? {} : { failingSinceMs }),
    ...(failing && lastError !== null ? { lastError } : {}),
  };
}
