// The tenant schemas against OX Engage's example, and the storage keys' environment names.
import { Ajv } from 'ajv';
import { expect, test } from 'vitest';
import { TenantInputSchema, TenantViewSchema } from './tenant.js';
import { loadConfig } from './config-loader.js';

// The guide's example (seeds/ox-engage.txt) with its `true/false` as `true`.
const SEED = `{"id":"default", "name":"default", "keyspaceName":"mim_default", "configuration": { "secretKey":"<secretKey>", "hashedEmailAddresses": true }, "conversionPoints": [{ "id":"injection", "type": "ongage", "eventType":"injected", "description": "Dovecot Injection Tracking", "connectionInformation": { "url": "<injectionUrl>" } }], "dataSources": [{ "id":"default", "type": "ongage", "defaultDataSource": true, "deleteTemporaryImportFiles":false, "awsConnectionInformation": { "authorizationType":"rados", "accessKey":"<accessKey>", "secretKey":"<secretKey>", "endpoint":"<endpoint>", "bucket":"<bucket>" } }]}`;

const ajv = new Ajv({ strict: false, useDefaults: true });

test("OX Engage's tenant JSON is a valid tenant input, placeholders and all", () => {
  const validate = ajv.compile(TenantInputSchema);
  expect(validate(JSON.parse(SEED)), JSON.stringify(validate.errors)).toBe(true);
});

test('configuration.domains: optional lowercase domain names, each once', () => {
  const validate = ajv.compile(TenantInputSchema);
  const withDomains = (domains: unknown) => ({ ...JSON.parse(SEED), configuration: { secretKey: 'k', domains } });
  expect(validate(JSON.parse(SEED))).toBe(true);
  expect(validate(withDomains(['example.org', 'mail.example.co.uk', 'xn--bcher-kva.example', 'a', '1-2.io']))).toBe(true);
  expect(validate(withDomains([]))).toBe(true);
  for (const bad of [['Example.org'], ['example..org'], ['-a.org'], ['a-.org'], ['.org'], ['exa mple.org'], ['bücher.example'], [`${'a'.repeat(64)}.org`], ['a.org', 'a.org'], 'a.org']) {
    expect(validate(withDomains(bad)), JSON.stringify(bad)).toBe(false);
  }
});

test('a view has no field that could carry a secret', () => {
  const text = JSON.stringify(TenantViewSchema);
  expect(text).not.toContain('"secretKey"');
  expect(text).toContain('"secretKeySet"');
});

test('storage keys are read from INLAY_STORAGE_… variables, with defaults', () => {
  const { config } = loadConfig({
    env: {
      INLAY_STORAGE_KIND: 'cassandra',
      INLAY_STORAGE_CASSANDRA_CONTACT_POINTS: 'cass1:9042, cass2',
      INLAY_STORAGE_CASSANDRA_LOCAL_DATA_CENTER: 'dc1',
      INLAY_STORAGE_CASSANDRA_REPLICATION_CLASS: 'NetworkTopologyStrategy',
      INLAY_STORAGE_CASSANDRA_REPLICATION_DATA_CENTERS: 'dc1:3,dc2:2',
      INLAY_STORAGE_CASSANDRA_PASSWORD: 'secret-password',
    },
  });
  expect(config.storage).toEqual({
    kind: 'cassandra',
    cassandra: {
      contactPoints: ['cass1:9042', 'cass2'],
      localDataCenter: 'dc1',
      registryKeyspace: 'inlay',
      replication: { class: 'NetworkTopologyStrategy', replicationFactor: 1, dataCenters: ['dc1:3', 'dc2:2'] },
      password: 'secret-password',
    },
  });
  expect(loadConfig({ env: {} }).config.storage.kind).toBe('embedded');
});

test('a bad storage value names the key; a bad password is not repeated', () => {
  expect(() => loadConfig({ env: { INLAY_STORAGE_CASSANDRA_REGISTRY_KEYSPACE: 'system_x' } })).toThrow(/storage\.cassandra\.registryKeyspace has the wrong form/);
  expect(() => loadConfig({ env: { INLAY_STORAGE_CASSANDRA_PASSWORD: '' } })).toThrow(/storage\.cassandra\.password/);
  expect(() => loadConfig({ env: { INLAY_STORAGE_CASSANDRA_PASSWORD: '' } })).not.toThrow(/got/);
});
