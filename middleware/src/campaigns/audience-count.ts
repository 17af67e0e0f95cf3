/**
 * How many of a tenant's known users an audience matches: a scan over the store's users, page by
 * page, through the engine's own audienceMatches (engine/targeting.ts), so the count is who the
 * campaign would reach among imported users ("all" also reaches users never imported, who are not
 * counted: the store does not know them).
 *
 * Bounded: past `maxUsers` scanned or `maxMs` elapsed it stops and says `exact: false`, with the
 * count so far. Yields to the event loop between pages (LMDB reads are synchronous), so a count
 * never holds up the other requests for more than one page.
 *
 * Must never write: counting is a read.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Audience, AudienceCount } from '@inlay/schemas';
import { audienceMatches } from '../engine/targeting.js';
import type { Store, TenantRef } from '../store/store.js';

export interface AudienceCountLimits {
  /** Users scanned before the answer becomes a lower bound. */
  readonly maxUsers: number;
  /** Milliseconds of scanning before the answer becomes a lower bound. */
  readonly maxMs: number;
  /** Users per store read (one LMDB range or one Cassandra page). */
  readonly pageSize: number;
}

export const DEFAULT_AUDIENCE_COUNT_LIMITS: AudienceCountLimits = { maxUsers: 200_000, maxMs: 2_000, pageSize: 1_000 };

export async function countAudience(
  store: Store,
  tenant: TenantRef,
  audience: Audience,
  limits: AudienceCountLimits = DEFAULT_AUDIENCE_COUNT_LIMITS,
  clock: () => number = Date.now,
): Promise<AudienceCount> {
  const startedAt = clock();
  let matching = 0;
  let scanned = 0;
  let cursor: string | undefined;
  for (;;) {
    // Never read past maxUsers: the last page is cut to what is left.
    const pageSize = Math.max(1, Math.min(limits.pageSize, limits.maxUsers - scanned));
    const page = await store.scanUsers(tenant, { pageSize, ...(cursor === undefined ? {} : { cursor }) });
    for (const user of page.users) if (audienceMatches(audience, user)) matching++;
    scanned += page.users.length;
    if (page.next === undefined) return { matching, scanned, exact: true };
    if (scanned >= limits.maxUsers || clock() - startedAt >= limits.maxMs) {
      // A full last page may be the end: one more user read tells a lower bound from the total.
      const more = await store.scanUsers(tenant, { pageSize: 1, cursor: page.next });
      return { matching, scanned, exact: more.users.length === 0 };
    }
    cursor = page.next;
    await nextTurn();
  }
}
