/**
 * Campaigns: what a tenant injects into its users' INBOX views, to whom, when, where in the list,
 * how often, and in which variants. Three shapes, as for tenants:
 *
 * - input (`CampaignInput`): what a client POSTs or PUTs; everything but `name`, `template`,
 *   `audience` and `schedule` has a default;
 * - stored (`Campaign`): the input with defaults applied, plus the server's `id`, stored
 *   `status`, `revision` and timestamps;
 * - view (`CampaignView`): the stored campaign with its *effective* status (`running` is derived,
 *   see below) and the lifecycle actions that status allows.
 *
 * Lifecycle (stored statuses draft | scheduled | paused | ended; `running` is never stored):
 *
 *     draft --schedule--> scheduled --pause--> paused --resume--> scheduled
 *     draft | scheduled | paused --end--> ended          (ended is final)
 *
 * A stored `scheduled` campaign is shown as `scheduled` before `schedule.startAt`, `running`
 * from `startAt` until `endAt`, and `ended` from `endAt` on (a `paused` one past `endAt` is
 * `ended` too). So nothing has to wake up at `startAt` to flip a flag, and every node agrees.
 *
 * Tagged unions (`audience.type`, `position.type`, `reinjection.policy`, rule `op`) are written
 * as if/then/else chains on the tag rather than `oneOf`, so a validation error names the field of
 * the branch the client meant (`body.audience.importId is required`), not of the first branch.
 *
 * Must never import anything of Inlay's (this package is the leaf every other one imports).
 */
import { Type, type Static, type TObject, type TSchema, type TUnion, type TUnsafe } from '@sinclair/typebox';
import { ItemId, TenantId } from './tenant.js';
import { MultiLineText, OpaqueToken, RULE, SingleLineText, StringEnum } from './text.js';

// --- statuses and actions ---

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'running', 'paused', 'ended'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
/** What the store keeps: `running` is derived from `scheduled` and the clock. */
export const STORED_CAMPAIGN_STATUSES = ['draft', 'scheduled', 'paused', 'ended'] as const;
export type StoredCampaignStatus = (typeof STORED_CAMPAIGN_STATUSES)[number];
export const CAMPAIGN_ACTIONS = ['schedule', 'pause', 'resume', 'end'] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

/**
 * Campaign ids are version-1 (time-based) UUIDs: Cassandra's `timeuuid`, so one partition lists
 * a tenant's campaigns in creation order. Lowercase only; the version nibble must be 1 (Cassandra
 * refuses any other UUID in a timeuuid column).
 */
export const CampaignId = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
  [RULE]: 'a lowercase version-1 UUID, as returned by POST …/campaigns',
});

/** RFC 3339 with a zone (`2030-01-31T08:00:00Z`, `…+02:00`); the server stores it in UTC. */
export const Timestamp = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|z|[+-][0-9]{2}:[0-9]{2})$',
  [RULE]: 'an RFC 3339 timestamp with a zone, e.g. "2030-01-31T08:00:00Z"',
});

const ClockTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', [RULE]: 'a time of day "HH:MM" (00:00–23:59)' });

/**
 * A tagged union as a chain of if/then/else on `tag` (see the header). The last `else` only says
 * which tags exist, so an unknown tag is reported as "must be one of …".
 */
function taggedUnion<Branches extends TObject[]>(tag: string, branches: [...Branches], options: { description?: string } = {}): TUnsafe<Static<TUnion<Branches>>> {
  const tagOf = (branch: TObject): string => (branch.properties[tag] as unknown as { const: string }).const;
  let chain: Record<string, unknown> = { type: 'object', required: [tag], properties: { [tag]: { type: 'string', enum: branches.map(tagOf) } } };
  for (const branch of [...branches].reverse()) {
    chain = { if: { type: 'object', required: [tag], properties: { [tag]: { const: tagOf(branch) } } }, then: branch, else: chain };
  }
  return Type.Unsafe<Static<TUnion<Branches>>>({ ...chain, ...options });
}

