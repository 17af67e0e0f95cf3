/**
 * Tenants as the OX Engage guide writes them (`seeds/ox-engage.txt`): the same field names and
 * nesting, so its example JSON, posted verbatim, is a valid tenant. Three shapes per object:
 *
 * - stored (`Tenant`, `DataSource`): what the store keeps, secrets included;
 * - input (`TenantInput`, `DataSourceInput`): what a client posts; a data source's S3 secret may
 *   be left out of a PUT to keep the stored one, and the read-only `secretKeySet` marker of a GET
 *   result is accepted so "list, modify, PUT back" works;
 * - view (`TenantView`, `DataSourceView`): what the API returns. Secrets are write-only: views
 *   have no field that could carry one, so the serializer drops them even if code passed them on.
 *
 * Must never import anything of Inlay's (this package is the leaf every other one imports).
 */
import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { MultiLineText, OpaqueToken, RULE, ShortName, SingleLineText, StringEnum } from './text.js';

export const TENANT_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,47}$';

/** Tenant ids appear in URLs, keyspace-derived names and log lines: lowercase and short. */
export const TenantId = Type.String({
  pattern: TENANT_ID_PATTERN,
  description: 'a lowercase letter or digit, then up to 47 lowercase letters, digits, "_" or "-"',
});

/**
 * A Cassandra keyspace name (unquoted CQL identifiers: letters, digits, underscore; at most 48).
 * Names starting with `system` are Cassandra's own and could be dropped by `dropDB=true`.
 */
export const KeyspaceName = Type.String({
  pattern: '^(?!system)[a-z][a-z0-9_]{0,47}$',
  description: 'a lowercase letter, then up to 47 lowercase letters, digits or "_", not starting with "system"',
});

/** Ids of data sources and conversion points, unique within their tenant's list. */
export const ItemId = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
  description: 'a letter or digit, then up to 63 letters, digits, "_", "." or "-"',
});

