/**
 * The embedded store: one LMDB file (`<dataDir>/inlay.mdb`, plus LMDB's `-lock` file) for a
 * single machine, so the middleware starts with no database server. Keys are arrays in LMDB's
 * ordered-binary encoding; a tenant "keyspace" is the key prefix ['row', keyspaceName], with the
 * same table names as the Cassandra plan (tenant-tables.ts).
 *
 * Every change that touches more than one key runs through `atomically` (embedded-atomic.ts):
 * LMDB has a single writer, so the checks and the writes inside see no interleaving, and a throw
 * rolls all of it back. (lmdb-js's plain asynchronous `transaction()` does NOT roll back on a
 * throw; must never be used where a check can fail after a write.)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Key, type RootDatabase } from 'lmdb';
import type { ConversionPoint, DataSource, Tenant } from '@inlay/schemas';
import { atomically } from './embedded-atomic.js';
import { TENANT_TABLE_NAMES } from './tenant-tables.js';
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
} from './store.js';
import { keyspaceInUse, keyspaceMissing, keyspaceReserved, tenantExists, tenantNotFound } from './store-errors.js';
import type { ImportRecord, ImportRowError, UserRecord, UserScanPage, UserScanRequest, UserUpsert } from './user-import-types.js';
import type { Campaign } from '@inlay/schemas';
import type { CampaignChange, CampaignDeleteCheck, CampaignFilter } from './campaign-types.js';
import { EmbeddedCampaignTable } from './embedded-campaigns.js';
import { EmbeddedViewTables } from './embedded-views.js';
import { EmbeddedDeliveries } from './embedded-deliveries.js';
import { EmbeddedAudit } from './embedded-audit.js';
import type { EngineEventRecord, EventRange, StoredView, ViewDecide, ViewRef } from './view-types.js';
import { EmbeddedEventTables } from './embedded-events.js';
import type { CounterRow, EventQuery, EventQueryPage, ShownMessage, TrackedMessageRecord } from './event-types.js';

export const EMBEDDED_STORE_FILE = 'inlay.mdb';

interface KeyspaceMarker {
  readonly tables: string[];
  readonly createdAtMs: number;
}
interface TokenEntry {
  readonly tokenHash: string;
  readonly createdAtMs: number;
  readonly name?: string;
}
interface TokenByHashEntry {
  readonly tenantId: string;
  readonly tokenId: string;
  readonly createdAtMs: number;
  readonly name?: string;
}

const keys = {
  tenant: (id: string): Key => ['tenant', id],
  tenants: (): string[] => ['tenant'],
  /** Which tenant a keyspace belongs to; one tenant per keyspace. */
  keyspaceClaim: (keyspace: string): Key => ['keyspace-claim', keyspace],
  /** Present once the keyspace's "tables" are created. */
  keyspace: (keyspace: string): Key => ['keyspace', keyspace],
  keyspaceRows: (keyspace: string): string[] => ['row', keyspace],
  token: (tenantId: string, tokenId: string): Key => ['token', tenantId, tokenId],
  tenantTokens: (tenantId: string): string[] => ['token', tenantId],
  tokenByHash: (tokenHash: string): Key => ['token-hash', tokenHash],
};

export class EmbeddedStore implements Store {
  readonly kind = 'embedded';

  readonly deliveries: EmbeddedDeliveries;
  readonly audit: EmbeddedAudit;

  private constructor(private readonly db: RootDatabase<unknown, Key>) {
    this.deliveries = new EmbeddedDeliveries(db);
    this.audit = new EmbeddedAudit(db);
  }

  /** Opens (creating if needed) `<dataDir>/inlay.mdb`; the directory is made private to us. */
  static open(dataDir: string): EmbeddedStore {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const db = open<unknown, Key>({ path: join(dataDir, EMBEDDED_STORE_FILE), noSubdir: true, compression: false });
    return new EmbeddedStore(db);
  }

  async createTenant(tenant: Tenant, options: CreateTenantOptions): Promise<void> {
    const { id, keyspaceName } = tenant;
    await atomically(this.db, () => {
      if (this.db.get(keys.tenant(id)) !== undefined) throw tenantExists(id);
      if (isReservedKeyspace(keyspaceName)) throw keyspaceReserved(keyspaceName);
      const owner = this.db.get(keys.keyspaceClaim(keyspaceName)) as string | undefined;
      if (owner !== undefined && owner !== id) throw keyspaceInUse(keyspaceName);
      this.ensureSchemaInTransaction(keyspaceName, options.createDB, id);
      void this.db.put(keys.keyspaceClaim(keyspaceName), id);
      void this.db.put(keys.tenant(id), tenant);
    });
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    return this.db.get(keys.tenant(id)) as Tenant | undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    return [...this.entriesWithPrefix(keys.tenants())].map(({ value }) => value as Tenant);
  }

