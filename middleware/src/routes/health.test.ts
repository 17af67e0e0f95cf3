// Liveness and readiness without a token, and the metrics every answered request adds to.
import { afterEach, expect, test, vi } from 'vitest';
import { startTestApp, type TestApp } from '../testing/test-app.js';

let t: TestApp;
afterEach(async () => {
  vi.useRealTimers();
  await t.close();
});

test('/healthz and /readyz answer without a token while the store reads', async () => {
  t = await startTestApp();
  const live = await t.request('GET', '/healthz', { token: null });
  expect(live.statusCode).toBe(200);
  expect(live.json()).toEqual({ status: 'ok' });
  const ready = await t.request('GET', '/readyz', { token: null });
  expect(ready.statusCode).toBe(200);
  expect(ready.json()).toEqual({ status: 'ready' });
});

test('/readyz is 503 INLAY_MW_STORE_UNAVAILABLE with the reason while the store fails, and 200 again after', async () => {
  t = await startTestApp();
  const spy = vi.spyOn(t.store, 'getTenant').mockRejectedValue(new Error('connection refused'));
  const failing = await t.request('GET', '/readyz', { token: null });
  expect(failing.statusCode).toBe(503);
  expect(failing.json()).toEqual({ code: 'INLAY_MW_STORE_UNAVAILABLE', message: 'not ready: the store failed a read: connection refused' });
  spy.mockRestore();
  expect((await t.request('GET', '/readyz', { token: null })).statusCode).toBe(200);
});

test('/readyz is 503 when the store does not answer within the probe time', async () => {
  t = await startTestApp();
  vi.spyOn(t.store, 'getTenant').mockReturnValue(new Promise(() => undefined));
  const stalled = await t.request('GET', '/readyz', { token: null });
  expect(stalled.statusCode).toBe(503);
  expect(stalled.json().message).toMatch(/did not answer within 900 ms/);
});
