/**
 * The Store contract: one suite every Store implementation must pass, run for the embedded store
 * in a unit test and for Cassandra in test/integration/middleware-store-cassandra.test.ts. Test
 * support only (imports vitest); nothing in the running middleware imports it.
 *
 * Every tenant id and keyspace name carries a random run tag, so suites running side by side on
 * one Cassandra never meet, and every keyspace the suite creates is dropped at its end. Creating a
 * Cassandra keyspace costs about a second, so tests share tenants where isolation allows. Must
 * never touch a keyspace or tenant it did not create (everything it makes carries its run tag).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ConversionPoint, DataSource, Tenant } from '@inlay/schemas';
import type { Store, TenantTokenRecord } from './store.js';
import { describeUserImportContract } from './contract-users-imports.js';
import { describeCampaignContract } from './contract-campaigns.js';
import { describeViewContract } from './contract-views.js';
import { describeEventContract } from './contract-events.js';
import { describeDeliveryContract } from './contract-deliveries.js';
import { describeAuditContract } from './contract-audit.js';

export interface StoreHarness {
  /** A store to run the suite on; called once. */
  open(): Promise<Store>;
  /** Called once at the end with the same store: close it and drop what the harness made. */
  dispose(store: Store): Promise<void>;
}

function dataSource(id: string, secretKey: string, defaultDataSource = true): DataSource {
  return {
    id,
    type: 'ongage',
    defaultDataSource,
    deleteTemporaryImportFiles: false,
    awsConnectionInformation: { authorizationType: 'rados', accessKey: `access-${id}`, secretKey, endpoint: 'http://127.0.0.1:9000', bucket: 'templates', pathStyle: true },
  };
}

function conversionPoint(id: string, eventType: ConversionPoint['eventType'], description: string): ConversionPoint {
  return { id, type: 'ongage', eventType, description, connectionInformation: { url: `https://track.example/${id}` } };
}

