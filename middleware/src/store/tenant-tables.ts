/**
 * The tables of a tenant keyspace, as CQL: one statement per table, designed per query (see the
 * table plan in middleware/README.md). The Cassandra store runs these; the embedded store keeps
 * the same table names as key prefixes, so both stores have one plan.
 *
 * Phase 1 created them all; the engine API reshaped `virtual_messages` (epoch, version, history,
 * bodies inline) and `events` before anything had written them, and dropped `user_campaigns` and
 * `rendered_messages` (README "The per-tenant table plan" says why). From here on, changing a
 * table means a migration: never edit a column's type in place.
 */

import { DELIVERY_ADDED_COLUMNS, DELIVERY_TABLES } from './delivery-tables.js';

/** Shards of one hour's events, so a busy hour is not one hot partition. */
export const EVENT_SHARDS = 16;

/** Tenant columns newer than the tables: added by ALTER TABLE to a keyspace made before them. */
export const TENANT_ADDED_COLUMNS: readonly { table: string; column: string; type: string }[] = [
  // How often a virtual message's flags changed: sessions report a change back to the same values.
  { table: 'virtual_messages', column: 'flags_changes', type: 'int' },
  // Every keyword ever set on the view's messages: a server keeps a keyword in FLAGS for good.
  { table: 'virtual_messages', column: 'keywords', type: 'set<text> static' },
  // Where the event came from (node, client address, client ID), as JSON (store/event-types.ts).
  { table: 'events', column: 'origin', type: 'text' },
  // Random when the view's state is first written: part of the client UIDVALIDITY (view-types.ts).
  { table: 'virtual_messages', column: 'state_epoch', type: 'bigint static' },
  ...DELIVERY_ADDED_COLUMNS,
];

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
  // One user's view of one mailbox: its counters and per-campaign history as static columns (one
  // value per partition) and one row per virtual message, in UID order. A single read gives a
  // session the whole view. Every change is one conditional batch on this partition, IF version = ?
  // (see README "Virtual UIDs"), so assigning UIDs, frequency caps and reinjection decisions (read
  // from the rows and `history`) and flag changes never interleave. `body` is the rendered RFC 822
  // message, kept while the message is visible. `keywords`: every keyword ever set on the view's
  // messages under this UIDVALIDITY (a server keeps a keyword in FLAGS for good).
  virtual_messages: `(
    user_key text,
    mailbox text,
    uid_validity bigint static,
    next_uid bigint static,
    epoch bigint static,
    state_epoch bigint static,
    version bigint static,
    history text static,
    keywords set<text> static,
    uid bigint,
    campaign_id timeuuid,
    campaign_revision int,
    variant text,
    origin text,
    message_id text,
    content_hash text,
    size int,
    body blob,
    internal_date timestamp,
    injected_at timestamp,
    flags set<text>,
    flags_changes int,
    state text,
    read_at timestamp,
    expunged_at timestamp,
    withdrawn_at timestamp,
    assignment_id text,
    PRIMARY KEY ((user_key, mailbox), uid))`,
  // Raw events, time-bucketed: bucket = UTC hour 'YYYY-MM-DDTHH', shard = hash(event_id) % 16.
  // event_id is derived from what the event is about (engine/events.ts): a repeated report
  // writes the same row again, so each event is stored once.
  events: `(
    bucket text,
    shard int,
    event_id timeuuid,
    event_type text,
    tenant_id text,
    campaign_id timeuuid,
    variant text,
    user_key text,
    mailbox text,
    uid_validity bigint,
    uid bigint,
    object_id text,
    message_id text,
    occurred_at timestamp,
    PRIMARY KEY ((bucket, shard), event_id))`,
  // Every event again under each index a listing reads (kind 'all' | 'campaign' | 'user' |
  // 'message', value: '' | campaign id | user key | Message-ID), one partition per UTC day
  // ('YYYY-MM-DD'), newest first. `event` is the whole event as JSON. Written with the retention TTL.
  event_index: `(
    kind text,
    value text,
    day text,
    occurred_at timestamp,
    event_id timeuuid,
    event text,
    PRIMARY KEY ((kind, value, day), occurred_at, event_id)) WITH CLUSTERING ORDER BY (occurred_at DESC, event_id DESC)`,
  // Report counters per campaign, hour and variant ('' for none); kind is an event type or
  // 'unique:<injected|read|expunged>' (first-time users). Bumped only after the event's
  // INSERT … IF NOT EXISTS applied, so a repeated report counts nothing. Kept past retention.
  campaign_counters: `(
    campaign_id timeuuid,
    hour timestamp,
    variant text,
    kind text,
    count counter,
    PRIMARY KEY ((campaign_id), hour, variant, kind))`,
  // Users counted once per campaign and kind: the first INSERT … IF NOT EXISTS bumps the
  // unique counter. Kept past retention, so a unique count never counts a user twice.
  campaign_users: `(
    campaign_id timeuuid,
    kind text,
    user_key text,
    PRIMARY KEY ((campaign_id, kind, user_key)))`,
  // What each user was shown: one row per virtual message (object_id '<UIDVALIDITY>:<UID>'), the
  // bytes the client fetched, and its events (event id → JSON). Written with the retention TTL.
  tracked_messages: `(
    user_key text,
    object_id text,
    campaign_id timeuuid,
    variant text,
    message_id text,
    uid bigint,
    uid_validity bigint,
    body blob,
    events map<text, text>,
    PRIMARY KEY ((user_key), object_id))`,
  // Report figures per campaign and day.
  campaign_stats: `(
    campaign_id timeuuid,
    day date,
    event_type text,
    events counter,
    PRIMARY KEY ((campaign_id), day, event_type))`,
  // Outbox of deliveries to conversion points (delivery-tables.ts). `event_deliveries`, the plan's
  // first sketch, was never written; keyspaces that have it keep it unused.
  ...DELIVERY_TABLES,
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