  async deleteTenant(id: string, options: DeleteTenantOptions): Promise<Tenant> {
    return atomically(this.db, () => {
      const tenant = this.db.get(keys.tenant(id)) as Tenant | undefined;
      if (tenant === undefined) throw tenantNotFound(id);
      for (const { key, value } of [...this.entriesWithPrefix(keys.tenantTokens(id))]) {
        void this.db.remove(keys.tokenByHash((value as TokenEntry).tokenHash));
        void this.db.remove(key);
      }
      if (options.dropDB) this.dropKeyspaceInTransaction(tenant.keyspaceName);
      if (this.db.get(keys.keyspaceClaim(tenant.keyspaceName)) === id) void this.db.remove(keys.keyspaceClaim(tenant.keyspaceName));
      void this.db.remove(keys.tenant(id));
      return tenant;
    });
  }

  async replaceDataSources(id: string, change: DataSourceChange): Promise<DataSource[]> {
    return atomically(this.db, () => {
      const tenant = this.db.get(keys.tenant(id)) as Tenant | undefined;
      if (tenant === undefined) throw tenantNotFound(id);
      const dataSources = change(tenant.dataSources);
      void this.db.put(keys.tenant(id), { ...tenant, dataSources });
      return dataSources;
    });
  }

  async replaceConversionPoints(id: string, conversionPoints: readonly ConversionPoint[]): Promise<ConversionPoint[]> {
    return atomically(this.db, () => {
      const tenant = this.db.get(keys.tenant(id)) as Tenant | undefined;
      if (tenant === undefined) throw tenantNotFound(id);
      void this.db.put(keys.tenant(id), { ...tenant, conversionPoints: [...conversionPoints] });
      return [...conversionPoints];
    });
  }

  async ensureTenantSchema(tenant: TenantRef, options: EnsureTenantSchemaOptions = {}): Promise<void> {
    if (isReservedKeyspace(tenant.keyspaceName)) throw keyspaceReserved(tenant.keyspaceName);
    await atomically(this.db, () => this.ensureSchemaInTransaction(tenant.keyspaceName, options.createKeyspace ?? true, tenant.id));
  }

  async tenantSchemaExists(tenant: TenantRef): Promise<boolean> {
    const marker = this.db.get(keys.keyspace(tenant.keyspaceName)) as KeyspaceMarker | undefined;
    return marker !== undefined && TENANT_TABLE_NAMES.every((table) => marker.tables.includes(table));
  }

  async createTenantToken(record: TenantTokenRecord): Promise<void> {
    await atomically(this.db, () => {
      if (this.db.get(keys.tenant(record.tenantId)) === undefined) throw tenantNotFound(record.tenantId);
      const createdAtMs = record.createdAt.getTime();
      const name = record.name === undefined ? {} : { name: record.name };
      const entry: TokenEntry = { tokenHash: record.tokenHash, createdAtMs, ...name };
      const byHash: TokenByHashEntry = { tenantId: record.tenantId, tokenId: record.tokenId, createdAtMs, ...name };
      void this.db.put(keys.token(record.tenantId, record.tokenId), entry);
      void this.db.put(keys.tokenByHash(record.tokenHash), byHash);
    });
  }

