// Where the admin token comes from, and that the generated one is private and stable.
import { mkdtemp, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { ADMIN_TOKEN_FILE, describeAdminTokenSource, resolveAdminToken } from './admin-token.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inlay-admin-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a configured token is used as it is, and its source named without its value', async () => {
  const resolved = await resolveAdminToken('configured-token-0123456789', dir, { INLAY_ADMIN_TOKEN: 'configured-token-0123456789' });
  expect(resolved).toEqual({ token: 'configured-token-0123456789', source: { kind: 'environment', variable: 'INLAY_ADMIN_TOKEN' } });
  expect(describeAdminTokenSource(resolved.source)).not.toContain('configured-token');
});

test('unset, a token is generated into <dataDir>/admin-token with mode 0600 and reused after', async () => {
  const dataDir = join(dir, 'fresh');
  const first = await resolveAdminToken(undefined, dataDir, {});
  expect(first.token).toMatch(/^inlay_a_[A-Za-z0-9_-]{43}$/);
  expect(first.source).toEqual({ kind: 'token-file', path: join(dataDir, ADMIN_TOKEN_FILE), generated: true });
  expect((await stat(join(dataDir, ADMIN_TOKEN_FILE))).mode & 0o777).toBe(0o600);
  const again = await resolveAdminToken(undefined, dataDir, {});
  expect(again.token).toBe(first.token);
  expect(again.source).toMatchObject({ generated: false });
  expect(describeAdminTokenSource(again.source)).toContain(join(dataDir, ADMIN_TOKEN_FILE));
  expect(describeAdminTokenSource(again.source)).not.toContain(first.token);
});

test('a token file others can read is used with a warning; an empty one is refused', async () => {
  const path = join(dir, ADMIN_TOKEN_FILE);
  await writeFile(path, 'a-hand-written-token-of-some-length\n');
  await chmod(path, 0o644);
  const resolved = await resolveAdminToken(undefined, dir, {});
  expect(resolved.token).toBe('a-hand-written-token-of-some-length');
  expect(resolved.source).toMatchObject({ warning: expect.stringContaining('chmod 600') });
  await writeFile(path, '\n');
  await expect(resolveAdminToken(undefined, dir, {})).rejects.toThrow(/at least 16 characters/);
});
