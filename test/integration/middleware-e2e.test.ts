// The built middleware (middleware/dist/main.js) as a real process, the way systemd runs it:
// over real HTTP with fetch, on the Cassandra the integration setup starts. The seed's tenant
// JSON, posted verbatim with ?createDB=true, must leave its keyspace in Cassandra; data sources
// go round the "list, modify, PUT back" loop without losing the stored S3 secret.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import cassandra from 'cassandra-driver';
import { SEED_TENANT_JSON } from '../../middleware/src/testing/seed-tenant.ts';
import { parseLogLines, runUntilExit } from '../helpers/node-process.ts';
import { MIDDLEWARE_MAIN, startMiddleware, type RunningMiddleware } from '../helpers/middleware.ts';

const info = inject('cassandra');
const registry = `reg_e2e_${randomBytes(3).toString('hex')}`;
const adminToken = `e2e-admin-${randomBytes(16).toString('hex')}`;
let dataDir: string;
let client: cassandra.Client;
let middleware: RunningMiddleware;

const api = (path: string, init: RequestInit = {}, token: string | null = adminToken): Promise<Response> =>
  fetch(`${middleware.baseUrl}${path}`, {
    ...init,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string>) },
  });

async function keyspaceExists(name: string): Promise<boolean> {
  const result = await client.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [name], { prepare: true });
  return result.rowLength === 1;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-mw-e2e-'));
  client = new cassandra.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
  await client.connect();
  middleware = await startMiddleware({
    INLAY_DATA_DIR: dataDir,
    INLAY_ADMIN_TOKEN: adminToken,
    INLAY_STORAGE_KIND: 'cassandra',
    INLAY_STORAGE_CASSANDRA_CONTACT_POINTS: `${info.host}:${info.port}`,
    INLAY_STORAGE_CASSANDRA_LOCAL_DATA_CENTER: info.localDataCenter,
    INLAY_STORAGE_CASSANDRA_REGISTRY_KEYSPACE: registry,
  });
});

