/**
 * The Cassandra store: tenant configuration and API tokens in a shared registry keyspace
 * (`storage.cassandra.registryKeyspace`, default `inlay`), each tenant's data in its own keyspace
 * (`keyspaceName`), created by `createDB=true` with the configured replication.
 *
 * Multi-row changes that must not interleave use lightweight transactions: claiming a keyspace
 * and creating a tenant (`IF NOT EXISTS`), replacing data sources (compare-and-set on the stored
 * JSON, retried). Reads and plain writes run at LOCAL_QUORUM. A cluster that cannot answer
 * surfaces as STORE_UNAVAILABLE (503), never as a 500.
 *
 * Must never drop or alter a keyspace it does not own: system keyspaces and the registry are
 * refused before any DDL runs.
 */
import cassandra from 'cassandra-driver';
import type { CassandraConfig, ConversionPoint, DataSource, Tenant } from '@inlay/schemas';
import { TENANT_ADDED_COLUMNS, TENANT_TABLES, TENANT_TABLE_NAMES } from '../tenant-tables.js';
import {
  isReservedKeyspace,
  type CreateTenantOptions,
  type DataSourceChange,
  type DeleteTenantOptions,
  type EnsureTenantSchemaOptions,
  type Store,
  type TenantRef,
  type TenantTokenRecord,
  type TenantTokenSummary,
} from '../store.js';
import { concurrentUpdate, keyspaceInUse, keyspaceMissing, keyspaceReserved, tenantExists, tenantNotFound } from '../store-errors.js';
import { REGISTRY_ADDED_COLUMNS, REGISTRY_TABLES, createKeyspaceStatement, createTableStatement, quoteIdentifier } from './cql-schema.js';
import { CassandraUserImportTables, type ImportUserWrites } from './cassandra-users-imports.js';
import type { ImportRecord, ImportRowError, UserRecord, UserScanPage, UserScanRequest, UserUpsert } from '../user-import-types.js';
import type { Campaign } from '@inlay/schemas';
import type { CampaignChange, CampaignDeleteCheck, CampaignFilter } from '../campaign-types.js';
import { CassandraCampaignTables } from './cassandra-campaigns.js';
import { translateDriverError } from './cassandra-errors.js';
import { allCqlRows, runCql } from './cql-run.js';
import { CassandraViewTables } from './cassandra-views.js';
import { CassandraDeliveries } from './cassandra-deliveries.js';
import { CassandraAudit } from './cassandra-audit.js';
import { pendingAuditEntry } from '../audit-types.js';
import type { EngineEventRecord, EventRange, StoredView, ViewDecide, ViewRef } from '../view-types.js';
import { DEFAULT_EVENT_RETENTION_MS, type CounterRow, type EventQuery, type EventQueryPage, type ShownMessage, type TrackedMessageRecord } from '../event-types.js';
import { CassandraEventTables } from './cassandra-events.js';

const { consistencies } = cassandra.types;

/** Schema changes wait for every node to agree; on a loaded cluster that takes seconds. */
const DDL_TIMEOUT_MS = 60_000;
/** Ordinary statements: the driver's default read timeout. */
const QUERY_TIMEOUT_MS = 12_000;
/** Compare-and-set rounds before a data-source update gives up with CONCURRENT_UPDATE: only
 *  simultaneous admin edits of one tenant make a round fail. */
const MAX_CAS_ATTEMPTS = 8;
const POINT_CACHE_MS = 1000;

type Row = cassandra.types.Row;
type Params = unknown[];

export interface CassandraStoreOptions {
  /** Time to live of events, their indexes and tracked messages. */
  readonly eventRetentionMs: number;
  /** How imports write users (cassandra-users-imports.ts); the default is the measured faster. */
  readonly importUserWrites?: ImportUserWrites;
}

export class CassandraStore implements Store {
  readonly kind = 'cassandra';
  readonly deliveries: CassandraDeliveries;
  readonly audit: CassandraAudit;
  private readonly registry: string;

  private constructor(
    private readonly client: cassandra.Client,
    private readonly config: CassandraConfig,
    private readonly options: CassandraStoreOptions,
  ) {
    this.registry = quoteIdentifier(config.registryKeyspace);
    this.deliveries = new CassandraDeliveries(client);
    this.audit = new CassandraAudit(client, this.registry);
  }

