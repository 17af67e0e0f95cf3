/**
 * `npm start` (scripts/start-stack.mjs) supervises its two processes: a middleware killed with
 * SIGKILL is restarted, and the proxy keeps serving mail meanwhile (issue 11, item 8). Started
 * the way `npm start` starts it, in front of the run's Dovecot, on free ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { parseLogLines } from '../helpers/node-process.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { freePort } from '../services/ports.ts';

const START_STACK = fileURLToPath(new URL('../../scripts/start-stack.mjs', import.meta.url));
const dovecot = testDovecot();

interface Stack {
  readonly child: ChildProcess;
  readonly proxyPort: number;
  readonly httpPort: number;
  output(): string;
  exited: Promise<number | null>;
}

let stack: Stack;
let dataDir: string;

async function waitUntil<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${stack?.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The pids the supervisor announced for `name`, in order ("inlay: NAME started (pid N)"). */
function startedPids(name: string): number[] {
  return [...stack.output().matchAll(new RegExp(`inlay: ${name} started \\(pid (\\d+)\\)`, 'g'))].map((match) => Number(match[1]));
}

function listeningLines(name: string): number {
  return parseLogLines(stack.output()).filter((entry) => entry['event'] === 'listening' && entry['service'] === name).length;
}

async function loggedIn(user: { user: string; password: string }): Promise<RawImap> {
  const client = await RawImap.connect(stack.proxyPort);
  await client.waitFor(/^\* OK.*\r\n/);
  expect(await client.command('l1', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/^l1 OK/m);
  return client;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-npm-start-'));
  const [proxyPort, httpPort] = [await freePort(), await freePort()];
  const internalToken = `start-internal-${randomBytes(16).toString('hex')}`;
  const child = spawn(process.execPath, [START_STACK], {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      INLAY_UPSTREAM: `imap://${dovecot.host}:${dovecot.port}`,
      INLAY_PROXY_LISTEN: `127.0.0.1:${proxyPort}`,
      INLAY_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      INLAY_DATA_DIR: dataDir,
      INLAY_ADMIN_TOKEN: `start-admin-${randomBytes(16).toString('hex')}`,
      INLAY_INTERNAL_TOKEN: internalToken,
      INLAY_PROXY_ENGINE_URL: `http://127.0.0.1:${httpPort}`,
      INLAY_PROXY_ENGINE_SUSPEND_MS: '300',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  stack = { child, proxyPort, httpPort, output: () => output, exited };
  await waitUntil('both processes listening', () => (listeningLines('inlay-middleware') >= 1 && listeningLines('inlay-proxy') >= 1 ? true : undefined));
});

afterAll(async () => {
  if (stack && stack.child.exitCode === null) {
    stack.child.kill('SIGTERM');
    await stack.exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('npm start supervises the proxy and the middleware', () => {
  it('restarts a SIGKILLed middleware while an IMAP session through the proxy keeps working', async () => {
    const user = await userWithMail(dovecot, 3);
    const session = await loggedIn(user);
    expect(await session.command('s1', 'SELECT INBOX')).toMatch(/\* 3 EXISTS[\s\S]*s1 OK/);

    const [firstPid] = startedPids('inlay-middleware');
    expect(firstPid).toBeGreaterThan(0);
    const proxyPids = startedPids('inlay-proxy');
    process.kill(firstPid!, 'SIGKILL');
    await waitUntil('the supervisor noticing', () => (/inlay: inlay-middleware ended \(SIGKILL\); restarting it in \d+ ms/.test(stack.output()) ? true : undefined));

    // During the gap (and after): the open session and a new one both work.
    expect(await session.command('s2', 'FETCH 1:* (UID FLAGS)')).toMatch(/\* 3 FETCH[\s\S]*s2 OK/);
    const second = await loggedIn(user);
    expect(await second.command('t1', 'SELECT INBOX')).toMatch(/\* 3 EXISTS[\s\S]*t1 OK/);
    second.write('t2 LOGOUT\r\n');

    await waitUntil('a second middleware', () => (startedPids('inlay-middleware').length >= 2 && listeningLines('inlay-middleware') >= 2 ? true : undefined));
    const restarted = await fetch(`http://127.0.0.1:${stack.httpPort}/api/openapi.json`).catch(() => null);
    expect(restarted === null ? 'no answer' : 'answered').toBe('answered');
    expect(stack.child.exitCode).toBeNull();
    // The proxy was never restarted: the same process served throughout.
    expect(startedPids('inlay-proxy')).toEqual(proxyPids);
    expect(await session.command('s3', 'NOOP')).toMatch(/s3 OK/);
    session.write('s4 LOGOUT\r\n');
  });

  it('stops both on SIGTERM', async () => {
    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
    // Stopped on purpose: nothing is restarted (the one restart is the middleware's, above).
    expect(stack.output().match(/restarting it in/g)?.length).toBe(1);
  });
});
