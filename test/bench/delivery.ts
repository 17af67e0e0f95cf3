/**
 * Delivery benchmark: INLAY_BENCH_DELIVERY_EVENTS events (default 20,000) recorded through the
 * store — each staging one webhook delivery in the same write — and delivered, signed, by one
 * in-process dispatcher to a local receiver answering 204; on the embedded store and on
 * Cassandra (one node). Prints events recorded per second (recording alone, the dispatcher off)
 * and deliveries per second (the dispatcher draining the recorded outbox). Goals: ≥ 2,000
 * deliveries/s embedded, ≥ 1,000/s Cassandra.
 *
 * Run with `npm run bench:delivery -w test` (starts its own Cassandra; INLAY_BENCH_STORES=embedded
 * skips it).
 *
 * On a shared machine wall-clock rates drift with the other load, so it also prints the CPU spent
 * per delivery (from /proc: this process — dispatcher and receiver — and Cassandra's JVM) beside a
 * reference measured in the same run: the same number of signed POSTs sent by the same HTTP sender
 * to the same receiver with no store at all (what the wire alone costs here).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tenant } from '@inlay/schemas';
import { startCassandra, type CassandraServer } from '../services/cassandra.ts';
import { EmbeddedStore } from '../../middleware/src/store/embedded-store.ts';
import { CassandraStore } from '../../middleware/src/store/cassandra/cassandra-store.ts';
import type { Store } from '../../middleware/src/store/store.ts';
import { createDeliveryService } from '../../middleware/src/delivery/delivery-service.ts';
import { ensurePointSecret } from '../../middleware/src/delivery/dispatcher.ts';
import { deliveryConfig, makeEvent } from '../../middleware/src/testing/delivery-fixture.ts';
import { HttpSender } from '../../middleware/src/delivery/http-attempt.ts';
import { AddressGuard } from '../../middleware/src/delivery/address-guard.ts';
import { newPointSecret, webhookHeaders } from '../../middleware/src/delivery/webhook.ts';
import { childNamed, cpuMsOf } from './cpu-usage.ts';

/** CPU milliseconds of this process (user + system). */
const ownCpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** CPU milliseconds of this process and, when given, of a server it started. */
function cpuNow(serverPid: number | undefined): { own: number; server: number } {
  return { own: ownCpuMs(), server: serverPid === undefined ? 0 : (cpuMsOf({ server: serverPid })['server'] ?? 0) };
}

function cpuLine(label: string, before: { own: number; server: number }, count: number, serverPid: number | undefined): string {
  const after = cpuNow(serverPid);
  const own = (after.own - before.own) / count;
  const server = (after.server - before.server) / count;
  return `${label}: CPU per delivery ${own.toFixed(3)} ms in this process` + (serverPid === undefined ? '' : ` + ${server.toFixed(3)} ms Cassandra = ${(own + server).toFixed(3)} ms`);
}

/** The reference: as many signed POSTs as the run delivers, by the dispatcher's HTTP sender at
 *  the same concurrency, with no store. */
async function reference(concurrency: number): Promise<void> {
  const receiver = await startReceiver();
  const sender = new HttpSender(new AddressGuard(['127.0.0.0/8']), 15_000);
  const secret = newPointSecret(Date.now());
  const body = JSON.stringify({ type: 'inlay.read', timestamp: new Date().toISOString(), data: { id: 'x'.repeat(36), type: 'read', userKey: 'user@example.org' } });
  const before = cpuNow(undefined);
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < EVENTS) await sender.send({ method: 'POST', url: receiver.url, headers: webhookHeaders(String(next), [secret], Date.now(), body), body });
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  console.log(`reference (no store, ${concurrency} in flight): ${EVENTS} signed POSTs in ${seconds.toFixed(1)} s = ${Math.round(EVENTS / seconds)}/s; ${cpuLine('reference', before, EVENTS, undefined)}`);
  sender.close();
  await receiver.close();
}

const EVENTS = Number(process.env['INLAY_BENCH_DELIVERY_EVENTS'] ?? 20_000);
const STORES = (process.env['INLAY_BENCH_STORES'] ?? 'embedded,cassandra').split(',');
/** Events per recordEvents call, calls in flight (as a busy engine records them) and attempts in
 *  flight. One Cassandra node on two shared cores times writes out beyond about a hundred logged
 *  batches at once, so it gets fewer. */
