// Injection end to end, with real clients: the real middleware process (embedded store) decides,
// the real proxy splices the campaign message into the real Dovecot's INBOX. Each client must
// see it as mail; two sessions of one user must agree on its UID and flags; the middleware
// going away must leave mail working, and coming back must resume injection without a
// UIDVALIDITY change. Every session is checked against the IMAP invariants after each test:
// the raw ones through a tap on their socket, the real clients' (all plaintext) through a
// relay to the proxy named after the client. Everything here is server-independent, so the
// whole file runs behind the run's Dovecot and behind its Cyrus.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo } from '../services/dovecot.ts';
import { cyrusFromInfo } from '../services/cyrus.ts';
import type { MailServer } from '../services/mail-server.ts';
import { imapflowThrough, userWithMail } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import type { TappedRelay } from '../helpers/imap-invariants-tap.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';

const run = promisify(execFile);
const servers: [string, MailServer][] = [
  ['Dovecot', dovecotFromInfo(inject('dovecot'))],
  ['Cyrus', cyrusFromInfo(inject('cyrus'))],
];
type RealClient = 'imapflow' | 'imaplib' | 'curl' | 'mbsync';

const tap = useImapTap();
let stack: InjectionStack;
const relays = new Map<RealClient, TappedRelay>();

/** The port a real client connects to: a relay to the proxy whose sessions the tap checks. */
async function portFor(client: RealClient): Promise<number> {
  let relay = relays.get(client);
  if (!relay) {
    relay = await tap.relay(stack.proxy.port, client);
    relays.set(client, relay);
  }
  return relay.port;
}

/** A session speaking raw IMAP, with each answer split into untagged lines and the status word. */
class Session {
  private tags = 0;
  private constructor(private readonly raw: Awaited<ReturnType<typeof tap.connect>>) {}
  static async open(port: number): Promise<Session> {
    const raw = await tap.connect(port);
    await raw.greeting();
    return new Session(raw);
  }
  async command(text: string): Promise<{ status: string; untagged: string[] }> {
    const tag = `t${++this.tags}`;
    const answer = await this.raw.command(tag, text);
    const lines = answer.split('\r\n').filter(Boolean);
    const last = lines.at(-1) ?? '';
    return { status: last.split(' ')[1] ?? '', untagged: lines.filter((line) => line.startsWith('* ')) };
  }
  async logout(): Promise<void> {
    await this.command('LOGOUT');
    this.raw.close();
  }
}

async function subjectsVia(user: { user: string; password: string }): Promise<{ uid: number; subject: string | undefined; seen: boolean }[]> {
  const client = imapflowThrough(await portFor('imapflow'), user);
  await client.connect();
  const lock = await client.getMailboxLock('INBOX');
  try {
    const found = [];
    for await (const message of client.fetch('1:*', { uid: true, envelope: true, flags: true })) {
      found.push({ uid: message.uid, subject: message.envelope?.subject, seen: message.flags?.has('\\Seen') ?? false });
    }
    return found;
  } finally {
    lock.release();
    await client.logout();
  }
}

/** A checked raw session of `user` (two real messages and the campaign) idling in INBOX under tag "c". */
async function idlingInInbox(user: { user: string; password: string }): Promise<Awaited<ReturnType<typeof tap.connect>>> {
  const raw = await tap.connect(stack.proxy.port);
  await raw.greeting();
  await raw.command('a', `LOGIN ${user.user} ${user.password}`);
  expect(await raw.command('b', 'SELECT INBOX')).toContain('* 3 EXISTS'); // two real, the campaign
  raw.write('c IDLE\r\n');
  await raw.waitFor(/^\+ [^\n]*\n/);
  return raw;
}

