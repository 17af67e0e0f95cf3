// Mailbox names decide by their parsed, decoded value (issue 11 item 4): through the proxy, with
// injection on and a campaign live, APPENDUID and COPYUID for mailboxes whose names merely
// contain "inbox" equal what Dovecot says directly, and INBOX named as a literal (synchronising
// or not) gets the view, with the same translated UIDVALIDITY as INBOX named plainly.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { RawImap } from '../helpers/raw-imap.ts';

const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));
const mail = (n: number): string => `From: a@example.org\r\nSubject: names ${n}\r\nMessage-ID: <names-${n}@example.org>\r\n\r\nBody ${n}\r\n`;
/**
 * Names that contain "inbox" but are not INBOX; the test Dovecot's separator is ".", so
 * "INBOX.sub" is a child of INBOX and "inbox/sub" an invalid name (tested apart).
 */
const LOOKALIKES = ['inbox archive', 'Old inbox', 'My inbox', 'INBOX.sub', '&AOQ-inbox', 'inboxes'];

let stack: InjectionStack;
let user: DovecotUser;
let direct: Session;

beforeAll(async () => {
  stack = await startInjectionStack({ dovecot });
  user = await dovecot.addUser();
  await dovecot.appendMessages(user.user, [mail(1), mail(2), mail(3)]);
  await dovecot.appendMessages(user.user, [mail(11), mail(12), mail(13), mail(14), mail(15), mail(16)], 'Other');
  await stack.runCampaign('Names offer');
  direct = await session(dovecot.port);
  for (const name of LOOKALIKES) expect(await direct.send(`CREATE ${quoted(name)}`)).toMatch(/ OK /);
}, 60_000);

afterAll(async () => {
  direct?.close();
  await stack?.stop();
});

interface Session {
  /** A command of plain text; returns everything up to its tagged answer. */
  send(text: string): Promise<string>;
  /** A command whose parts alternate text and literal; `sync` literals wait for "+". */
  sendWithLiterals(parts: readonly string[], sync: boolean): Promise<string>;
  close(): void;
}

async function session(port: number): Promise<Session> {
  const raw = await RawImap.connect(port);
  await raw.greeting();
  let tags = 0;
  const send = (text: string): Promise<string> => raw.command(`n${++tags}`, text);
  const sendWithLiterals = async (parts: readonly string[], sync: boolean): Promise<string> => {
    const tag = `n${++tags}`;
    let line = `${tag} `;
    for (let index = 0; index < parts.length; index++) {
      const part = parts[index]!;
      if (index % 2 === 0) {
        line += part;
        continue;
      }
      raw.write(`${line}{${Buffer.byteLength(part)}${sync ? '' : '+'}}\r\n`);
      if (sync) {
        // A server that refuses the command at once answers instead of "+".
        const answer = await raw.waitFor(new RegExp(`^\\+ [^\\n]*\\n|(^|\\n)${tag} (OK|NO|BAD)[^\\n]*\\n`, 'm'));
        if (!answer.startsWith('+')) return answer;
      }
      line = part;
    }
    raw.write(`${line}\r\n`);
    return raw.waitFor(new RegExp(`(^|\\n)${tag} (OK|NO|BAD)[^\\n]*\\n`));
  };
  expect(await send(`LOGIN "${user.user}" "${user.password}"`)).toMatch(/ OK /);
  return { send, sendWithLiterals, close: () => raw.close() };
}

/** An answer without its tag and Dovecot's timing, to compare proxied with direct. */
function withoutTiming(answer: string): string {
  return answer.replace(/^n\d+ /gm, '').replace(/ \([0-9.+ ]+ secs\)/, '');
}

function quoted(name: string): string {
  return `"${name.replace(/(["\\])/g, '\\$1')}"`;
}

/** Dovecot's own UIDVALIDITY and UIDNEXT of a mailbox, asked directly. */
async function directStatus(name: string): Promise<{ validity: number; next: number }> {
  const answer = await direct.send(`STATUS ${quoted(name)} (UIDVALIDITY UIDNEXT)`);
  return { validity: Number(/UIDVALIDITY (\d+)/.exec(answer)![1]), next: Number(/UIDNEXT (\d+)/.exec(answer)![1]) };
}

