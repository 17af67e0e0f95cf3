/**
 * From a REST query to a store query and back: which index an event listing walks, the opaque
 * cursor, the user a `user=` parameter names, and the API shapes of events and tracked messages.
 * Pure.
 *
 * Must never return or keep a plain address for a tenant that hashes them: `user=` is turned into
 * the user key before anything else sees it.
 */
import type { EngineEvent, EngineEventType, Tenant, TrackedMessage } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import type { EventCursor, EventIndexRef, EventQuery, TrackedMessageRecord } from '../store/event-types.js';
import type { EngineEventRecord, EventRange } from '../store/view-types.js';
import { userKeyFor } from '../users/user-key.js';

/** The user key `user=` names: an address (with "@") goes through the tenant's hashing; anything
 *  else is taken as a user key already (what events and exports show). */
export function userKeyOf(tenant: Pick<Tenant, 'configuration'>, user: string): string {
  return user.includes('@') ? userKeyFor(tenant, user) : user.trim().toLowerCase();
}

export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(`${cursor.atMs}.${cursor.eventId}`, 'utf8').toString('base64url');
}

export function decodeCursor(text: string | undefined): EventCursor | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (match === null) throw new MiddlewareError('INLAY_MW_VALIDATION', 'querystring.cursor is not a cursor this API gave out');
  return { atMs: Number(match[1]), eventId: match[2]! };
}

export function parseTime(text: string | undefined, field: string, fallback: Date): Date {
  if (text === undefined) return fallback;
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new MiddlewareError('INLAY_MW_VALIDATION', `querystring.${field} must be an RFC 3339 date-time`);
  return at;
}

export interface EventFilters {
  readonly campaignId?: string | undefined;
  readonly type?: EngineEventType | undefined;
  readonly userKey?: string | undefined;
  readonly messageId?: string | undefined;
}

/** The most selective index the filters allow: a user's events, a Message-ID's, a campaign's,
 *  else the tenant's. */
export function eventQueryFor(filters: EventFilters, range: EventRange, limit: number, after: EventCursor | undefined): EventQuery {
  const index: EventIndexRef =
    filters.userKey !== undefined
      ? { kind: 'user', value: filters.userKey }
      : filters.messageId !== undefined
        ? { kind: 'message', value: filters.messageId }
        : filters.campaignId !== undefined
          ? { kind: 'campaign', value: filters.campaignId }
          : { kind: 'all', value: '' };
  return {
    index,
    range,
    limit,
    ...(filters.type === undefined ? {} : { types: [filters.type] }),
    ...(filters.campaignId === undefined ? {} : { campaignId: filters.campaignId }),
    ...(filters.userKey === undefined ? {} : { userKey: filters.userKey }),
    ...(filters.messageId === undefined ? {} : { messageId: filters.messageId }),
    ...(after === undefined ? {} : { after }),
  };
}

export function toApiEvent(event: EngineEventRecord): EngineEvent {
  return {
    id: event.eventId,
    type: event.type,
    tenantId: event.tenantId,
    campaignId: event.campaignId,
    variantId: event.variantId,
    userKey: event.userKey,
    messageId: event.messageId,
    objectId: event.objectId,
    uid: event.uid,
    uidValidity: event.uidValidity,
    occurredAt: event.occurredAt.toISOString(),
    ...event.origin,
  };
}

export function toApiTrackedMessage(message: TrackedMessageRecord): TrackedMessage {
  return {
    userKey: message.userKey,
    objectId: message.objectId,
    campaignId: message.campaignId,
    variantId: message.variantId,
    messageId: message.messageId,
    uid: message.uid,
    uidValidity: message.uidValidity,
    events: message.events.map((event) => ({
      id: event.eventId,
      type: event.type,
      at: event.occurredAt.toISOString(),
      node: event.origin?.node ?? null,
      clientAddress: event.origin?.clientAddress ?? null,
      clientName: event.origin?.clientName ?? null,
      clientVersion: event.origin?.clientVersion ?? null,
    })),
  };
}
