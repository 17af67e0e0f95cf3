// Events name where the client really is (issue 12, §2): behind a trusted proxy the address it
// forwards in IMAP ID (x-originating-ip), the client's IMAP ID name and version, and the proxy
// node; from an untrusted client a forwarded address is ignored. Real proxy, real middleware
// (embedded store), real Dovecot; the client is Python's imaplib sending ID before login.
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo, type DovecotClient } from '../services/dovecot.ts';
import { userWithMail } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';

const run = promisify(execFile);
const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));

/** Logs in after sending ID with `fields`, selects INBOX (injected) and reads the campaign message. */
const CLIENT = `
import imaplib, sys
imaplib.Commands['ID'] = ('NONAUTH', 'AUTH', 'SELECTED')
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m._simple_command('ID', sys.argv[4])
m.login(sys.argv[2], sys.argv[3])
m.select('INBOX')
typ, data = m.uid('SEARCH', None, 'SUBJECT', '"Origin check"')
m.uid('FETCH', data[0].split()[-1], '(BODY[])')
m.logout()
`;

async function eventsOf(stack: InjectionStack, user: string): Promise<{ type: string; node?: string; clientAddress?: string; clientName?: string; clientVersion?: string }[]> {
  const response = await stack.api(`/api/tenants/default/events?user=${encodeURIComponent(user)}`);
  return ((await response.json()) as { events: [] }).events;
}

describe('event origin', () => {
  let trusted: InjectionStack;
  let untrusted: InjectionStack;
  beforeAll(async () => {
    trusted = await startInjectionStack({ dovecot, proxyEnv: { INLAY_PROXY_TRUSTED_NETWORKS: '127.0.0.0/8' } });
    await trusted.runCampaign('Origin check');
    untrusted = await startInjectionStack({ dovecot });
    await untrusted.runCampaign('Origin check');
  }, 90_000);
  afterAll(async () => {
    await trusted?.stop();
    await untrusted?.stop();
  });

  it('behind a trusted proxy, events carry the forwarded client address, the IMAP ID name and version, and the node', async () => {
    const user = await userWithMail(dovecot, 1);
    await run('python3', ['-c', CLIENT, String(trusted.proxy.port), user.user, user.password, '("name" "Thunderbird" "version" "128.3" "x-originating-ip" "203.0.113.9")']);
    const events = await eventsOf(trusted, user.user);
    expect(events.map((event) => event.type)).toEqual(['read', 'injected']);
    for (const event of events) expect(event).toMatchObject({ clientAddress: '203.0.113.9', clientName: 'Thunderbird', clientVersion: '128.3', node: hostname() });
  }, 60_000);

  it('from a client that is not trusted, a forwarded address is ignored: the connecting one is recorded', async () => {
    const user = await userWithMail(dovecot, 1);
    await run('python3', ['-c', CLIENT, String(untrusted.proxy.port), user.user, user.password, '("name" "Mallory" "x-originating-ip" "203.0.113.9")']);
    const events = await eventsOf(untrusted, user.user);
    expect(events.map((event) => event.type)).toEqual(['read', 'injected']);
    for (const event of events) {
      expect(event.clientAddress).toBe('127.0.0.1');
      expect(event.clientName).toBe('Mallory');
      expect(event.clientVersion).toBeUndefined();
    }
  }, 60_000);
});