  /** Connects and creates the registry keyspace and tables when missing. */
  static async open(config: CassandraConfig, storeOptions: Partial<CassandraStoreOptions> = {}): Promise<CassandraStore> {
    const options: cassandra.ClientOptions = {
      contactPoints: [...config.contactPoints],
      localDataCenter: config.localDataCenter,
      queryOptions: { consistency: consistencies.localQuorum, serialConsistency: consistencies.localSerial, prepare: true },
      socketOptions: { connectTimeout: 5000, readTimeout: QUERY_TIMEOUT_MS },
    };
    if (config.username !== undefined || config.password !== undefined) {
      options.credentials = { username: config.username ?? '', password: config.password ?? '' };
    }
    const client = new cassandra.Client(options);
    try {
      await client.connect();
      const store = new CassandraStore(client, config, {
        eventRetentionMs: storeOptions.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS,
        ...(storeOptions.importUserWrites === undefined ? {} : { importUserWrites: storeOptions.importUserWrites }),
      });
      await store.ensureRegistry();
      // Keyspaces made by an older version get the tables and columns added since (one at a time).
      for (const tenant of await store.listTenants()) {
        if (await store.keyspaceExists(tenant.keyspaceName)) await store.ensureTenantSchema(tenant, { createKeyspace: false });
      }
      return store;
    } catch (error) {
      await client.shutdown().catch(() => undefined);
      throw error;
    }
  }