/** Events the proxy reports, named as in OX Engage. */
export const EVENT_TYPES = ['injected', 'reinjected', 'read', 'expunged'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An HMAC or S3 secret may be any text; 1 KiB is far beyond any sensible key. */
const secretKey = (description: string) => SingleLineText({ maxLength: 1024, description });
const SecretKeySet = Type.Boolean({ description: 'read-only: true when a secret key is stored (the key itself is never returned)' });

// --- conversion points (no secrets: one shape in and out) ---

export const ConversionPointSchema = Type.Object(
  {
    id: ItemId,
    // Left out: "webhook" (filled in by validation, so stored points always name their type).
    type: Type.Unsafe<string>({
      ...ShortName('how events are delivered: "webhook" (Standard Webhooks POST, the default), "ongage" (GET of the URL, the seed\'s tracking points) or "amqp" (publish to an exchange)'),
      default: 'webhook',
    }),
    eventType: StringEnum(EVENT_TYPES, { description: 'which event is delivered to this point' }),
    description: Type.Optional(MultiLineText({ maxLength: 1000 })),
    connectionInformation: Type.Object(
      {
        url: OpaqueToken({ maxLength: 2048, description: 'where events are delivered; may hold {{eventId}}, {{eventType}}, {{campaignId}}, {{userKey}}, {{email}}, {{messageId}}, {{occurredAt}}' }),
        exchange: Type.Optional(OpaqueToken({ maxLength: 255, description: 'amqp: the exchange events are published to' })),
        routingKey: Type.Optional(OpaqueToken({ maxLength: 255, description: 'amqp: the routing key, with the same placeholders as the URL' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ConversionPoint = Static<typeof ConversionPointSchema>;

/** Tens of tracking URLs per tenant at most; the bound keeps a PUT body small. */
const CONVERSION_POINTS_MAX = 64;
export const ConversionPointListSchema = Type.Array(ConversionPointSchema, {
  maxItems: CONVERSION_POINTS_MAX,
  description: 'the whole new list, with unique ids',
});

// --- data sources ---

const deleteTemporaryImportFiles = () => Type.Boolean({ default: false, description: 'delete an import file from the bucket once imported' });

function awsConnectionInformation<Secret extends TProperties>(secret: Secret) {
  return Type.Object(
    {
      authorizationType: ShortName('how requests are signed, e.g. "rados" (OX Engage) or "aws"'),
      accessKey: OpaqueToken({ maxLength: 256 }),
      ...secret,
      endpoint: OpaqueToken({ maxLength: 2048, description: 'S3 endpoint URL' }),
      bucket: OpaqueToken({ maxLength: 255 }),
      region: Type.Optional(ShortName('S3 region, e.g. "us-east-1"')),
      pathStyle: Type.Optional(Type.Boolean({ description: 'address the bucket in the path, as most S3-compatible stores need' })),
    },
    { additionalProperties: false },
  );
}

function dataSource<Secret extends TProperties>(secret: Secret) {
  return Type.Object(
    {
      id: ItemId,
      type: ShortName('the data source kind, e.g. "ongage"'),
      defaultDataSource: Type.Boolean({ description: 'exactly one data source of a tenant is the default' }),
      deleteTemporaryImportFiles: deleteTemporaryImportFiles(),
      awsConnectionInformation: awsConnectionInformation(secret),
    },
    { additionalProperties: false },
  );
}

export const DataSourceSchema = dataSource({ secretKey: secretKey('S3 secret key') });
/** Input: what a client may leave out (a kept secret, fields with defaults) is optional. */
export const DataSourceInputSchema = Type.Object(
  {
    id: ItemId,
    type: ShortName('the data source kind, e.g. "ongage"'),
    defaultDataSource: Type.Boolean({ description: 'exactly one data source of a tenant is the default' }),
    deleteTemporaryImportFiles: Type.Optional(deleteTemporaryImportFiles()),
    awsConnectionInformation: awsConnectionInformation({
      secretKey: Type.Optional(secretKey('S3 secret key; write-only; may be left out to keep the stored key of the data source with the same id')),
      secretKeySet: Type.Optional(SecretKeySet),
    }),
  },
  { additionalProperties: false },
);
export const DataSourceViewSchema = dataSource({ secretKeySet: SecretKeySet });
export type DataSource = Static<typeof DataSourceSchema>;
export type DataSourceInput = Static<typeof DataSourceInputSchema>;
export type DataSourceView = Static<typeof DataSourceViewSchema>;

/** "In most cases there has to be only one DataSource per tenant"; 32 is generous. */
const DATA_SOURCES_MAX = 32;
export const DataSourceListSchema = Type.Array(DataSourceSchema, { maxItems: DATA_SOURCES_MAX });
export const DataSourceInputListSchema = Type.Array(DataSourceInputSchema, {
  maxItems: DATA_SOURCES_MAX,
  description: 'the whole new list: unique ids, exactly one defaultDataSource when not empty',
});
export const DataSourceViewListSchema = Type.Array(DataSourceViewSchema, { maxItems: DATA_SOURCES_MAX });

// --- tenants ---

/**
 * A mail domain a tenant serves (an Inlay extension: OX Engage has no tenant resolution by
 * domain). Lowercase, as DNS names compare; internationalized domains in their ASCII
 * ("xn--") form, which is what IMAP logins carry.
 */
export const DomainName = Type.String({
  maxLength: 253,
  pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$',
  [RULE]: 'a lowercase domain name such as "example.org" (internationalized names in their xn-- form)',
});
/** Hosting tenants serve thousands of domains at most; the bound keeps a tenant row small. */
const DOMAINS_MAX = 10_000;
const domains = () =>
  Type.Optional(
    Type.Array(DomainName, {
      maxItems: DOMAINS_MAX,
      uniqueItems: true,
      description:
        'Inlay extension: users logging in as user@<domain> belong to this tenant; a login whose domain no tenant lists belongs to the tenant "default"',
    }),
  );

const hashedEmailAddresses = () => Type.Boolean({ default: false, description: 'users are known by HMAC-SHA256(secretKey, address), not by address' });
const tenantSecretKey = () => secretKey('HMAC-SHA256 key for hashed addresses; write-only');

function tenant<Configuration extends TProperties, DataSource extends typeof DataSourceSchema | typeof DataSourceViewSchema>(configuration: Configuration, dataSource: DataSource) {
  return Type.Object(
    {
      id: TenantId,
      name: SingleLineText({ maxLength: 200 }),
      keyspaceName: KeyspaceName,
      configuration: Type.Object({ ...configuration, hashedEmailAddresses: hashedEmailAddresses(), domains: domains() }, { additionalProperties: false }),
      conversionPoints: Type.Array(ConversionPointSchema, { maxItems: CONVERSION_POINTS_MAX }),
      dataSources: Type.Array(dataSource, { maxItems: DATA_SOURCES_MAX }),
    },
    { additionalProperties: false },
  );
}

export const TenantSchema = tenant({ secretKey: tenantSecretKey() }, DataSourceSchema);
export const TenantViewSchema = tenant({ secretKeySet: SecretKeySet }, DataSourceViewSchema);
/** Input: the lists and the hashing flag may be left out (defaults: empty, false). */
export const TenantInputSchema = Type.Object(
  {
    id: TenantId,
    name: SingleLineText({ maxLength: 200 }),
    keyspaceName: KeyspaceName,
    configuration: Type.Object(
      { secretKey: tenantSecretKey(), secretKeySet: Type.Optional(SecretKeySet), hashedEmailAddresses: Type.Optional(hashedEmailAddresses()), domains: domains() },
      { additionalProperties: false },
    ),
    conversionPoints: Type.Optional(Type.Array(ConversionPointSchema, { maxItems: CONVERSION_POINTS_MAX, default: [] })),
    dataSources: Type.Optional(Type.Array(DataSourceInputSchema, { maxItems: DATA_SOURCES_MAX, default: [] })),
  },
  { additionalProperties: false },
);
export const TenantViewListSchema = Type.Array(TenantViewSchema);
export type Tenant = Static<typeof TenantSchema>;
export type TenantInput = Static<typeof TenantInputSchema>;
export type TenantView = Static<typeof TenantViewSchema>;

// --- URL parts ---

export const TenantParamsSchema = Type.Object({ id: TenantId }, { additionalProperties: false });
export type TenantParams = Static<typeof TenantParamsSchema>;

export const CreateTenantQuerySchema = Type.Object(
  { createDB: Type.Optional(Type.Boolean({ default: false, description: "create the tenant's keyspace and tables; without it they must exist" })) },
  { additionalProperties: false },
);
export type CreateTenantQuery = Static<typeof CreateTenantQuerySchema>;

export const DeleteTenantQuerySchema = Type.Object(
  { dropDB: Type.Optional(Type.Boolean({ default: false, description: "also drop the tenant's keyspace with all its data" })) },
  { additionalProperties: false },
);
export type DeleteTenantQuery = Static<typeof DeleteTenantQuerySchema>;