export function describeStoreContract(name: string, harness: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    const run = randomBytes(3).toString('hex');
    let sequence = 0;
    let store: Store;
    /** Keyspaces this suite may have created; dropped at the end whatever the tests did. */
    const keyspaces = new Set<string>();

    function newTenant(overrides: Partial<Tenant> = {}): Tenant {
      sequence += 1;
      const tenant: Tenant = {
        id: `c-${run}-${sequence}`,
        // Unicode the store must keep exactly: accents, an RTL mark, an emoji (a surrogate pair).
        name: `Tenänt \u200f${sequence} 😀`,
        keyspaceName: `contract_${run}_${sequence}`,
        configuration: {
          secretKey: `hmac-secret-${sequence}`,
          hashedEmailAddresses: sequence % 2 === 0,
          // Every third tenant without domains: both shapes must read back exactly.
          ...(sequence % 3 === 0 ? {} : { domains: [`c-${run}-${sequence}.example`, `xn--bcher-kva.c-${run}-${sequence}.example`] }),
        },
        conversionPoints: [conversionPoint('injection', 'injected', 'Injection tracking'), conversionPoint('read', 'read', 'Read tracking')],
        dataSources: [dataSource('default', `s3-secret-${sequence}`)],
        ...overrides,
      };
      keyspaces.add(tenant.keyspaceName);
      return tenant;
    }

    /** Drops a keyspace through the interface alone: adopt it with a throw-away tenant, delete with dropDB. */
    async function dropKeyspace(keyspaceName: string): Promise<void> {
      if (!(await store.tenantSchemaExists({ keyspaceName }))) return;
      const sweeper = newTenant({ keyspaceName });
      await store.ensureTenantSchema({ keyspaceName });
      await store.createTenant(sweeper, { createDB: false });
      await store.deleteTenant(sweeper.id, { dropDB: true });
    }

    let shared: Tenant;
    let other: Tenant;

    beforeAll(async () => {
      store = await harness.open();
      shared = newTenant();
      other = newTenant();
      await store.createTenant(shared, { createDB: true });
      await store.createTenant(other, { createDB: true });
    });

    afterAll(async () => {
      if (!store) return;
      try {
        for (const tenant of await store.listTenants()) {
          if (tenant.id.startsWith(`c-${run}-`)) await store.deleteTenant(tenant.id, { dropDB: true });
        }
        for (const keyspaceName of keyspaces) await dropKeyspace(keyspaceName);
      } finally {
        await harness.dispose(store);
      }
    });

    test('a created tenant reads back exactly, secrets included, and is listed in id order', async () => {
      expect(await store.getTenant(shared.id)).toEqual(shared);
      const listed = (await store.listTenants()).filter((tenant) => tenant.id.startsWith(`c-${run}-`));
      expect(listed.map((tenant) => tenant.id)).toEqual([shared.id, other.id].sort());
      expect(listed.find((tenant) => tenant.id === other.id)).toEqual(other);
      expect(await store.tenantSchemaExists(shared)).toBe(true);
      expect(await store.getTenant(`c-${run}-missing`)).toBeUndefined();
    });

    test('a duplicate id, another tenant\'s keyspace and a reserved keyspace are refused, writing nothing', async () => {
      const before = await store.listTenants();
      await expect(store.createTenant({ ...newTenant(), id: shared.id }, { createDB: true })).rejects.toMatchObject({ code: 'INLAY_MW_TENANT_EXISTS' });
      const thief = newTenant({ keyspaceName: shared.keyspaceName });
      await expect(store.createTenant(thief, { createDB: true })).rejects.toMatchObject({ code: 'INLAY_MW_KEYSPACE_IN_USE' });
      const intruder = newTenant({ keyspaceName: 'system_auth' });
      keyspaces.delete('system_auth');
      await expect(store.createTenant(intruder, { createDB: true })).rejects.toMatchObject({ code: 'INLAY_MW_KEYSPACE_IN_USE' });
      expect(await store.listTenants()).toEqual(before);
      expect(await store.getTenant(shared.id)).toEqual(shared);
    });

    test('keyspace lifecycle: missing without createDB, kept on delete, dropped with dropDB', async () => {
      const first = newTenant();
      // No keyspace and no createDB: a clear error naming the keyspace and the fix; nothing written.
      const missing = store.createTenant(first, { createDB: false });
      await expect(missing).rejects.toMatchObject({ code: 'INLAY_MW_KEYSPACE_MISSING' });
      await expect(store.createTenant(first, { createDB: false })).rejects.toThrow(new RegExp(`${first.keyspaceName}.*createDB=true`));
      await expect(store.ensureTenantSchema(first, { createKeyspace: false })).rejects.toMatchObject({ code: 'INLAY_MW_KEYSPACE_MISSING' });
      expect(await store.getTenant(first.id)).toBeUndefined();
      expect(await store.tenantSchemaExists(first)).toBe(false);

      // Created outside the tenant (an operator's CREATE KEYSPACE): idempotent, then usable without createDB.
      await store.ensureTenantSchema(first);
      await store.ensureTenantSchema(first);
      expect(await store.tenantSchemaExists(first)).toBe(true);
      await store.createTenant(first, { createDB: false });
      const token = await makeToken(first.id);

      // Delete keeps the keyspace and removes the tokens.
      expect(await store.deleteTenant(first.id, { dropDB: false })).toEqual(first);
      expect(await store.getTenant(first.id)).toBeUndefined();
      expect(await store.tenantSchemaExists(first)).toBe(true);
      expect(await store.findTenantTokenByHash(token.tokenHash)).toBeUndefined();
      expect(await store.listTenantTokens(first.id)).toEqual([]);

      // The kept keyspace is free for a new tenant, which then drops it.
      const second = newTenant({ keyspaceName: first.keyspaceName });
      await store.createTenant(second, { createDB: false });
      await expect(store.deleteTenant(second.id, { dropDB: true })).resolves.toEqual(second);
      expect(await store.tenantSchemaExists(second)).toBe(false);
      await expect(store.deleteTenant(second.id, { dropDB: true })).rejects.toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
    });

    test('two creates racing for one id, or for one keyspace, leave exactly one tenant', async () => {
      const base = newTenant();
      await store.ensureTenantSchema(base);
      const sameId = await Promise.allSettled([store.createTenant(base, { createDB: false }), store.createTenant({ ...base, name: 'rival' }, { createDB: false })]);
      expect(sameId.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      expect(sameId.find((result) => result.status === 'rejected')).toMatchObject({ reason: { code: 'INLAY_MW_TENANT_EXISTS' } });
      await store.deleteTenant(base.id, { dropDB: false });

      const left = newTenant({ keyspaceName: base.keyspaceName });
      const right = newTenant({ keyspaceName: base.keyspaceName });
      const sameKeyspace = await Promise.allSettled([store.createTenant(left, { createDB: false }), store.createTenant(right, { createDB: false })]);
      expect(sameKeyspace.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      expect(sameKeyspace.find((result) => result.status === 'rejected')).toMatchObject({ reason: { code: 'INLAY_MW_KEYSPACE_IN_USE' } });
      const winner = sameKeyspace[0]!.status === 'fulfilled' ? left : right;
      const loser = winner === left ? right : left;
      expect(await store.getTenant(loser.id)).toBeUndefined();
      await store.deleteTenant(winner.id, { dropDB: true });
    });

    test('deleting an unknown tenant is TENANT_NOT_FOUND', async () => {
      await expect(store.deleteTenant(`c-${run}-nobody`, { dropDB: true })).rejects.toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
    });

    test('replaceDataSources hands the change the stored secrets and stores its result', async () => {
      let seen: readonly DataSource[] = [];
      const next = [dataSource('default', 'rotated-secret', false), dataSource('archive', 'archive-secret', true)];
      const stored = await store.replaceDataSources(shared.id, (current) => {
        seen = current;
        return next;
      });
      expect(seen).toEqual(shared.dataSources);
      expect(stored).toEqual(next);
      expect((await store.getTenant(shared.id))?.dataSources).toEqual(next);
      shared = { ...shared, dataSources: next };
    });

    test('a change that throws writes nothing; an unknown tenant is TENANT_NOT_FOUND', async () => {
      const refuse = (): DataSource[] => {
        throw new Error('refused by the change');
      };
      await expect(store.replaceDataSources(shared.id, refuse)).rejects.toThrow('refused by the change');
      expect(await store.getTenant(shared.id)).toEqual(shared);
      await expect(store.replaceDataSources(`c-${run}-nobody`, () => [])).rejects.toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
      await expect(store.replaceConversionPoints(`c-${run}-nobody`, [])).rejects.toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
    });

    test('concurrent data-source changes are applied one after another, none lost', async () => {
      const ids = ['one', 'two', 'three', 'four', 'five'];
      await Promise.all(ids.map((id) => store.replaceDataSources(other.id, (current) => [...current, dataSource(id, `secret-${id}`, false)])));
      const stored = (await store.getTenant(other.id))?.dataSources.map((entry) => entry.id);
      expect(stored?.slice(0, 1)).toEqual(['default']);
      expect([...(stored ?? [])].sort()).toEqual(['default', ...ids].sort());
      other = (await store.getTenant(other.id))!;
    });

    test('replaceConversionPoints replaces the list and keeps any text exactly', async () => {
      const text = `RTL \u200f\u202e mixed עברית, NUL \u0000, emoji 👩‍👩‍👧, long ${'x'.repeat(10_000)}`;
      const next = [conversionPoint('expunged', 'expunged', text)];
      expect(await store.replaceConversionPoints(shared.id, next)).toEqual(next);
      expect((await store.getTenant(shared.id))?.conversionPoints).toEqual(next);
      expect(await store.replaceConversionPoints(shared.id, [])).toEqual([]);
      expect((await store.getTenant(shared.id))?.conversionPoints).toEqual([]);
      shared = { ...shared, conversionPoints: [] };
    });

    let tokenSequence = 0;
    async function makeToken(tenantId: string): Promise<TenantTokenRecord> {
      tokenSequence += 1;
      const record: TenantTokenRecord = {
        tenantId,
        tokenId: `00000000-0000-4000-8000-${String(tokenSequence).padStart(12, '0')}`,
        tokenHash: randomBytes(32).toString('hex'),
        // Whole milliseconds: both stores keep timestamps to the millisecond.
        createdAt: new Date(Date.UTC(2030, 0, 1, 0, 0, tokenSequence)),
        // Every other token named (the audit trail shows it), in Unicode the store must keep.
        ...(tokenSequence % 2 === 0 ? { name: `Tökën ${tokenSequence} 😀` } : {}),
      };
      await store.createTenantToken(record);
      return record;
    }

    test('tokens are listed per tenant, found by hash, and revoked only by their own tenant', async () => {
      const first = await makeToken(shared.id);
      const second = await makeToken(shared.id);
      const foreign = await makeToken(other.id);
      const summary = ({ tokenHash: _hash, ...rest }: TenantTokenRecord) => rest;

      expect(await store.listTenantTokens(shared.id)).toEqual([summary(first), summary(second)]);
      expect(await store.listTenantTokens(other.id)).toEqual([summary(foreign)]);
      expect(await store.findTenantTokenByHash(second.tokenHash)).toEqual(second);
      expect(await store.findTenantTokenByHash(randomBytes(32).toString('hex'))).toBeUndefined();

      expect(await store.revokeTenantToken(other.id, first.tokenId)).toBe(false);
      expect(await store.findTenantTokenByHash(first.tokenHash)).toEqual(first);
      expect(await store.revokeTenantToken(shared.id, first.tokenId)).toBe(true);
      expect(await store.revokeTenantToken(shared.id, first.tokenId)).toBe(false);
      expect(await store.findTenantTokenByHash(first.tokenHash)).toBeUndefined();
      expect(await store.listTenantTokens(shared.id)).toEqual([summary(second)]);
    });

    test('a token for an unknown tenant is refused', async () => {
      await expect(
        store.createTenantToken({ tenantId: `c-${run}-nobody`, tokenId: '00000000-0000-4000-8000-ffffffffffff', tokenHash: randomBytes(32).toString('hex'), createdAt: new Date() }),
      ).rejects.toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
    });

    describeUserImportContract(() => store, () => shared);
    describeCampaignContract(() => store, () => shared, () => other);
    describeViewContract(() => store, () => shared, () => other);
    describeEventContract(() => store, () => shared);
    describeDeliveryContract(() => store, newTenant);
    describeAuditContract(() => store);
  });
}