  async listTenantTokens(tenantId: string): Promise<TenantTokenSummary[]> {
    return [...this.entriesWithPrefix(keys.tenantTokens(tenantId))]
      .map(({ key, value }) => {
        const { createdAtMs, name } = value as TokenEntry;
        return { tenantId, tokenId: String(key[2]), createdAt: new Date(createdAtMs), ...(name === undefined ? {} : { name }) };
      })
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.tokenId.localeCompare(b.tokenId));
  }

  async revokeTenantToken(tenantId: string, tokenId: string): Promise<boolean> {
    return atomically(this.db, () => {
      const entry = this.db.get(keys.token(tenantId, tokenId)) as TokenEntry | undefined;
      if (entry === undefined) return false;
      void this.db.remove(keys.tokenByHash(entry.tokenHash));
      void this.db.remove(keys.token(tenantId, tokenId));
      return true;
    });
  }

  async findTenantTokenByHash(tokenHash: string): Promise<TenantTokenRecord | undefined> {
    const entry = this.db.get(keys.tokenByHash(tokenHash)) as TokenByHashEntry | undefined;
    if (entry === undefined) return undefined;
    return { tenantId: entry.tenantId, tokenId: entry.tokenId, tokenHash, createdAt: new Date(entry.createdAtMs), ...(entry.name === undefined ? {} : { name: entry.name }) };
  }

  // --- users and imports: rows under ['row', keyspace, table, …primary key] ---

  async upsertUsers(tenant: TenantRef, users: readonly UserUpsert[], listId: string): Promise<void> {
    const updatedAtMs = Date.now();
    // One transaction per batch: LMDB commits (and syncs) once for all of them.
    await atomically(this.db, () => {
      for (const user of users) {
        const key: Key = ['row', tenant.keyspaceName, 'users', user.userKey];
        const stored = this.db.get(key) as StoredUser | undefined;
        const lists = stored?.lists.includes(listId) ? stored.lists : [...(stored?.lists ?? []), listId];
        const displayName = user.displayName ?? stored?.displayName;
        const next: StoredUser = { attributes: { ...stored?.attributes, ...user.attributes }, lists, updatedAtMs, ...(displayName === undefined ? {} : { displayName }) };
        void this.db.put(key, next);
      }
    });
  }

  async getUser(tenant: TenantRef, userKey: string): Promise<UserRecord | undefined> {
    const stored = this.db.get(['row', tenant.keyspaceName, 'users', userKey]) as StoredUser | undefined;
    return stored === undefined ? undefined : storedToUser(userKey, stored);
  }

  async scanUsers(tenant: TenantRef, request: UserScanRequest): Promise<UserScanPage> {
    const prefix = ['row', tenant.keyspaceName, 'users'];
    const users: UserRecord[] = [];
    // The cursor is the last user key of the page before: start there and skip it.
    const start = request.cursor === undefined ? prefix : [...prefix, request.cursor];
    for (const entry of this.db.getRange({ start: start as Key })) {
      const key = entry.key as Key[];
      if (!Array.isArray(key) || !prefix.every((part, index) => key[index] === part)) break;
      if (key.length !== prefix.length + 1 || key[3] === request.cursor) continue;
      users.push(storedToUser(String(key[3]), entry.value as StoredUser));
      if (users.length >= request.pageSize) return { users, next: String(key[3]) };
    }
    return { users };
  }

  async saveImport(tenant: TenantRef, record: ImportRecord): Promise<void> {
    await this.db.put(['row', tenant.keyspaceName, 'imports', record.importId], importToStored(record));
  }

  async getImport(tenant: TenantRef, importId: string): Promise<ImportRecord | undefined> {
    const stored = this.db.get(['row', tenant.keyspaceName, 'imports', importId]) as StoredImport | undefined;
    return stored === undefined ? undefined : storedToImport(stored);
  }

  async listImports(tenant: TenantRef, limit: number): Promise<ImportRecord[]> {
    // Imports are few (one per list upload); sorting them all is cheaper than a second index.
    return [...this.entriesWithPrefix(['row', tenant.keyspaceName, 'imports'])]
      .map(({ value }) => storedToImport(value as StoredImport))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.importId < b.importId ? 1 : -1))
      .slice(0, limit);
  }

  async recordImportErrors(tenant: TenantRef, importId: string, errors: readonly ImportRowError[]): Promise<void> {
    if (errors.length === 0) return;
    await atomically(this.db, () => {
      for (const error of errors) void this.db.put(['row', tenant.keyspaceName, 'import_errors', importId, error.rowNumber], error.reason);
    });
  }

  async listImportErrors(tenant: TenantRef, importId: string, limit: number): Promise<ImportRowError[]> {
    const errors: ImportRowError[] = [];
    for (const { key, value } of this.entriesWithPrefix(['row', tenant.keyspaceName, 'import_errors', importId])) {
      if (errors.length >= limit) break;
      errors.push({ rowNumber: Number(key[4]), reason: String(value) });
    }
    return errors;
  }

  // --- campaigns (embedded-campaigns.ts) ---

  private get campaigns(): EmbeddedCampaignTable {
    return new EmbeddedCampaignTable(this.db);
  }

  async createCampaign(tenant: TenantRef, campaign: Campaign): Promise<void> {
    await this.campaigns.create(tenant, campaign);
  }

  async getCampaign(tenant: TenantRef, campaignId: string): Promise<Campaign | undefined> {
    return this.campaigns.get(tenant, campaignId);
  }

  async listCampaigns(tenant: TenantRef, filter?: CampaignFilter): Promise<Campaign[]> {
    return this.campaigns.list(tenant, filter);
  }

  async updateCampaign(tenant: TenantRef, campaignId: string, change: CampaignChange): Promise<Campaign> {
    return this.campaigns.update(tenant, campaignId, change);
  }

  async deleteCampaign(tenant: TenantRef, campaignId: string, check?: CampaignDeleteCheck): Promise<Campaign> {
    return this.campaigns.delete(tenant, campaignId, check);
  }

  // --- views and events (embedded-views.ts) ---

  private get views(): EmbeddedViewTables {
    return new EmbeddedViewTables(this.db);
  }

  async getView(ref: ViewRef): Promise<StoredView> {
    return this.views.getView(ref);
  }

  async changeView<Result>(ref: ViewRef, decide: ViewDecide<Result>): Promise<{ view: StoredView; result: Result }> {
    return this.views.changeView(ref, decide);
  }

  async listEvents(tenant: TenantRef, range: EventRange): Promise<EngineEventRecord[]> {
    return this.views.listEvents(tenant, range);
  }

  // --- event records, indexes, counters, tracking (embedded-events.ts) ---

  private get events(): EmbeddedEventTables {
    return new EmbeddedEventTables(this.db);
  }

  async recordEvents(tenant: TenantRef, events: readonly EngineEventRecord[], shown: readonly ShownMessage[] = []): Promise<void> {
    await this.events.recordEvents(tenant, events, shown);
  }

  async queryEvents(tenant: TenantRef, query: EventQuery): Promise<EventQueryPage> {
    return this.events.queryEvents(tenant, query);
  }

  async readCampaignCounters(tenant: TenantRef, campaignId: string, range: EventRange): Promise<CounterRow[]> {
    return this.events.readCampaignCounters(tenant, campaignId, range);
  }

  async listTrackedMessages(tenant: TenantRef, userKey: string): Promise<TrackedMessageRecord[]> {
    return this.events.listTrackedMessages(tenant, userKey);
  }

  async getTrackedMessage(tenant: TenantRef, userKey: string, objectId: string): Promise<TrackedMessageRecord | undefined> {
    return this.events.getTrackedMessage(tenant, userKey, objectId);
  }

  async sweepEvents(tenant: TenantRef, before: Date): Promise<number> {
    return this.events.sweepEvents(tenant, before);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Must run inside `atomically`. */
  private ensureSchemaInTransaction(keyspace: string, createKeyspace: boolean, tenantId: string | undefined): void {
    const marker = this.db.get(keys.keyspace(keyspace)) as KeyspaceMarker | undefined;
    if (marker === undefined && !createKeyspace) throw keyspaceMissing(keyspace, tenantId, 'embedded');
    if (marker !== undefined && TENANT_TABLE_NAMES.every((table) => marker.tables.includes(table))) return;
    const next: KeyspaceMarker = { tables: [...TENANT_TABLE_NAMES], createdAtMs: marker?.createdAtMs ?? Date.now() };
    void this.db.put(keys.keyspace(keyspace), next);
  }

  /** Must run inside `atomically`. */
  private dropKeyspaceInTransaction(keyspace: string): void {
    for (const { key } of [...this.entriesWithPrefix(keys.keyspaceRows(keyspace))]) void this.db.remove(key);
    void this.db.remove(keys.keyspace(keyspace));
  }

  /** Entries whose key starts with `prefix`, in key order. Array keys of one prefix are
   *  contiguous in ordered-binary order, so the scan stops at the first key outside it. */
  private *entriesWithPrefix(prefix: readonly string[]): Generator<{ key: Key[]; value: unknown }> {
    for (const entry of this.db.getRange({ start: prefix as Key })) {
      const key = entry.key as Key[];
      if (!Array.isArray(key) || !prefix.every((part, index) => key[index] === part)) return;
      if (key.length === prefix.length) continue;
      yield { key, value: entry.value };
    }
  }
}

