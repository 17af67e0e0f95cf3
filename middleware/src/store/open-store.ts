/**
 * Opens the store the configuration asks for: the embedded LMDB file in dataDir (the default), or
 * Cassandra. Replication settings are checked here, before any connection, so a bad combination
 * is a configuration error (exit 78) rather than a failed CREATE KEYSPACE later. Must never fall
 * back to another store than the one configured: a silent switch would split a deployment's data.
 */
import { resolve } from 'node:path';
import type { InlayConfig } from '@inlay/schemas';
import { CassandraStore } from './cassandra/cassandra-store.js';
import { replicationClause } from './cassandra/cql-schema.js';
import { EmbeddedStore } from './embedded-store.js';
import type { Store } from './store.js';

/** Throws ConfigError for settings no store could use. */
export function checkStorageConfig(config: Pick<InlayConfig, 'storage'>): void {
  if (config.storage.kind === 'cassandra') replicationClause(config.storage.cassandra.replication);
}

export async function openStore(config: Pick<InlayConfig, 'storage' | 'dataDir'> & Partial<Pick<InlayConfig, 'events'>>): Promise<Store> {
  checkStorageConfig(config);
  switch (config.storage.kind) {
    case 'embedded':
      return EmbeddedStore.open(resolve(config.dataDir));
    case 'cassandra':
      return CassandraStore.open(config.storage.cassandra, config.events === undefined ? {} : { eventRetentionMs: config.events.retentionDays * 86_400_000 });
  }
}

/** Where the store keeps its data, for the start-up log line. */
export function describeStore(config: Pick<InlayConfig, 'storage' | 'dataDir'>): Record<string, unknown> {
  switch (config.storage.kind) {
    case 'embedded':
      return { store: 'embedded', dataDir: resolve(config.dataDir) };
    case 'cassandra':
      return {
        store: 'cassandra',
        contactPoints: config.storage.cassandra.contactPoints,
        localDataCenter: config.storage.cassandra.localDataCenter,
        registryKeyspace: config.storage.cassandra.registryKeyspace,
      };
  }
}
