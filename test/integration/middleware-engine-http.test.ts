// The internal engine API of the built middleware (middleware/dist/main.js) as real processes on
// the run's Cassandra: two middleware nodes sharing one keyspace, the way two proxies' requests
// land on different nodes. A tenant found by its login domain, a campaign posted and scheduled
// over REST, views, parallel assigns from both nodes (never one UID twice), a reveal that makes
// a stale assign fail, flags and expunges reported on both nodes (each event stored once), and
// what the start-up line says about the internal API — never the token.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import cassandra from 'cassandra-driver';
import type { AssignResult, InboxView } from '@inlay/schemas';
import { MIDDLEWARE_MAIN, startMiddleware, type RunningMiddleware } from '../helpers/middleware.ts';
import { runUntilExit } from '../helpers/node-process.ts';

const info = inject('cassandra');
const tag = randomBytes(3).toString('hex');
const registry = `reg_engine_${tag}`;
const keyspace = `engine_${tag}`;
const adminToken = `engine-admin-${randomBytes(16).toString('hex')}`;
const internalToken = `engine-internal-${randomBytes(16).toString('hex')}`;
const domain = `engine-${tag}.example`;
let dataDir: string;
let client: cassandra.Client;
const nodes: RunningMiddleware[] = [];

const call = async (node: RunningMiddleware, path: string, body: unknown, token: string = internalToken): Promise<Response> =>
  fetch(`${node.baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const engine = async <T = InboxView>(node: RunningMiddleware, path: string, body: unknown): Promise<T> => {
  const response = await call(node, `/internal/v1/views${path}`, body);
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
};
const adminPost = (node: RunningMiddleware, path: string, body?: unknown): Promise<Response> =>
  fetch(`${node.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-mw-engine-'));
  client = new cassandra.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
  await client.connect();
  const env = {
    INLAY_DATA_DIR: dataDir,
    INLAY_ADMIN_TOKEN: adminToken,
    INLAY_INTERNAL_TOKEN: internalToken,
    INLAY_STORAGE_KIND: 'cassandra',
    INLAY_STORAGE_CASSANDRA_CONTACT_POINTS: `${info.host}:${info.port}`,
    INLAY_STORAGE_CASSANDRA_LOCAL_DATA_CENTER: info.localDataCenter,
    INLAY_STORAGE_CASSANDRA_REGISTRY_KEYSPACE: registry,
  };
  // The first creates the registry; the second finds it.
  nodes.push(await startMiddleware(env));
  nodes.push(await startMiddleware(env));
});

