/**
 * Real mail clients through the proxy against the real Dovecot: imapflow, Python's imaplib,
 * mbsync and curl; imapflow, imaplib and curl behind Cyrus too (plain IMAP: the test Cyrus has no
 * TLS). The proxy is transparent here: what a client gets through it must be what it gets
 * directly.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { caOf, imapflowThrough, proxyInFrontOf, sampleMessage, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { startProxy, type RunningProxy } from '../helpers/proxy.ts';
import type { DovecotUser } from '../services/dovecot.ts';
import { cyrusFromInfo } from '../services/cyrus.ts';
import type { MailServer, MailUser } from '../services/mail-server.ts';

const run = promisify(execFile);
const dovecot = testDovecot();
const cyrus = cyrusFromInfo(inject('cyrus'));
let proxy: RunningProxy;
let user: DovecotUser;
let cyrusProxy: RunningProxy;
let cyrusUser: MailUser;
const scratch: string[] = [];

beforeAll(async () => {
  [proxy, cyrusProxy] = await Promise.all([
    proxyInFrontOf(dovecot),
    startProxy({ env: { INLAY_UPSTREAM: `imap://${cyrus.host}:${cyrus.port}` } }),
  ]);
  [user, cyrusUser] = await Promise.all([userWithMail(dovecot, 5), userWithMail(cyrus, 5)]);
});

afterAll(async () => {
  await proxy?.stop();
  await cyrusProxy?.stop();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** imapflow directly and through the proxy: the same messages and mailboxes, INBOX UIDs × 16. */
async function imapflowMatchesDirect(server: MailServer, proxyPort: number, account: MailUser): Promise<void> {
  const direct = imapflowThrough(server.port, account);
  const proxied = imapflowThrough(proxyPort, account);
  await Promise.all([direct.connect(), proxied.connect()]);
  const read = async (client: typeof direct) => {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const messages = [];
      for await (const message of client.fetch('1:*', { uid: true, envelope: true, flags: true, bodyStructure: true, source: true, internalDate: true })) {
        messages.push({
          uid: message.uid,
          subject: message.envelope?.subject,
          // \Recent goes to whichever session saw the message first.
          flags: [...(message.flags ?? [])].filter((flag) => flag !== '\\Recent'),
          source: message.source?.toString('latin1'),
          date: String(message.internalDate),
        });
      }
      return { messages, list: (await client.list()).map((box) => box.path).sort() };
    } finally {
      lock.release();
    }
  };
  const [viaDirect, viaProxy] = await Promise.all([read(direct), read(proxied)]);
  expect(viaProxy.messages).toHaveLength(5);
  // INBOX UIDs through the proxy are the server's × 16 (proxy/README.md): room for virtual messages.
  expect(viaProxy).toEqual({ ...viaDirect, messages: viaDirect.messages.map((message) => ({ ...message, uid: message.uid * 16 })) });
  await Promise.all([direct.logout(), proxied.logout()]);
}

async function imaplibSearchesAndFetches(proxyPort: number, account: MailUser): Promise<void> {
  const script = `
import imaplib, json, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, count = m.select('INBOX')
typ, found = m.search(None, 'SUBJECT', '"number 3"')
typ, data = m.fetch(found[0].split()[0], '(RFC822)')
m.logout()
print(json.dumps({'count': int(count[0]), 'found': found[0].decode(), 'message': data[0][1].decode('latin1')}))
`;
  const { stdout } = await run('python3', ['-c', script, String(proxyPort), account.user, account.password]);
  const result = JSON.parse(stdout) as { count: number; found: string; message: string };
  expect(result).toEqual({ count: 5, found: '3', message: sampleMessage(3) });
}

async function curlFetchesByUid(proxyPort: number, account: MailUser): Promise<void> {
  // Server UID 2 is client UID 32 through the proxy.
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', '--user', `${account.user}:${account.password}`, `imap://127.0.0.1:${proxyPort}/INBOX;UID=32`]);
  expect(stdout).toBe(sampleMessage(2));
}

