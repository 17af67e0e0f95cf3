/**
 * Engine events in the embedded (LMDB) store, under the tenant's key prefix like every table of
 * the plan (tenant-tables.ts):
 *
 * - ['row', ks, 'events', bucket, shard, eventId]                 the event (store/event-buckets.ts);
 * - ['row', ks, 'event_index', kind, value, atMs, eventId]        the same event under each index
 *   (event-types.ts, indexesOf), so a listing walks one index backwards, newest first;
 * - ['row', ks, 'campaign_counters', campaignId, hourMs, variant, kind]  report counters;
 * - ['row', ks, 'campaign_users', campaignId, uniqueKind, userKey]       who was counted once;
 * - ['row', ks, 'tracked_messages', userKey, objectId]            a shown message and its events;
 * - ['row', ks, 'tracked_bodies', userKey, objectId]              the bytes the client fetched.
 *
 * `recordEvents` writes all of it in one `atomically` (embedded-atomic.ts), and only for an event
 * whose row is new: a repeated report counts nothing twice. Retention is a sweep
 * (`sweepEvents`): events, their indexes and tracked messages go; counters and user sets stay,
 * because a report's totals and unique users must not shrink as raw events age out.
 */
import type { Key, RootDatabase } from 'lmdb';
import { atomically } from './embedded-atomic.js';
import { eventBucket, eventShard } from './event-buckets.js';
import {
  HOUR_MS,
  deserializeEvent,
  hourOf,
  indexesOf,
  isAfterCursor,
  matchesQuery,
  serializeEvent,
  trackedEventOf,
  uniqueKindOf,
  type CounterKind,
  type CounterRow,
  type EventQuery,
  type EventQueryPage,
  type SerializedEvent,
  type ShownMessage,
  type TrackedEventRecord,
  type TrackedMessageRecord,
} from './event-types.js';
import type { TenantRef } from './store.js';
import { stageDeliveries } from './embedded-deliveries.js';
import type { EngineEventRecord, EventRange } from './view-types.js';

type StoredTrackedEvent = Omit<TrackedEventRecord, 'occurredAt'> & { readonly occurredAtMs: number };
type StoredTracked = Omit<TrackedMessageRecord, 'events' | 'body'> & { readonly events: StoredTrackedEvent[] };

const row = (tenant: TenantRef, table: string, ...rest: (string | number)[]): Key[] => ['row', tenant.keyspaceName, table, ...rest];
/** LMDB keys cannot hold null; no variant is stored as the empty string (variant ids are never empty). */
const variantKey = (variantId: string | null): string => variantId ?? '';

export class EmbeddedEventTables {
  constructor(private readonly db: RootDatabase<unknown, Key>) {}

  async recordEvents(tenant: TenantRef, events: readonly EngineEventRecord[], shown: readonly ShownMessage[]): Promise<void> {
    if (events.length === 0 && shown.length === 0) return;
    await atomically(this.db, () => {
      for (const message of shown) void this.db.put(row(tenant, 'tracked_bodies', message.userKey, message.objectId), message.body);
      for (const event of events) this.recordOne(tenant, event);
      // In the same transaction: an event is never stored without its deliveries (a delivery
      // already made is not made again, so a repeated report changes nothing).
      stageDeliveries(this.db, tenant, events, Date.now());
    });
  }

  /** Must run inside `atomically`. */
  private recordOne(tenant: TenantRef, event: EngineEventRecord): void {
    const eventKey = row(tenant, 'events', eventBucket(event.occurredAt), eventShard(event.eventId), event.eventId);
    if (this.db.get(eventKey) !== undefined) return;
    // From here on the event is new, inside the one transaction: whatever must happen exactly
    // once per event (counters below; a delivery outbox) is written here.
    const stored = serializeEvent(event);
    void this.db.put(eventKey, stored);
    for (const index of indexesOf(event)) void this.db.put(row(tenant, 'event_index', index.kind, index.value, stored.occurredAtMs, event.eventId), stored);

    const hourMs = hourOf(event.occurredAt);
    this.bump(tenant, event.campaignId, hourMs, event.variantId, event.type);
    const uniqueKind = uniqueKindOf(event.type);
    const member = row(tenant, 'campaign_users', event.campaignId, uniqueKind, event.userKey);
    if (this.db.get(member) === undefined) {
      void this.db.put(member, 1);
      this.bump(tenant, event.campaignId, hourMs, event.variantId, `unique:${uniqueKind}`);
    }

    const trackedKey = row(tenant, 'tracked_messages', event.userKey, event.objectId);
    const tracked = this.db.get(trackedKey) as StoredTracked | undefined;
    const { occurredAt, ...trackedEvent } = trackedEventOf(event);
    const entry: StoredTrackedEvent = { ...trackedEvent, occurredAtMs: occurredAt.getTime() };
    const trackedEvents = [...(tracked?.events ?? []), entry].sort((a, b) => a.occurredAtMs - b.occurredAtMs || (a.eventId < b.eventId ? -1 : 1));
    void this.db.put(trackedKey, {
      userKey: event.userKey,
      objectId: event.objectId,
      campaignId: event.campaignId,
      variantId: event.variantId,
      messageId: event.messageId,
      uid: event.uid,
      uidValidity: event.uidValidity,
      events: trackedEvents,
    } satisfies StoredTracked);
  }

