/**
 * Import benchmark: writes a CSV of INLAY_BENCH_IMPORT_ROWS users (default 1,000,000), uploads
 * it to S3Proxy, and imports it through the import runner into the embedded store and into
 * Cassandra (each way of writing users named in INLAY_BENCH_CASSANDRA_WRITES, default
 * `replica-batches`; `replica-batches,concurrent` compares them). For each it prints rows/s,
 * CPU per 1,000 rows of this process (reader, mapper, driver), of Cassandra and of S3Proxy (from
 * /proc), and this process's peak RSS and JS heap growth.
 *
 * The machine is shared, so wall-clock rates move with everyone else's load; CPU per row does
 * much less. Two references are measured in the same run: a fixed piece of CPU work (how much of
 * a core this process got while it ran), and the parse-only rate of the same file from the local
 * disk (reader + mapper, no store, no S3): what the pipeline costs before any write.
 *
 * Cassandra gets WARM_UP_USERS unmeasured writes first, so the first strategy does not pay for
 * the JVM's compilation; list a strategy twice (`a,b,a,b`) to see how far runs move.
 *
 * Run with `npm run bench:import` (starts its own S3Proxy and Cassandra). INLAY_BENCH_CASSANDRA=
 * host:port uses a running Cassandra instead; INLAY_BENCH_STORES=embedded skips Cassandra.
 */
import { createReadStream, createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Tenant } from '@inlay/schemas';
import { s3ClientFor, startS3Proxy, type S3ProxyServer } from '../services/s3proxy.ts';
import { startCassandra, type CassandraServer } from '../services/cassandra.ts';
import { cpuMsOf } from './cpu-usage.ts';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import type { ImportUserWrites } from '../../middleware/src/store/cassandra/cassandra-users-imports.ts';
import type { Store } from '../../middleware/src/store/store.ts';
import { newImportId, runImport } from '../../middleware/src/imports/import-runner.ts';
import { readRows } from '../../middleware/src/imports/row-reader.ts';
import { RowMapper } from '../../middleware/src/imports/row-mapping.ts';

const ROWS = Number(process.env['INLAY_BENCH_IMPORT_ROWS'] ?? 1_000_000);
const STORES = (process.env['INLAY_BENCH_STORES'] ?? 'embedded,cassandra').split(',');
const CASSANDRA_WRITES = (process.env['INLAY_BENCH_CASSANDRA_WRITES'] ?? 'replica-batches').split(',') as ImportUserWrites[];
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

