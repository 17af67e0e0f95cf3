/**
 * Report benchmark (issue 12, §4): a campaign with INLAY_BENCH_REPORT_USERS users (default
 * 100,000) and five events each (injected, read, expunged, reinjected, read: 500,000 events over
 * a week, two variants), recorded through Store.recordEvents as the engine records them; then the
 * report route answered over and over (app.inject, JSON, hour and day buckets) and the median and
 * 95th percentile time printed. Goal: ≤ 50 ms. Also prints events recorded per second.
 *
 * Embedded store by default; INLAY_BENCH_REPORT_STORE=cassandra starts the test Cassandra and
 * uses it (slow to load on two cores: every event is an LWT; set fewer users).
 *
 * Run with `npm run bench:report -w test`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Campaign, EngineEventType, Tenant } from '@inlay/schemas';
import { buildApp } from '../../middleware/src/app.ts';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import type { Store } from '../../middleware/src/store/store.ts';
import type { EngineEventRecord } from '../../middleware/src/store/view-types.ts';
import { engineEvent } from '../../middleware/src/engine/events.ts';
import { newCampaignId } from '../../middleware/src/campaigns/campaign-id.ts';
import { startCassandra, type CassandraServer } from '../services/cassandra.ts';

const USERS = Number(process.env['INLAY_BENCH_REPORT_USERS'] ?? 100_000);
const STORE = process.env['INLAY_BENCH_REPORT_STORE'] ?? 'embedded';
const QUERIES = Number(process.env['INLAY_BENCH_REPORT_QUERIES'] ?? 200);
const BATCH = 1000;
const ADMIN = 'inlay_a_bench-token-0123456789abcdef';
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** The five events of one user, spread over the week. */
function eventsOf(tenant: Tenant, campaignId: string, index: number, startMs: number): EngineEventRecord[] {
  const userKey = `user${index}@example.org`;
  const variantId = index % 2 === 0 ? 'a' : 'b';
  const subject = { tenantId: tenant.id, view: { keyspaceName: tenant.keyspaceName, id: tenant.id, userKey, mailbox: 'INBOX' }, uidValidity: 1000 + (index % 7), origin: { node: 'bench', clientAddress: '192.0.2.1' } };
  const at = startMs + ((index * 7919) % (WEEK - 10 * HOUR));
  const message = (uid: number) => ({
    uid,
    campaignId,
    campaignRevision: 1,
    variantId,
    origin: 'first' as const,
    messageId: `<${campaignId}.${index}.${uid}@bench.invalid>`,
    contentHash: '00',
    size: 1,
    internalDateMs: at,
    injectedAtMs: at,
    flags: [],
    state: 'visible' as const,
    assignmentId: 'bench',
  });
  const steps: [number, EngineEventType, number][] = [
    [17, 'injected', 0],
    [17, 'read', HOUR],
    [17, 'expunged', 2 * HOUR],
    [33, 'reinjected', 5 * HOUR],
    [33, 'read', 6 * HOUR],
  ];
  return steps.map(([uid, type, after]) => engineEvent(subject, message(uid), type, at + after));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-bench-report-'));
  let cassandra: CassandraServer | undefined;
  let store: Store;
  if (STORE === 'cassandra') {
    cassandra = await startCassandra();
    store = await CassandraStore.open({
      contactPoints: [`${cassandra.host}:${cassandra.port}`],
      localDataCenter: cassandra.localDataCenter,
      registryKeyspace: 'inlay_bench_registry',
      replication: { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] },
    });
  } else {
    store = EmbeddedStore.open(join(dir, 'data'));
  }
  const app = await buildApp({ store, adminToken: ADMIN, dataDir: dir });
  try {
    const tenant: Tenant = { id: 'bench', name: 'Bench', keyspaceName: 'inlay_bench_report', configuration: { secretKey: 'bench-secret', hashedEmailAddresses: false }, conversionPoints: [], dataSources: [] };
    await store.createTenant(tenant, { createDB: true });
    // Last week, so the report's default range (the campaign's creation to now) holds it all.
    const startMs = Math.floor(Date.now() / HOUR) * HOUR - WEEK - 24 * HOUR;
    const campaignId = newCampaignId(startMs - HOUR);
    const created = new Date(startMs - HOUR).toISOString();
    const campaign: Campaign = {
      id: campaignId,
      status: 'scheduled',
      revision: 1,
      createdAt: created,
      updatedAt: created,
      name: 'Bench campaign',
      template: { subject: 'Bench', from: 'Bench <bench@example.com>', html: '<p>b</p>', text: 'b' },
      audience: { type: 'all' },
      schedule: { startAt: created, endAt: new Date(startMs + WEEK).toISOString(), timeZone: 'UTC' },
      position: { type: 'newest' },
      frequency: { maxVisibleUnseen: 1, minDelayMinutes: 0 },
      reinjection: { policy: 'afterExpunge', delayHours: 1, maxReinjections: 1 },
      priority: 0,
    };
    await store.createCampaign(tenant, campaign);

    const loadStarted = performance.now();
    let recorded = 0;
    let pending: EngineEventRecord[] = [];
    for (let index = 0; index < USERS; index++) {
      pending.push(...eventsOf(tenant, campaignId, index, startMs));
      if (pending.length >= BATCH || index === USERS - 1) {
        await store.recordEvents(tenant, pending);
        recorded += pending.length;
        pending = [];
        if (recorded % 100_000 === 0) process.stdout.write(`  ${recorded} events recorded\n`);
      }
    }
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    console.log(`${STORE}: ${recorded} events for ${USERS} users recorded in ${loadSeconds.toFixed(1)} s (${Math.round(recorded / loadSeconds)} events/s, batches of ${BATCH})`);

    for (const [bucket, range] of [
      ['hour', `from=${new Date(startMs).toISOString()}&to=${new Date(startMs + WEEK).toISOString()}`],
      ['day', ''],
    ] as const) {
      const url = `/api/tenants/bench/campaigns/${campaignId}/report?bucket=${bucket}${range ? `&${range}` : ''}`;
      const first = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } });
      const report = first.json() as { totals: Record<string, number>; uniqueUsers: Record<string, number>; series: unknown[] };
      if (report.totals['injected'] !== USERS || report.uniqueUsers['read'] !== USERS || report.totals['read'] !== 2 * USERS) {
        throw new Error(`the report does not add up: ${JSON.stringify({ totals: report.totals, uniqueUsers: report.uniqueUsers })}`);
      }
      const times: number[] = [];
      for (let query = 0; query < QUERIES; query++) {
        const started = performance.now();
        const response = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } });
        if (response.statusCode !== 200) throw new Error(`report: ${response.statusCode}`);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      console.log(
        `${STORE}: report (bucket=${bucket}, ${report.series.length} buckets, 2 variants) median ${percentile(times, 0.5).toFixed(2)} ms, p95 ${percentile(times, 0.95).toFixed(2)} ms over ${QUERIES} queries (goal ≤ 50 ms)`,
      );
    }
  } finally {
    await app.close();
    await store.close();
    await cassandra?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
