/**
 * Retention of engine events on a store that does not expire rows itself (the embedded one;
 * Cassandra writes them with a TTL): once an hour, every tenant's events older than the retention
 * go, with their indexes and tracked messages (Store.sweepEvents). Report counters stay.
 *
 * Must never stop the middleware: a failed sweep is logged and tried again next hour.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { HOUR_MS } from '../store/event-types.js';

export async function sweepExpiredEvents(store: Store, retentionMs: number, now: Date, log?: Logger): Promise<number> {
  let removed = 0;
  for (const tenant of await store.listTenants()) {
    try {
      removed += await store.sweepEvents({ id: tenant.id, keyspaceName: tenant.keyspaceName }, new Date(now.getTime() - retentionMs));
    } catch (error) {
      log?.warn({ tenant: tenant.id, err: (error as Error).message }, 'event retention sweep failed; next hour again');
    }
  }
  if (removed > 0) log?.info({ removed }, 'expired events removed');
  return removed;
}

/** Sweeps now and every hour until the returned function is called. */
export function startEventSweeps(store: Store, retentionMs: number, log?: Logger): () => void {
  const sweep = (): void => void sweepExpiredEvents(store, retentionMs, new Date(), log).catch((error: unknown) => log?.warn({ err: (error as Error).message }, 'event retention sweep failed'));
  sweep();
  const timer = setInterval(sweep, HOUR_MS);
  timer.unref();
  return () => clearInterval(timer);
}