interface StoredUser {
  readonly displayName?: string;
  readonly attributes: Record<string, string>;
  readonly lists: string[];
  readonly updatedAtMs: number;
}

function storedToUser(userKey: string, stored: StoredUser): UserRecord {
  return {
    userKey,
    ...(stored.displayName === undefined ? {} : { displayName: stored.displayName }),
    attributes: stored.attributes,
    lists: [...stored.lists].sort(),
    updatedAt: new Date(stored.updatedAtMs),
  };
}

/** An ImportRecord with its dates as milliseconds (LMDB's msgpack keeps Dates, but numbers are
 *  what the other rows use). */
type StoredImport = Omit<ImportRecord, 'createdAt' | 'startedAt' | 'finishedAt'> & { createdAtMs: number; startedAtMs?: number; finishedAtMs?: number };

function importToStored({ createdAt, startedAt, finishedAt, ...rest }: ImportRecord): StoredImport {
  return {
    ...rest,
    createdAtMs: createdAt.getTime(),
    ...(startedAt === undefined ? {} : { startedAtMs: startedAt.getTime() }),
    ...(finishedAt === undefined ? {} : { finishedAtMs: finishedAt.getTime() }),
  };
}

function storedToImport({ createdAtMs, startedAtMs, finishedAtMs, ...rest }: StoredImport): ImportRecord {
  return {
    ...rest,
    createdAt: new Date(createdAtMs),
    ...(startedAtMs === undefined ? {} : { startedAt: new Date(startedAtMs) }),
    ...(finishedAtMs === undefined ? {} : { finishedAt: new Date(finishedAtMs) }),
  };
}