function appendUid(answer: string): string {
  return /\[APPENDUID (\d+ \d+)\]/.exec(answer)?.[1] ?? `no APPENDUID in ${answer}`;
}

/** Every COPYUID of an answer (MOVE's comes untagged, COPY's tagged), as "validity source target". */
function copyUids(answer: string): string[] {
  return [...answer.matchAll(/\[COPYUID (\d+ [0-9:,]+ [0-9:,]+)\]/g)].map((match) => match[1]!);
}

/** Dovecot's UID of message `seq` in `mailbox`, asked directly. */
async function directUid(mailbox: string, seq: number): Promise<number> {
  await direct.send(`EXAMINE ${quoted(mailbox)}`);
  const uid = Number(/UID (\d+)/.exec(await direct.send(`FETCH ${seq} (UID)`))![1]);
  await direct.send('CLOSE');
  return uid;
}

/** Each way a client may write a mailbox name: as parts of a command (text, literal, text, …). */
const FORMS: readonly { label: string; parts: (before: string, name: string, after: string) => string[]; sync: boolean }[] = [
  { label: 'quoted', parts: (before, name, after) => [`${before}${quoted(name)}${after}`], sync: false },
  { label: 'literal+', parts: (before, name, after) => [before, name, after], sync: false },
  { label: 'synchronising literal', parts: (before, name, after) => [before, name, after], sync: true },
];

describe('APPENDUID and COPYUID for names that contain "inbox"', () => {
  it('APPEND to them answers exactly what Dovecot would', async () => {
    const proxied = await session(stack.proxy.port);
    const message = mail(100);
    for (const name of LOOKALIKES) {
      for (const form of FORMS) {
        const before = await directStatus(name);
        const answer = await proxied.sendWithLiterals([...form.parts('APPEND ', name, ' (\\Seen) '), message, ''], form.sync);
        expect(appendUid(answer), `${form.label} ${name}`).toBe(`${before.validity} ${before.next}`);
      }
    }
    // The same with INBOX selected, when APPEND runs beside the view.
    expect(await proxied.send('SELECT INBOX')).toMatch(/ OK /);
    for (const name of LOOKALIKES) {
      const before = await directStatus(name);
      const answer = await proxied.sendWithLiterals(['APPEND ', name, ' ', message, ''], true);
      expect(appendUid(answer), name).toBe(`${before.validity} ${before.next}`);
    }
    proxied.close();
  });

  it('COPY and MOVE to them answer exactly what Dovecot would, from another mailbox and from INBOX', async () => {
    const proxied = await session(stack.proxy.port);
    for (const command of ['COPY', 'MOVE', 'UID COPY']) {
      for (const name of LOOKALIKES) {
        for (const form of FORMS) {
          const before = await directStatus(name);
          const source = await directUid('Other', 1);
          expect(await proxied.send('SELECT Other')).toMatch(/ OK /);
          const set = command.startsWith('UID') ? String(source) : '1';
          const answer = await proxied.sendWithLiterals(form.parts(`${command} ${set} `, name, ''), form.sync);
          expect(copyUids(answer), `${command} ${form.label} ${name}`).toEqual([`${before.validity} ${source} ${before.next}`]);
          if (command === 'MOVE') await dovecot.appendMessages(user.user, [mail(200)], 'Other');
        }
      }
    }
    // From INBOX: the source is the client's UID, the destination exactly Dovecot's.
    expect(await proxied.send('SELECT INBOX')).toMatch(/ OK /);
    const inboxFirst = Number(/UID (\d+)/.exec(await proxied.send('FETCH 1 (UID)'))![1]);
    for (const name of LOOKALIKES) {
      const before = await directStatus(name);
      const answer = await proxied.sendWithLiterals(['COPY 1 ', name, ''], false);
      expect(copyUids(answer), name).toEqual([`${before.validity} ${inboxFirst} ${before.next}`]);
    }
    proxied.close();
  });
});

