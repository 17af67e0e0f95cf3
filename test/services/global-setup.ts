// vitest globalSetup for the `integration` project: installs what is missing,
// starts Dovecot, Cyrus, Cassandra, S3Proxy and RabbitMQ side by side, and hands their
// connection details to the test files through `provide` / `inject`. Test
// files never start these servers themselves; one set serves the whole run.
import type { TestProject } from 'vitest/node';
import { commandExists, ensureDebianPackages } from './install.ts';
import { startDovecot } from './dovecot.ts';
import { startCyrus } from './cyrus.ts';
import { startCassandra } from './cassandra.ts';
import { startS3Proxy } from './s3proxy.ts';
import { startRabbitMq } from './rabbitmq.ts';

async function requiredDebianPackages(): Promise<string[]> {
  // Dovecot is the upstream IMAP server; isync (mbsync) is the reference IMAP
  // client for sync tests.
  // prometheus brings promtool, which checks the metrics both processes expose; RabbitMQ is the
  // broker the AMQP conversion point tests publish to.
  // dovecot-pop3d and fetchmail: the POP3 listener's upstream and its reference client.
  // chromium is the browser the web UI's tests drive through playwright-core (ui-*.test.ts).
  const packages = ['dovecot-imapd', 'dovecot-pop3d', 'fetchmail', 'isync', 'prometheus', 'rabbitmq-server', 'chromium'];
  // Normally already on the machine; only asked for when the command is
  // missing, so a developer's own JDK or Maven is left alone.
  if (!(await commandExists('java'))) packages.push('openjdk-17-jre-headless');
  if (!(await commandExists('mvn'))) packages.push('maven');
  if (!(await commandExists('openssl'))) packages.push('openssl');
  return packages;
}

interface Started<T extends { stop(): Promise<void> }> {
  name: string;
  /** Includes finding or downloading the service's jars. */
  startupMs: number;
  service: T;
}

/** Starts one service, timing it and naming it in any error. */
async function launch<T extends { stop(): Promise<void> }>(name: string, start: () => Promise<T>): Promise<Started<T>> {
  const began = Date.now();
  try {
    const service = await start();
    return { name, startupMs: Date.now() - began, service };
  } catch (error) {
    throw new Error(`${name} could not start: ${(error as Error).message}`, { cause: error });
  }
}

const ALL_SERVICES = ['dovecot', 'cyrus', 'cassandra', 's3', 'rabbitmq'] as const;

/** Which services to start: all unless INLAY_TEST_SERVICES names some. */
function wantedServices(setting: string | undefined): Set<string> {
  if (setting === undefined || setting.trim() === '') return new Set(ALL_SERVICES);
  const names = setting.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(ALL_SERVICES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`INLAY_TEST_SERVICES names unknown services: ${unknown.join(', ')} (known: ${ALL_SERVICES.join(', ')})`);
  }
  return new Set(names);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const began = Date.now();
  try {
    await ensureDebianPackages(await requiredDebianPackages());
  } catch (error) {
    throw new Error(`integration setup could not install packages: ${(error as Error).message}`, { cause: error });
  }

  // A developer running one test file may start only the services it needs
  // (INLAY_TEST_SERVICES=dovecot,s3); a service left out is never provided, so
  // a test that needs it fails on inject() rather than passing vacuously. CI
  // leaves it unset and gets every service.
  const wanted = wantedServices(process.env['INLAY_TEST_SERVICES']);
  const skipped = <T extends { stop(): Promise<void> }>(name: string): Promise<Started<T>> =>
    Promise.resolve({ name, startupMs: 0, service: { info: undefined, stop: async () => undefined } as unknown as T });
  const results = await Promise.allSettled([
    wanted.has('dovecot') ? launch('Dovecot', () => startDovecot()) : skipped<Awaited<ReturnType<typeof startDovecot>>>('Dovecot'),
    wanted.has('cyrus') ? launch('Cyrus', () => startCyrus()) : skipped<Awaited<ReturnType<typeof startCyrus>>>('Cyrus'),
    wanted.has('cassandra') ? launch('Cassandra', () => startCassandra()) : skipped<Awaited<ReturnType<typeof startCassandra>>>('Cassandra'),
    wanted.has('s3') ? launch('S3Proxy', () => startS3Proxy()) : skipped<Awaited<ReturnType<typeof startS3Proxy>>>('S3Proxy'),
    wanted.has('rabbitmq') ? launch('RabbitMQ', () => startRabbitMq()) : skipped<Awaited<ReturnType<typeof startRabbitMq>>>('RabbitMQ'),
  ] as const);
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(started.map(({ service }) => service.stop()));
  };

  const [dovecot, cyrus, cassandra, s3, rabbitmq] = results;
  if (dovecot.status === 'fulfilled' && cyrus.status === 'fulfilled' && cassandra.status === 'fulfilled' && s3.status === 'fulfilled' && rabbitmq.status === 'fulfilled') {
    const timings = started.map(({ name, startupMs }) => `${name} ${(startupMs / 1000).toFixed(1)} s`);
    console.log(`[integration] services ready in ${((Date.now() - began) / 1000).toFixed(1)} s (${timings.join(', ')})`);
    // Only plain data crosses into the test workers; see provided.d.ts.
    if (wanted.has('dovecot')) project.provide('dovecot', dovecot.value.service.info);
    if (wanted.has('cyrus')) project.provide('cyrus', cyrus.value.service.info);
    if (wanted.has('cassandra')) project.provide('cassandra', cassandra.value.service.info);
    if (wanted.has('s3')) project.provide('s3', s3.value.service.info);
    if (wanted.has('rabbitmq')) project.provide('rabbitmq', rabbitmq.value.service.info);
    return stopAll;
  }

  // One broken service fails the run: stop the others rather than leak them.
  await stopAll();
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as Error).message] : []));
  throw new Error(`integration services failed to start:\n\n${failures.join('\n\n')}`);
}
