// Starts S3Proxy (an S3-compatible server) on a filesystem backend for one
// test run, with per-run credentials and real signature checking, so tests
// exercise the same AWS SDK code path production uses. Must never accept
// anonymous or wrongly signed requests, or store objects outside its
// throw-away directory.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { ensureMavenClasspath } from './install.ts';
import { freePort } from './ports.ts';
import { spawnLogged, startInTempDir, stopProcess, waitUntilReady, type RunningProcess } from './process.ts';

// The self-contained build that S3Proxy publishes to Maven Central. The plain
// jar's dependency graph does not resolve to a working classpath under Maven's
// nearest-wins rule (it picks a jackson-annotations too old for its Jackson 3),
// so we take the jar its authors test, without transitive resolution.
export const s3proxyArtifact = 'org.gaul:s3proxy:4.1.0:jar-with-dependencies';
const host = '127.0.0.1';

export interface S3Info {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  dir: string;
}

/**
 * An S3 client for the test S3Proxy: path-style buckets (S3Proxy does not serve them as host
 * names), and CRC checksums only where S3 requires them (newer SDKs add ones S3Proxy does not
 * know). `secretKey` overrides the right one, to test a refusal.
 */
export function s3ClientFor(info: Pick<S3Info, 'endpoint' | 'region' | 'accessKey' | 'secretKey'>, secretKey = info.secretKey): S3Client {
  return new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    credentials: { accessKeyId: info.accessKey, secretAccessKey: secretKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export interface S3ProxyServer extends S3Info {
  readonly info: S3Info;
  readonly startupMs: number;
  /** The JVM's pid while it runs (benchmarks read its CPU time from /proc). */
  readonly pid: () => number | undefined;
  stop(): Promise<void>;
  /** Stops the server (SIGTERM, as an operator or a crash would) and keeps its objects, for a
   *  fault test; `restart` brings it back on the same endpoint with the same credentials. */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/** Any HTTP answer at all (an unsigned GET / gets 403) means it is serving. */
function answersHttp(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(endpoint, { method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(typeof res.statusCode === 'number');
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

export async function startS3Proxy(options: { startupTimeoutMs?: number } = {}): Promise<S3ProxyServer> {
  const classpath = await ensureMavenClasspath('s3proxy', [s3proxyArtifact], { transitive: false });
  return startInTempDir('inlay-s3proxy-', (dir) => startInDir(dir, classpath, options.startupTimeoutMs ?? 60_000));
}

async function startInDir(dir: string, classpath: string, timeoutMs: number): Promise<S3ProxyServer> {
  const port = await freePort(host);
  const endpoint = `http://${host}:${port}`;
  const blobDir = join(dir, 'blobs');
  await mkdir(blobDir);
  const info: S3Info = {
    endpoint,
    // S3Proxy answers for us-east-1 unless told otherwise; SigV4 signs it.
    region: 'us-east-1',
    accessKey: `inlay${randomBytes(8).toString('hex')}`,
    secretKey: randomBytes(24).toString('base64url'),
    dir,
  };
  const propertiesFile = join(dir, 's3proxy.properties');
  await writeFile(
    propertiesFile,
    [
      `s3proxy.endpoint=${endpoint}`,
      // Accepts both signature versions but rejects a bad signature of either.
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${info.accessKey}`,
      `s3proxy.credential=${info.secretKey}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${blobDir}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const launch = async (): Promise<RunningProcess> => {
    const running = spawnLogged(
      'java',
      ['-Xmx512m', '-XX:+PerfDisableSharedMem', '-cp', classpath, 'org.gaul.s3proxy.Main', '--properties', propertiesFile],
      { outputFile: join(dir, 's3proxy.out'), cwd: dir, scratchDir: dir },
    );
    await waitUntilReady('S3Proxy', running, () => answersHttp(endpoint), { timeoutMs, intervalMs: 200 });
    return running;
  };
  const started = Date.now();
  let running = await launch();
  const startupMs = Date.now() - started;
  return {
    ...info,
    info,
    startupMs,
    pid: () => (running.hasExited() ? undefined : running.child.pid),
    async stop() {
      await stopProcess(running, 10_000);
      await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      await stopProcess(running, 10_000);
    },
    async restart() {
      if (!running.hasExited()) throw new Error('S3Proxy is still running; kill() it first');
      running = await launch();
    },
  };
}
