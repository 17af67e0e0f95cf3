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
 */
import type { Key, RootDatabase } from 'lmdb';

export async function atomically<T>(db: RootDatabase<unknown, Key>, change: () => T): Promise<T> {
  const result = await db.childTransaction(change);
  // Durable before anyone is told: a UID a client has seen must survive a power cut.
  await db.flushed;
  return result;
}