const LOAD = {
  embedded: { batch: 50, recorders: 8, concurrency: 128 },
  cassandra: { batch: 25, recorders: 4, concurrency: 64 },
} as const;

async function startReceiver(): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    count: () => count,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function measure(name: keyof typeof LOAD, store: Store, keyspaceName: string, serverPid?: number): Promise<void> {
  const load = LOAD[name];
  const receiver = await startReceiver();
  const tenant: Tenant = {
    id: keyspaceName.replaceAll('_', '-'),
    name: `Bench ${name}`,
    keyspaceName,
    configuration: { secretKey: 'bench-hmac', hashedEmailAddresses: false },
    conversionPoints: [{ id: 'hook', type: 'webhook', eventType: 'read', connectionInformation: { url: receiver.url } }],
    dataSources: [],
  };
  await store.createTenant(tenant, { createDB: true });
  await ensurePointSecret(store, tenant, 'hook');
  const base = Date.now() - 60_000;
  const events = Array.from({ length: EVENTS }, (_, index) => makeEvent(tenant.id, 'read', index + 1, `user${index % 1000}@example.org`, base + (index % 60_000)));

  const recordCpu = cpuNow(serverPid);
  const recordStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: load.recorders }, async () => {
      while (next < events.length) {
        const batch = events.slice(next, next + load.batch);
        next += load.batch;
        // A write the loaded single node timed out is reported again, as the proxy would: recording is idempotent.
        for (let attempt = 1; ; attempt++) {
          try {
            await store.recordEvents(tenant, batch);
            break;
          } catch (error) {
            if (attempt === 10 || (error as { code?: string }).code !== 'INLAY_MW_STORE_UNAVAILABLE') throw error;
          }
        }
      }
    }),
  );
  const recordSeconds = (performance.now() - recordStart) / 1000;
  const recordCpuLine = cpuLine(`${name} recording`, recordCpu, EVENTS, serverPid).replace('per delivery', 'per event');

  const service = createDeliveryService(store, deliveryConfig({ concurrency: load.concurrency, attemptTimeoutMs: 15_000, leaseMs: 30_000 }), undefined);
  const deliverCpu = cpuNow(serverPid);
  const deliverStart = performance.now();
  service.dispatcher.start();
  while (receiver.count() < EVENTS) await new Promise((resolve) => setTimeout(resolve, 20));
  // Delivered on the wire; the last outcomes are being written.
  const deliverSeconds = (performance.now() - deliverStart) / 1000;
  await service.close();
  const deliverCpuLine = cpuLine(`${name} delivering`, deliverCpu, EVENTS, serverPid);
  await receiver.close();
  console.log(
    `${name}: ${EVENTS} events recorded in ${recordSeconds.toFixed(1)} s = ${Math.round(EVENTS / recordSeconds)} events/s; ` +
      `delivered in ${deliverSeconds.toFixed(1)} s = ${Math.round(EVENTS / deliverSeconds)} deliveries/s\n  ${recordCpuLine}\n  ${deliverCpuLine}`,
  );
}

async function main(): Promise<void> {
  const load = `load average ${(await import('node:os')).loadavg().map((value) => value.toFixed(1)).join(' ')}`;
  console.log(`delivery bench: ${EVENTS} events; ${load}`);
  await reference(LOAD.embedded.concurrency);
  if (STORES.includes('embedded')) {
    const dir = await mkdtemp(join(tmpdir(), 'inlay-bench-delivery-'));
    const store = EmbeddedStore.open(dir);
    try {
      await measure('embedded', store, 'bench_delivery');
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (STORES.includes('cassandra')) {
    let cassandra: CassandraServer | undefined;
    try {
      cassandra = await startCassandra();
      const store = await CassandraStore.open({
        contactPoints: [`${cassandra.host}:${cassandra.port}`],
        localDataCenter: cassandra.localDataCenter,
        registryKeyspace: 'bench_delivery_registry',
        replication: { class: 'SimpleStrategy', replicationFactor: 1, dataCenters: [] },
      });
      try {
        await measure('cassandra', store, 'bench_delivery', childNamed('java'));
      } finally {
        await store.close();
      }
    } finally {
      await cassandra?.stop();
    }
  }
}

await main();
