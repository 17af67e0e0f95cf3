import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadConfig } from './config-loader.js';
import { InternalTokenError, proxyEngineUrl, resolveInternalToken } from './internal-token.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inlay-internal-token-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the internal token', () => {
  test('two processes starting together generate one token into <dataDir>/internal-token, mode 0600', async () => {
    const [a, b] = await Promise.all([resolveInternalToken(undefined, join(dir, 'data')), resolveInternalToken(undefined, join(dir, 'data'))]);
    expect(a.token).toBe(b.token);
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const path = join(dir, 'data', 'internal-token');
    expect((await readFile(path, 'utf8')).trim()).toBe(a.token);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect([a.source, b.source].filter((source) => source.kind === 'token-file' && source.generated)).toHaveLength(1);
    const again = await resolveInternalToken(undefined, join(dir, 'data'));
    expect(again).toMatchObject({ token: a.token, source: { kind: 'token-file', generated: false } });
  });

  test('a configured token wins; a file that holds no usable token is refused without showing it', async () => {
    expect(await resolveInternalToken('configured-token-0123456789', dir)).toEqual({ token: 'configured-token-0123456789', source: { kind: 'configured' } });
    await writeFile(join(dir, 'internal-token'), 'secret with spaces in it\n', { mode: 0o600 });
    const error = await resolveInternalToken(undefined, dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InternalTokenError);
    expect((error as Error).message).not.toContain('secret with spaces');
  });

  test('a file readable by others is used, with a warning', async () => {
    await writeFile(join(dir, 'internal-token'), 'token-readable-by-others-0123\n', { mode: 0o644 });
    const resolved = await resolveInternalToken(undefined, dir);
    expect(resolved.source).toMatchObject({ kind: 'token-file', warning: expect.stringContaining('chmod 600') });
  });
});

describe('where the proxy reaches the middleware', () => {
  const urlFor = (env: Record<string, string>) => proxyEngineUrl(loadConfig({ env }).config);
  test.each([
    [{}, 'http://127.0.0.1:8080'],
    [{ INLAY_HTTP_LISTEN: '0.0.0.0:9000' }, 'http://127.0.0.1:9000'],
    [{ INLAY_HTTP_LISTEN: '[::]:9000' }, 'http://[::1]:9000'],
    [{ INLAY_HTTP_LISTEN: '10.1.2.3:8081' }, 'http://10.1.2.3:8081'],
    [{ INLAY_PROXY_ENGINE_URL: 'https://mw.example:8443' }, 'https://mw.example:8443'],
    [{ INLAY_PROXY_ENGINE_URL: '' }, ''],
  ])('%o → %s', (env, url) => {
    expect(urlFor(env)).toBe(url);
  });
});
