/**
 * Middleware benchmark: user-data import rows/s for a CSV file of INLAY_BENCH_IMPORT_ROWS rows
 * (default 1,000,000) streamed from S3Proxy, into the embedded store and into Cassandra; and
 * campaign reads/s (getCampaign by id, listCampaigns) on both. Prints each figure and the peak
 * RSS of this process during the import, which shows the file is streamed, not held.
 *
 * Run with `npm run bench:middleware -w test` (starts its own S3Proxy and Cassandra; about
 * 3–6 minutes on two cores, most of it the Cassandra import).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Tenant } from '@inlay/schemas';
import { s3ClientFor, startS3Proxy, type S3ProxyServer } from '../services/s3proxy.ts';
import { startCassandra, type CassandraServer } from '../services/cassandra.ts';
import { buildApp } from '../../middleware/src/app.ts';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import type { Store } from '../../middleware/src/store/store.ts';
import { newImportId, runImport } from '../../middleware/src/imports/import-runner.ts';

const ROWS = Number(process.env['INLAY_BENCH_IMPORT_ROWS'] ?? 1_000_000);
const READ_SECONDS = Number(process.env['INLAY_BENCH_SECONDS'] ?? 5);
/** Campaign reads in flight at once, as a busy proxy fleet would ask. */
const READ_CONCURRENCY = 32;
const CAMPAIGNS = 50;
const ADMIN = 'inlay_a_bench-token-0123456789abcdef';
const BUCKET = 'bench';
const KEY = 'lists/bench-users.csv';

