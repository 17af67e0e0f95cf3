/**
 * The one storage interface of the middleware. Two implementations — embedded (LMDB, one file in
 * dataDir) and Cassandra — pass the same contract suite (contract.ts), so routes never know which
 * one they talk to.
 *
 * The store keeps secrets (tenant HMAC keys, S3 secret keys) as given: hiding them is the REST
 * layer's job (tenants/view.ts). Failures a client can cause surface as MiddlewareError codes
 * (TENANT_EXISTS, KEYSPACE_MISSING, …); a store that cannot be reached as STORE_UNAVAILABLE.
 *
 * Must never expose how a row is laid out: callers see tenants and tokens, not keys or CQL.
 */
import type { Campaign, ConversionPoint, DataSource, Tenant } from '@inlay/schemas';
import type { CampaignChange, CampaignDeleteCheck, CampaignFilter } from './campaign-types.js';
import type { ImportRecord, ImportRowError, UserRecord, UserScanPage, UserScanRequest, UserUpsert } from './user-import-types.js';
import type { EngineEventRecord, EventRange, StoredView, ViewDecide, ViewRef } from './view-types.js';
import type { CounterRow, EventQuery, EventQueryPage, ShownMessage, TrackedMessageRecord } from './event-types.js';
import type { DeliveryStore } from '../delivery/delivery-types.js';
import type { AuditStore } from './audit-types.js';

export type * from './user-import-types.js';
export type * from './campaign-types.js';
export type * from './view-types.js';
export type * from './event-types.js';
export type * from './audit-types.js';

export type StoreKind = 'embedded' | 'cassandra';

export interface CreateTenantOptions {
  /** Create the tenant's keyspace and tables. Without it the keyspace must already exist
   *  (its tables are then created in it), else KEYSPACE_MISSING. */
  readonly createDB: boolean;
}

export interface DeleteTenantOptions {
  /** Also drop the tenant's keyspace with all its data. Without it the keyspace is kept, as in
   *  OX Engage, so a tenant can be re-created on top of it with `createDB` unset. */
  readonly dropDB: boolean;
}

export interface EnsureTenantSchemaOptions {
  /** false: never create the keyspace itself, only the missing tables in an existing one. */
  readonly createKeyspace?: boolean;
}

/** Which keyspace a schema call is about; the id only names the tenant in error messages. */
export interface TenantRef {
  readonly keyspaceName: string;
  readonly id?: string;
}

/** What is known about an API token of a tenant; the token itself is never stored. */
export interface TenantTokenRecord {
  readonly tenantId: string;
  readonly tokenId: string;
  /** Lowercase hex SHA-256 of the whole token string. */
  readonly tokenHash: string;
  readonly createdAt: Date;
  /** What the token is for, as its creator named it; the audit trail shows it. */
  readonly name?: string;
}

export type TenantTokenSummary = Omit<TenantTokenRecord, 'tokenHash'>;

/** Computes a tenant's new data sources from its current ones; may throw to abort. */
export type DataSourceChange = (current: readonly DataSource[]) => DataSource[];

export interface Store {
  readonly kind: StoreKind;

  // --- tenants ---

  /** TENANT_EXISTS, KEYSPACE_IN_USE (another tenant's keyspace, or the store's own) or
   *  KEYSPACE_MISSING; nothing is written when it fails. */
  createTenant(tenant: Tenant, options: CreateTenantOptions): Promise<void>;
  getTenant(id: string): Promise<Tenant | undefined>;
  /** All tenants, ordered by id. Tenants are few (tens to hundreds), so no paging. */
  listTenants(): Promise<Tenant[]>;
  /** Removes the configuration and the tenant's tokens; TENANT_NOT_FOUND if there is none.
   *  Returns what was removed. */
  deleteTenant(id: string, options: DeleteTenantOptions): Promise<Tenant>;
  /** Atomically replaces the data sources with `change(current)` — the change sees the stored
   *  secrets, so an omitted S3 secret can be kept. TENANT_NOT_FOUND if there is no tenant. */
  replaceDataSources(id: string, change: DataSourceChange): Promise<DataSource[]>;
  /** Replaces the conversion points wholesale. TENANT_NOT_FOUND if there is no tenant. */
  replaceConversionPoints(id: string, conversionPoints: readonly ConversionPoint[]): Promise<ConversionPoint[]>;

  // --- per-tenant keyspace ---

  /** Creates the tenant's keyspace (unless told not to) and every table of the plan in
   *  middleware/README.md that is missing. Idempotent. */
  ensureTenantSchema(tenant: TenantRef, options?: EnsureTenantSchemaOptions): Promise<void>;
  /** True when the keyspace and all its tables exist. */
  tenantSchemaExists(tenant: TenantRef): Promise<boolean>;

  // --- tenant API tokens ---

  /** TENANT_NOT_FOUND if the tenant does not exist. */
  createTenantToken(record: TenantTokenRecord): Promise<void>;
  /** Ordered by creation time, oldest first. */
  listTenantTokens(tenantId: string): Promise<TenantTokenSummary[]>;
  /** False if the tenant has no such token. */
  revokeTenantToken(tenantId: string, tokenId: string): Promise<boolean>;
  findTenantTokenByHash(tokenHash: string): Promise<TenantTokenRecord | undefined>;

  // --- users and user-data imports (tenant keyspace: users, imports, import_errors) ---

