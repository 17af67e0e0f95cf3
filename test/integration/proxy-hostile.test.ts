/**
 * Bad input and limits: every misbehaving client gets BAD or BYE and a log line, and the
 * proxy goes on serving everyone else. Timeouts are shortened through configuration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyInFrontOf, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import type { RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();
let proxy: RunningProxy;
let user: DovecotUser;
/** A client that stays logged in through every test and must keep working. */
let bystander: RawImap;

beforeAll(async () => {
  proxy = await proxyInFrontOf(dovecot, { INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '12' });
  user = await userWithMail(dovecot, 2);
  bystander = await loggedIn();
  expect(await bystander.command('b0', 'SELECT INBOX')).toMatch(/b0 OK/);
});

afterAll(async () => {
  bystander?.close();
  await proxy?.stop();
});

async function loggedIn(port = proxy.port): Promise<RawImap> {
  const client = await RawImap.connect(port);
  await client.greeting();
  expect(await client.command('L', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/L OK/);
  return client;
}

let bystanderTag = 0;
async function bystanderStillServed(): Promise<void> {
  const tag = `b${++bystanderTag}`;
  expect(await bystander.command(tag, 'FETCH 1:* (UID FLAGS)')).toMatch(new RegExp(`${tag} OK`));
}

function codes(): unknown[] {
  return proxy.logs().map((entry) => entry['code']).filter(Boolean);
}

/** Deterministic bytes, so a failure can be replayed. */
function garbage(seed: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

describe('hostile input', () => {
  it('ends an overlong line with BYE, before and after login', async () => {
    for (const client of [await RawImap.connect(proxy.port), await loggedIn()]) {
      client.write(`x1 NOOP ${'A'.repeat(100_000)}`);
      expect(await client.waitFor(/\* BYE \[LIMIT\] Command line too long[^\n]*\n/)).toBeTruthy();
      await client.waitClosed();
    }
    await expect.poll(codes).toContain('INLAY_PROXY_LINE_TOO_LONG');
    await bystanderStillServed();
  });

  it('times out a literal that is announced but never sent, before and after login', async () => {
    const hurried = await proxyInFrontOf(dovecot, {
      INLAY_PROXY_LIMITS_PRE_AUTH_TIMEOUT_MS: '1500',
      INLAY_PROXY_LIMITS_AUTHENTICATED_TIMEOUT_MS: '2500',
    });
    const early = await RawImap.connect(hurried.port);
    await early.greeting();
    early.write('a LOGIN {5}\r\n');
    await early.waitFor(/^\+[^\n]*\n/m);
    await early.waitFor(/\* BYE Timed out waiting for login\r\n/, 5000);
    await early.waitClosed();

    const late = await loggedIn(hurried.port);
    late.write('a APPEND INBOX {100}\r\n');
    await late.waitFor(/^\+[^\n]*\n/m);
    await late.waitFor(/\* BYE Autologout[^\n]*\n/, 8000);
    await late.waitClosed();
    // The same proxy still logs in the next client.
    const next = await loggedIn(hurried.port);
    next.close();
    await expect.poll(() => hurried.logs().map((entry) => entry['code'])).toEqual(expect.arrayContaining(['INLAY_PROXY_PREAUTH_TIMEOUT', 'INLAY_PROXY_IDLE_TIMEOUT']));
    await hurried.stop();
    await bystanderStillServed();
  }, 30_000);

  it('answers binary garbage with BAD and then BYE, and the proxy survives', async () => {
    for (const seed of [1, 2, 3]) {
      const before = await RawImap.connect(proxy.port);
      await before.greeting();
      before.write(Buffer.concat([garbage(seed, 20_000), Buffer.from('\r\n')]));
      await before.waitFor(/(BAD|BYE)[^\n]*\n/);
      await before.waitClosed();

      const after = await loggedIn();
      after.write(Buffer.concat([garbage(seed + 100, 20_000), Buffer.from('\r\n')]));
      await after.waitClosed(15_000);
    }
    await bystanderStillServed();
  }, 60_000);

  it('disconnects after too many bad commands out of 10,000 sent', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `t${i} FROBNICATE ${i}\r\n`).join('');
    const before = await RawImap.connect(proxy.port);
    await before.greeting();
    before.write(lines);
    await before.waitFor(/\* BYE Too many invalid commands\r\n/);
    await before.waitClosed();
    expect(before.text.match(/ BAD /g)?.length ?? 0).toBeLessThan(25);

    const after = await loggedIn();
    after.write(lines);
    await after.waitFor(/\* BYE [^\n]*\n/, 15_000);
    await after.waitClosed();
    await expect.poll(codes).toContain('INLAY_PROXY_TOO_MANY_BAD_COMMANDS');
    await bystanderStillServed();
  }, 60_000);

  it('refuses connections over the total limit with BYE and a coded log line', async () => {
    const small = await proxyInFrontOf(dovecot, { INLAY_PROXY_LIMITS_MAX_CONNECTIONS: '3' });
    const open = await Promise.all([1, 2, 3].map(async () => {
      const client = await RawImap.connect(small.port);
      await client.greeting();
      return client;
    }));
    const refused = await RawImap.connect(small.port);
    expect(await refused.waitFor(/^\* BYE[^\n]*\n/)).toMatch(/\[UNAVAILABLE\] Too many connections, try again later/);
    await refused.waitClosed();
    await expect.poll(() => small.logs().map((entry) => entry['code'])).toContain('INLAY_PROXY_TOO_MANY_CONNECTIONS');
    for (const client of open) client.close();
    await small.stop();
  });

  it('refuses connections over the per-address limit with BYE, and admits again when one closes', async () => {
    const open: RawImap[] = [];
    // The bystander holds one of the 12 slots.
    for (let i = 0; i < 11; i++) {
      const client = await RawImap.connect(proxy.port);
      await client.greeting();
      open.push(client);
    }
    const refused = await RawImap.connect(proxy.port);
    expect(await refused.waitFor(/^\* BYE[^\n]*\n/)).toMatch(/Too many connections from your address/);
    await refused.waitClosed();
    open.pop()!.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const admitted = await RawImap.connect(proxy.port);
    expect(await admitted.greeting()).toMatch(/^\* OK/);
    for (const client of [...open, admitted]) client.close();
    await bystanderStillServed();
  });
});
