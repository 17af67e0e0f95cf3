// Audit retention: the setting is read once with the rest of the configuration (default a year,
// INLAY_AUDIT_RETENTION_DAYS overrides, nonsense refused), and a sweep on the embedded store
// removes what is older than the retention and keeps the rest.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { expect, test } from 'vitest';
import { loadConfig } from '@inlay/schemas';
import { EmbeddedStore } from '../store/embedded-store.js';
import type { AuditEntry } from '../store/store.js';
import { DEFAULT_AUDIT_RETENTION_MS, sweepExpiredAudit } from './retention.js';

const DAY_MS = 86_400_000;

test('audit.retentionDays: 365 by default, INLAY_AUDIT_RETENTION_DAYS overrides, 0 is refused naming the variable', () => {
  expect(loadConfig({ env: {} }).config.audit.retentionDays * DAY_MS).toBe(DEFAULT_AUDIT_RETENTION_MS);
  expect(loadConfig({ env: { INLAY_AUDIT_RETENTION_DAYS: '30' } }).config.audit.retentionDays).toBe(30);
  expect(() => loadConfig({ env: { INLAY_AUDIT_RETENTION_DAYS: '0' } })).toThrow(/INLAY_AUDIT_RETENTION_DAYS/);
});

test('a sweep removes entries older than the retention from both listings and keeps the rest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-audit-retention-'));
  const store = EmbeddedStore.open(dir);
  try {
    const now = new Date(Date.UTC(2031, 5, 1));
    const entry = (ageDays: number): AuditEntry => ({
      id: randomUUID(),
      atMs: now.getTime() - ageDays * DAY_MS,
      tenantId: 'acme',
      actor: { kind: 'admin', tokenId: 'admin', name: 'admin' },
      address: '127.0.0.1',
      requestId: 'req-1',
      route: 'POST /api/tenants',
      action: 'tenant.create',
      target: { type: 'tenant', id: 'acme' },
      before: null,
      after: { id: 'acme' },
      changes: [],
    });
    const [old, older, recent] = [entry(31), entry(400), entry(29)];
    for (const item of [old!, older!, recent!]) await store.audit.append(item, 30 * DAY_MS);
    expect(await sweepExpiredAudit(store, 30 * DAY_MS, now)).toBe(2);
    const window = { since: new Date(0), until: now, limit: 10 };
    expect((await store.audit.query(window)).entries.map((item) => item.id)).toEqual([recent!.id]);
    expect((await store.audit.query({ ...window, tenantId: 'acme' })).entries.map((item) => item.id)).toEqual([recent!.id]);
    expect(await sweepExpiredAudit(store, 30 * DAY_MS, now)).toBe(0);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
