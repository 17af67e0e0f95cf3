// vitest globalSetup for the `integration` project: installs what is missing,
// starts Dovecot, Cassandra and S3Proxy side by side, and hands their
// connection details to the test files through `provide` / `inject`. Test
// files never start these servers themselves; one set serves the whole run.
import type { TestProject } from 'vitest/node';
import { commandExists, ensureDebianPackages } from './install.ts';
import { startDovecot } from './dovecot.ts';
import { startCassandra } from './cassandra.ts';
import { startS3Proxy } from './s3proxy.ts';

async function requiredDebianPackages(): Promise<string[]> {
  // Dovecot is the upstream IMAP server; isync (mbsync) is the reference IMAP
  // client for sync tests.
  const packages = ['dovecot-imapd', 'isync'];
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const began = Date.now();
  try {
    await ensureDebianPackages(await requiredDebianPackages());
  } catch (error) {
    throw new Error(`integration setup could not install packages: ${(error as Error).message}`, { cause: error });
  }

  const results = await Promise.allSettled([
    launch('Dovecot', () => startDovecot()),
    launch('Cassandra', () => startCassandra()),
    launch('S3Proxy', () => startS3Proxy()),
  ] as const);
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(started.map(({ service }) => service.stop()));
  };

  const [dovecot, cassandra, s3] = results;
  if (dovecot.status === 'fulfilled' && cassandra.status === 'fulfilled' && s3.status === 'fulfilled') {
    const timings = started.map(({ name, startupMs }) => `${name} ${(startupMs / 1000).toFixed(1)} s`);
    console.log(`[integration] services ready in ${((Date.now() - began) / 1000).toFixed(1)} s (${timings.join(', ')})`);
    // Only plain data crosses into the test workers; see provided.d.ts.
    project.provide('dovecot', dovecot.value.service.info);
    project.provide('cassandra', cassandra.value.service.info);
    project.provide('s3', s3.value.service.info);
    return stopAll;
  }

  // One broken service fails the run: stop the others rather than leak them.
  await stopAll();
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as Error).message] : []));
  throw new Error(`integration services failed to start:\n\n${failures.join('\n\n')}`);
}