  /** Upserts users: display name replaced when given, attributes merged, `listId` (the import
   *  id) added to each user's lists. Not atomic across users: a retry of a batch is harmless. */
  upsertUsers(tenant: TenantRef, users: readonly UserUpsert[], listId: string): Promise<void>;
  getUser(tenant: TenantRef, userKey: string): Promise<UserRecord | undefined>;
  /** One page of all the tenant's users, in the store's own order (LMDB: key order; Cassandra:
   *  token order), each user once over a whole scan. A read; the caller bounds how far it goes
   *  (campaigns/audience-count.ts). */
  scanUsers(tenant: TenantRef, request: UserScanRequest): Promise<UserScanPage>;
  /** Writes the whole import record (create and every progress update). */
  saveImport(tenant: TenantRef, record: ImportRecord): Promise<void>;
  getImport(tenant: TenantRef, importId: string): Promise<ImportRecord | undefined>;
  /** Newest first, at most `limit`. */
  listImports(tenant: TenantRef, limit: number): Promise<ImportRecord[]>;
  recordImportErrors(tenant: TenantRef, importId: string, errors: readonly ImportRowError[]): Promise<void>;
  /** In row order, at most `limit`. */
  listImportErrors(tenant: TenantRef, importId: string, limit: number): Promise<ImportRowError[]>;

  // --- campaigns (tenant keyspace: campaigns, campaign_index) ---

  /** Stores a new campaign (its id is new: a server-made timeuuid). */
  createCampaign(tenant: TenantRef, campaign: Campaign): Promise<void>;
  getCampaign(tenant: TenantRef, campaignId: string): Promise<Campaign | undefined>;
  /** Oldest first (createdAt, then id); a tenant has hundreds of campaigns, so no paging. */
  listCampaigns(tenant: TenantRef, filter?: CampaignFilter): Promise<Campaign[]>;
  /** Atomically replaces the campaign with `change(current)`: a compare-and-set on its revision,
   *  retried with a fresh read, so a change (a status transition) never applies to a stale
   *  campaign. CAMPAIGN_NOT_FOUND; CONCURRENT_UPDATE after 8 lost rounds. */
  updateCampaign(tenant: TenantRef, campaignId: string, change: CampaignChange): Promise<Campaign>;
  /** Deletes it if `check(current)` does not throw, atomically with the check. Returns what was
   *  deleted; CAMPAIGN_NOT_FOUND if there is none. */
  deleteCampaign(tenant: TenantRef, campaignId: string, check?: CampaignDeleteCheck): Promise<Campaign>;

  // --- INBOX views and engine events (tenant keyspace: virtual_messages, events) ---

  /** The view as stored; EMPTY_VIEW when the user has none. A plain read (one partition). */
  getView(ref: ViewRef): Promise<StoredView>;
  /**
   * Reads the view, asks `decide` what to change, and applies that change atomically: no other
   * change of the same view lands between the read and the write (LMDB: one `atomically`;
   * Cassandra: a conditional batch on the partition's `version`, re-read at LOCAL_SERIAL and
   * retried). `decide` must be pure and synchronous: it may run more than once. Returns the view
   * after the change and the result of the `decide` call whose change was applied.
   * CONCURRENT_UPDATE when other writers kept winning.
   */
  changeView<Result>(ref: ViewRef, decide: ViewDecide<Result>): Promise<{ view: StoredView; result: Result }>;
  /**
   * THE one place events are written (event-types.ts says what goes with them). For each event
   * whose id is new: the event row, its index rows, the report counters of its campaign, variant
   * and hour (and the unique-user counter when its user is new to the campaign for that kind),
   * and its entry in the tracked message — all in one write (LMDB: one transaction; Cassandra:
   * after the event row's IF NOT EXISTS, see cassandra-events.ts). An event whose id is already
   * stored changes nothing. `shown` are the bytes of the messages just injected, kept for the
   * tracking EML. Anything else that must happen exactly once per event hooks in here: a delivery for every
   * conversion point of the event's tenant that takes its type (delivery/plan.ts), staged so that no
   * event is stored without its deliveries; a delivery already made is not made again.
   */
  recordEvents(tenant: TenantRef, events: readonly EngineEventRecord[], shown?: readonly ShownMessage[]): Promise<void>;
  /** Events with `since <= occurredAt < until`, oldest first (then by id). At most 31 days. */
  listEvents(tenant: TenantRef, range: EventRange): Promise<EngineEventRecord[]>;
  /** A page of events from one index, newest first, filtered; `next` when the page is full. */
  queryEvents(tenant: TenantRef, query: EventQuery): Promise<EventQueryPage>;
  /** The counters of a campaign for the hours that overlap `range`. */
  readCampaignCounters(tenant: TenantRef, campaignId: string, range: EventRange): Promise<CounterRow[]>;
  /** Every campaign message shown to the user whose events are still kept; without bodies. */
  listTrackedMessages(tenant: TenantRef, userKey: string): Promise<TrackedMessageRecord[]>;
  /** One shown message with the bytes the client fetched (while kept). */
  getTrackedMessage(tenant: TenantRef, userKey: string, objectId: string): Promise<TrackedMessageRecord | undefined>;
  /** Drops events older than `before` with their indexes and tracked messages (not counters).
   *  Cassandra does this by TTL and returns 0. Returns how many events went. */
  sweepEvents(tenant: TenantRef, before: Date): Promise<number>;

  /** The delivery outbox, attempt log and conversion point state (delivery/delivery-types.ts). */
  readonly deliveries: DeliveryStore;

  /** The audit trail of REST changes (audit-types.ts). */
  readonly audit: AuditStore;

  close(): Promise<void>;
}

/** Names Cassandra keeps for itself; a tenant keyspace may never be one (dropDB would drop it). */
export function isReservedKeyspace(name: string): boolean {
  return name.startsWith('system');
}
