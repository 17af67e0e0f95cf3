/**
 * Engine events in Cassandra: the event row (`events`), its index rows (`event_index`), the
 * report counters (`campaign_counters`, `campaign_users`) and the tracked messages
 * (`tracked_messages`); tenant-tables.ts has the tables and why each is shaped so.
 *
 * `recordEvents`, per event: first the event's deliveries to conversion points (one logged batch
 * of rows written with the event's time as timestamp, so a repeat rewrites them unchanged and
 * never makes a finished delivery pending again; cassandra-deliveries.ts), so that no event is
 * ever stored without them — a node killed after them and before the event row leaves deliveries
 * whose event is counted when it is reported again (at least once, never lost). Then
 * `INSERT … IF NOT EXISTS` of the event row, then the index rows and
 * the tracked-message entry from the row as first stored (plain upserts of the same values,
 * harmless when repeated); only when the insert applied are the counters bumped, and the unique-user counter only when the user's
 * `campaign_users` row was new (a second IF NOT EXISTS). So however often an event is reported,
 * and by however many middleware nodes at once, it counts once. What this cannot promise: a node
 * killed between the event row and its counter updates leaves those counts one short (Cassandra
 * counters cannot join a batch with the row), and a counter update that times out is not
 * retried (a retry could count twice). Rows, indexes and tracked messages carry the retention TTL;
 * counters and user sets are kept, so reports never shrink.
 *
 * Must never build CQL from values: keyspace names are quoted identifiers, everything else bound.
 */
import cassandra from 'cassandra-driver';
import { eventBucket, eventShard } from '../event-buckets.js';
import {
  DAY_MS,
  HOUR_MS,
  compareNewestFirst,
  deserializeEvent,
  hourOf,
  indexesOf,
  isAfterCursor,
  matchesQuery,
  serializeEvent,
  uniqueKindOf,
  type CounterKind,
  type CounterRow,
  type EventQuery,
  type EventQueryPage,
  type SerializedEvent,
  type ShownMessage,
  type TrackedEventRecord,
  type TrackedMessageRecord,
} from '../event-types.js';
import type { TenantRef } from '../store.js';
import type { EngineEventRecord, EventRange } from '../view-types.js';
import { quoteIdentifier } from './cql-schema.js';
import { translateDriverError } from './cassandra-errors.js';
import { allCqlRows, runCql } from './cql-run.js';

type Row = cassandra.types.Row;

/** Events written at once by one recordEvents call: a large batch never floods the connection pool. */
const RECORD_CONCURRENCY = 64;
/** Index rows read per page of a listing. */
const INDEX_FETCH_SIZE = 500;

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Per event, the statements that stage its deliveries (cassandra-deliveries.ts). */
export type StageDeliveries = (tenant: TenantRef, events: readonly EngineEventRecord[]) => Promise<{ query: string; params: unknown[] }[][]>;

export class CassandraEventTables {
  constructor(
    private readonly client: cassandra.Client,
    /** Time to live of event rows, index rows and tracked messages. */
    private readonly retentionSeconds: number,
    private readonly stageDeliveries?: StageDeliveries,
  ) {}

