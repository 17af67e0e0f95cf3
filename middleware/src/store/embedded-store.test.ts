// The embedded store against the Store contract, in a throw-away data directory.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { describeStoreContract } from './contract.js';
import { EMBEDDED_STORE_FILE, EmbeddedStore } from './embedded-store.js';

const dirs: string[] = [];

describeStoreContract('embedded', {
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'inlay-embedded-'));
    dirs.push(dir);
    return EmbeddedStore.open(dir);
  },
  async dispose(store) {
    await store.close();
  },
});

test('keeps everything in one file in the data directory (plus LMDB\'s lock file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-embedded-'));
  dirs.push(dir);
  const store = EmbeddedStore.open(join(dir, 'nested', 'data'));
  await store.ensureTenantSchema({ keyspaceName: 'one_file' });
  await store.close();
  expect((await readdir(join(dir, 'nested', 'data'))).sort()).toEqual([EMBEDDED_STORE_FILE, `${EMBEDDED_STORE_FILE}-lock`]);
});

test('data survives closing and reopening the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-embedded-'));
  dirs.push(dir);
  const first = EmbeddedStore.open(dir);
  await first.ensureTenantSchema({ keyspaceName: 'durable' });
  await first.close();
  const second = EmbeddedStore.open(dir);
  expect(await second.tenantSchemaExists({ keyspaceName: 'durable' })).toBe(true);
  await second.close();
});

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
