/**
 * TLS settings (issue 15) through the real proxy process in front of the run's Dovecot: the
 * lowest version and the cipher list clients may use, on the implicit-TLS listener and after
 * STARTTLS; the same two towards the upstream; and the certificate reloaded on SIGHUP with a
 * session under way kept, new handshakes shown the new certificate, and a bad pair refused.
 * Clients verify the proxy's certificate for real (`ca`), never with verification off.
 */
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyInFrontOf, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { runProxyExpectingFailure, startProxy, type RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import type { DovecotUser } from '../services/dovecot.ts';
import { makeTestCertificates, type TestCertificates } from '../services/tls.ts';

const dovecot = testDovecot();
let scratch: string;
let first: TestCertificates;
let second: TestCertificates;
let user: DovecotUser;
const proxies: RunningProxy[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'inlay-proxy-tls-'));
  [first, second, user] = await Promise.all([
    makeTestCertificates(join(scratch, 'first')),
    makeTestCertificates(join(scratch, 'second')),
    userWithMail(dovecot, 2),
  ]);
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.stop();
  await rm(scratch, { recursive: true, force: true });
});

async function tlsProxy(env: Record<string, string>): Promise<RunningProxy> {
  const proxy = await proxyInFrontOf(dovecot, { INLAY_TLS_CERT: first.certFile, INLAY_TLS_KEY: first.keyFile, INLAY_PROXY_TLS_LISTEN: '127.0.0.1:0', ...env });
  proxies.push(proxy);
  return proxy;
}

type Handshake =
  | { readonly ok: true; readonly socket: TLSSocket; readonly protocol: string | null; readonly cipher: string; readonly fingerprint: string }
  | { readonly ok: false; readonly error: string };

function settle(socket: TLSSocket): Promise<Handshake> {
  return new Promise((resolve) => {
    socket.once('secureConnect', () =>
      resolve({ ok: true, socket, protocol: socket.getProtocol(), cipher: socket.getCipher().name, fingerprint: socket.getPeerCertificate().fingerprint256 }),
    );
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
  });
}

/** Both test CAs are trusted, so a client accepts either certificate and reports which it got. */
const clientOptions = (options: ConnectionOptions = {}): ConnectionOptions => ({ ca: [first.ca, second.ca], servername: 'localhost', ...options });

function implicitTls(proxy: RunningProxy, options?: ConnectionOptions): Promise<Handshake> {
  return settle(tlsConnect({ host: '127.0.0.1', port: proxy.tlsPort!, ...clientOptions(options) }));
}

/** Plain connection, greeting, STARTTLS, then the handshake on the same socket. */
async function startTls(proxy: RunningProxy, options?: ConnectionOptions): Promise<Handshake> {
  const plain: Socket = netConnect({ host: '127.0.0.1', port: proxy.port });
  await new Promise<void>((resolve, reject) => {
    let received = '';
    let asked = false;
    plain.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!asked && received.includes('\r\n')) {
        asked = true;
        plain.write('T STARTTLS\r\n');
      }
      if (/\r\nT OK[^\n]*\n/.test(received)) {
        plain.removeAllListeners('data');
        resolve();
      }
    });
    plain.once('error', reject);
  });
  return settle(tlsConnect({ socket: plain, ...clientOptions(options) }));
}

/** An IMAP exchange over an established TLS socket: sends the command, returns up to its tagged answer. */
function command(socket: TLSSocket, tag: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      if (new RegExp(`(^|\\n)${tag} [^\\n]*\\n`).test(received)) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`${tag} ${text}\r\n`);
  });
}

async function fingerprintOf(certFile: string): Promise<string> {
  return new X509Certificate(await readFile(certFile)).fingerprint256;
}

function expectRefused(result: Handshake): void {
  expect(result.ok, result.ok ? `handshake succeeded with ${result.protocol} ${result.cipher}` : '').toBe(false);
}