/** The same for two shapes told apart by a property only one of them has. */
function eitherOr<Then extends TSchema, Else extends TSchema>(property: string, then: Then, otherwise: Else, options: { description?: string } = {}) {
  return Type.Unsafe<Static<Then> | Static<Else>>({ if: { type: 'object', required: [property] }, then, else: otherwise, ...options });
}

/** A schema with a description or default of its own (a spread would lose TypeBox's symbols). */
function annotated<Schema extends TSchema>(schema: Schema, annotations: { description?: string; default?: unknown }): TUnsafe<Static<Schema>> {
  return Type.Unsafe<Static<Schema>>({ ...schema, ...annotations });
}

// --- template ---

/** Bounds that keep a campaign far below the 1 MiB body limit even with a few variants. */
export const TEMPLATE_LIMITS = { subject: 2000, from: 500, html: 200_000, text: 100_000 } as const;

export const InlineTemplateSchema = Type.Object(
  {
    subject: SingleLineText({ maxLength: TEMPLATE_LIMITS.subject, description: 'Handlebars source of the Subject header' }),
    from: SingleLineText({
      maxLength: TEMPLATE_LIMITS.from,
      description: 'Handlebars source of the From header: an address, optionally with a display name ("News {{brand}} <news@example.com>")',
    }),
    html: MultiLineText({ maxLength: TEMPLATE_LIMITS.html, description: 'Handlebars source of the text/html part' }),
    text: MultiLineText({ maxLength: TEMPLATE_LIMITS.text, description: 'Handlebars source of the text/plain part' }),
  },
  { additionalProperties: false },
);
export type InlineTemplate = Static<typeof InlineTemplateSchema>;

export const TemplateReferenceSchema = Type.Object(
  {
    dataSourceId: Type.Optional(annotated(ItemId, { description: 'a data source of the tenant; the default data source when left out' })),
    objectKey: OpaqueToken({ maxLength: 1024, description: 'key of the template object in that data source' }),
  },
  { additionalProperties: false },
);
export type TemplateReference = Static<typeof TemplateReferenceSchema>;

export const CampaignTemplateSchema = eitherOr('objectKey', TemplateReferenceSchema, InlineTemplateSchema, {
  description: 'inline Handlebars sources {subject, from, html, text}, or {dataSourceId?, objectKey} naming a template object',
});
export type CampaignTemplate = InlineTemplate | TemplateReference;

// --- audience ---

export const AttributeName = Type.String({
  pattern: '^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$',
  [RULE]: 'a letter or "_", then up to 63 letters, digits, "_", ".", ":" or "-"',
});
const AttributeValue = SingleLineText({ maxLength: 1000, minLength: 0 });
const NumberOrText = Type.Union([Type.Number(), AttributeValue]);

const ruleWithValue = <Op extends string, Value extends TSchema>(op: Op, value: Value, description: string) =>
  Type.Object({ attribute: AttributeName, op: Type.Literal(op), value }, { additionalProperties: false, description });

export const AudienceRuleSchema = taggedUnion('op', [
  ruleWithValue('eq', AttributeValue, 'the attribute equals value'),
  ruleWithValue('ne', AttributeValue, 'the attribute is missing or differs from value'),
  ruleWithValue('in', Type.Array(AttributeValue, { minItems: 1, maxItems: 1000 }), 'the attribute is one of value'),
  Type.Object({ attribute: AttributeName, op: Type.Literal('exists') }, { additionalProperties: false, description: 'the user has the attribute' }),
  ruleWithValue('gt', NumberOrText, 'greater than value: numerically when both are numbers, else by text'),
  ruleWithValue('lt', NumberOrText, 'less than value: numerically when both are numbers, else by text'),
  ruleWithValue('prefix', AttributeValue, 'the attribute starts with value'),
]);
export type AudienceRule = Static<typeof AudienceRuleSchema>;
export const AUDIENCE_RULE_OPS = ['eq', 'ne', 'in', 'exists', 'gt', 'lt', 'prefix'] as const;

/** Audience rules are evaluated per login; a few dozen keep that cheap. */
const AUDIENCE_RULES_MAX = 50;

