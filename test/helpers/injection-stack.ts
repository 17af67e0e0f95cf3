/**
 * The whole injection path for a test: the real middleware process (embedded store in a scratch
 * directory, or the run's Cassandra) with its internal API on, the real proxy in front of the
 * run's Dovecot pointed at it, a "default" tenant, and helpers to run campaigns for everyone.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InboxView } from '@inlay/schemas';
import cassandra from 'cassandra-driver';
import type { CassandraInfo } from '../services/cassandra.ts';
import type { DovecotUser } from '../services/dovecot.ts';
import type { MailServer } from '../services/mail-server.ts';
import { startMiddleware, type RunningMiddleware } from './middleware.ts';
import { startProxy, type RunningProxy } from './proxy.ts';
import { RawImap } from './raw-imap.ts';

export interface InjectionStack {
  /** The admin token the middleware runs with (the web UI signs in with it). */
  readonly adminToken: string;
  readonly proxy: RunningProxy;
  middleware: RunningMiddleware;
  /** Admin REST call against the middleware. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Creates and schedules a campaign for every user, running from a minute ago; returns its id. */
  runCampaign(name: string, overrides?: Record<string, unknown>): Promise<string>;
  endCampaign(id: string): Promise<void>;
  /** The user's INBOX view as the proxy would get it (the engine API, with the internal token). */
  internalView(user: DovecotUser): Promise<InboxView>;
  /** Deletes the "default" tenant with dropDB=true (its keyspace, campaigns and views gone) and
   *  creates it again under the same keyspace name. */
  recreateTenant(): Promise<void>;
  /** Stops the middleware process (the proxy keeps running). */
  stopMiddleware(): Promise<void>;
  /** Starts it again on the same data and port. */
  restartMiddleware(): Promise<void>;
  stop(): Promise<void>;
}

export interface InjectionStackOptions {
  /** The IMAP server behind the proxy: the run's Dovecot or its Cyrus. */
  readonly dovecot: MailServer;
  /** Omitted: the embedded store in a scratch directory. */
  readonly cassandra?: CassandraInfo;
  /** 0 (default here) asks the middleware on every safe point, so tests see changes at once. */
  readonly viewCacheMs?: number;
  readonly proxyEnv?: Record<string, string>;
  /** The middleware's campaign cache; 0 (default here) reads campaigns on every view. */
  readonly campaignCacheMs?: number;
  /** More INLAY_* settings for the middleware (e.g. INLAY_DELIVERY_ALLOWED_NETWORKS). */
  readonly middlewareEnv?: Record<string, string>;
}

export function campaignMessage(name: string): { subject: string; from: string; html: string; text: string } {
  return { subject: `${name} for {{address}}`, from: 'Offers <offers@example.com>', html: `<p>${name}</p>`, text: `${name}, just for you.` };
}

