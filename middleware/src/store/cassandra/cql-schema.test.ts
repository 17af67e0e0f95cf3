// CQL built from configuration: replication clauses, identifier quoting.
import { expect, test } from 'vitest';
import { ConfigError } from '@inlay/schemas';
import { createKeyspaceStatement, quoteIdentifier, replicationClause } from './cql-schema.js';

test('SimpleStrategy with its factor', () => {
  expect(replicationClause({ class: 'SimpleStrategy', replicationFactor: 3, dataCenters: [] })).toBe("{'class': 'SimpleStrategy', 'replication_factor': 3}");
});

test('NetworkTopologyStrategy with a factor per data centre', () => {
  expect(replicationClause({ class: 'NetworkTopologyStrategy', replicationFactor: 1, dataCenters: ['dc1:3', 'eu-west.2:2'] })).toBe(
    "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'eu-west.2': 2}",
  );
});

test('NetworkTopologyStrategy without a data centre, or with one named twice, is a configuration error', () => {
  expect(() => replicationClause({ class: 'NetworkTopologyStrategy', replicationFactor: 1, dataCenters: [] })).toThrow(ConfigError);
  expect(() => replicationClause({ class: 'NetworkTopologyStrategy', replicationFactor: 1, dataCenters: ['dc1:0'] })).toThrow(/factor above 0/);
  expect(() => replicationClause({ class: 'NetworkTopologyStrategy', replicationFactor: 1, dataCenters: ['dc1:1', 'dc1:2'] })).toThrow(/twice/);
});

test('identifiers are quoted, and anything but a plain lowercase name is refused', () => {
  expect(quoteIdentifier('select')).toBe('"select"');
  expect(createKeyspaceStatement('mim_default', { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] })).toBe(
    `CREATE KEYSPACE IF NOT EXISTS "mim_default" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  for (const bad of ['Upper', 'a"; DROP KEYSPACE x; --', '', '1abc', 'a'.repeat(49)]) expect(() => quoteIdentifier(bad)).toThrow();
});
