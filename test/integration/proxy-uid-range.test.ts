// INBOX UIDs the proxy cannot translate (above 2^28 − 1: × 16 would pass 2^32 − 1), on the real
// Dovecot, whose Maildir is made to hand out UIDs from just below that limit. While they fit,
// the INBOX is translated as always; a session shown it translated that meets a UID past the
// limit ends with a BYE instead of sending a UID no client may be given; a new SELECT, and
// STATUS, then show that INBOX as the server has it, under the server's own UIDVALIDITY.
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyInFrontOf, testDovecot } from '../helpers/fixtures.ts';
import type { RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { ensureMailbox } from '../services/maildir.ts';
import type { DovecotUser } from '../services/dovecot.ts';

const dovecot = testDovecot();
const MAX_SCALABLE = 2 ** 28 - 1;
const SERVER_VALIDITY = 1_800_000_000;
const mail = (n: number): string => `From: a@example.org\r\nSubject: high ${n}\r\nMessage-ID: <high-${n}@example.org>\r\n\r\nBody ${n}\r\n`;

let proxy: RunningProxy;
let user: DovecotUser;

beforeAll(async () => {
  proxy = await proxyInFrontOf(dovecot);
  user = await dovecot.addUser();
  // Dovecot reads the next UID of a new Maildir from its uidlist header: start at 2^28 − 2.
  const inbox = await ensureMailbox(dovecot.info.mailRoot, user.user, 'INBOX', dovecot.info.mailOwner);
  const uidlist = join(inbox, 'dovecot-uidlist');
  await writeFile(uidlist, `3 V${SERVER_VALIDITY} N${MAX_SCALABLE - 1}\n`);
  if (dovecot.info.mailOwner) await chown(uidlist, dovecot.info.mailOwner.uid, dovecot.info.mailOwner.gid);
  await dovecot.appendMessages(user.user, [mail(1)]);
});

afterAll(async () => {
  await proxy?.stop();
});

async function session(): Promise<{ raw: RawImap; send: (text: string) => Promise<string> }> {
  const raw = await RawImap.connect(proxy.port);
  await raw.greeting();
  let tags = 0;
  const send = (text: string): Promise<string> => raw.command(`u${++tags}`, text);
  expect(await send(`LOGIN "${user.user}" "${user.password}"`)).toMatch(/OK/);
  return { raw, send };
}

describe('INBOX UIDs past what the proxy can translate', () => {
  it('are translated while they fit, end a translated session when they stop fitting, then pass untranslated', async () => {
    const first = await session();
    const selected = await first.send('SELECT INBOX');
    expect(selected).toContain(`[UIDVALIDITY ${(SERVER_VALIDITY ^ 0x5a5a5a5a) >>> 0}]`);
    expect(await first.send('FETCH 1 (UID)')).toContain(`* 1 FETCH (UID ${(MAX_SCALABLE - 1) * 16})`);

    // The last UID that fits, and the first that does not.
    await dovecot.appendMessages(user.user, [mail(2), mail(3)]);
    expect(await first.send('NOOP')).toMatch(/\* 3 EXISTS/);
    first.raw.write('u9 FETCH 1:* (UID)\r\n');
    const ended = await first.raw.waitFor(/\* BYE \[UNAVAILABLE\] INBOX UIDs grew past what this server translates[^\n]*\n/);
    expect(ended).not.toMatch(new RegExp(`UID ${MAX_SCALABLE + 1}\\d`)); // never a UID past 2^32 − 1
    await first.raw.waitClosed();

    const second = await session();
    const again = await second.send('SELECT INBOX');
    expect(again).toContain(`[UIDVALIDITY ${SERVER_VALIDITY}]`);
    expect(again).toContain(`[UIDNEXT ${MAX_SCALABLE + 2}]`);
    const uids = [...(await second.send('FETCH 1:* (UID)')).matchAll(/UID (\d+)/g)].map((match) => Number(match[1]));
    expect(uids).toEqual([MAX_SCALABLE - 1, MAX_SCALABLE, MAX_SCALABLE + 1]);
    expect(await second.send('STATUS INBOX (UIDNEXT UIDVALIDITY MESSAGES)')).toContain(`(UIDNEXT ${MAX_SCALABLE + 2} UIDVALIDITY ${SERVER_VALIDITY} MESSAGES 3)`);
    second.raw.close();

    // Logged as a warning twice: the session it ended, and the SELECT that showed the INBOX untranslated.
    await expect.poll(() => proxy.logs().filter((entry) => entry['code'] === 'INLAY_PROXY_INBOX_UIDS_BEYOND_SCALE').map((entry) => entry['level'])).toEqual([40, 40]);
  });
});