  async recordEvents(tenant: TenantRef, events: readonly EngineEventRecord[], shown: readonly ShownMessage[]): Promise<void> {
    const keyspace = quoteIdentifier(tenant.keyspaceName);
    const ttl = this.retentionSeconds;
    await Promise.all(
      shown.map((message) =>
        this.run(`UPDATE ${keyspace}.tracked_messages USING TTL ? SET body = ? WHERE user_key = ? AND object_id = ?`, [ttl, message.body, message.userKey, message.objectId]),
      ),
    );
    const staging = this.stageDeliveries ? await this.stageDeliveries(tenant, events) : [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < events.length) {
        const index = next++;
        await this.recordOne(keyspace, events[index]!, staging[index] ?? []);
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECORD_CONCURRENCY, events.length) }, worker));
  }

  private async recordOne(keyspace: string, reported: EngineEventRecord, deliveries: readonly { query: string; params: unknown[] }[]): Promise<void> {
    const ttl = this.retentionSeconds;
    if (deliveries.length > 0) {
      try {
        await this.client.batch([...deliveries], { prepare: true, logged: true });
      } catch (error) {
        throw translateDriverError(error);
      }
    }
    const inserted = await this.run(
      `INSERT INTO ${keyspace}.events (bucket, shard, event_id, event_type, tenant_id, campaign_id, variant, user_key, mailbox, uid_validity, uid, object_id, message_id, occurred_at, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?`,
      [
        eventBucket(reported.occurredAt),
        eventShard(reported.eventId),
        reported.eventId,
        reported.type,
        reported.tenantId,
        reported.campaignId,
        reported.variantId,
        reported.userKey,
        reported.mailbox,
        reported.uidValidity,
        reported.uid,
        reported.objectId,
        reported.messageId,
        reported.occurredAt,
        reported.origin === undefined ? null : JSON.stringify(reported.origin),
        ttl,
      ],
    );
    const applied = inserted.wasApplied();
    // A repeat writes the indexes again from the row as first stored (its origin is the one kept):
    // that also completes the rows of an earlier attempt that died after the event row.
    const stored = inserted.first();
    const event = applied || stored === null ? reported : { ...rowToEvent(stored), occurredAt: reported.occurredAt };
    const json = JSON.stringify(serializeEvent(event));
    const day = dayOf(event.occurredAt.getTime());
    const hour = new Date(hourOf(event.occurredAt));
    const uniqueKind = uniqueKindOf(event.type);
    // One round of writes in parallel: rows that are upserts of the same values, and — from here
    // on only for a new event (this node's insert applied) — whatever must happen once per event
    // (the counters; a delivery outbox).
    const [member] = await Promise.all([
      applied ? this.run(`INSERT INTO ${keyspace}.campaign_users (campaign_id, kind, user_key) VALUES (?, ?, ?) IF NOT EXISTS`, [event.campaignId, uniqueKind, event.userKey]) : null,
      applied ? this.bump(keyspace, event, hour, event.type) : null,
      ...indexesOf(event).map((index) =>
        this.run(`INSERT INTO ${keyspace}.event_index (kind, value, day, occurred_at, event_id, event) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`, [
          index.kind,
          index.value,
          day,
          event.occurredAt,
          event.eventId,
          json,
          ttl,
        ]),
      ),
      this.run(
        `UPDATE ${keyspace}.tracked_messages USING TTL ? SET campaign_id = ?, variant = ?, message_id = ?, uid = ?, uid_validity = ?, events[?] = ? WHERE user_key = ? AND object_id = ?`,
        [ttl, event.campaignId, event.variantId, event.messageId, event.uid, event.uidValidity, event.eventId, JSON.stringify(trackedJson(event)), event.userKey, event.objectId],
      ),
    ]);
    if (member?.wasApplied()) await this.bump(keyspace, event, hour, `unique:${uniqueKind}`);
  }

  private bump(keyspace: string, event: EngineEventRecord, hour: Date, kind: CounterKind): Promise<unknown> {
    return this.run(`UPDATE ${keyspace}.campaign_counters SET count = count + 1 WHERE campaign_id = ? AND hour = ? AND variant = ? AND kind = ?`, [
      event.campaignId,
      hour,
      event.variantId ?? '',
      kind,
    ]);
  }

  async queryEvents(tenant: TenantRef, query: EventQuery): Promise<EventQueryPage> {
    const keyspace = quoteIdentifier(tenant.keyspaceName);
    const sinceMs = query.range.since.getTime();
    const upperMs = Math.min(query.range.until.getTime() - 1, query.after?.atMs ?? Number.POSITIVE_INFINITY);
    const candidates: EngineEventRecord[] = [];
    /** Rows of one millisecond are ordered by timeuuid here but by id text in a listing: a page
     *  ends only where the millisecond changes, and the page is sorted before it is cut. */
    const complete = (): boolean => candidates.length > query.limit && candidates[query.limit]!.occurredAt.getTime() !== candidates[query.limit - 1]!.occurredAt.getTime();
    for (let dayStart = Math.floor(upperMs / DAY_MS) * DAY_MS; dayStart >= Math.floor(sinceMs / DAY_MS) * DAY_MS && !complete(); dayStart -= DAY_MS) {
      let pageState: string | undefined;
      do {
        const result = await this.run(
          `SELECT event FROM ${keyspace}.event_index WHERE kind = ? AND value = ? AND day = ? AND occurred_at <= ? AND occurred_at >= ?`,
          [query.index.kind, query.index.value, dayOf(dayStart), new Date(upperMs), new Date(sinceMs)],
          { fetchSize: INDEX_FETCH_SIZE, ...(pageState === undefined ? {} : { pageState }) },
        );
        for (const row of result.rows) {
          const event = deserializeEvent(JSON.parse(String(row.get('event'))) as SerializedEvent);
          if (isAfterCursor(event, query.after) && matchesQuery(event, query)) candidates.push(event);
        }
        pageState = result.pageState ?? undefined;
      } while (pageState && !complete());
    }
    const events = candidates.sort(compareNewestFirst).slice(0, query.limit);
    const last = events[events.length - 1];
    return events.length === query.limit && last !== undefined ? { events, next: { atMs: last.occurredAt.getTime(), eventId: last.eventId } } : { events };
  }

  async readCampaignCounters(tenant: TenantRef, campaignId: string, range: EventRange): Promise<CounterRow[]> {
    const fromHour = Math.floor(range.since.getTime() / HOUR_MS) * HOUR_MS;
    const rows = await this.allRows(`SELECT hour, variant, kind, count FROM ${quoteIdentifier(tenant.keyspaceName)}.campaign_counters WHERE campaign_id = ? AND hour >= ? AND hour < ?`, [
      campaignId,
      new Date(fromHour),
      range.until,
    ]);
    return rows.map((row) => {
      const variant = String(row.get('variant'));
      return { hourMs: (row.get('hour') as Date).getTime(), variantId: variant === '' ? null : variant, kind: row.get('kind') as CounterKind, count: Number(String(row.get('count'))) };
    });
  }

  async listTrackedMessages(tenant: TenantRef, userKey: string): Promise<TrackedMessageRecord[]> {
    const rows = await this.allRows(
      `SELECT user_key, object_id, campaign_id, variant, message_id, uid, uid_validity, events FROM ${quoteIdentifier(tenant.keyspaceName)}.tracked_messages WHERE user_key = ?`,
      [userKey],
    );
    return rows.flatMap((row) => rowToTracked(row) ?? []);
  }

  async getTrackedMessage(tenant: TenantRef, userKey: string, objectId: string): Promise<TrackedMessageRecord | undefined> {
    const result = await this.run(
      `SELECT user_key, object_id, campaign_id, variant, message_id, uid, uid_validity, events, body FROM ${quoteIdentifier(tenant.keyspaceName)}.tracked_messages WHERE user_key = ? AND object_id = ?`,
      [userKey, objectId],
    );
    const row = result.first();
    if (row === null) return undefined;
    const tracked = rowToTracked(row);
    const body = row.get('body') as Buffer | null;
    return tracked === undefined ? undefined : { ...tracked, ...(body === null ? {} : { body }) };
  }

  private async run(query: string, params: unknown[], options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
    return runCql(this.client, query, params, options);
  }

  private async allRows(query: string, params: unknown[]): Promise<Row[]> {
    return allCqlRows(this.client, query, params, { fetchSize: INDEX_FETCH_SIZE });
  }

}

