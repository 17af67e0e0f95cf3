/**
 * What the Store keeps of engine events besides the raw rows (view-types.ts, EngineEventRecord):
 * the indexes the event listing reads (by tenant, campaign, user, Message-ID; newest first), the
 * report counters (per campaign, hour, variant and kind, kept as events are recorded, never
 * counted at query time), the per-campaign user sets that make unique-user counts exact, and the
 * tracked messages (what a user was shown, with its events and the rendered bytes).
 *
 * All of it is written by one store call, `recordEvents`, in the same write as the event row, and
 * only when the event row is new: a repeated report changes no counter. Plain data and pure
 * helpers both stores share; must never hold anything either store cannot keep exactly.
 */
import type { EngineEventType, EventOrigin } from '@inlay/schemas';
import type { EngineEventRecord, EventRange } from './view-types.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** How long events, their indexes and tracked messages are kept unless configured (events.retentionDays). */
export const DEFAULT_EVENT_RETENTION_MS = 90 * DAY_MS;

/** The message bytes a user's client was given for one virtual message (the injection). */
export interface ShownMessage {
  readonly userKey: string;
  /** `<uidValidity>:<uid>`, as in the event. */
  readonly objectId: string;
  readonly body: Buffer;
}

/** Which index a listing walks: every event of the tenant, or those of one campaign, user or
 *  Message-ID. The other filters of a query are applied to what the index yields. */
export type EventIndexKind = 'all' | 'campaign' | 'user' | 'message';
export interface EventIndexRef {
  readonly kind: EventIndexKind;
  /** '' for 'all'. */
  readonly value: string;
}

/** Where a page ended: the next page lists strictly older events (then smaller ids). */
export interface EventCursor {
  readonly atMs: number;
  readonly eventId: string;
}

export interface EventQuery {
  readonly index: EventIndexRef;
  readonly range: EventRange;
  readonly types?: readonly EngineEventType[];
  readonly campaignId?: string;
  readonly userKey?: string;
  readonly messageId?: string;
  readonly limit: number;
  readonly after?: EventCursor;
}

export interface EventQueryPage {
  /** Newest first (then by id, descending). */
  readonly events: EngineEventRecord[];
  /** Present when the page is full: there may be more. */
  readonly next?: EventCursor;
}

/** The kinds of unique-user sets: a reinjection counts as being shown the campaign. */
export type UniqueKind = 'injected' | 'read' | 'expunged';
export type CounterKind = EngineEventType | `unique:${UniqueKind}`;
export const COUNTER_KINDS: readonly CounterKind[] = ['injected', 'reinjected', 'read', 'expunged', 'unique:injected', 'unique:read', 'unique:expunged'];

/** One counter of a campaign: events (or first-time users) of one kind, variant and hour. */
export interface CounterRow {
  readonly hourMs: number;
  readonly variantId: string | null;
  readonly kind: CounterKind;
  readonly count: number;
}

export interface TrackedEventRecord {
  readonly eventId: string;
  readonly type: EngineEventType;
  readonly occurredAt: Date;
  readonly origin?: EventOrigin;
}

/** One campaign message shown to one user, with every event recorded about it. */
export interface TrackedMessageRecord {
  readonly userKey: string;
  readonly objectId: string;
  readonly campaignId: string;
  readonly variantId: string | null;
  readonly messageId: string;
  readonly uid: number;
  readonly uidValidity: number;
  /** Oldest first. */
  readonly events: readonly TrackedEventRecord[];
  /** The bytes the client fetched; only from getTrackedMessage, absent once expired. */
  readonly body?: Buffer;
}

export function uniqueKindOf(type: EngineEventType): UniqueKind {
  switch (type) {
    case 'injected':
    case 'reinjected':
      return 'injected';
    case 'read':
      return 'read';
    case 'expunged':
      return 'expunged';
  }
}

export function hourOf(at: Date): number {
  return Math.floor(at.getTime() / HOUR_MS) * HOUR_MS;
}

/** The indexes an event is listed under. */
export function indexesOf(event: EngineEventRecord): EventIndexRef[] {
  return [
    { kind: 'all', value: '' },
    { kind: 'campaign', value: event.campaignId },
    { kind: 'user', value: event.userKey },
    { kind: 'message', value: event.messageId },
  ];
}

/** Whether `event` passes the query's filters other than its index and range. */
export function matchesQuery(event: EngineEventRecord, query: EventQuery): boolean {
  return (
    (query.types === undefined || query.types.includes(event.type)) &&
    (query.campaignId === undefined || event.campaignId === query.campaignId) &&
    (query.userKey === undefined || event.userKey === query.userKey) &&
    (query.messageId === undefined || event.messageId === query.messageId)
  );
}

/** Newest first, then by id descending: the order of every listing and of its cursor. */
export function compareNewestFirst(a: EngineEventRecord, b: EngineEventRecord): number {
  return b.occurredAt.getTime() - a.occurredAt.getTime() || (a.eventId < b.eventId ? 1 : a.eventId > b.eventId ? -1 : 0);
}

/** True when `event` comes after the cursor in newest-first order. */
export function isAfterCursor(event: EngineEventRecord, cursor: EventCursor | undefined): boolean {
  if (cursor === undefined) return true;
  const at = event.occurredAt.getTime();
  return at < cursor.atMs || (at === cursor.atMs && event.eventId < cursor.eventId);
}

export function trackedEventOf(event: EngineEventRecord): TrackedEventRecord {
  return { eventId: event.eventId, type: event.type, occurredAt: event.occurredAt, ...(event.origin === undefined ? {} : { origin: event.origin }) };
}

/** Events as both stores keep them in JSON or msgpack: dates as milliseconds. */
export type SerializedEvent = Omit<EngineEventRecord, 'occurredAt'> & { readonly occurredAtMs: number };

export function serializeEvent({ occurredAt, ...rest }: EngineEventRecord): SerializedEvent {
  return { ...rest, occurredAtMs: occurredAt.getTime() };
}

export function deserializeEvent({ occurredAtMs, ...rest }: SerializedEvent): EngineEventRecord {
  return { ...rest, occurredAt: new Date(occurredAtMs) };
}
