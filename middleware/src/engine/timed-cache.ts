/**
 * A small in-memory cache whose entries live `ttlMs`: the tenant list and each tenant's campaign
 * list, read by every view request, change rarely, and a few seconds of staleness is what the
 * proxy's own view cache already allows. Concurrent misses of one key share one load; a failed
 * load is not kept. Must never hold anything per user (it would grow with the user base).
 */

/** Tenants are tens to hundreds; past this many keys the oldest entry goes first. */
const MAX_ENTRIES = 1000;

interface Entry<Value> {
  readonly expiresAtMs: number;
  readonly value: Promise<Value>;
}

export class TimedCache<Value> {
  private readonly entries = new Map<string, Entry<Value>>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {}

  get(key: string, load: () => Promise<Value>): Promise<Value> {
    const now = this.clock();
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAtMs > now) return entry.value;
    const value = load();
    if (this.ttlMs > 0) {
      if (this.entries.size >= MAX_ENTRIES && !this.entries.has(key)) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { expiresAtMs: now + this.ttlMs, value });
      value.catch(() => {
        if (this.entries.get(key)?.value === value) this.entries.delete(key);
      });
    }
    return value;
  }
}
