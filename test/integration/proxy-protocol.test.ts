/**
 * What the proxy itself says and decides: capability filtering, ENABLE and COMPRESS, IMAP ID
 * forwarding and loop detection, TLS on both sides, STARTTLS injection, login methods,
 * graceful shutdown, configuration errors, and that no credential reaches a log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caOf, imapflowThrough, proxyInFrontOf, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { runProxyExpectingFailure, startProxy, type RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { freePort } from '../services/ports.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();
let proxy: RunningProxy;
let user: DovecotUser;
const HIDDEN = ['CONDSTORE', 'QRESYNC', 'SORT', 'THREAD=REFERENCES', 'ESORT', 'CONTEXT=SEARCH', 'NOTIFY', 'SEARCHRES', 'BINARY', 'COMPRESS=DEFLATE'];
const startedProxies: RunningProxy[] = [];

beforeAll(async () => {
  proxy = await proxyInFrontOf(dovecot);
  user = await userWithMail(dovecot, 2);
});

afterAll(async () => {
  for (const extra of startedProxies) await extra.stop();
  // Every credential used in this file, in every form a log could leak it.
  const output = proxy.output() + startedProxies.map((extra) => extra.output()).join('');
  expect(output).not.toContain(user.password);
  expect(output).not.toContain(Buffer.from(`\0${user.user}\0${user.password}`).toString('base64'));
  await proxy?.stop();
});

async function extraProxy(env: Record<string, string>): Promise<RunningProxy> {
  const started = await proxyInFrontOf(dovecot, env);
  startedProxies.push(started);
  return started;
}

function capabilitiesIn(text: string): string[] {
  const untagged = /\* CAPABILITY ([^\r\n]*)/.exec(text)?.[1];
  const code = /\[CAPABILITY ([^\]]*)\]/.exec(text)?.[1];
  return (untagged ?? code ?? '').split(' ').filter(Boolean);
}

describe('capabilities, ENABLE and COMPRESS', () => {
  it('hides unsupported extensions in the login response code and in CAPABILITY', async () => {
    const direct = await RawImap.connect(dovecot.port);
    await direct.greeting();
    const directCaps = capabilitiesIn(await direct.command('d', `LOGIN "${user.user}" "${user.password}"`));
    expect(directCaps).toEqual(expect.arrayContaining(['CONDSTORE', 'QRESYNC', 'IDLE']));
    direct.close();

    const client = await RawImap.connect(proxy.port);
    const greeting = await client.greeting();
    expect(capabilitiesIn(greeting)).toEqual(expect.arrayContaining(['IMAP4rev1', 'STARTTLS', 'AUTH=PLAIN', 'ID', 'SASL-IR']));
    const afterLogin = capabilitiesIn(await client.command('l', `LOGIN "${user.user}" "${user.password}"`));
    const untagged = capabilitiesIn(await client.command('c', 'CAPABILITY'));
    for (const list of [afterLogin, untagged]) {
      expect(list).toContain('IDLE');
      expect(list).toContain('IMAP4rev1');
      for (const hidden of HIDDEN) expect(list).not.toContain(hidden);
      expect(list.filter((capability) => !directCaps.includes(capability))).toEqual([]);
    }
    client.close();
  });

  it('answers ENABLE of hidden extensions as a server that lacks them, and refuses COMPRESS', async () => {
    const client = await RawImap.connect(proxy.port);
    await client.greeting();
    await client.command('l', `LOGIN "${user.user}" "${user.password}"`);
    expect(await client.command('e1', 'ENABLE CONDSTORE QRESYNC')).toMatch(/^\* ENABLED\r\ne1 OK/);
    await client.command('s', 'SELECT INBOX');
    // Had CONDSTORE been enabled upstream, FETCH would carry MODSEQ.
    expect(await client.command('f', 'FETCH 1 (FLAGS)')).not.toContain('MODSEQ');
    expect(await client.command('z', 'COMPRESS DEFLATE')).toMatch(/z BAD COMPRESS is not available/);
    expect(await client.command('t', 'STARTTLS')).toMatch(/t BAD STARTTLS is only valid before login/);
    expect(await client.command('n', 'NOOP')).toMatch(/n OK/);
    client.close();
  });
});

describe('IMAP ID', () => {
  it("passes the client's real address and the proxy's session id to the upstream", async () => {
    // 127.0.0.2 is loopback too; the proxy itself connects upstream from 127.0.0.1.
    const client = await RawImap.connect(proxy.port, { localAddress: '127.0.0.2' });
    await client.greeting();
    expect(await client.command('i', 'ID ("name" "raw-test" "version" "1")')).toMatch(/\* ID \("name" "Inlay" "version" "[^"]+"\)\r\ni OK/);
    await client.command('l', `LOGIN "${user.user}" "${user.password}"`);
    client.close();
    // The proxy's log reaches us through a pipe: wait for it rather than race it.
    const cidFrom = (): string | undefined => {
      const login = proxy.logs().find((entry) => entry['event'] === 'login' && entry['remote'] === '127.0.0.2');
      return login ? String(login['cid']) : undefined;
    };
    await expect.poll(cidFrom, { timeout: 5000 }).toBeDefined();
    const cid = cidFrom()!;
    await expect.poll(async () => dovecot.readLog(), { timeout: 5000 }).toMatch(new RegExp(`Login: user=<${user.user}>[^\\n]*rip=127\\.0\\.0\\.2[^\\n]*session=<${cid}>`));
  });

  it('ends a login that loops back through proxies when x-proxy-ttl runs out', async () => {
    const port = await freePort();
    const looping = await startProxy({
      env: { INLAY_PROXY_LISTEN: `127.0.0.1:${port}`, INLAY_UPSTREAM: `imap://127.0.0.1:${port}`, INLAY_PROXY_TRUSTED_NETWORKS: '127.0.0.0/8', INLAY_PROXY_PROXY_TTL: '3' },
    });
    startedProxies.push(looping);
    const client = await RawImap.connect(port);
    await client.greeting();
    expect(await client.command('l', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/l NO \[UNAVAILABLE\] Proxy loop detected/);
    await expect.poll(() => looping.logs().filter((entry) => entry['code'] === 'INLAY_PROXY_LOOP')).toHaveLength(1);
    client.close();

    // A trusted proxy in front that has no hops left is refused at once, and its connection
    // stays usable for the next command.
    const lastHop = await RawImap.connect(port);
    await lastHop.greeting();
    await lastHop.command('i', 'ID ("x-proxy-ttl" "1")');
    expect(await lastHop.command('l', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/l NO \[UNAVAILABLE\] Proxy loop detected/);
    expect(await lastHop.command('n', 'NOOP')).toMatch(/n OK/);
    lastHop.close();
  });
});

describe('logins and TLS', () => {
  it('relays AUTHENTICATE PLAIN with and without an initial response, and the upstream decides', async () => {
    const plain = Buffer.from(`\0${user.user}\0${user.password}`).toString('base64');
    const wrong = Buffer.from(`\0${user.user}\0not-the-password`).toString('base64');
    const client = await RawImap.connect(proxy.port);
    await client.greeting();
    expect(await client.command('m', 'AUTHENTICATE CRAM-MD5')).toMatch(/m NO \[CANNOT\]/);
    expect(await client.command('w', `AUTHENTICATE PLAIN ${wrong}`, 15_000)).toMatch(/w NO \[AUTHENTICATIONFAILED\]/);
    client.write('a AUTHENTICATE PLAIN\r\n');
    await client.waitFor(/^\+ ?\r\n/m);
    client.write(`${plain}\r\n`);
    expect(await client.waitFor(/a (OK|NO|BAD)[^\n]*\n/)).toMatch(/a OK/);
    client.close();
  });

  it('requires TLS before login when configured: LOGINDISABLED, then STARTTLS, then login', async () => {
    const strict = await extraProxy({ INLAY_PROXY_LOGIN_REQUIRES_TLS: 'true' });
    const client = await RawImap.connect(strict.port);
    const caps = capabilitiesIn(await client.greeting());
    expect(caps).toContain('LOGINDISABLED');
    expect(caps).not.toContain('AUTH=PLAIN');
    expect(await client.command('l', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/l NO \[PRIVACYREQUIRED\]/);
    expect(await client.command('s', 'STARTTLS')).toMatch(/s OK/);
    await client.startTls({ ca: caOf(dovecot), servername: 'localhost' });
    const secureCaps = capabilitiesIn(await client.command('c', 'CAPABILITY'));
    expect(secureCaps).toContain('AUTH=PLAIN');
    expect(secureCaps).not.toContain('STARTTLS');
    expect(await client.command('l2', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/l2 OK/);
    client.close();
  });

  it('rejects plaintext pipelined behind STARTTLS', async () => {
    const client = await RawImap.connect(proxy.port);
    await client.greeting();
    client.write(`s STARTTLS\r\nx LOGIN "${user.user}" "${user.password}"\r\n`);
    expect(await client.waitFor(/\* BYE [^\n]*\n/)).toMatch(/after STARTTLS/);
    await client.waitClosed();
    expect(client.text).not.toMatch(/x OK|s OK/);
  });

  it('speaks implicit TLS to clients and to the upstream, verifying the upstream certificate', async () => {
    const secure = await extraProxy({
      INLAY_PROXY_TLS_LISTEN: '127.0.0.1:0',
      INLAY_UPSTREAM: `imaps://localhost:${dovecot.tlsPort}`,
      INLAY_UPSTREAM_TLS_CA_FILE: dovecot.caFile,
    });
    const client = imapflowThrough(secure.tlsPort!, user, { secure: true, tls: { ca: caOf(dovecot), servername: 'localhost' } });
    await client.connect();
    expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 2 });
    await client.logout();

    const starttlsUpstream = await extraProxy({ INLAY_UPSTREAM: `imap+starttls://localhost:${dovecot.port}`, INLAY_UPSTREAM_TLS_CA_FILE: dovecot.caFile });
    const viaStarttls = imapflowThrough(starttlsUpstream.port, user);
    await viaStarttls.connect();
    await viaStarttls.logout();
  });

  it('refuses the login with NO [UNAVAILABLE] when the upstream certificate is not trusted', async () => {
    const untrusting = await extraProxy({ INLAY_UPSTREAM: `imaps://localhost:${dovecot.tlsPort}` });
    const client = await RawImap.connect(untrusting.port);
    await client.greeting();
    expect(await client.command('l', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/l NO \[UNAVAILABLE\]/);
    const failure = () => String(untrusting.logs().find((entry) => entry['event'] === 'upstreamUnavailable')?.['reason']);
    await expect.poll(failure).toMatch(/certificate/i);
    client.close();
  });
});

describe('process lifecycle', () => {
  it('on SIGTERM says BYE to every client, stops accepting and exits', async () => {
    const stopping = await proxyInFrontOf(dovecot, { INLAY_PROXY_LIMITS_SHUTDOWN_DRAIN_MS: '3000' });
    const idle = await RawImap.connect(stopping.port);
    await idle.greeting();
    await idle.command('l', `LOGIN "${user.user}" "${user.password}"`);
    await idle.command('s', 'SELECT INBOX');
    idle.write('i IDLE\r\n');
    await idle.waitFor(/^\+[^\n]*\n/m);
    const waiting = await RawImap.connect(stopping.port);
    await waiting.greeting();

    const exit = stopping.stop('SIGTERM');
    for (const client of [idle, waiting]) {
      await client.waitFor(/\* BYE \[UNAVAILABLE\] Server shutting down[^\n]*\n/);
      await client.waitClosed();
    }
    expect(await exit).toBe(0);
    await expect(RawImap.connect(stopping.port)).rejects.toThrow();
  });

  it('stops start-up with one line naming the key when the configuration is bad', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ INLAY_PROXY_LIMITS_MAX_LINE_BYTES: '12' }, /proxy\.limits\.maxLineBytes must be >= 8192 \(got 12\); set in INLAY_PROXY_LIMITS_MAX_LINE_BYTES/],
      [{ INLAY_UPSTREAM: 'http://mail.example.org' }, /upstream has the wrong form/],
      [{ INLAY_PROXY_TLS_LISTEN: '127.0.0.1:0' }, /tlsCert and tlsKey must both be set/],
      [{ INLAY_PROXY_POP3_TLS_LISTEN: '127.0.0.1:0' }, /tlsCert and tlsKey must both be set .* proxy\.pop3\.tlsListen/],
      [{ INLAY_PROXY_POP3_LISTEN: '127.0.0.1:0', INLAY_PROXY_POP3_UPSTREAM: 'imap://mail.example.org' }, /proxy\.pop3\.upstream has the wrong form/],
      [{ INLAY_TLS_CERT: '/nonexistent.pem', INLAY_TLS_KEY: '/nonexistent.key' }, /tlsCert \/nonexistent\.pem cannot be read: ENOENT/],
      [{ INLAY_PROXY_TRUSTED_NETWORKS: '10.0.0.0/99' }, /proxy\.trustedNetworks/],
      [{ INLAY_ADMIN_TOKEN: 'short' }, /^inlay-proxy: configuration error: adminToken must NOT have fewer than 16 characters; set in INLAY_ADMIN_TOKEN\n$/],
    ];
    for (const [env, expected] of cases) {
      const { code, output } = await runProxyExpectingFailure({ INLAY_PROXY_LISTEN: '127.0.0.1:0', ...env });
      expect(code).toBe(78);
      expect(output).toMatch(expected);
      expect(output.trim().split('\n')).toHaveLength(1);
      expect(output).not.toContain('short"');
    }
  });
});
