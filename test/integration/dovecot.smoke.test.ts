// Proves the harness's Dovecot is what the proxy tests rely on: logins over
// plain, STARTTLS and implicit TLS with real certificate checks, bulk-loaded
// mail visible by IMAP, deliveries pushed to IDLE, and a trusted proxy's
// client address honoured.
import { expect, inject, test } from 'vitest';
import { readFile } from 'node:fs/promises';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { dovecotFromInfo, type DovecotUser } from '../services/dovecot.ts';

const dovecot = dovecotFromInfo(inject('dovecot'));
const ca = await readFile(dovecot.caFile, 'utf8');

type Transport = 'plain' | 'starttls' | 'implicit-tls';

// imapflow reads `doSTARTTLS` but leaves it out of its published types.
function imapClient(account: DovecotUser, transport: Transport, tls: { ca?: string } = { ca }): ImapFlow {
  const base = { host: dovecot.host, auth: { user: account.user, pass: account.password }, logger: false as const, tls };
  switch (transport) {
    case 'plain':
      return new ImapFlow({ ...base, port: dovecot.port, secure: false, doSTARTTLS: false } as ImapFlowOptions);
    case 'starttls':
      return new ImapFlow({ ...base, port: dovecot.port, secure: false, doSTARTTLS: true } as ImapFlowOptions);
    case 'implicit-tls':
      return new ImapFlow({ ...base, port: dovecot.tlsPort, secure: true });
  }
}

test.each<[Transport, boolean]>([
  ['plain', false],
  ['starttls', true],
  ['implicit-tls', true],
])('logs in over %s', async (transport, encrypted) => {
  const account = await dovecot.addUser();
  const client = imapClient(account, transport);
  await client.connect();
  expect(client.authenticated).toBeTruthy();
  expect(client.secureConnection).toBe(encrypted);
  await client.logout();
});

test('refuses the TLS handshake when the client does not trust the test CA', async () => {
  const account = await dovecot.addUser();
  const client = imapClient(account, 'implicit-tls', {});
  await expect(client.connect()).rejects.toThrow(/certificate/i);
  client.close();
});

test('bulk-loaded messages appear in the mailbox in order', async () => {
  const account = await dovecot.addUser();
  const subjects = ['first', 'second', 'third'];
  await dovecot.appendMessages(
    account.user,
    subjects.map((subject) => `From: a@example.test\r\nSubject: ${subject}\r\n\r\nBody of ${subject}\r\n`),
  );
  const client = imapClient(account, 'plain');
  await client.connect();
  const status = await client.status('INBOX', { messages: true, unseen: true });
  expect(status).toMatchObject({ messages: 3, unseen: 3 });

  const lock = await client.getMailboxLock('INBOX');
  try {
    const seen: string[] = [];
    for await (const message of client.fetch('1:*', { envelope: true })) seen.push(message.envelope?.subject ?? '');
    expect(seen).toEqual(subjects);
  } finally {
    lock.release();
  }
  await client.logout();
});

test('a delivery reaches a client that is IDLE-ing on INBOX', async () => {
  const account = await dovecot.addUser();
  const client = imapClient(account, 'plain');
  await client.connect();
  const lock = await client.getMailboxLock('INBOX');
  try {
    const newMail = new Promise<number>((resolve) => client.on('exists', (update) => resolve(update.count)));
    const idling = client.idle();
    await expect.poll(() => client.idling).toBe(true);

    await dovecot.deliver(account.user, 'From: a@example.test\r\nSubject: pushed\r\n\r\nHello\r\n');
    expect(await newMail).toBe(1);
    await Promise.all([idling, client.noop()]);
  } finally {
    lock.release();
  }
  await client.logout();
});

test('honours x-originating-ip from a loopback proxy and logs it as rip=', async () => {
  const account = await dovecot.addUser();
  // 203.0.113.0/24 is a documentation range: a label here, never contacted.
  const client = imapClient(account, 'plain');
  client.clientInfo = { ...client.clientInfo, 'x-originating-ip': '203.0.113.7' } as typeof client.clientInfo;
  await client.connect();
  await client.logout();
  await expect
    .poll(async () => (await dovecot.readLog()).includes(`user=<${account.user}>, method=PLAIN, rip=203.0.113.7`))
    .toBe(true);
});