describe('a name Dovecot refuses: "inbox/sub"', () => {
  it('gets Dovecot\'s own refusal, no APPENDUID or COPYUID', async () => {
    const proxied = await session(stack.proxy.port);
    for (const form of FORMS) {
      const appendParts = [...form.parts('APPEND ', 'inbox/sub', ' '), mail(500), ''];
      const refused = withoutTiming(await direct.sendWithLiterals(appendParts, form.sync));
      expect(refused).toMatch(/^NO /);
      expect(withoutTiming(await proxied.sendWithLiterals(appendParts, form.sync)), form.label).toBe(refused);
      await direct.send('SELECT Other');
      await proxied.send('SELECT Other');
      const copyParts = form.parts('COPY 1 ', 'inbox/sub', '');
      const copyRefused = withoutTiming(await direct.sendWithLiterals(copyParts, form.sync));
      expect(copyRefused).toMatch(/^NO /);
      expect(withoutTiming(await proxied.sendWithLiterals(copyParts, form.sync)), form.label).toBe(copyRefused);
      await direct.send('CLOSE');
    }
    proxied.close();
  });
});

describe('a destination name no quoted string can hold, INBOX selected', () => {
  it('reaches Dovecot as one name: its answer, nothing run from inside the name', async () => {
    const proxied = await session(stack.proxy.port);
    await direct.send('SELECT INBOX');
    await proxied.send('SELECT INBOX');
    for (const name of ['x\r\nz1 DELETE Other', 'Caf\xe9 "inbox"']) {
      for (const command of ['COPY', 'MOVE']) {
        const parts = [`${command} 1 `, name, ''];
        const expected = withoutTiming(await direct.sendWithLiterals(parts, false));
        expect(withoutTiming(await proxied.sendWithLiterals(parts, false)), `${command} ${JSON.stringify(name)}`).toBe(expected);
        expect(await proxied.send('NOOP')).toMatch(/^n\d+ OK /m);
      }
    }
    expect(await direct.send('STATUS Other (MESSAGES)')).toMatch(/ OK /);
    await direct.send('CLOSE');
    proxied.close();
  });
});

describe('a held command that does not parse', () => {
  it('gets Dovecot\'s own answer, and the next command is answered', async () => {
    const proxied = await session(stack.proxy.port);
    for (const form of FORMS.slice(1)) {
      const parts = ['STATUS ', 'INBOX', ' (UIDNEXT'];
      const expected = withoutTiming(await direct.sendWithLiterals(parts, form.sync));
      expect(expected).toMatch(/^BAD /);
      expect(withoutTiming(await proxied.sendWithLiterals(parts, form.sync)), form.label).toBe(expected);
      expect(await proxied.send('NOOP')).toMatch(/^n\d+ OK /m);
    }
    proxied.close();
  });
});

