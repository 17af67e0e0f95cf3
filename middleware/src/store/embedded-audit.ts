/**
 * The audit trail in the embedded store: each entry under ['audit', atMs, id] and, for listings of
 * one tenant, again under ['audit-tenant', tenantId, atMs, id]; both written in one transaction.
 * Listings walk one of them backwards from the cursor (or `until`) and stop at `since` or a full
 * page. Expired entries go by sweep (audit/retention.ts).
 */
import type { Key, RootDatabase } from 'lmdb';
import { atomically } from './embedded-atomic.js';
import { auditEntryMatches, isOlderThan, type AuditEntry, type AuditStore, type AuditStoreQuery, type AuditStorePage } from './audit-types.js';

/** Entries removed per transaction by a sweep: keeps one write transaction short. */
const SWEEP_BATCH = 1000;

/** Puts the entry's two rows; must run inside a transaction (`atomically`). */
export function putAuditEntry(db: RootDatabase<unknown, Key>, entry: AuditEntry): void {
  void db.put(['audit', entry.atMs, entry.id], entry);
  void db.put(['audit-tenant', entry.tenantId, entry.atMs, entry.id], entry);
}

export class EmbeddedAudit implements AuditStore {
  constructor(private readonly db: RootDatabase<unknown, Key>) {}

  async append(entry: AuditEntry): Promise<void> {
    await atomically(this.db, () => putAuditEntry(this.db, entry));
  }

  async query(query: AuditStoreQuery): Promise<AuditStorePage> {
    const prefix: Key[] = query.tenantId === undefined ? ['audit'] : ['audit-tenant', query.tenantId];
    const start: Key = query.after === undefined ? [...prefix, query.until.getTime()] : [...prefix, query.after.atMs, query.after.id];
    // Keys of `since` itself sort above [...prefix, since], so the bound is inclusive.
    const end: Key = [...prefix, query.since.getTime()];
    const entries: AuditEntry[] = [];
    for (const { value } of this.db.getRange({ start, end, reverse: true })) {
      const entry = value as AuditEntry;
      if (entry.atMs >= query.until.getTime()) continue;
      if (query.after !== undefined && !isOlderThan(entry, query.after)) continue;
      if (!auditEntryMatches(entry, query)) continue;
      entries.push(entry);
      if (entries.length === query.limit) {
        return { entries, next: { atMs: entry.atMs, id: entry.id } };
      }
    }
    return { entries };
  }

  async sweep(before: Date): Promise<number> {
    let removed = 0;
    for (;;) {
      const expired = [...this.db.getRange({ start: ['audit'], end: ['audit', before.getTime()], limit: SWEEP_BATCH })].map(({ value }) => value as AuditEntry);
      if (expired.length === 0) return removed;
      await atomically(this.db, () => {
        for (const entry of expired) {
          void this.db.remove(['audit', entry.atMs, entry.id]);
          void this.db.remove(['audit-tenant', entry.tenantId, entry.atMs, entry.id]);
        }
      });
      removed += expired.length;
    }
  }
}