describe('real clients through the proxy, behind Cyrus', () => {
  it('imapflow lists, selects and fetches the same as directly, INBOX UIDs scaled by 16', () => imapflowMatchesDirect(cyrus, cyrusProxy.port, cyrusUser));
  it("Python's imaplib logs in, searches and fetches", () => imaplibSearchesAndFetches(cyrusProxy.port, cyrusUser));
  it('curl fetches a message by UID over IMAP', () => curlFetchesByUid(cyrusProxy.port, cyrusUser));
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-client-'));
  scratch.push(dir);
  return dir;
}

describe('real clients through the proxy', () => {
  it('imapflow lists, selects and fetches the same as directly, INBOX UIDs scaled by 16', () => imapflowMatchesDirect(dovecot, proxy.port, user));

  it('imapflow over STARTTLS to the proxy, certificate verified', async () => {
    const client = imapflowThrough(proxy.port, user, { doSTARTTLS: true, tls: { ca: caOf(dovecot), servername: 'localhost' } });
    await client.connect();
    expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 5 });
    await client.logout();
  });

  it("Python's imaplib logs in, searches and fetches", () => imaplibSearchesAndFetches(proxy.port, user));

  it('curl fetches a message by UID over IMAP', () => curlFetchesByUid(proxy.port, user));

  it('mbsync syncs 1,000 messages into a Maildir byte-identical to a direct sync', async () => {
    const big = await dovecot.addUser();
    await dovecot.appendMessages(big.user, Array.from({ length: 1000 }, (_, i) => sampleMessage(i + 1, ` ${'x'.repeat(i % 300)}\r\nline two ${i}`)));
    const sync = async (port: number): Promise<Map<string, number>> => {
      const dir = await scratchDir();
      const config = join(dir, 'mbsyncrc');
      await writeFile(
        config,
        [
          'IMAPAccount remote',
          // mbsync checks the certificate against the host name only, never an IP address.
          'Host localhost',
          `Port ${port}`,
          `User ${big.user}`,
          `Pass ${big.password}`,
          'SSLType STARTTLS',
          `CertificateFile ${dovecot.caFile}`,
          'AuthMechs LOGIN',
          '',
          'IMAPStore remote',
          'Account remote',
          '',
          'MaildirStore local',
          `Path ${dir}/mail/`,
          `Inbox ${dir}/mail/INBOX`,
          '',
          'Channel inbox',
          'Far :remote:',
          'Near :local:',
          'Patterns INBOX',
          'Sync Pull',
          'Create Near',
          `SyncState ${dir}/state/`,
          '',
        ].join('\n'),
      );
      await run('mkdir', ['-p', `${dir}/state`, `${dir}/mail`]);
      await run('mbsync', ['-c', config, '-q', 'inbox'], { maxBuffer: 10_000_000 });
      return contentHashes(join(dir, 'mail', 'INBOX'));
    };
    const [direct, proxied] = await Promise.all([sync(dovecot.port), sync(proxy.port)]);
    expect([...direct.values()].reduce((a, b) => a + b, 0)).toBe(1000);
    expect(proxied).toEqual(direct);
  });
});

/**
 * Content hash → how many files hold it, over cur/ and new/ (file names carry UIDs and flags).
 * mbsync writes a random X-TUID tracking header into every message it pulls, different on
 * every run; that one line is left out, every other byte counts.
 */
async function contentHashes(maildir: string): Promise<Map<string, number>> {
  const hashes = new Map<string, number>();
  for (const sub of ['cur', 'new']) {
    for (const name of await readdir(join(maildir, sub))) {
      const content = (await readFile(join(maildir, sub, name), 'latin1')).replace(/^X-TUID: [^\n]*\n/m, '');
      const hash = createHash('sha256').update(content, 'latin1').digest('hex');
      hashes.set(hash, (hashes.get(hash) ?? 0) + 1);
    }
  }
  return new Map([...hashes].sort());
}
