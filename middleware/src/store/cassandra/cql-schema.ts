/**
 * CQL text for the Cassandra store: the replication clause from configuration, the registry
 * keyspace's tables, and quoting of identifiers. Pure functions, so the statements can be tested
 * without a server.
 *
 * Identifiers are interpolated, never bound (CQL cannot bind them), so every one passes
 * `quoteIdentifier`, which accepts only the lowercase names our schemas allow. Must never build
 * CQL from a value that has not been through it.
 */
import { AUDIT_REGISTRY_TABLES } from './cassandra-audit.js';
import { ConfigError, type CassandraReplication } from '@inlay/schemas';

/** Unquoted-identifier shape; the quotes then only protect against CQL keywords ("select"). */
const IDENTIFIER = /^[a-z][a-z0-9_]{0,47}$/;

export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a safe CQL identifier: ${JSON.stringify(name.slice(0, 60))}`);
  return `"${name}"`;
}

/** `{'class': 'SimpleStrategy', 'replication_factor': 1}` or one factor per data centre. */
export function replicationClause(replication: CassandraReplication): string {
  switch (replication.class) {
    case 'SimpleStrategy':
      return `{'class': 'SimpleStrategy', 'replication_factor': ${replication.replicationFactor}}`;
    case 'NetworkTopologyStrategy': {
      const factors = parseDataCenters(replication.dataCenters);
      const entries = [...factors].map(([dataCenter, factor]) => `'${dataCenter}': ${factor}`);
      return `{'class': 'NetworkTopologyStrategy', ${entries.join(', ')}}`;
    }
  }
}

function parseDataCenters(dataCenters: readonly string[]): Map<string, number> {
  const factors = new Map<string, number>();
  for (const entry of dataCenters) {
    const colon = entry.lastIndexOf(':');
    const dataCenter = entry.slice(0, colon);
    // The config schema allows only [A-Za-z0-9_.-] here, so the name is safe inside quotes.
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(dataCenter)) throw new ConfigError(`storage.cassandra.replication.dataCenters: bad data centre name in ${JSON.stringify(entry)}`);
    if (factors.has(dataCenter)) throw new ConfigError(`storage.cassandra.replication.dataCenters names ${dataCenter} twice`);
    factors.set(dataCenter, Number(entry.slice(colon + 1)));
  }
  if (![...factors.values()].some((factor) => factor > 0)) {
    throw new ConfigError(
      'storage.cassandra.replication.dataCenters needs at least one datacenter:factor with a factor above 0 when replication.class is NetworkTopologyStrategy (INLAY_STORAGE_CASSANDRA_REPLICATION_DATA_CENTERS=dc1:3,dc2:3)',
    );
  }
  return factors;
}

export function createKeyspaceStatement(keyspace: string, replication: CassandraReplication): string {
  return `CREATE KEYSPACE IF NOT EXISTS ${quoteIdentifier(keyspace)} WITH replication = ${replicationClause(replication)}`;
}

/**
 * The shared registry: tenant configuration (nested lists as JSON text, replaced whole), which
 * keyspace belongs to which tenant, and API tokens by tenant and by hash. Rows of `tenants` and
 * `tenant_keyspaces` are only ever written by lightweight transactions (never mixed with plain
 * writes, whose timestamps would race the Paxos ones).
 */
export const REGISTRY_TABLES: Readonly<Record<string, string>> = {
  tenants: `(
    id text PRIMARY KEY,
    name text,
    keyspace_name text,
    secret_key text,
    hashed_email_addresses boolean,
    domains text,
    conversion_points text,
    data_sources text,
    created_at timestamp,
    updated_at timestamp)`,
  // confirmed: the claimant's tenant row exists (see claimKeyspace in cassandra-store.ts).
  tenant_keyspaces: `(
    keyspace_name text PRIMARY KEY,
    tenant_id text,
    confirmed boolean)`,
  tenant_tokens: `(
    tenant_id text,
    token_id text,
    token_hash text,
    created_at timestamp,
    name text,
    PRIMARY KEY ((tenant_id), token_id))`,
  tenant_tokens_by_hash: `(
    token_hash text PRIMARY KEY,
    tenant_id text,
    token_id text,
    created_at timestamp,
    name text)`,
  // The audit trail (cassandra-audit.ts).
  ...AUDIT_REGISTRY_TABLES,
};

/** Registry columns newer than the registry: added by ALTER TABLE when an older one is opened. */
export const REGISTRY_ADDED_COLUMNS: readonly { table: string; column: string; type: string }[] = [
  // configuration.domains (JSON array), for tenant resolution by login domain.
  { table: 'tenants', column: 'domains', type: 'text' },
  // A tenant token's name, for the audit trail.
  { table: 'tenant_tokens', column: 'name', type: 'text' },
  { table: 'tenant_tokens_by_hash', column: 'name', type: 'text' },
];

export function createTableStatement(keyspace: string, table: string, definition: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(keyspace)}.${quoteIdentifier(table)} ${definition}`;
}
