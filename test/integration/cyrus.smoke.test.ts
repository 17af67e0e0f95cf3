// Proves the harness's Cyrus is what the proxy tests behind it rely on: a fresh user logs in and
// has an INBOX, appended mail is visible in order, a delivery reaches a session in IDLE, and a
// mailbox deleted and created again under one name works at once (delete_mode: immediate), and
// users created at the same time get mailboxes of their own (mailbox_legacy_dirs).
import { expect, inject, test } from 'vitest';
import { ImapFlow } from 'imapflow';
import { cyrusFromInfo } from '../services/cyrus.ts';
import type { MailUser } from '../services/mail-server.ts';

const cyrus = cyrusFromInfo(inject('cyrus'));

function client(account: MailUser): ImapFlow {
  return new ImapFlow({
    host: cyrus.host, port: cyrus.port, secure: false, doSTARTTLS: false,
    auth: { user: account.user, pass: account.password }, logger: false,
  } as ConstructorParameters<typeof ImapFlow>[0]);
}

function message(subject: string): string {
  return `From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.org>\r\n\r\nBody ${subject}.\r\n`;
}

test('greets as Cyrus IMAP 3.6', () => {
  expect(cyrus.greeting).toMatch(/Cyrus IMAP 3\.6/);
});

test('a new user has an empty INBOX; appended messages appear in order', async () => {
  const account = await cyrus.addUser();
  const imap = client(account);
  await imap.connect();
  try {
    expect((await imap.status('INBOX', { messages: true }) as { messages?: number }).messages).toBe(0);
    await cyrus.appendMessages(account.user, [message('first'), message('second'), message('third')]);
    await imap.mailboxOpen('INBOX');
    const subjects: string[] = [];
    for await (const fetched of imap.fetch('1:*', { envelope: true })) subjects.push(fetched.envelope?.subject ?? '');
    expect(subjects).toEqual(['first', 'second', 'third']);
  } finally {
    await imap.logout();
  }
});

test('a delivery reaches a session in IDLE', async () => {
  const account = await cyrus.addUser();
  const imap = client(account);
  await imap.connect();
  try {
    await imap.mailboxOpen('INBOX');
    const arrived = new Promise<number>((resolve) => imap.on('exists', (event: { count: number }) => resolve(event.count)));
    // Now rather than after imapflow's own idle delay; it ends when the next command is queued.
    void imap.idle().catch(() => undefined);
    await cyrus.deliver(account.user, message('pushed'));
    expect(await arrived).toBe(1);
  } finally {
    await imap.logout();
  }
});

test('a mailbox deleted and created again at once works, and mail goes to other mailboxes', async () => {
  const account = await cyrus.addUser();
  await cyrus.deliver(account.user, message('elsewhere'), 'Other');
  const imap = client(account);
  await imap.connect();
  try {
    expect((await imap.status('Other', { messages: true }) as { messages?: number }).messages).toBe(1);
    await imap.mailboxDelete('Other');
    await imap.mailboxCreate('Other');
    expect((await imap.status('Other', { messages: true }) as { messages?: number }).messages).toBe(0);
  } finally {
    await imap.logout();
  }
});

test('users created at the same time each get an INBOX of their own', async () => {
  // This Cyrus build draws mailbox ids from rand() in each imapd child, so INBOXes created by two
  // children got one id, and with id-named spool folders one mailbox: an account then held
  // another's mail (the differential oracle saw 24 messages where it had appended 8).
  const accounts = await Promise.all(Array.from({ length: 6 }, () => cyrus.addUser()));
  await Promise.all(accounts.map((account, index) => cyrus.appendMessages(account.user, Array.from({ length: index + 1 }, (_, k) => message(`m${index}-${k}`)))));
  const counts: number[] = [];
  for (const account of accounts) {
    const imap = client(account);
    await imap.connect();
    try {
      counts.push((await imap.status('INBOX', { messages: true }) as { messages?: number }).messages ?? -1);
    } finally {
      await imap.logout();
    }
  }
  expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
});