afterAll(async () => {
  for (const node of nodes) await node.stop();
  for (const name of [keyspace, registry]) await client?.execute(`DROP KEYSPACE IF EXISTS "${name}"`, [], { readTimeout: 60_000 });
  await client?.shutdown();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('two middleware nodes on one Cassandra', () => {
  const login = `Anna.${tag}@${domain.toUpperCase()}`;
  const key = { login, mailbox: 'INBOX', serverUidValidity: 1_700_000_000 };
  const campaignIds: string[] = [];

  test('the start-up line says the internal API is on, and never shows a token', () => {
    for (const node of nodes) {
      expect(node.listening).toMatchObject({ internalApi: 'on' });
      expect(String(node.listening['msg'])).toContain('internal engine API on at /internal/v1/');
      expect(node.output()).not.toContain(internalToken);
      expect(node.output()).not.toContain(adminToken);
    }
  });

  test('a tenant is found by its login domain; campaigns posted over REST appear as pending', async () => {
    const [first, second] = nodes as [RunningMiddleware, RunningMiddleware];
    // No engine call before the tenant and its campaigns exist: each node keeps the tenant and
    // campaign lists it read for a few seconds, and this test must not wait for that.
    const tenant = { id: `engine-${tag}`, name: 'Engine', keyspaceName: keyspace, configuration: { secretKey: 'k', domains: [domain] } };
    expect((await adminPost(first, '/api/tenants/?createDB=true', tenant)).status).toBe(201);
    const rival = await adminPost(second, '/api/tenants/?createDB=true', { ...tenant, id: `rival-${tag}`, keyspaceName: `rival_${tag}` });
    expect(rival.status).toBe(409);
    expect(await rival.json()).toMatchObject({ code: 'INLAY_MW_DOMAIN_IN_USE' });
    for (let index = 0; index < 4; index++) {
      const created = await adminPost(first, `/api/tenants/${tenant.id}/campaigns`, {
        name: `Offer ${index}`,
        template: { subject: `Offer ${index} for {{address}}`, from: 'Shop <shop@example.com>', html: '<p>Offer</p>', text: 'Offer' },
        audience: { type: 'all' },
        schedule: { startAt: new Date(Date.now() - 60_000).toISOString(), endAt: new Date(Date.now() + 86_400_000).toISOString() },
        priority: index,
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      campaignIds.push(id);
      expect((await adminPost(first, `/api/tenants/${tenant.id}/campaigns/${id}/schedule`)).status).toBe(200);
    }
    for (const node of nodes) expect(await engine(node, '', key)).toMatchObject({ known: true, epoch: 0, messages: [], pending: 4 });
    expect(await engine(second, '', { ...key, login: `anna@not-${domain}` })).toMatchObject({ known: false, messages: [], pending: 0 });
  });

  test('parallel assigns from both nodes never hand out one UID twice; a reveal makes an older epoch fail', async () => {
    const { epoch } = await engine(nodes[0]!, '', key);
    const results = await Promise.all(Array.from({ length: 8 }, (_, index) => engine<AssignResult>(nodes[index % 2]!, '/assign', { ...key, epoch, anchorServerUid: 1 + (index % 2) })));
    const assigned = results.flatMap((result) => result.assigned);
    expect(new Set(assigned).size).toBe(assigned.length);
    const view = await engine(nodes[1]!, '', key);
    expect(view.messages.map((message) => message.uid)).toEqual([...assigned].sort((a, b) => a - b));
    expect(view.messages.length + view.pending).toBe(4);
    expect(Buffer.from(view.messages[0]!.rfc822, 'base64').toString('utf8')).toContain(`anna.${tag}@${domain}`);

    const revealed = await engine(nodes[0]!, '/reveal', key);
    expect(revealed.epoch).toBe(view.epoch + 1);
    const stale = await engine<AssignResult>(nodes[1]!, '/assign', { ...key, epoch: view.epoch, anchorServerUid: 100 });
    expect(stale).toMatchObject({ applied: false, assigned: [], epoch: revealed.epoch });
  });

  test('flags and expunges reported on both nodes are shared, and each event is stored once', async () => {
    const view = await engine(nodes[0]!, '', key);
    const uid = view.messages[0]!.uid;
    const seen = { ...key, changes: [{ uid, mode: 'add', flags: ['\\Seen', '$Offer'] }] };
    await Promise.all(nodes.flatMap((node) => [engine(node, '/flags', seen), engine(node, '/flags', seen)]));
    expect((await engine(nodes[1]!, '', key)).messages.find((message) => message.uid === uid)?.flags).toEqual(['$Offer', '\\Seen']);
    await Promise.all(nodes.flatMap((node) => [engine(node, '/expunge', { ...key, uids: [uid] }), engine(node, '/expunge', { ...key, uids: [uid] })]));
    expect((await engine(nodes[0]!, '', key)).messages.map((message) => message.uid)).not.toContain(uid);

    const rows = await client.execute(`SELECT event_type, uid FROM "${keyspace}".events`, [], { prepare: true });
    const events = rows.rows.map((row) => `${String(row.get('event_type'))} ${String(row.get('uid'))}`);
    expect(events.filter((event) => event.endsWith(` ${uid}`)).sort()).toEqual([`expunged ${uid}`, `injected ${uid}`, `read ${uid}`]);
    expect(events.filter((event) => event.startsWith('injected'))).toHaveLength(view.messages.length);
  });

  test('only the internal token opens the internal API, and it opens nothing else', async () => {
    const node = nodes[0]!;
    expect((await call(node, '/internal/v1/views', key, adminToken)).status).toBe(403);
    expect((await call(node, '/internal/v1/views', key, 'not-the-token-at-all')).status).toBe(401);
    const asInternal = await fetch(`${node.baseUrl}/api/tenants`, { headers: { authorization: `Bearer ${internalToken}` } });
    expect(asInternal.status).toBe(403);
  });
});

describe('configuration of the internal API', () => {
  test('without INLAY_INTERNAL_TOKEN the internal API takes the token generated into the data directory (0600, never logged)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'inlay-mw-engine-file-'));
    const node = await startMiddleware({ INLAY_DATA_DIR: dir, INLAY_ADMIN_TOKEN: adminToken });
    try {
      expect(node.listening).toMatchObject({ internalApi: 'on', internalTokenSource: 'token-file' });
      const path = join(dir, 'internal-token');
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const token = (await readFile(path, 'utf8')).trim();
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect(node.output()).not.toContain(token);
      const key = { login: 'a@b.example', mailbox: 'INBOX', serverUidValidity: 1 };
      expect((await call(node, '/internal/v1/views', key, token)).status).toBe(200);
      expect((await call(node, '/internal/v1/views', key, 'not-the-token-at-all')).status).toBe(401);
    } finally {
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.each([
    [{ INLAY_INTERNAL_TOKEN: 'has spaces in it, sixteen+' }, /internalToken \(INLAY_INTERNAL_TOKEN\) must be 16 to 512 characters/],
    [{ INLAY_INTERNAL_TOKEN: adminToken, INLAY_ADMIN_TOKEN: adminToken }, /internalToken \(INLAY_INTERNAL_TOKEN\) must differ from adminToken/],
  ])('a token that cannot work exits 78 with one line, without the token: %#', async (env, message) => {
    const { code, output } = await runUntilExit(MIDDLEWARE_MAIN, { INLAY_DATA_DIR: join(tmpdir(), 'inlay-never-created'), ...env });
    expect(code).toBe(78);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(message);
    expect(output).not.toContain(env.INLAY_INTERNAL_TOKEN);
  });
});
