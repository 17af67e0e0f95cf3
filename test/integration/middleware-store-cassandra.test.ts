// The Cassandra store against the Store contract, on the Cassandra 5 the integration setup
// starts, plus what only Cassandra has: replication settings reaching CREATE KEYSPACE, and the
// registry keyspace created on first open. Every keyspace carries a random tag and is dropped.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import cassandra from 'cassandra-driver';
import type { CassandraConfig } from '@inlay/schemas';
import { describeStoreContract } from '../../middleware/src/store/contract.ts';
import { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import { TENANT_TABLE_NAMES } from '../../middleware/src/store/tenant-tables.ts';

const info = inject('cassandra');
const tag = randomBytes(3).toString('hex');
const registries: string[] = [];
let admin: cassandra.Client;

function storeConfig(registryKeyspace: string, replication: CassandraConfig['replication'] = { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] }): CassandraConfig {
  registries.push(registryKeyspace);
  return { contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter, registryKeyspace, replication };
}

async function replicationOf(keyspace: string): Promise<Record<string, string> | undefined> {
  const row = (await admin.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], { prepare: true })).first();
  return row?.get('replication') as Record<string, string> | undefined;
}

beforeAll(async () => {
  admin = new cassandra.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
  await admin.connect();
});

afterAll(async () => {
  for (const keyspace of registries) await admin.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`, [], { readTimeout: 60_000 });
  await admin.shutdown();
});

describeStoreContract('cassandra', {
  open: () => CassandraStore.open(storeConfig(`reg_${tag}_contract`)),
  dispose: (store) => store.close(),
});

test('creates its registry keyspace with the configured replication, and tenant keyspaces with NetworkTopologyStrategy', async () => {
  const registry = `reg_${tag}_nts`;
  const store = await CassandraStore.open(
    storeConfig(registry, { class: 'NetworkTopologyStrategy', replicationFactor: 1, dataCenters: [`${info.localDataCenter}:1`] }),
  );
  try {
    expect(await replicationOf(registry)).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', [info.localDataCenter]: '1' });
    const keyspaceName = `nts_${tag}`;
    await store.ensureTenantSchema({ keyspaceName });
    expect(await replicationOf(keyspaceName)).toEqual({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy', [info.localDataCenter]: '1' });
    const tables = await admin.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspaceName], { prepare: true });
    expect(tables.rows.map((row) => String(row.get('table_name'))).sort()).toEqual([...TENANT_TABLE_NAMES].sort());
    await admin.execute(`DROP KEYSPACE "${keyspaceName}"`, [], { readTimeout: 60_000 });
    // Opening again finds the registry in place and leaves its replication alone.
    await (await CassandraStore.open(storeConfig(registry))).close();
    expect(await replicationOf(registry)).toMatchObject({ class: 'org.apache.cassandra.locator.NetworkTopologyStrategy' });
  } finally {
    await store.close();
  }
});

test('a registry made before tenants had domains gets the column on open, and its tenants read as before', async () => {
  const registry = `reg_${tag}_old`;
  const config = storeConfig(registry);
  const ddl = (statement: string) => admin.execute(statement, [], { readTimeout: 60_000 });
  await ddl(`CREATE KEYSPACE "${registry}" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await ddl(
    `CREATE TABLE "${registry}".tenants (id text PRIMARY KEY, name text, keyspace_name text, secret_key text, hashed_email_addresses boolean, conversion_points text, data_sources text, created_at timestamp, updated_at timestamp)`,
  );
  await admin.execute(`INSERT INTO "${registry}".tenants (id, name, keyspace_name, secret_key, hashed_email_addresses, conversion_points, data_sources) VALUES (?, ?, ?, ?, ?, ?, ?)`, ['old', 'Old', 'old_ks', 's', false, '[]', '[]'], {
    prepare: true,
  });
  const store = await CassandraStore.open(config);
  try {
    expect(await store.getTenant('old')).toEqual({ id: 'old', name: 'Old', keyspaceName: 'old_ks', configuration: { secretKey: 's', hashedEmailAddresses: false }, conversionPoints: [], dataSources: [] });
    const columns = await admin.execute('SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [registry, 'tenants'], { prepare: true });
    expect(columns.rows.map((row) => String(row.get('column_name')))).toContain('domains');
    // Opening again finds the column and changes nothing.
    await (await CassandraStore.open(config)).close();
  } finally {
    await store.close();
  }
});

test('a tenant keyspace made before virtual messages counted flag changes, kept keywords or a state epoch gets the columns on open', async () => {
  const config = storeConfig(`reg_${tag}_oldtenant`);
  const keyspaceName = `oldtenant_${tag}`;
  registries.push(keyspaceName);
  const first = await CassandraStore.open(config);
  try {
    await first.createTenant({ id: 'old', name: 'Old', keyspaceName, configuration: { secretKey: 's', hashedEmailAddresses: false }, conversionPoints: [], dataSources: [] }, { createDB: true });
  } finally {
    await first.close();
  }
  // As an older version made it.
  await admin.execute(`ALTER TABLE "${keyspaceName}".virtual_messages DROP flags_changes`, [], { readTimeout: 60_000 });
  await admin.execute(`ALTER TABLE "${keyspaceName}".virtual_messages DROP keywords`, [], { readTimeout: 60_000 });
  await admin.execute(`ALTER TABLE "${keyspaceName}".virtual_messages DROP state_epoch`, [], { readTimeout: 60_000 });
  const columns = async (): Promise<string[]> =>
    (await admin.execute('SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [keyspaceName, 'virtual_messages'], { prepare: true })).rows.map((row) => String(row.get('column_name')));
  expect(await columns()).not.toContain('flags_changes');
  expect(await columns()).not.toContain('keywords');
  expect(await columns()).not.toContain('state_epoch');
  await (await CassandraStore.open(config)).close();
  expect(await columns()).toContain('flags_changes');
  expect(await columns()).toContain('keywords');
  expect(await columns()).toContain('state_epoch');
});

test('never touches the registry keyspace or Cassandra\'s own as a tenant keyspace', async () => {
  const registry = `reg_${tag}_guard`;
  const store = await CassandraStore.open(storeConfig(registry));
  try {
    await expect(store.ensureTenantSchema({ keyspaceName: registry })).rejects.toMatchObject({ code: 'INLAY_MW_KEYSPACE_IN_USE' });
    await expect(store.ensureTenantSchema({ keyspaceName: 'system_schema' })).rejects.toMatchObject({ code: 'INLAY_MW_KEYSPACE_IN_USE' });
  } finally {
    await store.close();
  }
});