type TrackedJson = Omit<TrackedEventRecord, 'occurredAt'> & { readonly occurredAtMs: number };

function trackedJson(event: EngineEventRecord): TrackedJson {
  return { eventId: event.eventId, type: event.type, occurredAtMs: event.occurredAt.getTime(), ...(event.origin === undefined ? {} : { origin: event.origin }) };
}

export function rowToEvent(row: Row): EngineEventRecord {
  const origin = row.get('origin') as string | null | undefined;
  return {
    eventId: String(row.get('event_id')),
    type: row.get('event_type') as EngineEventRecord['type'],
    tenantId: String(row.get('tenant_id')),
    userKey: String(row.get('user_key')),
    mailbox: String(row.get('mailbox')),
    uidValidity: Number(String(row.get('uid_validity'))),
    uid: Number(String(row.get('uid'))),
    campaignId: String(row.get('campaign_id')),
    variantId: (row.get('variant') as string | null) ?? null,
    objectId: String(row.get('object_id')),
    messageId: String(row.get('message_id')),
    occurredAt: row.get('occurred_at') as Date,
    ...(origin === null || origin === undefined ? {} : { origin: JSON.parse(origin) as EngineEventRecord['origin'] & object }),
  };
}

/** undefined for a row that holds only a body (its events expired or were never written). */
function rowToTracked(row: Row): TrackedMessageRecord | undefined {
  const events = (row.get('events') as Record<string, string> | null) ?? {};
  if (row.get('campaign_id') === null || Object.keys(events).length === 0) return undefined;
  const parsed = Object.values(events)
    .map((text) => JSON.parse(text) as TrackedJson)
    .sort((a, b) => a.occurredAtMs - b.occurredAtMs || (a.eventId < b.eventId ? -1 : 1))
    .map(({ occurredAtMs, ...rest }): TrackedEventRecord => ({ ...rest, occurredAt: new Date(occurredAtMs) }));
  return {
    userKey: String(row.get('user_key')),
    objectId: String(row.get('object_id')),
    campaignId: String(row.get('campaign_id')),
    variantId: (row.get('variant') as string | null) ?? null,
    messageId: String(row.get('message_id')),
    uid: Number(String(row.get('uid'))),
    uidValidity: Number(String(row.get('uid_validity'))),
    events: parsed,
  };
}
