// Item 10 of issue 11, behind Cyrus: extensions the proxy does not handle in an injected INBOX
// must not reach clients. Cyrus 3.6 advertises XMOVE, ANNOTATE-EXPERIMENT-1, CONDSTORE, OBJECTID
// and more; through the proxy only the allowlisted ones show (capabilities.ts), ENABLE of the
// others does nothing, their response codes and data items are kept from the client in INBOX,
// and a command the proxy does not know never reaches an injected INBOX carrying the client's
// numbers (it gets a BAD, and the next command is answered).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cyrusFromInfo } from '../services/cyrus.ts';
import { sampleMessage } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { useImapTap } from '../helpers/imap-invariants-vitest.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import type { MailUser } from '../services/mail-server.ts';

const cyrus = cyrusFromInfo(inject('cyrus'));
const tap = useImapTap();
let stack: InjectionStack;

/** What the proxy may show; kept in step with ALLOWED_* in proxy/src/capabilities.ts. */
const ALLOWED = /^(IMAP4REV1|LITERAL[+-]|SASL-IR|ID|ENABLE|IDLE|UNSELECT|NAMESPACE|LOGIN-REFERRALS|MAILBOX-REFERRALS|CHILDREN|LIST-EXTENDED|SPECIAL-USE|CREATE-SPECIAL-USE|UIDPLUS|MOVE|MULTIAPPEND|I18NLEVEL=1|ACL|LIST-MYRIGHTS|QUOTA|METADATA|METADATA-SERVER|AUTH=.+|RIGHTS=.+|APPENDLIMIT=.+)$/i;

