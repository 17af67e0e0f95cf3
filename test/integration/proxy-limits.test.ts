/**
 * Connection limits that fit real deployments (issue 15), through the real proxy in front of the
 * run's Dovecot. Loopback addresses stand in for clients: 127.0.0.2 for a webmail server or a
 * carrier NAT (exempt), 127.0.0.3 for a trusted proxy in front of Inlay (exempt, and believed
 * when it names its client in IMAP ID), 127.0.0.1 for everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyInFrontOf, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { runProxyExpectingFailure, type RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();
const open: RawImap[] = [];

afterAll(() => {
  for (const client of open) client.close();
});

async function greeted(port: number, localAddress = '127.0.0.1'): Promise<RawImap> {
  const client = await RawImap.connect(port, { localAddress });
  open.push(client);
  return client;
}

describe('per-address limit with exempt networks', () => {
  let proxy: RunningProxy;

  beforeAll(async () => {
    proxy = await proxyInFrontOf(dovecot, {
      INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '2',
      INLAY_PROXY_LIMITS_EXEMPT_NETWORKS: '127.0.0.2/32',
      INLAY_PROXY_TRUSTED_NETWORKS: '127.0.0.3',
    });
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  it('admits an exempt or trusted address beyond the limit, and refuses any other', async () => {
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      for (let i = 0; i < 4; i++) {
        const client = await greeted(proxy.port, address);
        expect(await client.greeting(), `${address} connection ${i + 1}`).toMatch(/^\* OK/);
      }
    }
    for (let i = 0; i < 2; i++) expect(await (await greeted(proxy.port)).greeting()).toMatch(/^\* OK/);
    const refused = await greeted(proxy.port);
    expect(await refused.waitFor(/^\* BYE[^\n]*\n/)).toMatch(/\* BYE \[UNAVAILABLE\] Too many connections from your address/);
    await refused.waitClosed();
    // Log lines reach stdout within 100 ms (proxy/src/log.ts).
    const refusals = (): unknown[] => proxy.logs().filter((entry) => entry['code'] === 'INLAY_PROXY_TOO_MANY_FROM_ADDRESS').map((entry) => entry['remote']);
    await expect.poll(refusals).toEqual(['127.0.0.1']);
  });
});

describe('limit settings at start', () => {
  it('stops start-up on a bad CIDR with the key named and exit code 78', async () => {
    const run = await runProxyExpectingFailure({ INLAY_UPSTREAM: `imap://${dovecot.host}:${dovecot.port}`, INLAY_PROXY_LIMITS_EXEMPT_NETWORKS: '10.0.0.0/8,192.168.1.0/40' });
    expect(run.code).toBe(78);
    expect(run.output).toMatch(/configuration error: proxy\.limits\.exemptNetworks \(INLAY_PROXY_LIMITS_EXEMPT_NETWORKS\): "192\.168\.1\.0\/40" is not an address or CIDR network/);
  });
});

describe('per-user-per-address limit', () => {
  let proxy: RunningProxy;
  let alice: DovecotUser;
  let bob: DovecotUser;

  beforeAll(async () => {
    proxy = await proxyInFrontOf(dovecot, {
      INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_USER_ADDRESS: '2',
      INLAY_PROXY_TRUSTED_NETWORKS: '127.0.0.3',
    });
    [alice, bob] = await Promise.all([userWithMail(dovecot, 1), userWithMail(dovecot, 1)]);
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  async function login(user: DovecotUser, localAddress = '127.0.0.1', id?: string): Promise<{ client: RawImap; answer: string }> {
    const client = await greeted(proxy.port, localAddress);
    await client.greeting();
    if (id) expect(await client.command('i', `ID (${id})`)).toMatch(/i OK/);
    return { client, answer: await client.command('L', `LOGIN "${user.user}" "${user.password}"`) };
  }

  it('refuses the login beyond the limit with NO [UNAVAILABLE], and the connection goes on', async () => {
    const first = await login(alice);
    const second = await login(alice);
    expect([first.answer, second.answer]).toEqual([expect.stringMatching(/L OK/), expect.stringMatching(/L OK/)]);

    const third = await login(alice);
    expect(third.answer).toMatch(/^L NO \[UNAVAILABLE\] Maximum number of connections from user\+IP exceeded \(proxy\.limits\.maxConnectionsPerUserAddress=2\)\r\n$/m);
    // A wrong password is the server's to answer, as with Dovecot: the limit counts logins only.
    expect(await third.client.command('W', `LOGIN "${alice.user}" "wrong-${alice.password}"`)).toMatch(/^W NO \[AUTHENTICATIONFAILED\]/m);
    // The refused connection answers the next good command: another user logs in on it.
    expect(await third.client.command('B', `LOGIN "${bob.user}" "${bob.password}"`)).toMatch(/B OK/);
    expect(await third.client.command('S', 'SELECT INBOX')).toMatch(/S OK/);

    const entry = (): unknown => proxy.logs().find((line) => line['code'] === 'INLAY_PROXY_TOO_MANY_FOR_USER_ADDRESS');
    await expect.poll(entry).toMatchObject({ user: alice.user, client: '127.0.0.1', limit: 2, cid: expect.any(String) });
    expect(JSON.stringify(proxy.logs())).not.toContain(alice.password);

    // The sessions admitted before still work.
    expect(await first.client.command('N', 'NOOP')).toMatch(/N OK/);
  });

  it('admits the same user from another address, and another user from the same one', async () => {
    expect((await login(alice, '127.0.0.2')).answer).toMatch(/L OK/);
    expect((await login(bob)).answer).toMatch(/L OK/);
  });

  it('admits a new session once one of the user\'s sessions from that address closes', async () => {
    const user = await userWithMail(dovecot, 1);
    const sessions = [await login(user), await login(user)];
    expect((await login(user)).answer).toMatch(/L NO \[UNAVAILABLE\]/);
    expect(await sessions[0]!.client.command('Q', 'LOGOUT')).toMatch(/Q OK/);
    await sessions[0]!.client.waitClosed();
    // The slot is given back when the proxy sees the session end; the client may race it.
    await expect.poll(async () => {
      const attempt = await login(user);
      return attempt.answer.match(/^L (OK|NO)/m)?.[1];
    }, { timeout: 10_000, interval: 200 }).toBe('OK');
  });

  it('counts the address a trusted proxy names in IMAP ID, not the proxy\'s own', async () => {
    const user = await userWithMail(dovecot, 1);
    const from = (ip: string): string => `"name" "webmail" "x-originating-ip" "${ip}"`;
    expect((await login(user, '127.0.0.3', from('198.51.100.7'))).answer).toMatch(/L OK/);
    expect((await login(user, '127.0.0.3', from('198.51.100.7'))).answer).toMatch(/L OK/);
    expect((await login(user, '127.0.0.3', from('198.51.100.7'))).answer).toMatch(/L NO \[UNAVAILABLE\] Maximum number of connections from user\+IP/);
    // Another end user of the same webmail server, and the same user elsewhere, are other pairs.
    expect((await login(user, '127.0.0.3', from('198.51.100.8'))).answer).toMatch(/L OK/);
    const refused = (): unknown[] =>
      proxy.logs().filter((line) => line['code'] === 'INLAY_PROXY_TOO_MANY_FOR_USER_ADDRESS' && line['user'] === user.user).map((line) => [line['remote'], line['client']]);
    await expect.poll(refused).toEqual([['127.0.0.3', '198.51.100.7']]);
    // An untrusted client's x-originating-ip is ignored: it counts as its own address.
    expect((await login(user, '127.0.0.1', from('203.0.113.9'))).answer).toMatch(/L OK/);
    expect((await login(user, '127.0.0.1', from('203.0.113.10'))).answer).toMatch(/L OK/);
    expect((await login(user, '127.0.0.1', from('203.0.113.11'))).answer).toMatch(/L NO \[UNAVAILABLE\]/);
  });
});
