/**
 * Retention of the audit trail on the embedded store (Cassandra writes entries with a TTL): once
 * an hour, entries older than audit.retentionDays go (Store.audit.sweep).
 *
 * Must never stop the middleware: a failed sweep is logged and tried again next hour.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

const HOUR_MS = 3_600_000;
/** audit.retentionDays' default (schemas/src/config.ts), for apps built without a config. */
export const DEFAULT_AUDIT_RETENTION_MS = 365 * 24 * HOUR_MS;

export async function sweepExpiredAudit(store: Store, retentionMs: number, now: Date, log?: Logger): Promise<number> {
  const removed = await store.audit.sweep(new Date(now.getTime() - retentionMs));
  if (removed > 0) log?.info({ removed }, 'expired audit entries removed');
  return removed;
}

/** Sweeps now and every hour until the returned function is called. */
export function startAuditSweeps(store: Store, retentionMs: number, log?: Logger): () => void {
  const sweep = (): void => void sweepExpiredAudit(store, retentionMs, new Date(), log).catch((error: unknown) => log?.warn({ err: (error as Error).message }, 'audit retention sweep failed; next hour again'));
  sweep();
  const timer = setInterval(sweep, HOUR_MS);
  timer.unref();
  return () => clearInterval(timer);
}