describe('TLS towards clients', () => {
  it('refuses a TLS 1.2 client when the minimum is 1.3, on the TLS listener and after STARTTLS', async () => {
    const proxy = await tlsProxy({ INLAY_TLS_MIN_VERSION: 'TLSv1.3' });
    expectRefused(await implicitTls(proxy, { maxVersion: 'TLSv1.2' }));
    expectRefused(await startTls(proxy, { maxVersion: 'TLSv1.2' }));
    for (const handshake of [await implicitTls(proxy), await startTls(proxy)]) {
      expect(handshake).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
      if (handshake.ok) handshake.socket.destroy();
    }
    // The default minimum still lets TLS 1.2 in.
    const lenient = await tlsProxy({});
    const old = await implicitTls(lenient, { maxVersion: 'TLSv1.2' });
    expect(old).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
    if (old.ok) old.socket.destroy();
  });

  it('offers only the configured ciphers, TLS 1.2 and TLS 1.3 suites alike', async () => {
    const proxy = await tlsProxy({ INLAY_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384' });
    expectRefused(await implicitTls(proxy, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }));
    expectRefused(await implicitTls(proxy, { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256' }));
    expectRefused(await startTls(proxy, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }));
    const accepted = [
      await implicitTls(proxy, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384' }),
      await implicitTls(proxy, { minVersion: 'TLSv1.3' }),
      await startTls(proxy, { maxVersion: 'TLSv1.2' }),
    ];
    expect(accepted.map((handshake) => (handshake.ok ? handshake.cipher : handshake.error))).toEqual([
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'TLS_AES_256_GCM_SHA384',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
    ]);
    for (const handshake of accepted) if (handshake.ok) handshake.socket.destroy();
  });

  it('stops start-up on a cipher list OpenSSL cannot use, naming the key', async () => {
    const run = await runProxyExpectingFailure({ INLAY_TLS_CIPHERS: 'NOT-A-CIPHER', INLAY_TLS_CERT: first.certFile, INLAY_TLS_KEY: first.keyFile });
    expect(run.code).toBe(78);
    expect(run.output).toMatch(/configuration error: tlsCiphers \(INLAY_TLS_CIPHERS\) "NOT-A-CIPHER" cannot be used/);
  });
});

describe('certificate reload on SIGHUP', () => {
  let live: { certFile: string; keyFile: string };
  let proxy: RunningProxy;

  /** Puts a certificate and key in place the way a renewal tool does: whole files, renamed in. */
  async function install(certPem: string | Buffer, keyPem: string | Buffer): Promise<void> {
    await writeFile(`${live.certFile}.new`, certPem);
    await writeFile(`${live.keyFile}.new`, keyPem);
    await rename(`${live.keyFile}.new`, live.keyFile);
    await rename(`${live.certFile}.new`, live.certFile);
  }

  const codes = (): unknown[] => proxy.logs().map((entry) => entry['code']).filter((code) => String(code).startsWith('INLAY_PROXY_TLS_'));

  beforeAll(async () => {
    live = { certFile: join(scratch, 'live.crt'), keyFile: join(scratch, 'live.key') };
    await copyFile(first.certFile, live.certFile);
    await copyFile(first.keyFile, live.keyFile);
    proxy = await tlsProxy({ INLAY_TLS_CERT: live.certFile, INLAY_TLS_KEY: live.keyFile });
  });

  it('keeps a session under way and shows new handshakes the new certificate', async () => {
    const [oldPrint, newPrint] = await Promise.all([fingerprintOf(first.certFile), fingerprintOf(second.certFile)]);
    const session = await implicitTls(proxy);
    if (!session.ok) throw new Error(`handshake failed: ${session.error}`);
    expect(session.fingerprint).toBe(oldPrint);
    expect(await command(session.socket, 'L', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/L OK/);
    expect(await command(session.socket, 'S', 'SELECT INBOX')).toMatch(/S OK/);

    await install(await readFile(second.certFile), await readFile(second.keyFile));
    proxy.child.kill('SIGHUP');
    await expect.poll(codes).toEqual(['INLAY_PROXY_TLS_RELOADED']);
    const reloaded = proxy.logs().find((entry) => entry['code'] === 'INLAY_PROXY_TLS_RELOADED');
    expect(reloaded?.['fingerprint256']).toBe(newPrint);

    // The session goes on under its old certificate.
    expect(await command(session.socket, 'F', 'FETCH 1:* (FLAGS)')).toMatch(/F OK/);
    expect(session.socket.getPeerCertificate().fingerprint256).toBe(oldPrint);
    // New handshakes, on both listeners, see the new one, and can log in.
    const fresh = [await implicitTls(proxy), await startTls(proxy)];
    expect(fresh.map((handshake) => (handshake.ok ? handshake.fingerprint : handshake.error))).toEqual([newPrint, newPrint]);
    for (const handshake of fresh) {
      if (!handshake.ok) continue;
      expect(await command(handshake.socket, 'L', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/L OK/);
      handshake.socket.destroy();
    }
    expect(await command(session.socket, 'N', 'NOOP')).toMatch(/N OK/);
    session.socket.destroy();
  });

  it('refuses a bad certificate or key on reload, logs it, and keeps the old one', async () => {
    const current = await fingerprintOf(live.certFile);
    const reloadsBefore = codes().length;
    const bad: [string, string | Buffer, string | Buffer][] = [
      ['garbage certificate', 'not a certificate\n', await readFile(second.keyFile)],
      ['key of another certificate', await readFile(second.certFile), await readFile(first.keyFile)],
    ];
    for (const [index, [what, cert, key]] of bad.entries()) {
      await install(cert, key);
      proxy.child.kill('SIGHUP');
      await expect.poll(() => codes().length, { message: what }).toBe(reloadsBefore + index + 1);
      expect(codes().at(-1), what).toBe('INLAY_PROXY_TLS_RELOAD_REFUSED');
      const handshake = await implicitTls(proxy);
      expect(handshake.ok ? handshake.fingerprint : handshake.error, what).toBe(current);
      if (handshake.ok) handshake.socket.destroy();
    }
    const refusal = proxy.logs().find((entry) => entry['code'] === 'INLAY_PROXY_TLS_RELOAD_REFUSED');
    expect(refusal).toMatchObject({ level: 50, fingerprint256: current, reason: expect.stringContaining('tlsCert') });
    // No key material in any log line.
    const keyBody = (await readFile(first.keyFile, 'utf8')).split('\n')[1]!;
    expect(proxy.output()).not.toContain(keyBody);
    // Still serving logins over TLS after the refusals.
    const after = await startTls(proxy);
    if (!after.ok) throw new Error(`handshake failed: ${after.error}`);
    expect(await command(after.socket, 'L', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/L OK/);
    after.socket.destroy();
  });
});

describe('TLS towards the upstream', () => {
  it('offers the upstream only the configured ciphers (Dovecot over imaps://)', async () => {
    const through = async (env: Record<string, string>): Promise<string> => {
      const proxy = await startProxy({
        env: {
          INLAY_UPSTREAM: `imaps://${dovecot.host}:${dovecot.tlsPort}`,
          INLAY_UPSTREAM_TLS_CA_FILE: dovecot.caFile,
          INLAY_UPSTREAM_TLS_SERVERNAME: 'localhost',
          INLAY_PROXY_LIMITS_UPSTREAM_POOL_SIZE: '0',
          ...env,
        },
      });
      proxies.push(proxy);
      const client = await RawImap.connect(proxy.port);
      await client.greeting();
      const answer = await client.command('L', `LOGIN "${user.user}" "${user.password}"`, 20_000);
      client.close();
      return answer;
    };
    // Dovecot (OpenSSL's default TLS 1.3 suites) has no CCM_8; the proxy offering only that fails.
    expect(await through({ INLAY_UPSTREAM_TLS_MIN_VERSION: 'TLSv1.3', INLAY_UPSTREAM_TLS_CIPHERS: 'TLS_AES_128_CCM_8_SHA256' })).toMatch(/^L NO \[UNAVAILABLE\]/m);
    expect(await through({ INLAY_UPSTREAM_TLS_MIN_VERSION: 'TLSv1.3', INLAY_UPSTREAM_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384' })).toMatch(/^L OK/m);
  });

  it('refuses an upstream below the minimum version (an in-process TLS 1.2-only server)', async () => {
    const seen: string[] = [];
    const legacy = createTlsServer({ cert: await readFile(first.certFile), key: await readFile(first.keyFile), maxVersion: 'TLSv1.2' }, (socket) => {
      seen.push(`handshake ${socket.getProtocol()}`);
      socket.end('* OK legacy server\r\n');
    });
    legacy.on('tlsClientError', (err: NodeJS.ErrnoException) => seen.push(`refused ${err.code}`));
    await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve));
    const port = (legacy.address() as { port: number }).port;
    try {
      const proxyWith = async (minVersion: string): Promise<RunningProxy> => {
        // The pool of ready upstream connections opens one at once: that is the handshake seen.
        const proxy = await startProxy({
          env: { INLAY_UPSTREAM: `imaps://127.0.0.1:${port}`, INLAY_UPSTREAM_TLS_CA_FILE: first.caFile, INLAY_UPSTREAM_TLS_SERVERNAME: 'localhost', INLAY_UPSTREAM_TLS_MIN_VERSION: minVersion, INLAY_PROXY_LIMITS_UPSTREAM_POOL_SIZE: '1' },
        });
        proxies.push(proxy);
        return proxy;
      };
      const strict = await proxyWith('TLSv1.3');
      await expect.poll(() => seen.some((entry) => entry.startsWith('refused'))).toBe(true);
      expect(seen.filter((entry) => entry.startsWith('handshake'))).toEqual([]);
      const client = await RawImap.connect(strict.port);
      await client.greeting();
      expect(await client.command('L', `LOGIN "${user.user}" "${user.password}"`, 20_000)).toMatch(/^L NO \[UNAVAILABLE\]/m);
      client.close();
      await strict.stop();
      await proxyWith('TLSv1.2');
      await expect.poll(() => seen.filter((entry) => entry.startsWith('handshake'))).toContain('handshake TLSv1.2');
    } finally {
      legacy.close();
    }
  });
});