export async function startInjectionStack(options: InjectionStackOptions): Promise<InjectionStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'inlay-stack-'));
  const adminToken = `stack-admin-${randomBytes(16).toString('hex')}`;
  const internalToken = `stack-internal-${randomBytes(16).toString('hex')}`;
  const registry = `reg_stack_${randomBytes(3).toString('hex')}`;
  const storageEnv: Record<string, string> = options.cassandra
    ? {
        INLAY_STORAGE_KIND: 'cassandra',
        INLAY_STORAGE_CASSANDRA_CONTACT_POINTS: `${options.cassandra.host}:${options.cassandra.port}`,
        INLAY_STORAGE_CASSANDRA_LOCAL_DATA_CENTER: options.cassandra.localDataCenter,
        INLAY_STORAGE_CASSANDRA_REGISTRY_KEYSPACE: registry,
      }
    : {};
  const middlewareEnv = (listen: string): Record<string, string> => ({
    INLAY_DATA_DIR: dataDir,
    INLAY_ADMIN_TOKEN: adminToken,
    INLAY_INTERNAL_TOKEN: internalToken,
    INLAY_HTTP_LISTEN: listen,
    INLAY_LOG_LEVEL: 'info',
    // Campaigns started or ended by a test show at the next safe point, not 3 s later.
    INLAY_ENGINE_CAMPAIGN_CACHE_MS: String(options.campaignCacheMs ?? 0),
    ...storageEnv,
    ...options.middlewareEnv,
  });
  let middleware = await startMiddleware(middlewareEnv('127.0.0.1:0'));
  const listenAddress = String(middleware.listening['address']);
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${middleware.baseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${adminToken}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string>) },
    });
  const keyspace = `t_${randomBytes(4).toString('hex')}`;
  const createTenant = (): Promise<Response> => api('/api/tenants/?createDB=true', {
    method: 'POST',
    body: JSON.stringify({
      id: 'default',
      name: 'default',
      keyspaceName: keyspace,
      configuration: { hashedEmailAddresses: false, secretKey: 'not-used-by-this-test' },
      conversionPoints: [],
      // Inline templates only: the data source is never reached.
      dataSources: [
        {
          id: 'default',
          type: 'ongage',
          defaultDataSource: true,
          deleteTemporaryImportFiles: false,
          awsConnectionInformation: { authorizationType: 'rados', accessKey: 'unused', secretKey: 'unused', endpoint: 'http://127.0.0.1:9', bucket: 'unused' },
        },
      ],
    }),
  });
  const created = await createTenant();
  if (created.status !== 201) throw new Error(`creating the tenant failed: ${created.status} ${await created.text()}`);

  const proxy = await startProxy({
    env: {
      INLAY_UPSTREAM: `imap://127.0.0.1:${options.dovecot.port}`,
      INLAY_INTERNAL_TOKEN: internalToken,
      INLAY_PROXY_ENGINE_URL: middleware.baseUrl,
      INLAY_PROXY_ENGINE_VIEW_CACHE_MS: String(options.viewCacheMs ?? 0),
      INLAY_PROXY_ENGINE_TIMEOUT_MS: '2000',
      // A stopped middleware suspends engine calls; tests restart it and go on sooner than 5 s.
      INLAY_PROXY_ENGINE_SUSPEND_MS: '300',
      ...options.proxyEnv,
    },
  });

  const stack: InjectionStack = {
    adminToken,
    proxy,
    middleware,
    api,
    async runCampaign(name, overrides = {}) {
      const now = Date.now();
      const response = await api('/api/tenants/default/campaigns', {
        method: 'POST',
        body: JSON.stringify({
          name,
          template: campaignMessage(name),
          audience: { type: 'all' },
          schedule: { startAt: new Date(now - 60_000).toISOString(), endAt: new Date(now + 3_600_000).toISOString() },
          ...overrides,
        }),
      });
      if (response.status !== 201) throw new Error(`creating campaign ${name} failed: ${response.status} ${await response.text()}`);
      const { id } = (await response.json()) as { id: string };
      const scheduled = await api(`/api/tenants/default/campaigns/${id}/schedule`, { method: 'POST' });
      if (!scheduled.ok) throw new Error(`scheduling campaign ${name} failed: ${scheduled.status} ${await scheduled.text()}`);
      return id;
    },
    async endCampaign(id) {
      const ended = await api(`/api/tenants/default/campaigns/${id}/end`, { method: 'POST' });
      if (!ended.ok) throw new Error(`ending campaign ${id} failed: ${ended.status} ${await ended.text()}`);
    },
    async internalView(user) {
      // The server's UIDVALIDITY keys the view; the proxy learns it from SELECT, the test from STATUS.
      const validity = await serverUidValidity(options.dovecot, user);
      const login = user.user;
      const response = await fetch(`${middleware.baseUrl}/internal/v1/views`, {
        method: 'POST',
        headers: { authorization: `Bearer ${internalToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ login, mailbox: 'INBOX', serverUidValidity: validity }),
      });
      if (!response.ok) throw new Error(`engine view failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as InboxView;
    },
    async recreateTenant() {
      const dropped = await api('/api/tenants/default?dropDB=true', { method: 'DELETE' });
      if (!dropped.ok) throw new Error(`deleting the tenant failed: ${dropped.status} ${await dropped.text()}`);
      const again = await createTenant();
      if (again.status !== 201) throw new Error(`creating the tenant again failed: ${again.status} ${await again.text()}`);
    },
    async stopMiddleware() {
      await middleware.stop();
    },
    async restartMiddleware() {
      middleware = await startMiddleware(middlewareEnv(listenAddress));
      stack.middleware = middleware;
    },
    async stop() {
      await proxy.stop();
      // On Cassandra the tenant's keyspace and the registry outlive the process: drop them.
      if (options.cassandra) await api('/api/tenants/default?dropDB=true', { method: 'DELETE' }).catch(() => undefined);
      await middleware.stop();
      if (options.cassandra) await dropKeyspace(options.cassandra, registry);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

async function dropKeyspace(info: CassandraInfo, keyspace: string): Promise<void> {
  const admin = new cassandra.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
  try {
    await admin.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`, [], { readTimeout: 60_000 });
  } finally {
    await admin.shutdown();
  }
}

async function serverUidValidity(dovecot: MailServer, user: DovecotUser): Promise<number> {
  const raw = await RawImap.connect(dovecot.port, { host: dovecot.host });
  try {
    await raw.greeting();
    await raw.command('v1', `LOGIN "${user.user}" "${user.password}"`);
    const status = await raw.command('v2', 'STATUS INBOX (UIDVALIDITY)');
    return Number(/UIDVALIDITY (\d+)/.exec(status)?.[1] ?? 0);
  } finally {
    raw.close();
  }
}