beforeAll(async () => {
  stack = await startInjectionStack({ dovecot: cyrus });
  await stack.runCampaign('Cyrus extension offer');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

function capabilitiesIn(text: string): string[] {
  const untagged = /\* CAPABILITY ([^\r\n]*)/.exec(text)?.[1];
  const code = /\[CAPABILITY ([^\]]*)\]/.exec(text)?.[1];
  return (untagged ?? code ?? '').split(' ').filter(Boolean);
}

async function loggedIn(user: MailUser): Promise<RawImap> {
  const raw = await tap.connect(stack.proxy.port);
  await raw.greeting();
  expect(await raw.command('a', `LOGIN ${user.user} ${user.password}`)).toMatch(/^a OK/m);
  return raw;
}

async function userWithThree(): Promise<MailUser> {
  const user = await cyrus.addUser();
  await cyrus.appendMessages(user.user, [1, 2, 3].map((index) => sampleMessage(index)));
  return user;
}

describe('extensions behind Cyrus', () => {
  it('advertises only allowlisted extensions, where Cyrus itself offers XMOVE, ANNOTATE and CONDSTORE', async () => {
    const user = await cyrus.addUser();
    const direct = await RawImap.connect(cyrus.port);
    await direct.greeting();
    const directCaps = capabilitiesIn(await direct.command('d', `LOGIN ${user.user} ${user.password}`));
    direct.close();
    expect(directCaps).toEqual(expect.arrayContaining(['XMOVE', 'ANNOTATE-EXPERIMENT-1', 'CONDSTORE', 'OBJECTID', 'COMPRESS=DEFLATE']));

    const raw = await tap.connect(stack.proxy.port);
    await raw.greeting();
    const afterLogin = capabilitiesIn(await raw.command('a', `LOGIN ${user.user} ${user.password}`));
    const untagged = capabilitiesIn(await raw.command('c', 'CAPABILITY'));
    for (const list of [afterLogin, untagged]) {
      expect(list).toEqual(expect.arrayContaining(['IMAP4rev1', 'IDLE', 'UIDPLUS', 'MOVE']));
      expect(list.filter((capability) => !ALLOWED.test(capability))).toEqual([]);
      expect(list.filter((capability) => !directCaps.includes(capability))).toEqual([]);
    }
    expect(await raw.command('e', 'ENABLE CONDSTORE QRESYNC X-UNKNOWN')).toMatch(/^\* ENABLED\r\ne OK/);
    raw.close();
  });

  it('refuses UID XMOVE and XMOVE in the injected INBOX, moving nothing, and answers the next command', async () => {
    const user = await userWithThree();
    await cyrus.deliver(user.user, sampleMessage(9), 'Other');
    const raw = await loggedIn(user);
    expect(await raw.command('s', 'SELECT INBOX')).toContain('* 4 EXISTS');
    expect(await raw.command('x1', 'UID XMOVE 16 Other')).toMatch(/^x1 BAD /m);
    expect(await raw.command('x2', 'XMOVE 1 Other')).toMatch(/^x2 BAD /m);
    expect(await raw.command('x3', 'UID SORT (SUBJECT) UTF-8 ALL')).toMatch(/^x3 BAD /m);
    expect(await raw.command('x4', 'THREAD REFERENCES UTF-8 ALL')).toMatch(/^x4 BAD /m);
    expect(await raw.command('n', 'NOOP')).toMatch(/^n OK/m);
    expect(await raw.command('u', 'UID SEARCH ALL')).toMatch(/^\* SEARCH 16 32 48 49\r$/m);
    // Nothing reached Cyrus: Other still holds only its own message.
    expect(await raw.command('st', 'STATUS Other (MESSAGES)')).toMatch(/MESSAGES 1\)/);
    // Outside INBOX the server answers for itself.
    await raw.command('o', 'SELECT Other');
    expect(await raw.command('x5', 'UID SORT (SUBJECT) UTF-8 ALL')).toMatch(/^x5 OK/m);
    await raw.command('z', 'LOGOUT');
    raw.close();
  });

  it('keeps [HIGHESTMODSEQ], [MAILBOXID] and other hidden codes from SELECT INBOX, and refuses SELECT parameters', async () => {
    const user = await userWithThree();
    const raw = await loggedIn(user);
    const selected = await raw.command('s', 'SELECT INBOX');
    expect(selected).toContain('* 4 EXISTS');
    expect(selected).toMatch(/\[UIDVALIDITY \d+\]/);
    expect(selected).not.toMatch(/HIGHESTMODSEQ|MAILBOXID|URLMECH|ANNOTATIONS/);
    expect(await raw.command('c', 'SELECT INBOX (CONDSTORE)')).toMatch(/^c BAD /m);
    expect(await raw.command('f', 'FETCH 1 (ANNOTATION (/comment value))')).toMatch(/^f BAD /m);
    expect(await raw.command('n', 'NOOP')).toMatch(/^n OK/m);
    await raw.command('z', 'LOGOUT');
    raw.close();
  });

  it('keeps MODSEQ from INBOX FETCH responses once Cyrus sends it mid-session', async () => {
    const user = await userWithThree();
    await cyrus.deliver(user.user, sampleMessage(9), 'Other');
    const raw = await loggedIn(user);
    // CONDSTORE enabled by a command outside INBOX, which passes through: from then on Cyrus
    // adds MODSEQ to every FETCH response of the session, INBOX included.
    expect(await raw.command('o', 'SELECT Other (CONDSTORE)')).toMatch(/HIGHESTMODSEQ/);
    const selected = await raw.command('s', 'SELECT INBOX');
    expect(selected).not.toMatch(/MODSEQ/);
    const fetched = await raw.command('f', 'FETCH 1:* (UID FLAGS)');
    expect(fetched).toMatch(/^\* 4 FETCH \(UID 49 FLAGS \(\\Recent\)\)|^\* 4 FETCH \(UID 49 FLAGS \(\)\)/m);
    expect(fetched).not.toMatch(/MODSEQ/);
    const stored = await raw.command('t', 'STORE 1 +FLAGS (\\Flagged)');
    expect(stored).toMatch(/^\* 1 FETCH \(FLAGS \([^)]*\\Flagged[^)]*\)\)\r$/m);
    expect(stored).not.toMatch(/MODSEQ/);
    const body = await raw.command('b', 'FETCH 2 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    expect(body).toMatch(/^\* 2 FETCH \(UID 32 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r$/m);
    expect(body).not.toMatch(/MODSEQ/);
    await raw.command('z', 'LOGOUT');
    raw.close();
  });
});
