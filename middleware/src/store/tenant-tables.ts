/**
 * The tables of a tenant keyspace, as CQL: one statement per table, designed per query (see the
 * table plan in middleware/README.md). The Cassandra store runs these; the embedded store keeps
 * the same table names as key prefixes, so both stores have one plan.
 *
 * Phase 1 creates them all; later phases fill them. Changing a table here means a migration:
 * never edit a column's type in place.
 */

/** Shards of one hour's events, so a busy hour is not one hot partition. */
export const EVENT_SHARDS = 16;

export const TENANT_TABLES: Readonly<Record<string, string>> = {
  // Users by the key the proxy knows them by: the normalized address, or
  // HMAC-SHA256(secretKey, address) in hex when the tenant hashes addresses.
  users: `(
    user_key text PRIMARY KEY,
    address text,
    display_name text,
    attributes map<text, text>,
    lists set<text>,
    updated_at timestamp)`,
  // One campaign's full definition (template, audience, schedule, …) as JSON, by id.
  campaigns: `(
    campaign_id timeuuid PRIMARY KEY,
    revision int,
    definition text,
    created_at timestamp,
    updated_at timestamp)`,
  // Every campaign of the tenant in one partition (bucket = 'all'): the list route and the
  // engine's "what runs now" read one partition. Tenants run hundreds of campaigns, not millions.
  campaign_index: `(
    bucket text,
    campaign_id timeuuid,
    name text,
    status text,
    priority int,
    starts_at timestamp,
    ends_at timestamp,
    revision int,
    PRIMARY KEY ((bucket), campaign_id))`,
  // One user's view of one mailbox: its virtual-UID counters as static columns (one value per
  // partition) and one row per virtual message, in UID order. A single read gives a session the
  // whole view; a conditional batch on this one partition assigns a UID and writes the message
  // atomically (IF next_uid = ? AND revealed_uid = ?, see README "Virtual UIDs").
  virtual_messages: `(
    user_key text,
    mailbox text,
    uid_validity bigint static,
    next_uid bigint static,
    revealed_uid bigint static,
    uid bigint,
    campaign_id timeuuid,
    campaign_revision int,
    variant text,
    object_id text,
    message_id text,
    content_hash text,
    internal_date timestamp,
    size int,
    flags set<text>,
    state text,
    injected_at timestamp,
    PRIMARY KEY ((user_key, mailbox), uid))`,
  // Per user and campaign: frequency caps and reinjection decisions read one partition.
  user_campaigns: `(
    user_key text,
    campaign_id timeuuid,
    injections int,
    last_injected_at timestamp,
    current_uid bigint,
    state text,
    PRIMARY KEY ((user_key), campaign_id))`,
  // Rendered messages by SHA-256 of their bytes: a campaign that renders alike for many users
  // is stored once; a virtual message never changes, so neither does its content.
  rendered_messages: `(
    content_hash text PRIMARY KEY,
    body blob,
    created_at timestamp)`,
  // Raw events, time-bucketed: bucket = UTC hour 'YYYY-MM-DDTHH', shard = hash(event_id) % 16.
  events: `(
    bucket text,
    shard int,
    event_id timeuuid,
    event_type text,
    campaign_id timeuuid,
    user_key text,
    mailbox text,
    uid bigint,
    object_id text,
    message_id text,
    occurred_at timestamp,
    PRIMARY KEY ((bucket, shard), event_id))`,
  // Report figures per campaign and day.
  campaign_stats: `(
    campaign_id timeuuid,
    day date,
    event_type text,
    events counter,
    PRIMARY KEY ((campaign_id), day, event_type))`,
  // Outbox of deliveries to conversion points, by point and hour, for retries.
  event_deliveries: `(
    conversion_point_id text,
    bucket text,
    event_id timeuuid,
    status text,
    attempts int,
    next_attempt_at timestamp,
    last_error text,
    PRIMARY KEY ((conversion_point_id, bucket), event_id))`,
  // Import jobs, newest first, in one partition (bucket = 'all').
  imports: `(
    bucket text,
    import_id timeuuid,
    data_source_id text,
    object_key text,
    format text,
    list_id text,
    status text,
    rows_read bigint,
    rows_imported bigint,
    rows_failed bigint,
    created_at timestamp,
    started_at timestamp,
    finished_at timestamp,
    error text,
    object_deleted boolean,
    PRIMARY KEY ((bucket), import_id)) WITH CLUSTERING ORDER BY (import_id DESC)`,
  // Per-row errors of one import, in row order.
  import_errors: `(
    import_id timeuuid,
    row_number bigint,
    message text,
    PRIMARY KEY ((import_id), row_number))`,
};

export const TENANT_TABLE_NAMES: readonly string[] = Object.keys(TENANT_TABLES);
