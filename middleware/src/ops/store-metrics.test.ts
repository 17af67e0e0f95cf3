import { describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { createMiddlewareMetrics } from './metrics.js';
import { instrumentStore } from './store-metrics.js';

function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Only the methods this test calls; the wrapper forwards whatever the store has. */
function fakeStore(): Store {
  const deliveries = {
    recordAttempt: async () => undefined,
  };
  return {
    kind: 'embedded',
    deliveries,
    audit: {},
    getTenant: async (id: string) => ({ id }),
    recordEvents: async () => undefined,
    upsertUsers: async () => undefined,
    listTenants: async () => {
      throw new Error('store down');
    },
  } as unknown as Store;
}

describe('instrumentStore', () => {
  it('times every call by operation, counts failures, and returns and throws what the store does', async () => {
    const metrics = createMiddlewareMetrics();
    const store = instrumentStore(fakeStore(), metrics);
    expect(store.kind).toBe('embedded');
    expect(await store.getTenant('a')).toEqual({ id: 'a' });
    await expect(store.listTenants()).rejects.toThrow('store down');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'inlay_mw_store_operation_duration_seconds_count{store="embedded",operation="getTenant"}')).toBe(1);
    expect(sample(text, 'inlay_mw_store_operation_errors_total{store="embedded",operation="listTenants"}')).toBe(1);
    expect(text).not.toContain('operation_errors_total{store="embedded",operation="getTenant"}');
  });

  it('counts events by type, import rows and delivery attempts by outcome', async () => {
    const metrics = createMiddlewareMetrics();
    const store = instrumentStore(fakeStore(), metrics);
    const ref = { keyspaceName: 'k' };
    await store.recordEvents(ref, [{ type: 'injected' }, { type: 'read' }, { type: 'read' }] as never);
    await store.upsertUsers(ref, [{}, {}, {}] as never, 'import-1');
    const attempt = (ok: boolean, state: string) => ({ attempt: { ok }, next: { state } }) as never;
    await store.deliveries.recordAttempt(ref, attempt(true, 'delivered'), 0);
    await store.deliveries.recordAttempt(ref, attempt(false, 'pending'), 0);
    await store.deliveries.recordAttempt(ref, attempt(false, 'dead'), 0);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'inlay_mw_events_total{type="read"}')).toBe(2);
    expect(sample(text, 'inlay_mw_events_total{type="injected"}')).toBe(1);
    expect(sample(text, 'inlay_mw_events_total{type="expunged"}')).toBe(0);
    expect(sample(text, 'inlay_mw_import_rows_total{result="imported"}')).toBe(3);
    for (const outcome of ['delivered', 'retry', 'dead']) expect(sample(text, `inlay_mw_delivery_attempts_total{outcome="${outcome}"}`)).toBe(1);
    expect(sample(text, 'inlay_mw_store_operation_duration_seconds_count{store="embedded",operation="deliveries.recordAttempt"}')).toBe(3);
  });
});
