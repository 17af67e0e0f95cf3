/**
 * How the embedded store changes data: `atomically(db, change)` runs `change` — reads, checks and
 * writes — as one LMDB child transaction inside lmdb-js's next batched write transaction, and
 * resolves once that batch is committed and flushed to disk.
 *
 * Why not `transactionSync`: it commits and fsyncs on the event loop, so under load every request
 * of the process waited behind each disk flush in turn (the engine's reveals, many per second,
 * spent half the middleware's time there). Batched, many changes share one flush, done off the
 * event loop. Why a child transaction and not plain `transaction()`: a throw from `change` — a
 * failed check after a write — rolls the child back, so a change is all or nothing.
 *
 * `change` must be synchronous (no await inside: the write lock would be held across it).
 *
 * The audit trail rides along: when the caller runs inside `request.audited` (audit-plugin.ts)
 * and its entry is not written yet, the first `atomically` of that call writes the entry in the
 * same child transaction, after `change` succeeded — the change and its entry commit together or
 * not at all.
 */
import type { Key, RootDatabase } from 'lmdb';
import { pendingAuditEntry } from './audit-types.js';
import { putAuditEntry } from './embedded-audit.js';

export async function atomically<T>(db: RootDatabase<unknown, Key>, change: () => T): Promise<T> {
  // Read here, not in the callback: lmdb-js may run a batched callback in another async context.
  const audit = pendingAuditEntry.getStore();
  const result = await db.childTransaction(() => {
    const value = change();
    if (audit !== undefined && !audit.written) {
      putAuditEntry(db, audit.build());
      audit.written = true;
    }
    return value;
  });
  // Durable before anyone is told: a UID a client has seen must survive a power cut.
  await db.flushed;
  return result;
}
