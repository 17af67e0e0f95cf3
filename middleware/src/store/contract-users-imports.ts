/**
 * The users-and-imports part of the Store contract (see contract.ts, which runs it for every
 * store inside its own suite, on a tenant keyspace it created). Test support only.
 */
import { randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import cassandra from 'cassandra-driver';
import type { Store, TenantRef } from './store.js';
import type { ImportRecord } from './user-import-types.js';

export function describeUserImportContract(store: () => Store, tenant: () => TenantRef): void {
  const newImportId = (): string => cassandra.types.TimeUuid.now().toString();

  function importRecord(overrides: Partial<ImportRecord> = {}): ImportRecord {
    return {
      importId: newImportId(),
      dataSourceId: 'default',
      objectKey: `lists/${randomBytes(3).toString('hex')}.csv`,
      format: 'csv',
      status: 'queued',
      rowsRead: 0,
      rowsImported: 0,
      rowsFailed: 0,
      createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
      ...overrides,
    };
  }

  test('users: upsert merges attributes, keeps an omitted display name and collects lists', async () => {
    const key = `user-${randomBytes(4).toString('hex')}@example.org`;
    await store().upsertUsers(tenant(), [{ userKey: key, displayName: 'Zoë \u200f😀', attributes: { plan: 'gold', city: 'Köln' } }], 'list-a');
    await store().upsertUsers(tenant(), [{ userKey: key, attributes: { plan: 'silver', extra: '' } }], 'list-b');
    await store().upsertUsers(tenant(), [{ userKey: key, attributes: {} }], 'list-b');
    const user = await store().getUser(tenant(), key);
    expect(user).toMatchObject({ userKey: key, displayName: 'Zoë \u200f😀', attributes: { plan: 'silver', city: 'Köln', extra: '' }, lists: ['list-a', 'list-b'] });
    expect(user?.updatedAt).toBeInstanceOf(Date);
    expect(await store().getUser(tenant(), `nobody-${key}`)).toBeUndefined();
  });

  test('users: a batch of 1,200 lands completely', async () => {
    const prefix = randomBytes(4).toString('hex');
    const users = Array.from({ length: 1200 }, (_, index) => ({ userKey: `${prefix}-${index}@example.org`, attributes: { n: String(index) } }));
    await store().upsertUsers(tenant(), users, 'bulk');
    expect(await store().upsertUsers(tenant(), [], 'bulk')).toBeUndefined();
    for (const index of [0, 599, 1199]) {
      expect(await store().getUser(tenant(), `${prefix}-${index}@example.org`)).toMatchObject({ attributes: { n: String(index) }, lists: ['bulk'] });
    }
  });

  test('users: large rows mixed with small ones land completely (Cassandra sends the large ones alone)', async () => {
    const prefix = randomBytes(4).toString('hex');
    const big = Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`a${index}`, 'x'.repeat(400)]));
    const users = Array.from({ length: 90 }, (_, index) => ({ userKey: `${prefix}-${index}@example.org`, attributes: index % 3 === 0 ? { ...big, n: String(index) } : { n: String(index) } }));
    await store().upsertUsers(tenant(), users, 'mixed');
    for (const index of [0, 1, 2, 45, 89]) {
      const user = await store().getUser(tenant(), `${prefix}-${index}@example.org`);
      expect(user?.attributes['n']).toBe(String(index));
      expect(Object.keys(user?.attributes ?? {})).toHaveLength(index % 3 === 0 ? 31 : 1);
    }
  });

  test('users: a scan in pages returns every user once, with its attributes and lists, and ends', async () => {
    // The keyspace holds other tests' users too: only this test's prefix is checked exactly.
    const prefix = `scan-${randomBytes(4).toString('hex')}`;
    const users = Array.from({ length: 230 }, (_, index) => ({ userKey: `${prefix}-${index}@example.org`, attributes: { n: String(index) } }));
    await store().upsertUsers(tenant(), users, 'scan-list');
    const seen = new Map<string, number>();
    let cursor: string | undefined;
    let pages = 0;
    let total = 0;
    do {
      const page = await store().scanUsers(tenant(), { pageSize: 50, ...(cursor === undefined ? {} : { cursor }) });
      expect(page.users.length).toBeLessThanOrEqual(50);
      for (const user of page.users) {
        total++;
        if (!user.userKey.startsWith(`${prefix}-`)) continue;
        seen.set(user.userKey, (seen.get(user.userKey) ?? 0) + 1);
        expect(user).toMatchObject({ attributes: { n: user.userKey.slice(prefix.length + 1).split('@')[0] }, lists: ['scan-list'] });
      }
      cursor = page.next;
      pages++;
    } while (cursor !== undefined && pages < 1000);
    expect(cursor).toBeUndefined();
    expect(seen.size).toBe(230);
    expect([...seen.values()].every((times) => times === 1)).toBe(true);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(total / 50));
  });

  test('imports: saved, updated, read back exactly and listed newest first', async () => {
    const older = importRecord({ createdAt: new Date(Date.UTC(2030, 0, 1)) });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newer = importRecord({ createdAt: new Date(Date.UTC(2030, 0, 2)), format: 'jsonl' });
    await store().saveImport(tenant(), older);
    await store().saveImport(tenant(), newer);
    expect(await store().getImport(tenant(), older.importId)).toEqual(older);

    const finished: ImportRecord = {
      ...older,
      status: 'completed',
      rowsRead: 3_000_000_000,
      rowsImported: 2_999_999_000,
      rowsFailed: 1000,
      startedAt: new Date(Date.UTC(2030, 0, 1, 0, 1)),
      finishedAt: new Date(Date.UTC(2030, 0, 1, 0, 2)),
      objectDeleted: true,
    };
    await store().saveImport(tenant(), finished);
    expect(await store().getImport(tenant(), older.importId)).toEqual(finished);
    const failed: ImportRecord = { ...newer, status: 'failed', error: 'S3 refused: AccessDenied' };
    await store().saveImport(tenant(), failed);

    const listed = await store().listImports(tenant(), 100);
    const ours = listed.filter((record) => record.importId === older.importId || record.importId === newer.importId);
    expect(ours).toEqual([failed, finished]);
    expect(await store().listImports(tenant(), 1)).toHaveLength(1);
    expect(await store().getImport(tenant(), newImportId())).toBeUndefined();
  });

  test('import errors: kept per import, in row order, limited', async () => {
    const first = newImportId();
    const second = newImportId();
    await store().recordImportErrors(tenant(), first, [
      { rowNumber: 10, reason: 'the address is empty' },
      { rowNumber: 2, reason: 'bad "quote" — ünïcode' },
    ]);
    await store().recordImportErrors(tenant(), first, [{ rowNumber: 1_000_001, reason: 'late' }]);
    await store().recordImportErrors(tenant(), first, []);
    await store().recordImportErrors(tenant(), second, [{ rowNumber: 5, reason: 'other import' }]);
    expect(await store().listImportErrors(tenant(), first, 100)).toEqual([
      { rowNumber: 2, reason: 'bad "quote" — ünïcode' },
      { rowNumber: 10, reason: 'the address is empty' },
      { rowNumber: 1_000_001, reason: 'late' },
    ]);
    expect(await store().listImportErrors(tenant(), first, 2)).toHaveLength(2);
    expect(await store().listImportErrors(tenant(), second, 100)).toEqual([{ rowNumber: 5, reason: 'other import' }]);
  });
}