export const AudienceSchema = taggedUnion(
  'type',
  [
    Type.Object({ type: Type.Literal('all') }, { additionalProperties: false, description: 'every user of the tenant' }),
    Type.Object({ type: Type.Literal('list'), importId: ItemId }, { additionalProperties: false, description: 'the users of one import' }),
    Type.Object(
      {
        type: Type.Literal('rules'),
        match: Type.Optional(StringEnum(['all', 'any'] as const, { default: 'all', description: 'all rules must hold, or any one' })),
        rules: Type.Array(AudienceRuleSchema, { minItems: 1, maxItems: AUDIENCE_RULES_MAX }),
      },
      { additionalProperties: false, description: 'users whose attributes match the rules' },
    ),
  ],
  { description: '{"type":"all"}, {"type":"list","importId"} or {"type":"rules","rules":[…],"match":"all"|"any"}' },
);
export type Audience = Static<typeof AudienceSchema>;

// --- schedule, position, frequency, reinjection ---

export const ScheduleSchema = Type.Object(
  {
    startAt: Timestamp,
    endAt: annotated(Timestamp, { description: 'after startAt' }),
    dailyWindow: Type.Optional(
      Type.Object(
        { from: ClockTime, to: ClockTime },
        { additionalProperties: false, description: 'inject only between from and to (local time in timeZone); from after to spans midnight' },
      ),
    ),
    timeZone: Type.Optional(
      Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$', [RULE]: 'an IANA time zone name, e.g. "Europe/Berlin"', default: 'UTC', description: 'IANA name; the daily window is in this zone' }),
    ),
  },
  { additionalProperties: false },
);
export type Schedule = Static<typeof ScheduleSchema>;

export const PositionSchema = taggedUnion(
  'type',
  [
    Type.Object({ type: Type.Literal('newest') }, { additionalProperties: false, description: 'on top of the INBOX: dated when injected' }),
    Type.Object({ type: Type.Literal('fixedDate'), date: Timestamp }, { additionalProperties: false, description: 'sorted among real mail as if received at date' }),
  ],
  { description: '{"type":"newest"} (default) or {"type":"fixedDate","date"}' },
);
export type Position = Static<typeof PositionSchema>;

export const FrequencySchema = Type.Object(
  {
    maxVisibleUnseen: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1, description: "at most this many of the campaign's messages unseen in a user's view at once" })),
    minDelayMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 525_600, default: 0, description: 'minutes between two injections for one user' })),
  },
  { additionalProperties: false },
);
export type Frequency = Static<typeof FrequencySchema>;

export const ReinjectionSchema = taggedUnion(
  'policy',
  [
    Type.Object({ policy: Type.Literal('never') }, { additionalProperties: false, description: 'a user gets the campaign once' }),
    Type.Object(
      {
        policy: Type.Literal('afterExpunge'),
        delayHours: Type.Integer({ minimum: 0, maximum: 8760, description: 'hours after the user deleted it' }),
        maxReinjections: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'how often it comes back at most' })),
      },
      { additionalProperties: false, description: 'inject again, as a new message with a new UID, after the user expunged it' },
    ),
  ],
  { description: '{"policy":"never"} (default) or {"policy":"afterExpunge","delayHours","maxReinjections"?}' },
);
export type Reinjection = Static<typeof ReinjectionSchema>;

// --- variants ---

/** A/B tests compare a handful of variants, not hundreds. */
const VARIANTS_MAX = 10;

export const VariantSchema = Type.Object(
  {
    id: ItemId,
    weight: Type.Integer({ minimum: 1, maximum: 10_000, description: 'share of users: weight / sum of all weights' }),
    template: CampaignTemplateSchema,
  },
  { additionalProperties: false },
);
export type Variant = Static<typeof VariantSchema>;

// --- the campaign ---

const campaignFields = {
  name: SingleLineText({ maxLength: 200 }),
  template: CampaignTemplateSchema,
  audience: AudienceSchema,
  schedule: ScheduleSchema,
};

