/**
 * The audit trail on Cassandra, in the registry keyspace (it outlives tenant keyspaces, which
 * dropDB removes): `audit_log` partitioned by month for listings of everything, `audit_by_tenant`
 * by tenant and month for one tenant's; both newest first. An entry goes to both tables in one
 * logged batch with the retention as TTL, so it is in both or in neither, and expires by itself;
 * where the change itself is a plain logged batch (tokens), the entry rides in that batch.
 *
 * Audit entries are rare (people change configuration, machines do not), so a month partition
 * stays small, and a listing over a year reads at most 13 partitions, stopping at a full page.
 */
import cassandra from 'cassandra-driver';
import { auditEntryMatches, isOlderThan, type AuditEntry, type AuditStore, type AuditStoreQuery, type AuditStorePage } from '../audit-types.js';
import { translateDriverError } from './cassandra-errors.js';
import { runCql } from './cql-run.js';

const { consistencies } = cassandra.types;

/** Rows fetched per round trip while filling a page. */
const FETCH_SIZE = 200;

export const AUDIT_REGISTRY_TABLES: Readonly<Record<string, string>> = {
  audit_log: `(
    month text,
    at timestamp,
    id text,
    entry text,
    PRIMARY KEY ((month), at, id)) WITH CLUSTERING ORDER BY (at DESC, id DESC)`,
  audit_by_tenant: `(
    tenant_id text,
    month text,
    at timestamp,
    id text,
    entry text,
    PRIMARY KEY ((tenant_id, month), at, id)) WITH CLUSTERING ORDER BY (at DESC, id DESC)`,
};

/** "2026-12": the partition of an instant (UTC). */
export const monthOf = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

/** The months from the one holding `untilMs - 1` back to the one holding `sinceMs`, newest first. */
export function monthsBack(sinceMs: number, untilMs: number): string[] {
  const months: string[] = [];
  const at = new Date(untilMs - 1);
  let year = at.getUTCFullYear();
  let month = at.getUTCMonth();
  const last = monthOf(sinceMs);
  for (;;) {
    const name = `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}`;
    if (name < last) return months;
    months.push(name);
    if (--month < 0) {
      month = 11;
      year--;
    }
  }
}

export class CassandraAudit implements AuditStore {
  constructor(
    private readonly client: cassandra.Client,
    /** The quoted registry keyspace. */
    private readonly keyspace: string,
  ) {}

  /** The entry's two rows, for a logged batch of their own or of the change they record. */
  statements(entry: AuditEntry, keepForMs: number): { query: string; params: unknown[] }[] {
    const ttl = Math.max(1, Math.ceil(keepForMs / 1000));
    const month = monthOf(entry.atMs);
    const at = new Date(entry.atMs);
    const json = JSON.stringify(entry);
    return [
      { query: `INSERT INTO ${this.keyspace}.audit_log (month, at, id, entry) VALUES (?, ?, ?, ?) USING TTL ?`, params: [month, at, entry.id, json, ttl] },
      { query: `INSERT INTO ${this.keyspace}.audit_by_tenant (tenant_id, month, at, id, entry) VALUES (?, ?, ?, ?, ?) USING TTL ?`, params: [entry.tenantId, month, at, entry.id, json, ttl] },
    ];
  }

  async append(entry: AuditEntry, keepForMs: number): Promise<void> {
    try {
      await this.client.batch(this.statements(entry, keepForMs), { prepare: true, logged: true, consistency: consistencies.localQuorum });
    } catch (error) {
      throw translateDriverError(error);
    }
  }

  async query(query: AuditStoreQuery): Promise<AuditStorePage> {
    const untilMs = query.after === undefined ? query.until.getTime() : Math.min(query.until.getTime(), query.after.atMs + 1);
    const sinceMs = query.since.getTime();
    const entries: AuditEntry[] = [];
    if (untilMs <= sinceMs) return { entries };
    for (const month of monthsBack(sinceMs, untilMs)) {
      const [cql, key] =
        query.tenantId === undefined
          ? [`SELECT entry FROM ${this.keyspace}.audit_log WHERE month = ? AND at >= ? AND at < ?`, [month]]
          : [`SELECT entry FROM ${this.keyspace}.audit_by_tenant WHERE tenant_id = ? AND month = ? AND at >= ? AND at < ?`, [query.tenantId, month]];
      let pageState: string | undefined;
      do {
        const result = await runCql(this.client, cql, [...key, new Date(sinceMs), new Date(untilMs)], {
          fetchSize: FETCH_SIZE,
          consistency: consistencies.localQuorum,
          ...(pageState === undefined ? {} : { pageState }),
        });
        for (const row of result.rows) {
          const entry = JSON.parse(row['entry'] as string) as AuditEntry;
          if (query.after !== undefined && !isOlderThan(entry, query.after)) continue;
          if (!auditEntryMatches(entry, query)) continue;
          entries.push(entry);
          if (entries.length === query.limit) return { entries, next: { atMs: entry.atMs, id: entry.id } };
        }
        pageState = result.pageState ?? undefined;
      } while (pageState);
    }
    return { entries };
  }

  async sweep(): Promise<number> {
    return 0; // TTLs expire the entries.
  }
}
