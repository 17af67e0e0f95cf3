/**
 * The delivery backlog as the metrics show it, read from the store at scrape time: how many
 * deliveries are pending over all tenants and points, and how old (since its event) the oldest
 * delivery is that is due now and not made yet — the figure that grows when conversion points
 * fail or the dispatchers fall behind.
 *
 * A scrape must stay cheap and must never hang on a store that is down: the figures are read at
 * most every REFRESH_MS (scrapes in between get the last reading), and a reading that takes longer
 * than READ_TIMEOUT_MS or fails leaves the last one in place (store errors show in
 * inlay_mw_store_operation_errors_total).
 */
import { DELIVERY_SHARDS } from '../delivery/delivery-types.js';
import type { Store } from '../store/store.js';

/** Prometheus scrapes every 15–60 s; a reading this fresh is fresh enough for an alert. */
const REFRESH_MS = 10_000;
/** Well below Prometheus' default scrape timeout (10 s). */
const READ_TIMEOUT_MS = 3_000;

export interface BacklogReading {
  readonly pending: number;
  readonly oldestDueAgeSeconds: number;
}

export class DeliveryBacklog {
  private last: BacklogReading = { pending: 0, oldestDueAgeSeconds: 0 };
  private readAt = 0;
  private reading: Promise<void> | null = null;

  constructor(private readonly store: Store) {}

  /** The latest reading, refreshed first when it is older than REFRESH_MS. */
  async current(): Promise<BacklogReading> {
    if (Date.now() - this.readAt >= REFRESH_MS) {
      this.reading ??= this.refresh().finally(() => (this.reading = null));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, READ_TIMEOUT_MS)));
      await Promise.race([this.reading, timeout]);
      clearTimeout(timer);
    }
    return this.last;
  }

  private async refresh(): Promise<void> {
    try {
      const now = Date.now();
      let pending = 0;
      let oldestCreatedMs = now;
      for (const tenant of await this.store.listTenants()) {
        for (const point of tenant.conversionPoints ?? []) pending += await this.store.deliveries.backlog(tenant, point.id);
        for (let shard = 0; shard < DELIVERY_SHARDS; shard++) {
          // Earliest due first: the one that has waited longest past its time in this shard.
          const [next] = await this.store.deliveries.dueDeliveries(tenant, shard, now, 1);
          if (next !== undefined) oldestCreatedMs = Math.min(oldestCreatedMs, next.createdAtMs);
        }
      }
      this.last = { pending, oldestDueAgeSeconds: (now - oldestCreatedMs) / 1000 };
      this.readAt = Date.now();
    } catch {
      // Left as it was; the failed store call is counted by store-metrics.ts.
    }
  }
}