  private bump(tenant: TenantRef, campaignId: string, hourMs: number, variantId: string | null, kind: CounterKind): void {
    const key = row(tenant, 'campaign_counters', campaignId, hourMs, variantKey(variantId), kind);
    void this.db.put(key, ((this.db.get(key) as number | undefined) ?? 0) + 1);
  }

  queryEvents(tenant: TenantRef, query: EventQuery): EventQueryPage {
    const prefix = row(tenant, 'event_index', query.index.kind, query.index.value);
    const untilMs = query.range.until.getTime();
    const start = query.after !== undefined && query.after.atMs < untilMs ? [...prefix, query.after.atMs, query.after.eventId] : [...prefix, untilMs];
    const events: EngineEventRecord[] = [];
    for (const { value } of this.db.getRange({ start: start as Key, end: [...prefix, query.range.since.getTime()] as Key, reverse: true })) {
      const event = deserializeEvent(value as SerializedEvent);
      if (!isAfterCursor(event, query.after) || !matchesQuery(event, query)) continue;
      events.push(event);
      if (events.length >= query.limit) {
        return { events, next: { atMs: event.occurredAt.getTime(), eventId: event.eventId } };
      }
    }
    return { events };
  }

  readCampaignCounters(tenant: TenantRef, campaignId: string, range: EventRange): CounterRow[] {
    const prefix = row(tenant, 'campaign_counters', campaignId);
    const fromHour = Math.floor(range.since.getTime() / HOUR_MS) * HOUR_MS;
    const rows: CounterRow[] = [];
    for (const { key, value } of this.db.getRange({ start: [...prefix, fromHour] as Key, end: [...prefix, range.until.getTime()] as Key })) {
      const [, , , , hourMs, variant, kind] = key as [string, string, string, string, number, string, CounterKind];
      rows.push({ hourMs, variantId: variant === '' ? null : variant, kind, count: value as number });
    }
    return rows;
  }

  listTrackedMessages(tenant: TenantRef, userKey: string): TrackedMessageRecord[] {
    const prefix = row(tenant, 'tracked_messages', userKey);
    const messages: TrackedMessageRecord[] = [];
    for (const { key, value } of this.db.getRange({ start: prefix as Key })) {
      if (!Array.isArray(key) || !prefix.every((part, index) => key[index] === part)) break;
      if (key.length === prefix.length) continue;
      messages.push(fromStoredTracked(value as StoredTracked));
    }
    return messages;
  }

  getTrackedMessage(tenant: TenantRef, userKey: string, objectId: string): TrackedMessageRecord | undefined {
    const tracked = this.db.get(row(tenant, 'tracked_messages', userKey, objectId)) as StoredTracked | undefined;
    if (tracked === undefined) return undefined;
    const body = this.db.get(row(tenant, 'tracked_bodies', userKey, objectId)) as Uint8Array | undefined;
    return { ...fromStoredTracked(tracked), ...(body === undefined ? {} : { body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) }) };
  }

  /** Removes events older than `before` (by hour bucket), their index rows and their place in
   *  tracked messages; a tracked message with no event left goes with its bytes. */
  async sweepEvents(tenant: TenantRef, before: Date): Promise<number> {
    const cutoff = eventBucket(new Date(hourOf(before)));
    const prefix = row(tenant, 'events');
    let removed = 0;
    for (;;) {
      // A batch at a time: a large backlog is never held in memory, nor the writer long.
      const expired: { key: Key; event: SerializedEvent }[] = [];
      for (const { key, value } of this.db.getRange({ start: prefix as Key, end: [...prefix, cutoff] as Key, limit: SWEEP_BATCH })) expired.push({ key, event: value as SerializedEvent });
      if (expired.length === 0) return removed;
      await atomically(this.db, () => {
        for (const { key, event } of expired) this.forget(tenant, key, deserializeEvent(event));
      });
      removed += expired.length;
    }
  }

  /** Must run inside `atomically`. */
  private forget(tenant: TenantRef, key: Key, event: EngineEventRecord): void {
    void this.db.remove(key);
    for (const index of indexesOf(event)) void this.db.remove(row(tenant, 'event_index', index.kind, index.value, event.occurredAt.getTime(), event.eventId));
    const trackedKey = row(tenant, 'tracked_messages', event.userKey, event.objectId);
    const tracked = this.db.get(trackedKey) as StoredTracked | undefined;
    if (tracked === undefined) return;
    const events = tracked.events.filter((entry) => entry.eventId !== event.eventId);
    if (events.length > 0) {
      void this.db.put(trackedKey, { ...tracked, events });
    } else {
      void this.db.remove(trackedKey);
      void this.db.remove(row(tenant, 'tracked_bodies', event.userKey, event.objectId));
    }
  }
}

/** Events removed per transaction by a sweep: a large backlog never holds the writer long. */
const SWEEP_BATCH = 1000;

function fromStoredTracked({ events, ...rest }: StoredTracked): TrackedMessageRecord {
  return { ...rest, events: events.map(({ occurredAtMs, ...event }) => ({ ...event, occurredAt: new Date(occurredAtMs) })) };
}
