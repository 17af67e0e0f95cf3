/**
 * Engine events as the REST API shows them, and what is read from them: the event listing, the
 * campaign report and message tracking (issue 12, sections 2, 4 and 5).
 *
 * An event is recorded by the middleware when a view change of the proxy's makes it happen
 * (engine.ts: assign → injected / reinjected, flags → read, expunge → expunged). Its id is derived
 * from what it is about, so every session that reports the same read gets the same id; the first
 * report's origin (node, client address, client name) is the one kept.
 *
 * Must never import anything of Inlay's (this package is the leaf every other one imports).
 */
import { Type, type Static } from '@sinclair/typebox';
import { ENGINE_EVENT_TYPES, EventOriginSchema } from './engine.js';


const EventType = Type.Union(ENGINE_EVENT_TYPES.map((type) => Type.Literal(type)));

/** One event as GET /api/tenants/{id}/events lists it. */
export const EngineEventSchema = Type.Object(
  {
    id: Type.String({ description: 'version-1 UUID derived from tenant, user, mailbox, UIDVALIDITY, UID and type; the same on every report' }),
    type: EventType,
    tenantId: Type.String(),
    campaignId: Type.String(),
    variantId: Type.Union([Type.String(), Type.Null()]),
    userKey: Type.String({ description: 'the normalized address, or its HMAC-SHA256 hash when the tenant hashes addresses' }),
    messageId: Type.String(),
    objectId: Type.String({ description: '<UIDVALIDITY>:<UID> of the message in the user’s INBOX (client UIDs)' }),
    uid: Type.Integer({ minimum: 1 }),
    uidValidity: Type.Integer({ minimum: 1 }),
    occurredAt: Type.String({ format: 'date-time' }),
    ...EventOriginSchema.properties,
  },
  { additionalProperties: false },
);
export type EngineEvent = Static<typeof EngineEventSchema>;

/** The body of a `webhook` delivery and of an `amqp` message (Standard Webhooks v1): `data` is the
 *  event exactly as GET /api/tenants/{id}/events lists it, so a receiver and the REST API speak of
 *  one event in one shape. */
export const WebhookBodySchema = Type.Object(
  {
    type: Type.String({ pattern: '^inlay\\.(injected|reinjected|read|expunged)$', description: 'inlay.<event type>' }),
    timestamp: Type.String({ format: 'date-time', description: 'when the event happened (its occurredAt)' }),
    data: EngineEventSchema,
  },
  { additionalProperties: false },
);
export type WebhookBody = Static<typeof WebhookBodySchema>;

/** Listings are newest first; a cursor is opaque and carries where the last page ended. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;

export const EventListQuerySchema = Type.Object(
  {
    campaignId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    type: Type.Optional(EventType),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'an address (hashed first when the tenant hashes addresses) or a user key' })),
    messageId: Type.Optional(Type.String({ minLength: 1, maxLength: 998 })),
    from: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339, inclusive; default: the retention ago' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339, exclusive; default: now' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type EventListQuery = Static<typeof EventListQuerySchema>;

export const EventPageSchema = Type.Object(
  {
    events: Type.Array(EngineEventSchema),
    /** Present when there may be more: pass it as `cursor` for the next page. */
    nextCursor: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type EventPage = Static<typeof EventPageSchema>;

// --- reports ---

const Count = Type.Integer({ minimum: 0 });
export const EventTotalsSchema = Type.Object({ injected: Count, reinjected: Count, read: Count, expunged: Count }, { additionalProperties: false });
export type EventTotals = Static<typeof EventTotalsSchema>;
export const UniqueUsersSchema = Type.Object({ injected: Count, read: Count, expunged: Count }, { additionalProperties: false });
export type UniqueUsers = Static<typeof UniqueUsersSchema>;

const ReportFigures = {
  totals: EventTotalsSchema,
  /** Users whose first event of the kind (injected counts reinjected too) fell in the range. */
  uniqueUsers: UniqueUsersSchema,
  /** uniqueUsers.read / uniqueUsers.injected; 0 when nobody was shown the campaign. */
  readRate: Type.Number({ minimum: 0 }),
  expungeRate: Type.Number({ minimum: 0 }),
};

export const ReportQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339, inclusive, rounded down to the hour; default: the campaign’s creation' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339, exclusive, rounded up to the hour; default: now' })),
    bucket: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'day' })),
  },
  { additionalProperties: false },
);
export type ReportQuery = Static<typeof ReportQuerySchema>;

export const ReportBucketSchema = Type.Object(
  { start: Type.String({ format: 'date-time' }), ...EventTotalsSchema.properties },
  { additionalProperties: false },
);
export type ReportBucket = Static<typeof ReportBucketSchema>;

export const CampaignReportSchema = Type.Object(
  {
    campaignId: Type.String(),
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    bucket: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
    ...ReportFigures,
    variants: Type.Array(Type.Object({ variantId: Type.Union([Type.String(), Type.Null()]), ...ReportFigures }, { additionalProperties: false })),
    /** Every bucket of the range, oldest first, empty ones included. */
    series: Type.Array(ReportBucketSchema),
  },
  { additionalProperties: false },
);
export type CampaignReport = Static<typeof CampaignReportSchema>;

export const CampaignOverviewSchema = Type.Object(
  {
    campaigns: Type.Array(
      Type.Object({ campaignId: Type.String(), name: Type.String(), status: Type.String(), ...ReportFigures }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type CampaignOverview = Static<typeof CampaignOverviewSchema>;

// --- message tracking ---

export const TrackingQuerySchema = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    messageId: Type.Optional(Type.String({ minLength: 1, maxLength: 998 })),
    campaignId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type TrackingQuery = Static<typeof TrackingQuerySchema>;

export const TrackedEventSchema = Type.Object(
  {
    id: Type.String(),
    type: EventType,
    at: Type.String({ format: 'date-time' }),
    node: Type.Union([Type.String(), Type.Null()]),
    clientAddress: Type.Union([Type.String(), Type.Null()]),
    clientName: Type.Union([Type.String(), Type.Null()]),
    clientVersion: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type TrackedEvent = Static<typeof TrackedEventSchema>;

export const TrackedMessageSchema = Type.Object(
  {
    userKey: Type.String(),
    objectId: Type.String(),
    campaignId: Type.String(),
    variantId: Type.Union([Type.String(), Type.Null()]),
    messageId: Type.String(),
    uid: Type.Integer({ minimum: 1 }),
    uidValidity: Type.Integer({ minimum: 1 }),
    /** Oldest first. */
    events: Type.Array(TrackedEventSchema),
  },
  { additionalProperties: false },
);
export type TrackedMessage = Static<typeof TrackedMessageSchema>;

export const TrackingPageSchema = Type.Object(
  { messages: Type.Array(TrackedMessageSchema), nextCursor: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type TrackingPage = Static<typeof TrackingPageSchema>;

export const TrackedMessageQuerySchema = Type.Object(
  { user: Type.String({ minLength: 1, maxLength: 320 }), objectId: Type.String({ minLength: 3, maxLength: 24, pattern: '^[0-9]+:[0-9]+$' }) },
  { additionalProperties: false },
);
export type TrackedMessageQuery = Static<typeof TrackedMessageQuerySchema>;