/** Pids of this process's children whose command line contains `marker` (the JVMs we started). */
function childWith(marker: string): number | undefined {
  for (const name of readdirNumeric('/proc')) {
    try {
      const status = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(status.slice(status.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) return Number(name);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

function readdirNumeric(dir: string): string[] {
  return readdirSync(dir).filter((name) => /^\d+$/.test(name));
}

interface Figures {
  readonly label: string;
  readonly rows: number;
  readonly seconds: number;
  readonly cpuMs: Record<string, number>;
  readonly peakRssMiB: number;
  readonly heapGrowthMiB: number;
}

/** Runs `work`, sampling this process's RSS and heap every 100 ms and CPU of the named pids. */
async function measure(label: string, pids: Record<string, number>, work: () => Promise<number>): Promise<Figures> {
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
  const cpuBefore = cpuMsOf(pids);
  const started = process.hrtime.bigint();
  const rows = await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = cpuMsOf(pids);
  clearInterval(sampler);
  const cpuMs = Object.fromEntries(Object.keys(pids).map((name) => [name, cpuAfter[name]! - cpuBefore[name]!]));
  return { label, rows, seconds, cpuMs, peakRssMiB: peakRss / 1024 / 1024, heapGrowthMiB: (peakHeap - baselineHeap) / 1024 / 1024 };
}

function print(figures: Figures): void {
  const number = (value: number) => Math.round(value).toLocaleString('en-US');
  const perThousand = Object.entries(figures.cpuMs)
    .map(([name, ms]) => `${name} ${((ms / figures.rows) * 1000).toFixed(1)}`)
    .join(', ');
  console.log(
    `${figures.label.padEnd(30)} ${number(figures.rows)} rows in ${figures.seconds.toFixed(1)} s = ${number(figures.rows / figures.seconds).padStart(7)} rows/s | ` +
      `CPU ms per 1,000 rows: ${perThousand} | peak RSS ${figures.peakRssMiB.toFixed(0)} MiB, heap +${figures.heapGrowthMiB.toFixed(0)} MiB`,
  );
}

async function importInto(store: Store, tenant: Tenant): Promise<number> {
  const record = await runImport(
    store,
    {
      tenant,
      dataSource: tenant.dataSources[0]!,
      record: { importId: newImportId(), dataSourceId: 'default', objectKey: KEY, format: 'csv', status: 'queued', rowsRead: 0, rowsImported: 0, rowsFailed: 0, createdAt: new Date() },
    },
    new AbortController().signal,
  );
  if (record.status !== 'completed' || record.rowsImported !== ROWS) throw new Error(`import ${record.status} with ${record.rowsImported} rows: ${record.error}`);
  return record.rowsImported;
}

/** A fresh JVM compiles as it goes: the first strategy measured would pay for it. Unmeasured
 *  writes of WARM_UP_USERS users (other keys than the file's) come first. */
const WARM_UP_USERS = 100_000;
async function warmUp(store: Store, tenant: Tenant): Promise<void> {
  for (let start = 0; start < WARM_UP_USERS; start += 2000) {
    const users = Array.from({ length: 2000 }, (_, offset) => ({ userKey: `warm${start + offset}@example.org`, displayName: 'Warm', attributes: { plan: 'gold', city: 'City1' } }));
    await store.upsertUsers(tenant, users, 'warm-up');
  }
}

/** Reader + mapper over the local file: the floor an import cannot go below. */
async function parseOnly(csv: string): Promise<number> {
  const mapper = new RowMapper({ configuration: { secretKey: 'bench-hmac', hashedEmailAddresses: false } });
  let users = 0;
  for await (const rows of readRows(createReadStream(csv, { highWaterMark: 64 * 1024 }), 'csv')) {
    for (const row of rows) if (row.kind !== 'problem' && mapper.map(row).kind === 'user') users += 1;
  }
  return users;
}

/** A fixed amount of CPU work: wall time over CPU time says how much of a core we were given. */
function machineReference(): string {
  const wallStart = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const block = Buffer.alloc(1024 * 1024, 7);
  for (let round = 0; round < 400; round++) createHash('sha256').update(block).digest();
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = Number(process.hrtime.bigint() - wallStart) / 1e6;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return `reference: SHA-256 of 400 MiB took ${cpuMs.toFixed(0)} ms CPU in ${wallMs.toFixed(0)} ms wall (${((cpuMs / wallMs) * 100).toFixed(0)}% of a core)`;
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-bench-import-'));
  let s3: S3ProxyServer | undefined;
  let cassandra: CassandraServer | undefined;
  try {
    const external = process.env['INLAY_BENCH_CASSANDRA'];
    const wantCassandra = STORES.includes('cassandra');
    console.log(`starting S3Proxy${wantCassandra && external === undefined ? ' and Cassandra' : ''}; writing a ${ROWS.toLocaleString('en-US')}-row CSV …`);
    const csv = join(dir, 'users.csv');
    [s3, cassandra] = await Promise.all([startS3Proxy(), wantCassandra && external === undefined ? startCassandra() : undefined]);
    const bytes = await writeCsv(csv);
    const client = s3ClientFor(s3);
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: createReadStream(csv), ContentLength: bytes }));
    client.destroy();
    console.log(`uploaded ${(bytes / 1024 / 1024).toFixed(1)} MiB to s3://${BUCKET}/${KEY}; load average ${loadAverage()}`);
    console.log(machineReference());

    const pids: Record<string, number> = { bench: process.pid };
    const s3Pid = childWith('org.gaul.s3proxy.Main');
    if (s3Pid !== undefined) pids['s3proxy'] = s3Pid;
    print(await measure('parse only (local file)', { bench: process.pid }, () => parseOnly(csv)));

    if (STORES.includes('embedded')) {
      const embedded = EmbeddedStore.open(join(dir, 'data'));
      try {
        const tenant = tenantFor('bench-embedded', s3);
        await embedded.createTenant(tenant, { createDB: true });
        print(await measure('embedded (LMDB)', pids, () => importInto(embedded, tenant)));
        print(await measure('embedded (LMDB), again', pids, () => importInto(embedded, tenant)));
      } finally {
        await embedded.close();
      }
    }

    if (wantCassandra) {
      const [host, port] = external?.split(':') ?? [cassandra!.host, String(cassandra!.port)];
      const cassandraPid = cassandra === undefined ? undefined : childWith('CassandraDaemon');
      const withCassandra = cassandraPid === undefined ? pids : { ...pids, cassandra: cassandraPid };
      for (const [index, writes] of CASSANDRA_WRITES.entries()) {
        const store = await CassandraStore.open(
          {
            contactPoints: [`${host}:${port}`],
            localDataCenter: 'datacenter1',
            registryKeyspace: 'bench_registry',
            replication: { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] },
          },
          { importUserWrites: writes },
        );
        try {
          const tenant = tenantFor(`bench-cassandra-${index}-${Date.now().toString(36)}`, s3);
          await store.createTenant(tenant, { createDB: true });
          if (index === 0) await warmUp(store, tenant);
          print(await measure(`cassandra (${writes})`, withCassandra, () => importInto(store, tenant)));
        } finally {
          await store.close();
        }
      }
    }
    console.log(`load average at the end ${loadAverage()}; ${machineReference()}`);
  } finally {
    await Promise.allSettled([s3?.stop(), cassandra?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