  async createTenant(tenant: Tenant, options: CreateTenantOptions): Promise<void> {
    const { id, keyspaceName } = tenant;
    this.refuseReserved(keyspaceName);
    if (await this.getTenant(id)) throw tenantExists(id);
    const claim = await this.claimKeyspace(keyspaceName, id);
    try {
      await this.ensureTenantSchema(tenant, { createKeyspace: options.createDB });
    } catch (error) {
      if (claim === 'claimed') await this.releaseKeyspace(keyspaceName, id);
      throw error;
    }
    const now = new Date();
    const inserted = await this.run(
      `INSERT INTO ${this.registry}.tenants (id, name, keyspace_name, secret_key, hashed_email_addresses, domains, conversion_points, data_sources, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      [id, tenant.name, keyspaceName, tenant.configuration.secretKey, tenant.configuration.hashedEmailAddresses, domainsColumn(tenant), JSON.stringify(tenant.conversionPoints), JSON.stringify(tenant.dataSources), now, now],
    );
    if (!inserted.wasApplied()) {
      // Lost a race against a create of the same id; its claim is ours too if it uses this keyspace.
      if (claim === 'claimed' && inserted.first()?.get('keyspace_name') !== keyspaceName) await this.releaseKeyspace(keyspaceName, id);
      throw tenantExists(id);
    }
    // The claim may have been taken over while we worked (a rival judged it stale because our
    // row did not exist yet). Confirming it settles the race: only one claimant can confirm.
    const confirmed = await this.run(`UPDATE ${this.registry}.tenant_keyspaces SET confirmed = true WHERE keyspace_name = ? IF tenant_id = ?`, [keyspaceName, id]);
    if (!confirmed.wasApplied()) {
      await this.run(`DELETE FROM ${this.registry}.tenants WHERE id = ? IF keyspace_name = ?`, [id, keyspaceName]);
      throw keyspaceInUse(keyspaceName);
    }
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const result = await this.run(`SELECT * FROM ${this.registry}.tenants WHERE id = ?`, [id]);
    const row = result.first();
    return row ? rowToTenant(row) : undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await this.allRows(`SELECT * FROM ${this.registry}.tenants`, []);
    return rows.map(rowToTenant).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async deleteTenant(id: string, options: DeleteTenantOptions): Promise<Tenant> {
    const tenant = await this.getTenant(id);
    if (!tenant) throw tenantNotFound(id);
    // Dropping first keeps a failed request retryable: the configuration still names the keyspace.
    if (options.dropDB) {
      this.refuseReserved(tenant.keyspaceName);
      await this.ddl(`DROP KEYSPACE IF EXISTS ${quoteIdentifier(tenant.keyspaceName)}`);
    }
    // Tokens go before the configuration, so none can outlive its tenant.
    for (const token of await this.allRows(`SELECT token_id, token_hash FROM ${this.registry}.tenant_tokens WHERE tenant_id = ?`, [id])) {
      await this.deleteToken(id, String(token.get('token_id')), String(token.get('token_hash')));
    }
    const deleted = await this.run(`DELETE FROM ${this.registry}.tenants WHERE id = ? IF EXISTS`, [id]);
    if (!deleted.wasApplied()) throw tenantNotFound(id);
    await this.releaseKeyspace(tenant.keyspaceName, id);
    return tenant;
  }

  async replaceDataSources(id: string, change: DataSourceChange): Promise<DataSource[]> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      // SERIAL read: sees the outcome of any Paxos round still in flight.
      const result = await this.run(`SELECT data_sources FROM ${this.registry}.tenants WHERE id = ?`, [id], { consistency: consistencies.localSerial });
      const row = result.first();
      if (!row) throw tenantNotFound(id);
      const stored = row.get('data_sources') as string;
      const next = change(JSON.parse(stored) as DataSource[]);
      const updated = await this.run(`UPDATE ${this.registry}.tenants SET data_sources = ?, updated_at = ? WHERE id = ? IF data_sources = ?`, [
        JSON.stringify(next),
        new Date(),
        id,
        stored,
      ]);
      if (updated.wasApplied()) return next;
      // Changed (or deleted) since the read: the next round reads it again.
    }
    throw concurrentUpdate(id);
  }

  async replaceConversionPoints(id: string, conversionPoints: readonly ConversionPoint[]): Promise<ConversionPoint[]> {
    this.pointCache.delete(id);
    const updated = await this.run(`UPDATE ${this.registry}.tenants SET conversion_points = ?, updated_at = ? WHERE id = ? IF EXISTS`, [
      JSON.stringify(conversionPoints),
      new Date(),
      id,
    ]);
    if (!updated.wasApplied()) throw tenantNotFound(id);
    return [...conversionPoints];
  }

  async ensureTenantSchema(tenant: TenantRef, options: EnsureTenantSchemaOptions = {}): Promise<void> {
    const keyspace = tenant.keyspaceName;
    this.refuseReserved(keyspace);
    if (!(await this.keyspaceExists(keyspace))) {
      if (options.createKeyspace === false) throw keyspaceMissing(keyspace, tenant.id, 'cassandra');
      await this.ddl(createKeyspaceStatement(keyspace, this.config.replication));
    }
    const existing = await this.tableNames(keyspace);
    // One at a time: concurrent schema changes are what leaves a cluster disagreeing.
    for (const table of TENANT_TABLE_NAMES) {
      if (!existing.has(table)) await this.ddl(createTableStatement(keyspace, table, TENANT_TABLES[table]!));
    }
    await this.addMissingColumns(keyspace, TENANT_ADDED_COLUMNS);
  }

  async tenantSchemaExists(tenant: TenantRef): Promise<boolean> {
    if (!(await this.keyspaceExists(tenant.keyspaceName))) return false;
    const tables = await this.tableNames(tenant.keyspaceName);
    return TENANT_TABLE_NAMES.every((table) => tables.has(table));
  }

  async createTenantToken(record: TenantTokenRecord): Promise<void> {
    if (!(await this.getTenant(record.tenantId))) throw tenantNotFound(record.tenantId);
    await this.batchWithAudit([
      {
        query: `INSERT INTO ${this.registry}.tenant_tokens (tenant_id, token_id, token_hash, created_at, name) VALUES (?, ?, ?, ?, ?)`,
        params: [record.tenantId, record.tokenId, record.tokenHash, record.createdAt, record.name ?? null],
      },
      {
        query: `INSERT INTO ${this.registry}.tenant_tokens_by_hash (token_hash, tenant_id, token_id, created_at, name) VALUES (?, ?, ?, ?, ?)`,
        params: [record.tokenHash, record.tenantId, record.tokenId, record.createdAt, record.name ?? null],
      },
    ]);
  }

  async listTenantTokens(tenantId: string): Promise<TenantTokenSummary[]> {
    const rows = await this.allRows(`SELECT token_id, created_at, name FROM ${this.registry}.tenant_tokens WHERE tenant_id = ?`, [tenantId]);
    return rows
      .map((row) => ({ tenantId, tokenId: String(row.get('token_id')), createdAt: row.get('created_at') as Date, ...tokenName(row) }))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.tokenId.localeCompare(b.tokenId));
  }

  async revokeTenantToken(tenantId: string, tokenId: string): Promise<boolean> {
    const row = (await this.run(`SELECT token_hash FROM ${this.registry}.tenant_tokens WHERE tenant_id = ? AND token_id = ?`, [tenantId, tokenId])).first();
    if (!row) return false;
    await this.deleteToken(tenantId, tokenId, String(row.get('token_hash')), { withAudit: true });
    return true;
  }

  async findTenantTokenByHash(tokenHash: string): Promise<TenantTokenRecord | undefined> {
    const row = (await this.run(`SELECT tenant_id, token_id, created_at, name FROM ${this.registry}.tenant_tokens_by_hash WHERE token_hash = ?`, [tokenHash])).first();
    if (!row) return undefined;
    return { tenantId: String(row.get('tenant_id')), tokenId: String(row.get('token_id')), tokenHash, createdAt: row.get('created_at') as Date, ...tokenName(row) };
  }

  // --- users and imports (cassandra-users-imports.ts) ---

  private userImportTables: CassandraUserImportTables | undefined;
  private get userImports(): CassandraUserImportTables {
    return (this.userImportTables ??= new CassandraUserImportTables(this.client, this.options.importUserWrites));
  }

  upsertUsers(tenant: TenantRef, users: readonly UserUpsert[], listId: string): Promise<void> {
    return this.userImports.upsertUsers(tenant.keyspaceName, users, listId);
  }

  getUser(tenant: TenantRef, userKey: string): Promise<UserRecord | undefined> {
    return this.userImports.getUser(tenant.keyspaceName, userKey);
  }

  scanUsers(tenant: TenantRef, request: UserScanRequest): Promise<UserScanPage> {
    return this.userImports.scanUsers(tenant.keyspaceName, request);
  }

  saveImport(tenant: TenantRef, record: ImportRecord): Promise<void> {
    return this.userImports.saveImport(tenant.keyspaceName, record);
  }

  getImport(tenant: TenantRef, importId: string): Promise<ImportRecord | undefined> {
    return this.userImports.getImport(tenant.keyspaceName, importId);
  }

  listImports(tenant: TenantRef, limit: number): Promise<ImportRecord[]> {
    return this.userImports.listImports(tenant.keyspaceName, limit);
  }

  recordImportErrors(tenant: TenantRef, importId: string, errors: readonly ImportRowError[]): Promise<void> {
    return this.userImports.recordImportErrors(tenant.keyspaceName, importId, errors);
  }

  listImportErrors(tenant: TenantRef, importId: string, limit: number): Promise<ImportRowError[]> {
    return this.userImports.listImportErrors(tenant.keyspaceName, importId, limit);
  }

  // --- campaigns (cassandra-campaigns.ts) ---

  private get campaigns(): CassandraCampaignTables {
    return new CassandraCampaignTables(this.client);
  }

  createCampaign(tenant: TenantRef, campaign: Campaign): Promise<void> {
    return this.campaigns.create(tenant, campaign);
  }

  getCampaign(tenant: TenantRef, campaignId: string): Promise<Campaign | undefined> {
    return this.campaigns.get(tenant, campaignId);
  }

  listCampaigns(tenant: TenantRef, filter?: CampaignFilter): Promise<Campaign[]> {
    return this.campaigns.list(tenant, filter);
  }

  updateCampaign(tenant: TenantRef, campaignId: string, change: CampaignChange): Promise<Campaign> {
    return this.campaigns.update(tenant, campaignId, change);
  }

  deleteCampaign(tenant: TenantRef, campaignId: string, check?: CampaignDeleteCheck): Promise<Campaign> {
    return this.campaigns.delete(tenant, campaignId, check);
  }

  // --- views and events (cassandra-views.ts) ---

  private viewTables: CassandraViewTables | undefined;
  private get views(): CassandraViewTables {
    return (this.viewTables ??= new CassandraViewTables(this.client));
  }
  getView = (ref: ViewRef): Promise<StoredView> => this.views.getView(ref);
  changeView = <Result>(ref: ViewRef, decide: ViewDecide<Result>): Promise<{ view: StoredView; result: Result }> => this.views.changeView(ref, decide);
  listEvents = (tenant: TenantRef, range: EventRange): Promise<EngineEventRecord[]> => this.views.listEvents(tenant, range);

  // --- event records, indexes, counters, tracking (cassandra-events.ts) ---

  private eventTables: CassandraEventTables | undefined;
  private get events(): CassandraEventTables {
    return (this.eventTables ??= new CassandraEventTables(this.client, Math.round(this.options.eventRetentionMs / 1000), (tenant, events) => this.stageDeliveries(tenant, events)));
  }
  recordEvents = (tenant: TenantRef, events: readonly EngineEventRecord[], shown: readonly ShownMessage[] = []): Promise<void> => this.events.recordEvents(tenant, events, shown);
  queryEvents = (tenant: TenantRef, query: EventQuery): Promise<EventQueryPage> => this.events.queryEvents(tenant, query);
  readCampaignCounters = (tenant: TenantRef, campaignId: string, range: EventRange): Promise<CounterRow[]> => this.events.readCampaignCounters(tenant, campaignId, range);
  listTrackedMessages = (tenant: TenantRef, userKey: string): Promise<TrackedMessageRecord[]> => this.events.listTrackedMessages(tenant, userKey);
  getTrackedMessage = (tenant: TenantRef, userKey: string, objectId: string): Promise<TrackedMessageRecord | undefined> => this.events.getTrackedMessage(tenant, userKey, objectId);
  /** Cassandra expires events by TTL (the retention given at open). */
  sweepEvents = async (_tenant: TenantRef, _before: Date): Promise<number> => 0;
  /** Conversion points by tenant, re-read at most this often while events are recorded: a point
   *  added or changed takes events from about a second later. */
  private readonly pointCache = new Map<string, { points: readonly ConversionPoint[]; readAtMs: number }>();

  private async stageDeliveries(tenant: TenantRef, events: readonly EngineEventRecord[]): Promise<{ query: string; params: unknown[] }[][]> {
    const now = Date.now();
    const staged: { query: string; params: unknown[] }[][] = [];
    for (const event of events) {
      let cached = this.pointCache.get(event.tenantId);
      if (cached === undefined || now - cached.readAtMs > POINT_CACHE_MS) {
        cached = { points: (await this.getTenant(event.tenantId))?.conversionPoints ?? [], readAtMs: now };
        this.pointCache.set(event.tenantId, cached);
      }
      // Staged at the event's own time (due at once), so recording it again writes the same rows.
      staged.push(this.deliveries.stagingStatements(tenant, cached.points, event, Math.min(now, event.occurredAt.getTime())));
    }
    return staged;
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }

  // --- internals ---

  private async ensureRegistry(): Promise<void> {
    const keyspace = this.config.registryKeyspace;
    if (!(await this.keyspaceExists(keyspace))) await this.ddl(createKeyspaceStatement(keyspace, this.config.replication));
    const existing = await this.tableNames(keyspace);
    for (const [table, definition] of Object.entries(REGISTRY_TABLES)) {
      if (!existing.has(table)) await this.ddl(createTableStatement(keyspace, table, definition));
    }
    await this.addMissingColumns(keyspace, REGISTRY_ADDED_COLUMNS);
  }

  /** Columns added after a keyspace was first made: ALTER TABLE … ADD is the one schema change that needs no data migration. */
  private async addMissingColumns(keyspace: string, columns: readonly { table: string; column: string; type: string }[]): Promise<void> {
    for (const { table, column, type } of columns) {
      const present = await this.run('SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?', [keyspace, table, column]);
      // IF NOT EXISTS: two middleware nodes starting together may both find the column missing.
      if (present.rowLength === 0) await this.ddl(`ALTER TABLE ${quoteIdentifier(keyspace)}.${quoteIdentifier(table)} ADD IF NOT EXISTS ${quoteIdentifier(column)} ${type}`);
    }
  }

  private refuseReserved(keyspace: string): void {
    if (isReservedKeyspace(keyspace) || keyspace === this.config.registryKeyspace) throw keyspaceReserved(keyspace);
  }

  /**
   * Records that `keyspace` belongs to tenant `id` (unconfirmed until the tenant row exists).
   *
   * A claim whose tenant row does not use the keyspace is either dead (a create or delete that
   * died half-way) or still in progress (the row is written after the schema). Both may be taken
   * over, conditionally on the claim being unchanged since it was read; a live claimant then fails
   * to confirm and backs out. A claim whose tenant row uses the keyspace is refused.
   */
  private async claimKeyspace(keyspace: string, id: string): Promise<'claimed' | 'already-ours'> {
    const inserted = await this.run(`INSERT INTO ${this.registry}.tenant_keyspaces (keyspace_name, tenant_id, confirmed) VALUES (?, ?, false) IF NOT EXISTS`, [keyspace, id]);
    if (inserted.wasApplied()) return 'claimed';
    const owner = String(inserted.first()?.get('tenant_id'));
    const ownerConfirmed = inserted.first()?.get('confirmed') === true;
    if (owner === id) return 'already-ours';
    if ((await this.getTenant(owner))?.keyspaceName === keyspace) throw keyspaceInUse(keyspace);
    const takenOver = await this.run(
      `UPDATE ${this.registry}.tenant_keyspaces SET tenant_id = ?, confirmed = false WHERE keyspace_name = ? IF tenant_id = ? AND confirmed = ?`,
      [id, keyspace, owner, ownerConfirmed],
    );
    if (!takenOver.wasApplied()) throw keyspaceInUse(keyspace);
    return 'claimed';
  }

  private async releaseKeyspace(keyspace: string, id: string): Promise<void> {
    await this.run(`DELETE FROM ${this.registry}.tenant_keyspaces WHERE keyspace_name = ? IF tenant_id = ?`, [keyspace, id]);
  }

  private async deleteToken(tenantId: string, tokenId: string, tokenHash: string, options: { withAudit?: boolean } = {}): Promise<void> {
    await (options.withAudit ? this.batchWithAudit.bind(this) : this.batch.bind(this))([
      { query: `DELETE FROM ${this.registry}.tenant_tokens_by_hash WHERE token_hash = ?`, params: [tokenHash] },
      { query: `DELETE FROM ${this.registry}.tenant_tokens WHERE tenant_id = ? AND token_id = ?`, params: [tenantId, tokenId] },
    ]);
  }

  private async keyspaceExists(keyspace: string): Promise<boolean> {
    const result = await this.run('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace]);
    return result.rowLength > 0;
  }

  private async tableNames(keyspace: string): Promise<Set<string>> {
    const rows = await this.allRows('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace]);
    return new Set(rows.map((row) => String(row.get('table_name'))));
  }

  private async ddl(statement: string): Promise<void> {
    await this.run(statement, [], { prepare: false, readTimeout: DDL_TIMEOUT_MS });
  }

  private async batch(queries: { query: string; params: Params }[]): Promise<void> {
    try {
      // Logged: both index rows of a token are written, or neither.
      await this.client.batch(queries, { prepare: true, logged: true });
    } catch (error) {
      throw translateDriverError(error);
    }
  }

  /** A logged batch that also carries the pending audit entry of the change it makes (audit-types.ts),
   *  so both are written or neither. Only for plain batches: a conditional one may not span the
   *  audit partitions. */
  private async batchWithAudit(queries: { query: string; params: Params }[]): Promise<void> {
    const audit = pendingAuditEntry.getStore();
    if (audit === undefined || audit.written) return this.batch(queries);
    await this.batch([...queries, ...this.audit.statements(audit.build(), audit.keepForMs)]);
    audit.written = true;
  }

  private async run(query: string, params: Params, options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
    return runCql(this.client, query, params, options);
  }

  /** Every row of a query, page by page (a plain execute returns only the first page). */
  private async allRows(query: string, params: Params): Promise<Row[]> {
    return allCqlRows(this.client, query, params);
  }

}

/** configuration.domains as the registry keeps it: JSON, or null when the tenant lists none. */
function domainsColumn(tenant: Tenant): string | null {
  return tenant.configuration.domains === undefined ? null : JSON.stringify(tenant.configuration.domains);
}

function rowToTenant(row: Row): Tenant {
  const domains = row.get('domains') as string | null | undefined;
  return {
    id: String(row.get('id')),
    name: String(row.get('name')),
    keyspaceName: String(row.get('keyspace_name')),
    configuration: {
      secretKey: String(row.get('secret_key')),
      hashedEmailAddresses: Boolean(row.get('hashed_email_addresses')),
      ...(typeof domains === 'string' ? { domains: JSON.parse(domains) as string[] } : {}),
    },
    conversionPoints: JSON.parse(String(row.get('conversion_points'))) as ConversionPoint[],
    dataSources: JSON.parse(String(row.get('data_sources'))) as DataSource[],
  };
}

/** A token's name column, absent when null (tokens made before names, or without one). */
function tokenName(row: Row): { name?: string } {
  const name = row.get('name') as string | null;
  return name === null || name === undefined ? {} : { name };
}