async function writeCsv(path: string): Promise<number> {
  const out = createWriteStream(path);
  out.write('address,displayName,plan,city\n');
  for (let index = 0; index < ROWS; index++) {
    if (!out.write(`user${index}@example.org,User ${index},${index % 3 === 0 ? 'gold' : 'silver'},City${index % 100}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return (await stat(path)).size;
}

function tenantFor(id: string, s3: S3ProxyServer): Tenant {
  return {
    id,
    name: `Bench ${id}`,
    keyspaceName: id.replaceAll('-', '_'),
    configuration: { secretKey: 'bench-hmac', hashedEmailAddresses: false },
    conversionPoints: [],
    dataSources: [
      {
        id: 'default',
        type: 'ongage',
        defaultDataSource: true,
        deleteTemporaryImportFiles: false,
        awsConnectionInformation: { authorizationType: 'aws', accessKey: s3.accessKey, secretKey: s3.secretKey, endpoint: s3.endpoint, bucket: BUCKET, pathStyle: true },
      },
    ],
  };
}

interface ImportFigures {
  readonly rowsPerSecond: number;
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly peakHeapMiB: number;
  /** Peak minus the heap before the import: what streaming keeps small. */
  readonly heapGrowthMiB: number;
  readonly rowsImported: number;
}

async function benchImport(store: Store, tenant: Tenant): Promise<ImportFigures> {
  // RSS includes LMDB's memory-mapped file; the JS heap plus buffers is what holding the CSV
  // would grow, so both are shown.
  const heapNow = () => {
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  globalThis.gc?.();
  const baselineHeap = heapNow();
  let peakRss = process.memoryUsage.rss();
  let peakHeap = baselineHeap;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakHeap = Math.max(peakHeap, heapNow());
  }, 100);
  const started = process.hrtime.bigint();
  const record = await runImport(
    store,
    {
      tenant,
      dataSource: tenant.dataSources[0]!,
      record: { importId: newImportId(), dataSourceId: 'default', objectKey: KEY, format: 'csv', status: 'queued', rowsRead: 0, rowsImported: 0, rowsFailed: 0, createdAt: new Date() },
    },
    new AbortController().signal,
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  if (record.status !== 'completed') throw new Error(`import ${record.status}: ${record.error}`);
  return { rowsPerSecond: record.rowsImported / seconds, seconds, peakRssMiB: peakRss / 1024 / 1024, peakHeapMiB: peakHeap / 1024 / 1024, heapGrowthMiB: (peakHeap - baselineHeap) / 1024 / 1024, rowsImported: record.rowsImported };
}

async function benchCampaignReads(store: Store, tenant: Tenant): Promise<{ getPerSecond: number; listPerSecond: number }> {
  const app = await buildApp({ store, adminToken: ADMIN });
  const ids: string[] = [];
  try {
    for (let index = 0; index < CAMPAIGNS; index++) {
      const response = await app.inject({
        method: 'POST',
        url: `/api/tenants/${tenant.id}/campaigns`,
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        payload: JSON.stringify({
          name: `Bench campaign ${index}`,
          template: { subject: 'Hello {{displayName}}', from: 'news@example.org', html: '<p>Hello {{displayName}}</p>', text: 'Hello {{displayName}}' },
          audience: { type: 'all' },
          schedule: { startAt: '2030-01-01T00:00:00Z', endAt: '2030-12-31T00:00:00Z' },
        }),
      });
      if (response.statusCode !== 201) throw new Error(`creating a campaign: ${response.statusCode} ${response.body}`);
      ids.push((response.json() as { id: string }).id);
    }
  } finally {
    await app.close();
  }
  const rate = async (read: (worker: number, count: number) => Promise<unknown>): Promise<number> => {
    const deadline = Date.now() + READ_SECONDS * 1000;
    let done = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: READ_CONCURRENCY }, async (_, worker) => {
        while (Date.now() < deadline) await read(worker, done++);
      }),
    );
    return done / ((Date.now() - started) / 1000);
  };
  const getPerSecond = await rate(async (_worker, count) => {
    if (!(await store.getCampaign(tenant, ids[count % ids.length]!))) throw new Error('campaign missing');
  });
  const listPerSecond = await rate(() => store.listCampaigns(tenant));
  return { getPerSecond, listPerSecond };
}

function print(store: string, figures: ImportFigures, reads: Awaited<ReturnType<typeof benchCampaignReads>>): void {
  const number = (value: number) => Math.round(value).toLocaleString('en-US');
  console.log(
    `${store.padEnd(9)}  import ${number(figures.rowsImported)} rows in ${figures.seconds.toFixed(1)} s = ${number(figures.rowsPerSecond)} rows/s (JS heap + buffers: peak ${figures.peakHeapMiB.toFixed(0)} MiB, +${figures.heapGrowthMiB.toFixed(0)} MiB during the import; RSS ${figures.peakRssMiB.toFixed(0)} MiB)` +
      `  |  campaign reads: getCampaign ${number(reads.getPerSecond)}/s, listCampaigns (${CAMPAIGNS}) ${number(reads.listPerSecond)}/s`,
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-bench-mw-'));
  let s3: S3ProxyServer | undefined;
  let cassandra: CassandraServer | undefined;
  try {
    console.log(`starting S3Proxy and Cassandra; writing a ${ROWS.toLocaleString('en-US')}-row CSV …`);
    const csv = join(dir, 'users.csv');
    [s3, cassandra] = await Promise.all([startS3Proxy(), startCassandra()]);
    const bytes = await writeCsv(csv);
    const client = s3ClientFor(s3);
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: createReadStream(csv), ContentLength: bytes }));
    client.destroy();
    console.log(`uploaded ${(bytes / 1024 / 1024).toFixed(1)} MiB to s3://${BUCKET}/${KEY}`);

    const embedded = EmbeddedStore.open(join(dir, 'data'));
    try {
      const tenant = tenantFor('bench-embedded', s3);
      await embedded.createTenant(tenant, { createDB: true });
      print('embedded', await benchImport(embedded, tenant), await benchCampaignReads(embedded, tenant));
    } finally {
      await embedded.close();
    }

    const store = await CassandraStore.open({
      contactPoints: [`${cassandra.host}:${cassandra.port}`],
      localDataCenter: cassandra.localDataCenter,
      registryKeyspace: 'bench_registry',
      replication: { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] },
    });
    try {
      const tenant = tenantFor('bench-cassandra', s3);
      await store.createTenant(tenant, { createDB: true });
      print('cassandra', await benchImport(store, tenant), await benchCampaignReads(store, tenant));
    } finally {
      await store.close();
    }
  } finally {
    await Promise.allSettled([s3?.stop(), cassandra?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
