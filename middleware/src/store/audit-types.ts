/**
 * What the store keeps of the audit trail (audit/ builds the entries; routes/audit.ts reads
 * them): entries are written once, never changed, and read newest first. Secrets are masked
 * before an entry gets here (audit/mask.ts): the store keeps what it is given.
 *
 * Must never hold a secret, and never drop an entry before its retention ran out.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditTargetType } from '@inlay/schemas';
import type { AuditChange } from '../audit/diff.js';

export interface AuditActor {
  readonly kind: 'admin' | 'tenant';
  readonly tokenId: string;
  readonly name: string;
}

export interface AuditEntry {
  /** A random UUID; with atMs it orders entries of the same millisecond. */
  readonly id: string;
  readonly atMs: number;
  /** Every audited change belongs to one tenant (creating and deleting one included). */
  readonly tenantId: string;
  readonly actor: AuditActor;
  readonly address: string;
  readonly requestId: string;
  readonly route: string;
  readonly action: string;
  readonly target: { readonly type: AuditTargetType; readonly id: string };
  readonly before: unknown;
  readonly after: unknown;
  readonly changes: readonly AuditChange[];
}

export interface AuditCursor {
  readonly atMs: number;
  readonly id: string;
}

export interface AuditStoreQuery {
  /** Inclusive. */
  readonly since: Date;
  /** Exclusive. */
  readonly until: Date;
  readonly limit: number;
  /** Entries strictly older than this position (the last one of the previous page). */
  readonly after?: AuditCursor;
  readonly tenantId?: string;
  readonly actorTokenId?: string;
  readonly action?: string;
  readonly route?: string;
  readonly targetTypes?: readonly AuditTargetType[];
  readonly targetId?: string;
}

export interface AuditStorePage {
  readonly entries: AuditEntry[];
  /** Present when the page is full: where the next one starts. */
  readonly next?: AuditCursor;
}

export interface AuditStore {
  /** Writes the entry; kept for `keepForMs` (Cassandra: as a TTL; the embedded store sweeps). */
  append(entry: AuditEntry, keepForMs: number): Promise<void>;
  /** Newest first (atMs, then id, descending), filtered; uses the tenant index when asked for one. */
  query(query: AuditStoreQuery): Promise<AuditStorePage>;
  /** Drops entries older than `before`; Cassandra's TTL does this and it returns 0. */
  sweep(before: Date): Promise<number>;
}

/** Whether `entry` passes the query's filters other than tenant and time (the stores' indexes
 *  answer those). Both stores filter with this one function. */
export function auditEntryMatches(entry: AuditEntry, query: AuditStoreQuery): boolean {
  return (
    (query.tenantId === undefined || entry.tenantId === query.tenantId) &&
    (query.actorTokenId === undefined || entry.actor.tokenId === query.actorTokenId) &&
    (query.action === undefined || entry.action === query.action) &&
    (query.route === undefined || entry.route === query.route) &&
    (query.targetTypes === undefined || query.targetTypes.includes(entry.target.type)) &&
    (query.targetId === undefined || entry.target.id === query.targetId)
  );
}

/** Whether `entry` comes strictly after `cursor` in newest-first order. */
export function isOlderThan(entry: Pick<AuditEntry, 'atMs' | 'id'>, cursor: AuditCursor): boolean {
  return entry.atMs < cursor.atMs || (entry.atMs === cursor.atMs && entry.id < cursor.id);
}

/**
 * A change's audit entry, waiting to be written together with the change. The audit plugin sets
 * it around one store call (`request.audited`); a store that can write it in the same transaction
 * as the change does so and sets `written` (the embedded store: embedded-atomic.ts, in the first
 * `atomically` of the call). When the call returns with `written` still false (Cassandra, or a
 * call without a transaction), the plugin appends the entry after the change.
 */
export interface PendingAuditEntry {
  /** Builds the entry; runs inside the store's transaction, so a throw rolls the change back. */
  build(): AuditEntry;
  /** How long the entry is kept (Cassandra writes it with this TTL). */
  readonly keepForMs: number;
  written: boolean;
}

export const pendingAuditEntry = new AsyncLocalStorage<PendingAuditEntry>();
