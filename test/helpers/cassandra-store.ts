/**
 * A middleware Cassandra store on the run's Cassandra with a registry keyspace of its own, so
 * test files running in parallel never see each other's tenants, and a clean-up that drops
 * every keyspace the file created.
 */
import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';
import { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import type { CassandraInfo } from '../services/cassandra.ts';

export interface TestCassandraStore {
  readonly store: CassandraStore;
  /** The registry keyspace: a middleware process given it (INLAY_STORAGE_CASSANDRA_REGISTRY_KEYSPACE) sees the same tenants. */
  readonly registry: string;
  /** Drops the tenants' keyspaces and the registry, and closes the store. Safe to call twice. */
  cleanUp(): Promise<void>;
}

export async function openTestCassandraStore(info: CassandraInfo, purpose: string): Promise<TestCassandraStore> {
  const registry = `reg_${randomBytes(3).toString('hex')}_${purpose}`;
  const store = await CassandraStore.open({
    contactPoints: [`${info.host}:${info.port}`],
    localDataCenter: info.localDataCenter,
    registryKeyspace: registry,
    replication: { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] },
  });
  let cleaned = false;
  return {
    store,
    registry,
    async cleanUp() {
      if (cleaned) return;
      cleaned = true;
      for (const tenant of await store.listTenants()) await store.deleteTenant(tenant.id, { dropDB: true });
      await store.close();
      const admin = new cassandra.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
      try {
        await admin.execute(`DROP KEYSPACE IF EXISTS "${registry}"`, [], { readTimeout: 60_000 });
      } finally {
        await admin.shutdown();
      }
    },
  };
}