export const CampaignInputSchema = Type.Object(
  {
    ...campaignFields,
    position: Type.Optional(annotated(PositionSchema, { default: { type: 'newest' } })),
    frequency: Type.Optional(annotated(FrequencySchema, { default: {} })),
    reinjection: Type.Optional(annotated(ReinjectionSchema, { default: { policy: 'never' } })),
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, default: 0, description: 'higher wins when campaigns compete for a slot' })),
    variants: Type.Optional(
      Type.Array(VariantSchema, {
        minItems: 1,
        maxItems: VARIANTS_MAX,
        description: 'A/B test: each user gets one variant, by weight; the campaign template is then only the fallback (preview without a variant)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CampaignInput = Static<typeof CampaignInputSchema>;

const serverFields = {
  id: CampaignId,
  revision: Type.Integer({ minimum: 1, description: 'increases with every change; send it back in If-Match to update only what you read' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
};

const storedFields = {
  ...campaignFields,
  schedule: Type.Object(
    { startAt: Timestamp, endAt: Timestamp, dailyWindow: ScheduleSchema.properties.dailyWindow, timeZone: Type.String() },
    { additionalProperties: false },
  ),
  position: PositionSchema,
  frequency: Type.Object({ maxVisibleUnseen: Type.Integer(), minDelayMinutes: Type.Integer() }, { additionalProperties: false }),
  reinjection: ReinjectionSchema,
  priority: Type.Integer(),
  variants: Type.Optional(Type.Array(VariantSchema)),
};

export const CampaignSchema = Type.Object({ ...serverFields, status: StringEnum(STORED_CAMPAIGN_STATUSES), ...storedFields }, { additionalProperties: false });
export type Campaign = Static<typeof CampaignSchema>;

export const CampaignViewSchema = Type.Object(
  {
    ...serverFields,
    status: StringEnum(CAMPAIGN_STATUSES, { description: 'effective status: a scheduled campaign is "running" between startAt and endAt, "ended" after' }),
    actions: Type.Array(StringEnum(CAMPAIGN_ACTIONS), { description: 'the lifecycle actions the current status allows' }),
    ...storedFields,
  },
  { additionalProperties: false },
);
export type CampaignView = Static<typeof CampaignViewSchema>;
export const CampaignViewListSchema = Type.Array(CampaignViewSchema);

// --- URL parts ---

export const CampaignParamsSchema = Type.Object({ id: TenantId, cid: CampaignId }, { additionalProperties: false });
export type CampaignParams = Static<typeof CampaignParamsSchema>;

export const CampaignListQuerySchema = Type.Object(
  { status: Type.Optional(StringEnum(CAMPAIGN_STATUSES, { description: 'only campaigns with this effective status' })) },
  { additionalProperties: false },
);
export type CampaignListQuery = Static<typeof CampaignListQuerySchema>;


/** `?user=` of a preview: the address the message is rendered for. */
export const CampaignPreviewQuerySchema = Type.Object(
  { user: Type.String({ minLength: 3, maxLength: 320, description: "the user's email address (hashed by the tenant's rule when configured)" }) },
  { additionalProperties: false },
);
export type CampaignPreviewQuery = Static<typeof CampaignPreviewQuerySchema>;

// --- audience count (GET /api/tenants/{id}/audience/count) ---

/** `?audience=` of an audience count: the audience as JSON, in the shape a campaign's takes.
 *  A query parameter, not a body, because counting is a read (GET), never audited as a change. */
export const AudienceCountQuerySchema = Type.Object(
  {
    audience: Type.String({
      minLength: 2,
      maxLength: 65536,
      description: 'the audience as JSON, URL-encoded: {"type":"all"}, {"type":"list","importId"} or {"type":"rules","rules":[…],"match":"all"|"any"}',
    }),
  },
  { additionalProperties: false },
);
export type AudienceCountQuery = Static<typeof AudienceCountQuerySchema>;

export const AudienceCountSchema = Type.Object(
  {
    matching: Type.Integer({ minimum: 0, description: 'known users the audience matches (among those scanned)' }),
    scanned: Type.Integer({ minimum: 0, description: 'known users looked at' }),
    exact: Type.Boolean({ description: 'false when the scan stopped at its row or time bound: matching is then a lower bound' }),
  },
  { additionalProperties: false },
);
export type AudienceCount = Static<typeof AudienceCountSchema>;
