/**
 * INBOX views and engine events in the embedded (LMDB) store, under the tenant's key prefix like
 * every table of the plan:
 *
 * - ['row', ks, 'virtual_messages', userKey, mailbox]       the counters (UIDVALIDITY, next UID,
 *   epoch), the history of earlier UIDVALIDITYs and the keywords — Cassandra's static columns;
 * - ['row', ks, 'virtual_messages', userKey, mailbox, uid]  one message each, in UID order;
 * - ['row', ks, 'events', bucket, shard, eventId]           one event each (store/event-buckets.ts).
 *
 * `changeView` reads, decides and writes inside one `atomically` (embedded-atomic.ts): LMDB has a
 * single writer, so nothing lands between the read and the write, and a throw rolls all of it
 * back.
 */
import type { Key, RootDatabase } from 'lmdb';
import { atomically } from './embedded-atomic.js';
import { stageDeliveries } from './embedded-deliveries.js';
import type { TenantRef } from './store.js';
import { bucketsOf, compareEvents, eventBucket, eventShard, inRange } from './event-buckets.js';
import {
  EMPTY_VIEW,
  applyMessageUpdate,
  applyViewChange,
  type CampaignHistory,
  type EngineEventRecord,
  type EventRange,
  type StoredView,
  type StoredVirtualMessage,
  type ViewDecide,
  type ViewRef,
} from './view-types.js';

interface StoredCounters {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly epoch: number;
  readonly history: Record<string, CampaignHistory>;
  /** Absent in counters written before views kept keywords. */
  readonly keywords?: readonly string[];
}

type StoredEvent = Omit<EngineEventRecord, 'occurredAt'> & { readonly occurredAtMs: number };

const viewPrefix = (ref: ViewRef): string[] => ['row', ref.keyspaceName, 'virtual_messages', ref.userKey, ref.mailbox];
const messageKey = (ref: ViewRef, uid: number): Key => [...viewPrefix(ref), uid];

export class EmbeddedViewTables {
  constructor(private readonly db: RootDatabase<unknown, Key>) {}

  getView(ref: ViewRef): StoredView {
    const counters = this.db.get(viewPrefix(ref)) as StoredCounters | undefined;
    const messages: StoredVirtualMessage[] = [];
    const prefix = viewPrefix(ref);
    for (const entry of this.db.getRange({ start: prefix as Key })) {
      const key = entry.key as Key[];
      if (!Array.isArray(key) || !prefix.every((part, index) => key[index] === part)) break;
      if (key.length === prefix.length) continue;
      messages.push(fromStored(entry.value as StoredVirtualMessage));
    }
    if (counters === undefined && messages.length === 0) return EMPTY_VIEW;
    const { keywords, ...rest } = counters ?? EMPTY_VIEW;
    return { ...rest, keywords: keywords ?? [], messages };
  }

  changeView<Result>(ref: ViewRef, decide: ViewDecide<Result>): Promise<{ view: StoredView; result: Result }> {
    return atomically(this.db, () => {
      const current = this.getView(ref);
      const { change, result } = decide(current);
      if (change === null) return { view: current, result };
      const next = applyViewChange(current, change);
      const counters: StoredCounters = { uidValidity: next.uidValidity, nextUid: next.nextUid, epoch: next.epoch, history: { ...next.history }, keywords: [...next.keywords] };
      void this.db.put(viewPrefix(ref), counters);
      if (change.dropMessages) for (const message of current.messages) void this.db.remove(messageKey(ref, message.uid));
      const updates = change.dropMessages ? [] : (change.update ?? []);
      for (const update of updates) {
        const stored = current.messages.find((message) => message.uid === update.uid);
        if (stored !== undefined) void this.db.put(messageKey(ref, update.uid), applyMessageUpdate(stored, update));
      }
      for (const message of change.insert ?? []) void this.db.put(messageKey(ref, message.uid), message);
      return { view: next, result };
    });
  }

  async recordEvents(tenant: TenantRef, events: readonly EngineEventRecord[]): Promise<void> {
    if (events.length === 0) return;
    await atomically(this.db, () => {
      for (const { occurredAt, ...rest } of events) {
        const stored: StoredEvent = { ...rest, occurredAtMs: occurredAt.getTime() };
        void this.db.put(['row', tenant.keyspaceName, 'events', eventBucket(occurredAt), eventShard(rest.eventId), rest.eventId], stored);
      }
      // In the same transaction: an event is never stored without its deliveries.
      stageDeliveries(this.db, tenant, events, Date.now());
    });
  }

  listEvents(tenant: TenantRef, range: EventRange): EngineEventRecord[] {
    const events: EngineEventRecord[] = [];
    for (const bucket of bucketsOf(range)) {
      const prefix = ['row', tenant.keyspaceName, 'events', bucket];
      for (const entry of this.db.getRange({ start: prefix as Key })) {
        const key = entry.key as Key[];
        if (!Array.isArray(key) || !prefix.every((part, index) => key[index] === part)) break;
        if (key.length === prefix.length) continue;
        const { occurredAtMs, ...rest } = entry.value as StoredEvent;
        const event: EngineEventRecord = { ...rest, occurredAt: new Date(occurredAtMs) };
        if (inRange(event.occurredAt, range)) events.push(event);
      }
    }
    return events.sort(compareEvents);
  }
}

/** msgpack hands binary back as a Uint8Array view; callers expect a Buffer. */
function fromStored(message: StoredVirtualMessage): StoredVirtualMessage {
  if (message.body === undefined || Buffer.isBuffer(message.body)) return message;
  const body = message.body as Uint8Array;
  return { ...message, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
}
