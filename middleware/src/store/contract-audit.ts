/**
 * The audit part of the Store contract (contract.ts runs it for every store): entries read back
 * exactly, newest first, filtered by tenant, actor, action, route and target, bounded by time,
 * paged by cursor without loss or repeat (also across months, Cassandra's partitions), and
 * expired entries gone (the embedded store sweeps; Cassandra's TTL). Test support only.
 *
 * Every entry lies in a time window and under tenant ids of this run only, so suites sharing one
 * Cassandra registry never see each other's entries.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import type { AuditEntry, AuditStoreQuery, Store } from './store.js';

const YEAR_MS = 365 * 86_400_000;
const KEEP_MS = 10 * YEAR_MS;

export function describeAuditContract(store: () => Store): void {
  describe('audit trail', () => {
    const run = randomBytes(3).toString('hex');
    // A random hour in 2001–2010: far from now and from other runs.
    const base = Date.UTC(2001, 0, 1) + Math.floor(Math.random() * 9 * 8760) * 3_600_000;
    let sequence = 0;

    function entry(tenantId: string, atMs: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
      sequence += 1;
      return {
        id: randomUUID(),
        atMs,
        tenantId,
        actor: { kind: 'tenant', tokenId: `tok-${sequence % 2}`, name: `Näme ${sequence} 😀` },
        address: sequence % 2 === 0 ? '127.0.0.1' : '::ffff:203.0.113.9',
        requestId: `req-${sequence}`,
        route: 'PUT /api/tenants/{id}/dataSources',
        action: 'dataSources.replace',
        target: { type: 'dataSources', id: tenantId },
        before: { list: [{ id: 'a', secretKey: '********' }], n: sequence },
        after: null,
        changes: [{ path: 'list[id=a]', before: { id: 'a' } }],
        ...overrides,
      };
    }

    async function all(query: AuditStoreQuery): Promise<AuditEntry[]> {
      const seen: AuditEntry[] = [];
      let after = query.after;
      for (let page = 0; page < 100; page++) {
        const result = await store().audit.query({ ...query, ...(after === undefined ? {} : { after }) });
        expect(result.entries.length).toBeLessThanOrEqual(query.limit);
        seen.push(...result.entries);
        if (result.next === undefined) return seen;
        expect(result.entries).toHaveLength(query.limit);
        after = result.next;
      }
      throw new Error('more than 100 pages');
    }

    test('entries read back exactly, newest first, by tenant and overall', async () => {
      const tenant = `audit-${run}-a`;
      const other = `audit-${run}-b`;
      const written = [entry(tenant, base + 1000), entry(other, base + 2000), entry(tenant, base + 3000)];
      for (const item of written) await store().audit.append(item, KEEP_MS);
      const window = { since: new Date(base), until: new Date(base + 10_000), limit: 10 };
      expect((await store().audit.query({ ...window, tenantId: tenant })).entries).toEqual([written[2], written[0]]);
      const overall = (await store().audit.query(window)).entries.filter((item) => item.tenantId === tenant || item.tenantId === other);
      expect(overall).toEqual([written[2], written[1], written[0]]);
    });

    test('filters: actor, action, route, target type and id; since inclusive, until exclusive', async () => {
      const tenant = `audit-${run}-f`;
      const at = base + 60_000;
      const items = [
        entry(tenant, at, { action: 'campaign.create', route: 'POST /api/tenants/{id}/campaigns', target: { type: 'campaign', id: 'c1' } }),
        entry(tenant, at + 1, { action: 'campaign.pause', route: 'POST /api/tenants/{id}/campaigns/{cid}/pause', target: { type: 'campaign', id: 'c2' } }),
        entry(tenant, at + 2, { action: 'token.create', route: 'POST /api/tenants/{id}/tokens', target: { type: 'token', id: 't1' }, actor: { kind: 'admin', tokenId: 'admin', name: 'admin' } }),
        entry(tenant, at + 3),
      ];
      for (const item of items) await store().audit.append(item, KEEP_MS);
      const query = { tenantId: tenant, since: new Date(at), until: new Date(at + 4), limit: 50 };
      const ids = async (extra: Partial<AuditStoreQuery>) => (await store().audit.query({ ...query, ...extra })).entries.map((item) => item.id);
      expect(await ids({})).toEqual([items[3]!.id, items[2]!.id, items[1]!.id, items[0]!.id]);
      expect(await ids({ actorTokenId: 'admin' })).toEqual([items[2]!.id]);
      expect(await ids({ action: 'campaign.pause' })).toEqual([items[1]!.id]);
      expect(await ids({ route: 'POST /api/tenants/{id}/campaigns' })).toEqual([items[0]!.id]);
      expect(await ids({ targetTypes: ['campaign'] })).toEqual([items[1]!.id, items[0]!.id]);
      expect(await ids({ targetTypes: ['campaign', 'token'], targetId: 'c1' })).toEqual([items[0]!.id]);
      expect(await ids({ since: new Date(at + 1), until: new Date(at + 3) })).toEqual([items[2]!.id, items[1]!.id]);
      expect(await ids({ tenantId: `audit-${run}-nobody` })).toEqual([]);
    });

    test('paging by cursor: every entry once, in order, also within one millisecond and across months', async () => {
      const tenant = `audit-${run}-p`;
      // The last hours of a month and the first of the next: two partitions on Cassandra.
      const monthEnd = Date.UTC(new Date(base).getUTCFullYear(), new Date(base).getUTCMonth() + 1, 1);
      const items = Array.from({ length: 23 }, (_, index) => entry(tenant, monthEnd - 3 * 3_600_000 + Math.floor(index / 3) * 3_600_000));
      for (const item of items) await store().audit.append(item, KEEP_MS);
      const expected = [...items].sort((a, b) => b.atMs - a.atMs || (a.id < b.id ? 1 : -1)).map((item) => item.id);
      for (const limit of [1, 4, 7, 23, 50]) {
        const seen = await all({ tenantId: tenant, since: new Date(monthEnd - 86_400_000), until: new Date(monthEnd + 86_400_000), limit });
        expect(seen.map((item) => item.id)).toEqual(expected);
      }
      const overall = await all({ since: new Date(monthEnd - 86_400_000), until: new Date(monthEnd + 86_400_000), limit: 5, targetTypes: ['dataSources'] });
      expect(overall.filter((item) => item.tenantId === tenant).map((item) => item.id)).toEqual(expected);
    });

    test('expired entries are gone: swept on the embedded store, by TTL on Cassandra', async () => {
      const tenant = `audit-${run}-x`;
      const old = entry(tenant, base + 100_000);
      const kept = entry(tenant, base + 200_000);
      const window = { tenantId: tenant, since: new Date(base), until: new Date(base + 300_000), limit: 10 };
      if (store().kind === 'embedded') {
        await store().audit.append(old, KEEP_MS);
        await store().audit.append(kept, KEEP_MS);
        expect(await store().audit.sweep(new Date(base + 150_000))).toBeGreaterThanOrEqual(1);
        expect((await store().audit.query(window)).entries).toEqual([kept]);
        expect((await store().audit.query({ since: window.since, until: window.until, limit: 1000, targetTypes: ['dataSources'] })).entries.map((item) => item.id)).not.toContain(old.id);
      } else {
        const writtenAt = Date.now();
        await store().audit.append(old, 1000);
        await store().audit.append(kept, KEEP_MS);
        expect(await store().audit.sweep(new Date(base + 150_000))).toBe(0);
        // A TTL of one second has run out after two (Cassandra expires at read time).
        await sleep(Math.max(0, writtenAt + 2500 - Date.now()));
        expect((await store().audit.query(window)).entries).toEqual([kept]);
      }
    });
  });
}