describe('INBOX named as a literal', () => {
  it('gets the view in SELECT, EXAMINE and STATUS: one UIDVALIDITY for INBOX', async () => {
    const proxied = await session(stack.proxy.port);
    const plain = await proxied.send('SELECT INBOX');
    const shownValidity = Number(/UIDVALIDITY (\d+)/.exec(plain)![1]);
    const shownNext = Number(/UIDNEXT (\d+)/.exec(plain)![1]);
    const shownExists = Number(/\* (\d+) EXISTS/.exec(plain)![1]);
    expect(shownValidity).not.toBe((await directStatus('INBOX')).validity);
    for (const form of FORMS.slice(1)) {
      for (const spelling of ['INBOX', 'inbox', 'InBox']) {
        for (const command of ['SELECT', 'EXAMINE']) {
          await proxied.send('CLOSE');
          const answer = await proxied.sendWithLiterals([`${command} `, spelling, ''], form.sync);
          expect(answer, `${command} ${form.label} ${spelling}`).toMatch(new RegExp(`UIDVALIDITY ${shownValidity}\\]`));
          expect(answer).toMatch(new RegExp(`UIDNEXT ${shownNext}\\]`));
          expect(answer).toMatch(new RegExp(`\\* ${shownExists} EXISTS`));
        }
        for (const selected of ['Other', 'INBOX']) {
          await proxied.send(`SELECT ${selected}`);
          const status = await proxied.sendWithLiterals(['STATUS ', spelling, ' (UIDVALIDITY UIDNEXT MESSAGES)'], form.sync);
          expect(status, `STATUS ${form.label} ${spelling} in ${selected}`).toMatch(new RegExp(`UIDVALIDITY ${shownValidity}\\b`));
          expect(status).toMatch(new RegExp(`UIDNEXT ${shownNext}\\b`));
          expect(status).toMatch(new RegExp(`MESSAGES ${shownExists}\\b`));
        }
      }
    }
    proxied.close();
  });

  it('gets INBOX UIDs in APPENDUID and COPYUID, tagged and untagged, from APPEND, COPY and MOVE', async () => {
    const proxied = await session(stack.proxy.port);
    const shownValidity = Number(/UIDVALIDITY (\d+)/.exec(await proxied.send('STATUS INBOX (UIDVALIDITY)'))![1]);
    for (const form of FORMS) {
      let before = await directStatus('INBOX');
      const appended = await proxied.sendWithLiterals([...form.parts('APPEND ', 'INBOX', ' '), mail(300), ''], form.sync);
      expect(appendUid(appended), `APPEND ${form.label}`).toBe(`${shownValidity} ${before.next * 16}`);

      for (const command of ['COPY', 'MOVE']) {
        expect(await proxied.send('SELECT Other')).toMatch(/ OK /);
        before = await directStatus('INBOX');
        const source = await directUid('Other', 1);
        const answer = await proxied.sendWithLiterals(form.parts(`${command} 1 `, 'inbox', ''), form.sync);
        expect(copyUids(answer), `${command} ${form.label}`).toEqual([`${shownValidity} ${source} ${before.next * 16}`]);
        if (command === 'MOVE') await dovecot.appendMessages(user.user, [mail(400)], 'Other');
      }
    }
    // Pipelined MOVEs, elsewhere and into INBOX: each untagged COPYUID is its own MOVE's.
    await dovecot.appendMessages(user.user, [mail(401), mail(402)], 'Other');
    expect(await proxied.send('SELECT Other')).toMatch(/ OK /);
    const [oldInbox, inbox] = [await directStatus('Old inbox'), await directStatus('INBOX')];
    const [first, second] = [await directUid('Other', 1), await directUid('Other', 2)];
    const raw = await RawImap.connect(stack.proxy.port);
    await raw.greeting();
    await raw.command('p0', `LOGIN "${user.user}" "${user.password}"`);
    await raw.command('p1', 'SELECT Other');
    raw.write(`p2 UID MOVE ${first} "Old inbox"\r\np3 UID MOVE ${second} INBOX\r\n`);
    const pipelined = await raw.waitFor(/(^|\n)p3 (OK|NO|BAD)[^\n]*\n/);
    expect(copyUids(pipelined), pipelined).toEqual([`${oldInbox.validity} ${first} ${oldInbox.next}`, `${shownValidity} ${second} ${inbox.next * 16}`]);
    // And the other way round: into INBOX first, then elsewhere.
    await dovecot.appendMessages(user.user, [mail(403), mail(404)], 'Other');
    const [oldInboxThen, inboxThen] = [await directStatus('Old inbox'), await directStatus('INBOX')];
    const [third, fourth] = [await directUid('Other', 1), await directUid('Other', 2)];
    raw.write(`p4 NOOP\r\np5 UID MOVE ${third} INBOX\r\np6 UID MOVE ${fourth} "Old inbox"\r\n`);
    const reversed = await raw.waitFor(/(^|\n)p6 (OK|NO|BAD)[^\n]*\n/);
    raw.close();
    expect(copyUids(reversed), reversed).toEqual([`${shownValidity} ${third} ${inboxThen.next * 16}`, `${oldInboxThen.validity} ${fourth} ${oldInboxThen.next}`]);
    // Named plainly as an atom, MOVE's untagged COPYUID is translated too.
    expect(await proxied.send('SELECT Other')).toMatch(/ OK /);
    const before = await directStatus('INBOX');
    const source = await directUid('Other', 1);
    expect(copyUids(await proxied.send('MOVE 1 INBOX'))).toEqual([`${shownValidity} ${source} ${before.next * 16}`]);
    proxied.close();
  });
});
