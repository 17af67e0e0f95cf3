/**
 * Payloads of the conversion point delivery API: secrets, health, the delivery log, resend and
 * recover (middleware/src/routes/deliveries.ts). Times are ISO 8601 strings.
 */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from './text.js';
import { ItemId, TenantId } from './tenant.js';

export const PointParamsSchema = Type.Object({ id: TenantId, cpid: ItemId }, { additionalProperties: false });
export type PointParams = Static<typeof PointParamsSchema>;

/** A delivery is named by its event id (a timeuuid): the same id the receiver sees in webhook-id. */
export const DeliveryParamsSchema = Type.Object(
  { id: TenantId, cpid: ItemId, deliveryId: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'the event id' }) },
  { additionalProperties: false },
);
export type DeliveryParams = Static<typeof DeliveryParamsSchema>;

export const PointSecretSchema = Type.Object({ secret: Type.String({ description: 'whsec_ followed by base64: the Standard Webhooks signing secret' }) }, { additionalProperties: false });

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
const Time = Type.String({ format: 'date-time' });

export const PointHealthSchema = Type.Object(
  {
    pointId: Type.String(),
    health: StringEnum(['healthy', 'failing', 'disabled'] as const, { description: 'failing: the last attempt failed and none succeeded since' }),
    disabledReason: Type.Optional(Type.String()),
    disabledAt: Type.Optional(Time),
    lastSuccessAt: Type.Optional(Time),
    lastFailureAt: Type.Optional(Time),
    failingSince: Type.Optional(Time),
    lastError: Type.Optional(Type.String()),
    backlog: Type.Integer({ description: 'deliveries waiting for an attempt' }),
  },
  { additionalProperties: false },
);

export const DeliverySummarySchema = Type.Object(
  {
    deliveryId: Type.String({ description: 'the event id, sent as webhook-id' }),
    eventType: Type.String(),
    state: StringEnum(DELIVERY_STATES),
    attempts: Type.Integer(),
    createdAt: Time,
    updatedAt: Time,
    nextAttemptAt: Type.Optional(Time),
    lastResult: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const DeliverySummaryListSchema = Type.Array(DeliverySummarySchema);

export const DeliveryAttemptSchema = Type.Object(
  {
    attempt: Type.Integer(),
    at: Time,
    ok: Type.Boolean(),
    status: Type.Optional(Type.Integer({ description: 'HTTP status; absent when there was no answer' })),
    latencyMs: Type.Integer(),
    response: Type.Optional(Type.String({ description: 'the first 1 KB of the answer' })),
    error: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const DeliveryDetailSchema = Type.Object(
  { ...DeliverySummarySchema.properties, event: Type.Record(Type.String(), Type.Unknown(), { description: 'the event as delivered: the shape of GET …/events (EngineEvent)' }), log: Type.Array(DeliveryAttemptSchema) },
  { additionalProperties: false },
);

export const DeliveryListQuerySchema = Type.Object(
  { state: Type.Optional(StringEnum(DELIVERY_STATES)), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) },
  { additionalProperties: false },
);
export type DeliveryListQueryInput = Static<typeof DeliveryListQuerySchema>;

export const RecoverBodySchema = Type.Object(
  { since: Type.String({ minLength: 10, maxLength: 40, description: 'ISO 8601 date-time: resend every failed or dead delivery made since then' }) },
  { additionalProperties: false },
);
export type RecoverBody = Static<typeof RecoverBodySchema>;

export const RequeuedSchema = Type.Object({ requeued: Type.Integer() }, { additionalProperties: false });

/** Types of the operator's view, for clients (the web UI). */
export type PointHealth = Static<typeof PointHealthSchema>;
export type DeliverySummary = Static<typeof DeliverySummarySchema>;
export type DeliveryDetail = Static<typeof DeliveryDetailSchema>;

/** POST …/dataSources/{dsid}/test: whether the bucket answers, with S3's reason when not. */
export const DataSourceTestParamsSchema = Type.Object({ id: TenantId, dsid: ItemId }, { additionalProperties: false });
export type DataSourceTestParams = Static<typeof DataSourceTestParamsSchema>;
export const DataSourceTestResultSchema = Type.Object(
  { ok: Type.Boolean(), message: Type.String({ description: 'what was checked, or why it failed (S3 error code, network error); never a secret' }), latencyMs: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type DataSourceTestResult = Static<typeof DataSourceTestResultSchema>;
