// Writes mail straight into a Dovecot user's Maildir, bypassing IMAP, so tests
// can load thousands of messages in milliseconds. Must never write a file
// Dovecot cannot read or rename: when the harness runs as root, everything it
// creates is handed to the unprivileged mail user.
import { chown, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';

export interface MailOwner {
  uid: number;
  gid: number;
}

// Dovecot's default Maildir++ layout: INBOX is the Maildir itself, other
// mailboxes are ".Name" directories with "." as the hierarchy separator.
const simpleMailboxName = /^[A-Za-z0-9 _-]+(\.[A-Za-z0-9 _-]+)*$/;

function mailboxDir(maildir: string, mailbox: string): string {
  if (mailbox.toUpperCase() === 'INBOX') return maildir;
  if (!simpleMailboxName.test(mailbox)) {
    throw new Error(`mailbox "${mailbox}" needs modified UTF-7 or another separator; use IMAP for it`);
  }
  return join(maildir, `.${mailbox}`);
}

async function makeOwnedDir(path: string, owner: MailOwner | null): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** Creates the user's Maildir and the mailbox's cur/new/tmp as needed. */
export async function ensureMailbox(
  mailRoot: string,
  user: string,
  mailbox: string,
  owner: MailOwner | null,
): Promise<string> {
  const home = join(mailRoot, user);
  const maildir = join(home, 'Maildir');
  const boxDir = mailboxDir(maildir, mailbox);
  for (const dir of [home, maildir, boxDir]) await makeOwnedDir(dir, owner);
  if (boxDir !== maildir) {
    // Dovecot lists a .Name directory as a mailbox only with this marker.
    const marker = join(boxDir, 'maildirfolder');
    await writeFile(marker, '', { flag: 'a' });
    if (owner) await chown(marker, owner.uid, owner.gid);
  }
  for (const sub of ['cur', 'new', 'tmp']) await makeOwnedDir(join(boxDir, sub), owner);
  return boxDir;
}

// Dovecot gives new files UIDs in the order of their names' time stamps (then
// the rest of the name). Each name gets a strictly increasing microsecond
// stamp, zero-padded, so "sorted by name" is "in the order appended".
let lastStampMicros = 0;
let deliveryCounter = 0;
const host = hostname().replace(/[/:]/g, '_');

export function nextMaildirName(size: number): string {
  lastStampMicros = Math.max(Date.now() * 1000, lastStampMicros + 1);
  const seconds = Math.floor(lastStampMicros / 1_000_000);
  const micros = String(lastStampMicros % 1_000_000).padStart(6, '0');
  deliveryCounter += 1;
  return `${seconds}.M${micros}P${process.pid}Q${deliveryCounter}.${host},S=${size}`;
}

async function writeOwned(path: string, body: Buffer, owner: MailOwner | null): Promise<void> {
  await writeFile(path, body, { mode: 0o600 });
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** Bulk load: files go straight into cur/ as already-delivered, unread mail. */
export async function appendToMaildir(
  boxDir: string,
  messages: readonly (string | Buffer)[],
  owner: MailOwner | null,
): Promise<void> {
  for (const message of messages) {
    const body = Buffer.from(message);
    // Write under tmp/ and rename, as Maildir requires, so a concurrent sync
    // never sees a half-written message.
    const name = nextMaildirName(body.length);
    const tmpPath = join(boxDir, 'tmp', name);
    await writeOwned(tmpPath, body, owner);
    await rename(tmpPath, join(boxDir, 'cur', `${name}:2,`));
  }
}

/**
 * A real delivery as a local delivery agent does it: tmp/ then rename into
 * new/. Dovecot watches new/ with inotify, so an IDLE-ing client hears of it.
 */
export async function deliverToMaildir(
  boxDir: string,
  message: string | Buffer,
  owner: MailOwner | null,
): Promise<void> {
  const body = Buffer.from(message);
  const name = nextMaildirName(body.length);
  const tmpPath = join(boxDir, 'tmp', name);
  await writeOwned(tmpPath, body, owner);
  await rename(tmpPath, join(boxDir, 'new', name));
}