describe.each(servers)('behind %s', (_name, server) => {
  beforeAll(async () => {
    stack = await startInjectionStack({ dovecot: server });
    await stack.runCampaign('Winter offer');
  }, 60_000);

  afterAll(async () => {
    for (const relay of relays.values()) await relay.close();
    relays.clear();
    await stack?.stop();
  });

  describe('a running campaign, seen by real clients', () => {
    it('imapflow sees the campaign message after the real mail, with a UID above them', async () => {
      const user = await userWithMail(server, 3);
      const messages = await subjectsVia(user);
      expect(messages.map((message) => message.subject)).toEqual(['Message number 1', 'Message number 2', 'Message number 3', `Winter offer for ${user.user}`]);
      expect(messages.map((message) => message.uid)).toEqual([16, 32, 48, 49]);
      // The same UID in the next session: the assignment is durable.
      expect((await subjectsVia(user)).at(-1)?.uid).toBe(49);
    });

    it("Python's imaplib searches and fetches it", async () => {
      const user = await userWithMail(server, 2);
      const script = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.select('INBOX')
print(data[0].decode())
typ, data = m.uid('SEARCH', None, 'ALL')
print(data[0].decode())
typ, data = m.uid('FETCH', data[0].split()[-1], '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print(data[0][1].decode().strip())
m.logout()
`;
      const { stdout } = await run('python3', ['-c', script, String(await portFor('imaplib')), user.user, user.password]);
      expect(stdout.trim().split('\n')).toEqual(['3', '16 32 33', `Subject: Winter offer for ${user.user}`]);
    });

    it('curl fetches it by its UID', async () => {
      const user = await userWithMail(server, 1);
      await subjectsVia(user); // first login injects
      const { stdout } = await run('curl', ['-sS', '--max-time', '20', '--user', `${user.user}:${user.password}`, `imap://127.0.0.1:${await portFor('curl')}/INBOX;UID=17`]);
      expect(stdout).toContain(`Subject: Winter offer for ${user.user}`);
      expect(stdout).toContain('Winter offer, just for you.');
    });

    it('two sessions of one user share UID and flags; \\Seen set in one reaches the other at NOOP', async () => {
      const user = await userWithMail(server, 2);
      const first = await Session.open(stack.proxy.port);
      const second = await Session.open(stack.proxy.port);
      for (const session of [first, second]) {
        await session.command(`LOGIN ${user.user} ${user.password}`);
        await session.command('SELECT INBOX');
      }
      const uidsOf = async (session: Session): Promise<string> => (await session.command('UID SEARCH ALL')).untagged.join(' ');
      expect(await uidsOf(first)).toBe('* SEARCH 16 32 33');
      expect(await uidsOf(second)).toBe('* SEARCH 16 32 33');
      await first.command('UID STORE 33 +FLAGS (\\Seen)');
      const noop = await second.command('NOOP');
      expect(noop.untagged).toContain('* 3 FETCH (FLAGS (\\Seen))');
      await first.logout();
      await second.logout();
    });

    it('\\Seen set, then cleared, in one session reaches the other while it idles, unasked', async () => {
      const user = await userWithMail(server, 2);
      const first = await Session.open(stack.proxy.port);
      await first.command(`LOGIN ${user.user} ${user.password}`);
      await first.command('SELECT INBOX');
      const idler = await idlingInInbox(user);
      // The campaign message's flags live in the middleware, so Dovecot's IDLE cannot tell; the
      // proxy asks for the view every idleRefreshMs (1 s here, with viewCacheMs 0). The update must
      // be all the idler receives, besides Dovecot's keepalive (imap_idle_notify_interval): no end
      // to its IDLE, nothing it would have had to ask for.
      const keepalives = /^(\* OK Still here\r\n)*/;
      expect((await first.command('UID STORE 33 +FLAGS (\\Seen)')).status).toBe('OK');
      expect((await idler.waitFor(/\* 3 FETCH [^\n]*\n/, 15_000)).replace(keepalives, '')).toBe('* 3 FETCH (FLAGS (\\Seen))\r\n');
      expect((await first.command('UID STORE 33 -FLAGS (\\Seen)')).status).toBe('OK');
      expect((await idler.waitFor(/\* 3 FETCH [^\n]*\n/, 15_000)).replace(keepalives, '')).toBe('* 3 FETCH (FLAGS ())\r\n');
      idler.write('DONE\r\n');
      expect(await idler.waitFor(/^c [^\n]*\n/m)).toMatch(/^c OK/m);
      await idler.command('d', 'LOGOUT');
      idler.close();
      await first.logout();
    });
  });

  describe('new mail while a client idles', () => {
    it('is announced in one EXISTS, the proxy idling on for the client until its DONE', async () => {
      const user = await userWithMail(server, 2);
      const raw = await idlingInInbox(user);
      await server.deliver(user.user, 'From: a@example.org\r\nSubject: while idling\r\n\r\nnew\r\n');
      // The proxy ends the upstream IDLE to learn the new UID, then idles again: the client sees
      // the mail, and neither the server's answer to that DONE nor its second "+".
      expect(await raw.waitFor(/\* 4 EXISTS\r\n/)).not.toMatch(/^c |\+ /m);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Only RECENT, or Dovecot's keep-alive if its interval happens to end now.
      expect(raw.text).toMatch(/^(\* \d+ RECENT\r\n|\* OK Still here\r\n)*$/);
      raw.write('DONE\r\n');
      expect(await raw.waitFor(/^c [^\n]*\n/m)).toMatch(/^c OK/m);
      expect(await raw.command('d', 'UID SEARCH ALL')).toContain('* SEARCH 16 32 33 48');

      // A DONE sent right after new mail, which may cross the proxy's own DONE: the client's IDLE
      // still ends once, with its own tag, and the mail is there.
      raw.write('e IDLE\r\n');
      await raw.waitFor(/^\+ [^\n]*\n/);
      await server.deliver(user.user, 'From: a@example.org\r\nSubject: racing DONE\r\n\r\nnew\r\n');
      raw.write('DONE\r\n');
      const ended = await raw.waitFor(/^e [^\n]*\n/m);
      expect(ended).toMatch(/^e OK/m);
      expect(ended).not.toMatch(/BAD/);
      await raw.command('f', 'NOOP');
      expect(await raw.command('h', 'UID SEARCH ALL')).toContain('* SEARCH 16 32 33 48 64');
      expect(stack.proxy.logs().filter((entry) => Number(entry['level']) >= 50)).toEqual([]);
      await raw.command('g', 'LOGOUT');
      raw.close();
    });
  });

  /** Waits until the proxy has logged a line with this code (its log reaches us a little later). */
  async function loggedCode(code: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!stack.proxy.logs().some((line) => line['code'] === code)) {
      if (Date.now() > deadline) throw new Error(`the proxy never logged ${code}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  describe('the campaign side failing', () => {
    it('mail keeps working while the middleware is down; injection resumes after, under the same UIDVALIDITY', async () => {
      const user = await userWithMail(server, 2);
      const session = await Session.open(stack.proxy.port);
      await session.command(`LOGIN ${user.user} ${user.password}`);
      const before = await session.command('SELECT INBOX');
      const validity = before.untagged.find((line) => line.includes('UIDVALIDITY'));
      expect(before.untagged).toContain('* 3 EXISTS');

      await stack.stopMiddleware();
      await server.deliver(user.user, 'From: a@example.org\r\nSubject: during the outage\r\n\r\nstill delivered\r\n');
      const during = await session.command('NOOP');
      expect(during.status).toBe('OK');
      expect(during.untagged).toContain('* 4 EXISTS');
      const fetched = await session.command('FETCH 4 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
      expect(fetched.untagged.join('\n')).toContain('UID 48');
      // A new login while the middleware is down works too.
      const other = await Session.open(stack.proxy.port);
      expect((await other.command(`LOGIN ${user.user} ${user.password}`)).status).toBe('OK');
      expect((await other.command('SELECT INBOX')).status).toBe('OK');
      await other.logout();

      // Calls that got no answer suspended further ones (300 ms in this stack), so the outage cost
      // the commands above nothing; after it the first call probes and injection resumes.
      await loggedCode('INLAY_PROXY_ENGINE_UNAVAILABLE');
      await loggedCode('INLAY_PROXY_ENGINE_SUSPENDED');
      await stack.restartMiddleware();
      await new Promise((resolve) => setTimeout(resolve, 400)); // past the suspension, however fast the restart
      const after = await session.command('SELECT INBOX');
      expect(after.untagged.find((line) => line.includes('UIDVALIDITY'))).toBe(validity);
      // The other session saw UID 48 without the campaign message (33): shown again it would come
      // back below mail a client has seen since, so this node no longer places it (proxy/README.md,
      // "When the middleware fails"). Three real messages.
      expect(after.untagged).toContain('* 3 EXISTS');
      await loggedCode('INLAY_PROXY_ENGINE_RESUMED');
      await session.logout();
    });
  });

  describe('mbsync', () => {
    it('syncs the campaign message into the Maildir, and removes it after the campaign ends', async () => {
      const user = await userWithMail(server, 2);
      const dir = await mkdtemp(join(tmpdir(), 'inlay-mbsync-'));
      const config = join(dir, 'mbsyncrc');
      await writeFile(
        config,
        [
          'IMAPAccount proxy',
          'Host 127.0.0.1',
          `Port ${await portFor('mbsync')}`,
          `User ${user.user}`,
          `Pass ${user.password}`,
          'SSLType None',
          'AuthMechs LOGIN',
          '',
          'IMAPStore remote',
          'Account proxy',
          '',
          'MaildirStore local',
          `Path ${dir}/mail/`,
          `Inbox ${dir}/mail/INBOX`,
          '',
          'Channel sync',
          'Far :remote:',
          'Near :local:',
          'Patterns INBOX',
          'Create Near',
          'Expunge Near',
          'Sync Pull',
          `SyncState ${dir}/state/`,
          '',
        ].join('\n'),
      );
      await run('mkdir', ['-p', `${dir}/state`, `${dir}/mail`]);
      const subjects = async (): Promise<string[]> => {
        const found: string[] = [];
        for (const sub of ['cur', 'new']) {
          for (const file of await readdir(join(dir, 'mail/INBOX', sub)).catch(() => [])) {
            const text = await readFile(join(dir, 'mail/INBOX', sub, file), 'latin1');
            found.push(/^Subject: (.*)$/m.exec(text)?.[1] ?? '?');
          }
        }
        return found.sort();
      };
      const campaign = await stack.runCampaign('Mbsync special');
      await run('mbsync', ['-c', config, '-a']);
      expect(await subjects()).toEqual(['Mbsync special for ' + user.user, 'Message number 1', 'Message number 2', `Winter offer for ${user.user}`].sort());
      await stack.endCampaign(campaign);
      await run('mbsync', ['-c', config, '-a']);
      expect(await subjects()).toEqual(['Message number 1', 'Message number 2', `Winter offer for ${user.user}`].sort());
    });
  });
});
