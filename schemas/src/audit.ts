/**
 * The audit trail of REST changes (GET /api/audit) and a tenant's configuration history
 * (GET /api/tenants/{id}/history): who changed what, when, from where, with the state before and
 * after — secrets masked before anything is stored, so no shape here can carry one.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from './events.js';
import { StringEnum } from './text.js';

// `dataSource` (one source, not the tenant's list): an operation on it, not a configuration change.
export const AUDIT_TARGET_TYPES = ['tenant', 'dataSources', 'dataSource', 'conversionPoints', 'conversionPoint', 'delivery', 'token', 'campaign', 'import'] as const;
export type AuditTargetType = (typeof AUDIT_TARGET_TYPES)[number];
/** What a tenant's configuration history shows: the parts of OX Engage's tenant JSON and its
 *  campaigns, not operations on them (tokens, imports, resends). */
export const HISTORY_TARGET_TYPES = ['tenant', 'dataSources', 'conversionPoints', 'campaign'] as const satisfies readonly AuditTargetType[];

export const AuditActorSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('admin'), Type.Literal('tenant')]),
    tokenId: Type.String({ description: '"admin" for the admin token, else the tenant token\'s id' }),
    name: Type.String({ description: 'the token\'s name: "admin", or the name given when the tenant token was made (its tenant\'s when none)' }),
  },
  { additionalProperties: false },
);

export const AuditChangeSchema = Type.Object(
  {
    path: Type.String({ description: 'where in the target it changed, e.g. dataSources[0].bucket' }),
    before: Type.Optional(Type.Unknown()),
    after: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export const AuditEntrySchema = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ format: 'date-time' }),
    tenantId: Type.String(),
    actor: AuditActorSchema,
    address: Type.String({ description: "the caller's address as the middleware saw it (request.ip)" }),
    requestId: Type.String(),
    route: Type.String({ description: 'method and OpenAPI path, e.g. "PUT /api/tenants/{id}/dataSources"' }),
    action: Type.String({ description: 'e.g. "campaign.schedule", "dataSources.replace"' }),
    target: Type.Object({ type: StringEnum(AUDIT_TARGET_TYPES), id: Type.String() }, { additionalProperties: false }),
    before: Type.Unknown({ description: 'the target before the change (null when it did not exist); secrets masked' }),
    after: Type.Unknown({ description: 'the target after the change (null when it is gone); secrets masked' }),
    changes: Type.Array(AuditChangeSchema, { description: 'the leaves that differ; a changed secret shows as masked on both sides' }),
  },
  { additionalProperties: false },
);
export type AuditEntryView = Static<typeof AuditEntrySchema>;

const pageFields = {
  from: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339, inclusive; default: the retention ago' })),
  to: Type.Optional(Type.String({ maxLength: 40, description: 'RFC 3339, exclusive; default: now' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
};
const filterText = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }));

export const AuditQuerySchema = Type.Object(
  {
    tenant: filterText('only this tenant\'s entries (a tenant token sees only its own tenant\'s, and must name it)'),
    actor: filterText('only changes made with this token id ("admin" for the admin token)'),
    action: filterText('e.g. campaign.schedule'),
    route: filterText('e.g. "PUT /api/tenants/{id}/dataSources"'),
    targetType: Type.Optional(StringEnum(AUDIT_TARGET_TYPES)),
    targetId: filterText('e.g. a campaign id'),
    ...pageFields,
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuerySchema>;

export const HistoryQuerySchema = Type.Object(
  {
    targetType: Type.Optional(StringEnum(HISTORY_TARGET_TYPES)),
    targetId: filterText('e.g. a campaign id'),
    ...pageFields,
  },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuerySchema>;

export const AuditPageSchema = Type.Object(
  {
    entries: Type.Array(AuditEntrySchema),
    /** Present when there may be more: pass it as `cursor` for the next page. */
    nextCursor: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type AuditPage = Static<typeof AuditPageSchema>;