afterAll(async () => {
  await middleware?.stop();
  // This run's Cassandra is private to it, so the seed's fixed keyspace name cannot collide.
  for (const keyspace of ['mim_default', registry]) await client.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`, [], { readTimeout: 60_000 });
  await client.shutdown();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the middleware process on Cassandra', () => {
  test('says where it listens and where the admin token comes from, never the token', () => {
    expect(middleware.listening).toMatchObject({ store: 'cassandra', registryKeyspace: registry, adminTokenSource: 'environment' });
    expect(String(middleware.listening['msg'])).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+\/api\/.*INLAY_ADMIN_TOKEN/);
    expect(middleware.output()).not.toContain(adminToken);
  });

  test("the seed's tenant JSON, posted verbatim with ?createDB=true, creates the tenant and its keyspace", async () => {
    expect(await keyspaceExists('mim_default')).toBe(false);
    const response = await api('/api/tenants/?createDB=true', { method: 'POST', body: SEED_TENANT_JSON });
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(text).not.toContain('<secretKey>');
    expect(JSON.parse(text)).toMatchObject({ id: 'default', keyspaceName: 'mim_default', configuration: { secretKeySet: true, hashedEmailAddresses: true } });

    expect(await keyspaceExists('mim_default')).toBe(true);
    const tables = await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', ['mim_default'], { prepare: true });
    expect(tables.rows.map((row) => String(row.get('table_name')))).toEqual(expect.arrayContaining(['users', 'campaigns', 'virtual_messages', 'events', 'imports']));
    const stored = await client.execute(`SELECT name, keyspace_name FROM "${registry}".tenants WHERE id = ?`, ['default'], { prepare: true });
    expect(stored.first()?.get('keyspace_name')).toBe('mim_default');

    const again = await api('/api/tenants/?createDB=true', { method: 'POST', body: SEED_TENANT_JSON });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'INLAY_MW_TENANT_EXISTS' });
  });

  test('data sources: list, modify, PUT back over HTTP; the stored S3 secret is kept', async () => {
    const listed = await api('/api/tenants/default/dataSources');
    expect(listed.status).toBe(200);
    const dataSources = (await listed.json()) as { awsConnectionInformation: Record<string, unknown> }[];
    expect(dataSources[0]!.awsConnectionInformation).toEqual({ authorizationType: 'rados', accessKey: '<accessKey>', secretKeySet: true, endpoint: '<endpoint>', bucket: '<bucket>' });

    dataSources[0]!.awsConnectionInformation['endpoint'] = 'http://127.0.0.1:9000';
    dataSources[0]!.awsConnectionInformation['pathStyle'] = true;
    const put = await api('/api/tenants/default/dataSources', { method: 'PUT', body: JSON.stringify(dataSources) });
    expect(put.status).toBe(200);
    expect(await (await api('/api/tenants/default/dataSources')).json()).toEqual([
      {
        id: 'default',
        type: 'ongage',
        defaultDataSource: true,
        deleteTemporaryImportFiles: false,
        awsConnectionInformation: { authorizationType: 'rados', accessKey: '<accessKey>', secretKeySet: true, endpoint: 'http://127.0.0.1:9000', bucket: '<bucket>', pathStyle: true },
      },
    ]);
    const row = (await client.execute(`SELECT data_sources FROM "${registry}".tenants WHERE id = ?`, ['default'], { prepare: true })).first();
    expect(JSON.parse(String(row?.get('data_sources')))[0].awsConnectionInformation.secretKey).toBe('<secretKey>');
  });

  test('401 with WWW-Authenticate without a token; a tenant token is confined to its tenant', async () => {
    const anonymous = await api('/api/tenants', {}, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="inlay"');
    const { token } = (await (await api('/api/tenants/default/tokens', { method: 'POST' })).json()) as { token: string };
    expect((await api('/api/tenants/default/conversionPoints', {}, token)).status).toBe(200);
    expect((await api('/api/tenants/other/conversionPoints', {}, token)).status).toBe(403);
    expect((await api('/api/tenants', {}, token)).status).toBe(403);
  });

  test('DELETE keeps the keyspace; dropDB=true drops it', async () => {
    expect((await api('/api/tenants/default/', { method: 'DELETE' })).status).toBe(204);
    expect(await keyspaceExists('mim_default')).toBe(true);
    expect((await api('/api/tenants/?createDB=false', { method: 'POST', body: SEED_TENANT_JSON })).status).toBe(201);
    expect((await api('/api/tenants/default/?dropDB=true', { method: 'DELETE' })).status).toBe(204);
    expect(await keyspaceExists('mim_default')).toBe(false);
  });

  test('stops cleanly on SIGTERM', async () => {
    expect(await middleware.stop()).toBe(0);
    expect(parseLogLines(middleware.output()).map((line) => line['msg'])).toContain('shutdown complete');
  });
});

describe('start-up without a server or a token (npm start)', () => {
  test('the embedded store in dataDir, an admin token generated into <dataDir>/admin-token', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'inlay-mw-embedded-'));
    try {
      const embedded = await startMiddleware({ INLAY_DATA_DIR: dir });
      try {
        const tokenFile = join(dir, 'admin-token');
        expect(embedded.listening).toMatchObject({ store: 'embedded', dataDir: dir, adminTokenSource: 'token-file', adminTokenFile: tokenFile });
        expect(String(embedded.listening['msg'])).toContain(`admin token generated into ${tokenFile}`);
        expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
        expect((await stat(join(dir, 'inlay.mdb'))).isFile()).toBe(true);
        const { readFile } = await import('node:fs/promises');
        const token = (await readFile(tokenFile, 'utf8')).trim();
        expect(embedded.output()).not.toContain(token);
        const response = await fetch(`${embedded.baseUrl}/api/tenants`, { headers: { authorization: `Bearer ${token}` } });
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual([]);
      } finally {
        expect(await embedded.stop()).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.each([
    [{ INLAY_STORAGE_KIND: 'mongodb' }, /storage\.kind must be one of: "embedded", "cassandra"/],
    [{ INLAY_STORAGE_KIND: 'cassandra', INLAY_STORAGE_CASSANDRA_REPLICATION_CLASS: 'NetworkTopologyStrategy' }, /dataCenters needs at least one/],
    [{ INLAY_HTTP_LISTEN: '' }, /http\.listen .* is empty/],
  ])('a configuration that cannot work exits 78 with one line: %o', async (env, message) => {
    const { code, output } = await runUntilExit(MIDDLEWARE_MAIN, { INLAY_DATA_DIR: join(tmpdir(), 'inlay-never-created'), ...env });
    expect(code).toBe(78);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(message);
  });
});
