/**
 * The proxy's evaluation of SEARCH criteria on messages it holds (proxy/src/view/search-*.ts)
 * against the real Dovecot: a corpus of awkward messages is APPENDed with flags and
 * INTERNALDATEs, then for hand-picked criteria and for criteria generated at random (fast-check;
 * the seed is printed on failure, SEARCH_SEED=… replays it, SEARCH_RUNS=… sets how many) the
 * UIDs Dovecot finds must be exactly the messages the module says match. Every generated
 * criterion also goes through formatSearch and back through the parser unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testDovecot } from '../helpers/fixtures.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { searchProgramArbitrary, type SearchVocabulary } from '../helpers/search-criteria.ts';
import { parseSearchCommand, type SearchDate, type SearchProgram } from '../../proxy/src/view/search-parse.ts';
import { formatSearch } from '../../proxy/src/view/search-format.ts';
import { matchesSearch, utcOffsetIn, type SearchableMessage, type SearchMailbox } from '../../proxy/src/view/search-eval.ts';
import type { CommandParts } from '../../proxy/src/imap-syntax.ts';

const dovecot = testDovecot();

interface CorpusMessage {
  readonly raw: Buffer;
  readonly flags: string;
  readonly internalDate: string;
  /** Batch 1 is seen by an earlier session (not \Recent), batch 2 by ours (\Recent). */
  readonly batch: 1 | 2;
}

const crlf = (text: string): Buffer => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
const b64 = (text: string, encoding: BufferEncoding = 'utf8'): string => Buffer.from(text, encoding).toString('base64').replace(/(.{60})/g, '$1\n');

const CORPUS: readonly CorpusMessage[] = [
  {
    raw: crlf('From: "Smith, John" <john.smith@Example.COM>\nTo: user@example.org\nSubject: Re:   hello\n   world\nDate: Wed, 01 Jan 2020 23:30:00 -0500\nMessage-ID: <a1@example.org>\n\nHello plain body.\n'),
    flags: '\\Seen',
    internalDate: '01-Jan-2020 23:30:00 +0000',
    batch: 1,
  },
  {
    raw: crlf('From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@x.de>\nTo: undisclosed-recipients:;\nCc: Team: a@b.c, "X, Y" <x@y.z>;, (comment) bob@example.org (Bob B)\nSubject: =?ISO-8859-1?Q?caf=E9?= =?utf-8?b?w6k=?= =?utf-8?q?_na=C3=AFve?=\nDate: Thu, 02 Jan 2020 01:30:00 +0300\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nR=C3=A9sum=C3=A9 of the caf=C3=A9 soft=\nbreak, trailing space   \nStra=C3=9Fe =E2=82=AC 10 =3D ten\n'),
    flags: '\\Answered \\Flagged $Label1',
    internalDate: '02-Jan-2020 02:00:00 +0300',
    batch: 1,
  },
  {
    raw: crlf(`From: Alice <alice@example.net>\nTo: Bob <bob@example.net>, carol@example.net\nSubject: Latin-1 in base64\nDate: 3 Jan 20 10:00 EST\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: base64\n\n${b64('na\xefve stra\xdfe \xc9COLE d\xe9j\xe0 vu', 'latin1')}\n`),
    flags: '\\Deleted',
    internalDate: '03-Jan-2020 23:59:59 -0800',
    batch: 2,
  },
  {
    raw: crlf(
      'From: Newsletter <news@shop.example>\nTo: user@example.org\nSubject: Offers: multipart alternative\nDate: Fri, 03 Jan 2020 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="ALT"\n\n' +
        'preamble-word\n--ALT\nContent-Type: text/plain; charset=us-ascii\n\nBuy now, 50% off.\n--ALT\nContent-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n\n<html><body><p class=3D"x">Buy <b>now</b>, 50&#37; off &amp; more</p></body></html>\n--ALT--\nepilogue-word\n',
    ),
    flags: '',
    internalDate: '04-Jan-2020 00:00:00 +0000',
    batch: 2,
  },
  {
    raw: crlf(
      `From: reports@example.com\nTo: user@example.org\nSubject: Report with attachment\nDate: Sat, 04 Jan 2020 12:00:00 +0100\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=MIX\n\n--MIX\nContent-Type: text/plain\n\nSee the attached report.\n--MIX\nContent-Type: application/pdf; name=report.pdf\nContent-Disposition: attachment; filename="report.pdf"\nContent-Transfer-Encoding: base64\n\n${b64('attachment-secret words inside the pdf')}\n--MIX\nContent-Type: text/plain; charset=x-unknown-charset\n\nUnknown charset text\n--MIX\nContent-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nuuencoded-invisible\n--MIX--\n`,
    ),
    flags: '$Forwarded Work',
    internalDate: '04-Jan-2020 23:30:00 +0100',
    batch: 2,
  },
  {
    raw: crlf(
      'From: forwarder@example.com\nTo: user@example.org\nSubject: Fwd: the original\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="OUT"\n\n--OUT\nContent-Type: text/plain\n\nForwarded below.\n--OUT\nContent-Type: message/rfc822\n\n' +
        'From: Original Sender <orig@example.com>\nSubject: Inner subject line\nDate: Mon, 06 Jan 2020 08:00:00 +0000\nContent-Type: multipart/alternative; boundary="IN"\n\n--IN\nContent-Type: text/plain\n\ninner plain text\n--IN\nContent-Type: text/html\n\n<i>inner html</i>\n--IN--\n\n--OUT--\n',
    ),
    flags: '\\Draft',
    internalDate: '05-Jan-2020 12:00:00 +0000',
    batch: 2,
  },
  {
    raw: crlf('Subject: no date, no from\nX-Campaign: spring-2020\nX-Empty:\nX-Folded: first part\n\tsecond part\n  third part\n\nBody without a Date header.\n'),
    flags: '\\Seen \\Flagged',
    internalDate: '06-Jan-2020 09:00:00 +0000',
    batch: 1,
  },
  {
    raw: crlf('From: broken date <bd@example.com>\nDate: garbage\nSubject: Broken date\nSubject: Second subject line\nTo: one@example.com\nTo: two@example.com\nSubject : spaced name\n\nTwo subjects and two To lines.\n'),
    flags: 'Work',
    internalDate: '06-Jan-2020 23:00:00 -0500',
    batch: 2,
  },
  {
    raw: crlf('From: "Ünïcode Ñame" <u@example.com>\nTo: =?utf-8?b?w5xiZXI=?= <uber@example.com>\nSubject: Ǆemal ﬁle STRASSE ΣΊΣΥΦΟΣ ς İstanbul 한국 😀 ｆｕｌｌ Ⅻ e\u0301\nDate: Tue, 07 Jan 2020 10:00:00 Z\nContent-Type: text/plain; charset=utf-8\n\nǆemal ﬁle straße σίσυφος istanbul 한국어 😀 ｆｕｌｌ ⅻ café Å\n'),
    flags: '',
    internalDate: '07-Jan-2020 10:00:00 +0000',
    batch: 2,
  },
  {
    raw: Buffer.concat([
      crlf('From: latin@example.com\nSubject: raw 8-bit\nDate: Wed, 08 Jan 2020 10:00:00 +0000 (UTC)\n\n'),
      Buffer.from('no charset: na\xefve caf\xe9 \xff\xfe end\r\n', 'latin1'),
    ]),
    flags: '\\Seen',
    internalDate: '08-Jan-2020 10:00:00 +0000',
    batch: 1,
  },
  {
    raw: crlf(
      `From: digest@example.com\nSubject: A digest\nDate: 09 Jan 2020 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/digest; boundary="DIG"\n\n--DIG\n\nSubject: digest part one\nFrom: p1@example.com\n\ndigest body one\n--DIG\nContent-Type: text/plain\n\ndigest body two\n--DIG--\n`,
    ),
    flags: '\\Answered',
    internalDate: '09-Jan-2020 10:00:00 +0000',
    batch: 2,
  },
  {
    raw: crlf(
      `From: <route@example.com>\nReply-To: "Quoted \\"Name\\"" <"quoted local"@example.com>\nTo: nodomain, @route1,@route2:user@example.com\nBcc: hidden@example.com\nSubject: addresses\nDate: Thu, 10 Jan 2020 10:00:00 +0000\nContent-Type: text\n\nInvalid content type body.\n${'x'.repeat(2000)}\n`,
    ),
    flags: '\\Seen $Label1',
    internalDate: '10-Jan-2020 10:00:00 +0000',
    batch: 2,
  },
  {
    raw: crlf(
      'From: odd@example.com\nJust a line without a colon\nSubject: =?x-unknown?q?Unknown_Charset_Word?= =?utf-8?x?bad?= =?utf-8?q?a?b?= =?UTF-8?B?w6dh?=\nX-Long-Name-Continued\n : value after folded name\nDate: Sun, 12 Jan 2020 23:00:00 A\nMIME-Version: 1.0\n' +
        'Content-Type: multipart/mixed; boundary*0="sp"; boundary*1="lit"\n\n--split\nContent-Type: text/plain; charset=windows-1252\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: quoted-printable\n\nhidden by the second content type\n--split\n' +
        'Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\nEuro =80 hole =81 bad =ZZ soft =\nend =4\n--split\nContent-Type: text/plain; charset*=utf-8\'\'%C3%A9t%C3%A9\nContent-Transfer-Encoding: base64\n\n' +
        `${b64('base64 then garbage')}!!!${b64('never decoded')}\n--split\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n`,
    ),
    flags: '\\Seen \\Draft',
    internalDate: '12-Jan-2020 12:00:00 +0000',
    batch: 2,
  },
  {
    raw: Buffer.concat([
      crlf('From: koi8@example.com\nSubject: KOI8 and nesting\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="A"\n\n--A\nContent-Type: multipart/alternative; boundary="AB"\n\n--AB\nContent-Type: text/plain; charset=koi8-r\n\n'),
      Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4, 0x20, 0xcd, 0xc9, 0xd2, 0x0d, 0x0a]),
      crlf('--AB--\n--A\nContent-Type: message/rfc822\n\nSubject: inner of A\n\ninner text of A\n--A--\n'),
    ]),
    flags: '\\Flagged',
    internalDate: '13-Jan-2020 01:00:00 +0000',
    batch: 1,
  },
  {
    raw: Buffer.from('From: lf-only@example.com\nSubject: bare LF lines\nDate: Fri, 10 Jan 2020 23:59:59 +1400\n\nline one\nline two\n', 'utf8'),
    flags: '',
    internalDate: '11-Jan-2020 00:00:00 +1400',
    batch: 1,
  },
];

const PHRASES = [
  'hello', 'hello world', 'Re: hello world', 'hello  world', 're:   hello', 'Smith, John', '"Smith, John"', 'John" <', 'john.smith@example', 'Jürgen', 'Müller',
  'undisclosed-recipients', 'recipients:;', 'Team:', '"X, Y"', 'Bob B', 'comment', 'café', 'cafe', 'caféé', 'naïve', 'naive', 'Résumé', 'resume', 'softbreak',
  'trailing space', 'Straße', 'STRASSE', '€', '= ten', 'preamble-word', 'epilogue-word', 'Buy now', '<b>now</b>', '&amp;', 'class="x"', '50% off', 'attachment-secret',
  'report.pdf', 'Unknown charset', 'uuencoded-invisible', 'inner plain', 'inner html', 'Inner subject', 'Original Sender', 'digest body', 'digest part one',
  'spring-2020', 'first part second', 'second part  third', 'Second subject', 'spaced name', 'two@example.com', 'Ǆemal', 'ǆemal', 'ﬁle', 'file', 'σίσυφος', 'ΣΊΣΥΦΟΣ',
  'İstanbul', 'istanbul', '한국', '😀', 'full', 'ｆｕｌｌ', 'Ⅻ', 'Å', 'e\u0301', 'Über', 'Ünïcode', 'quoted local', 'Quoted "Name"', '@route1', 'MISSING_DOMAIN', 'nodomain',
  'Just a line', 'Unknown_Charset', 'Unknown Charset Word', 'UNKNOWN', 'ça', '=?utf-8?x?bad?=', 'value after folded', 'hidden by the second', 'Euro €', 'hole', '=ZZ', 'soft end', '=4', 'base64 then garbage', 'never decoded',
  'Привет мир', 'привет', 'inner text of A', 'inner of A', 'été', 'split', 'boundary*0', 'Content-Type: application/octet-stream',
  'content-type: text/html', 'Content-Transfer-Encoding: base64', 'Subject: ', ': ', 'Date', '\r\n', 'line one\r\nline two', 'x-uuencode', 'base64', 'UTC', 'EST',
];

const HEADER_FIELDS = ['X-Long-Name-Continued', 'Just a line without a colon', 'Subject', 'From', 'To', 'Cc', 'Bcc', 'Date', 'Message-ID', 'Content-Type', 'Content-Transfer-Encoding', 'MIME-Version', 'Reply-To', 'X-Campaign', 'X-Empty', 'X-Folded', 'X-Missing', ''];

const HAND_PICKED = [
  'ALL', 'SEEN', 'UNSEEN', 'NEW', 'OLD', 'RECENT', 'ANSWERED FLAGGED', 'DELETED', 'UNDELETED', 'DRAFT', 'UNDRAFT', 'KEYWORD $label1', 'KEYWORD WORK', 'UNKEYWORD work', 'KEYWORD \\Seen', 'UNKEYWORD "a b"',
  'ON 1-Jan-2020', 'ON 02-Jan-2020', 'SINCE 4-Jan-2020', 'BEFORE 4-Jan-2020', 'SENTON 1-Jan-2020', 'SENTON 2-Jan-2020', 'SENTBEFORE 2-Jan-2020', 'SENTSINCE 10-Jan-2020', 'SENTON 1-Jan-1970', 'NOT SENTBEFORE 1-Jan-1971',
  'BEFORE 31-Feb-2020', 'SINCE 31-Feb-1999', 'SENTON 3-JAN-2020', 'LARGER 500', 'SMALLER 500', 'LARGER "2000"', 'NOT LARGER 300 NOT LARGER 700', 'NOT BEFORE 2-Jan-2020 NOT BEFORE 5-Jan-2020', 'NOT (SINCE 3-Jan-2020 SINCE 6-Jan-2020)',
  '1', '2:4', '4:2', '*', '3:*', '99:*', '1,3,5', 'UID 1:3', 'UID *', 'UID 99:*', 'NOT 2:*', 'OR 1 UID 3', 'OR SEEN OR DRAFT DELETED', '(SEEN FLAGGED)', 'NOT (OR SEEN DRAFT)',
  'FROM "Smith, John"', 'FROM "John\\" <"', 'FROM smith@example', 'FROM "jürgen"', 'TO undisclosed', 'TO "recipients:;"', 'CC comment', 'CC "Bob B"', 'CC "team: a@b.c"', 'BCC hidden', 'FROM MISSING', 'TO MISSING_DOMAIN',
  'SUBJECT "re: hello world"', 'SUBJECT "hello  world"', 'HEADER SUBJECT "hello   world"', 'SUBJECT "caféé"', 'SUBJECT cafe', 'SUBJECT "café é"', 'SUBJECT ""', 'SUBJECT "second subject"', 'SUBJECT "spaced name"',
  'HEADER X-Empty ""', 'HEADER X-Missing ""', 'NOT HEADER X-Missing ""', 'HEADER X-Folded "part second"', 'HEADER X-Folded "part  third"', 'HEADER "" ""', 'HEADER DATE garbage', 'HEADER reply-to "quoted local"',
  'FROM x HEADER FROM "(c)"', 'SUBJECT "re: hello" HEADER SUBJECT "re:   hello"', 'HEADER SUBJECT "re:   hello" SUBJECT "re: hello"',
  'BODY preamble-word', 'BODY epilogue-word', 'BODY "<b>now</b>"', 'BODY "50&#37;"', 'BODY attachment-secret', 'TEXT attachment-secret', 'TEXT report.pdf', 'BODY "unknown charset"', 'BODY uuencoded',
  'BODY "résumé"', 'BODY softbreak', 'BODY {20+}\r\ntrailing space\r\nstra', 'BODY STRASSE', 'BODY "straße"', 'BODY "= ten"', 'BODY naive', 'BODY "naïve"', 'BODY "inner plain"', 'TEXT "inner subject"', 'TEXT "content-type: message/rfc822"',
  'BODY "digest body one"', 'TEXT "digest part one"', 'TEXT "subject: re:   hello"', 'TEXT ""', 'BODY ""', 'BODY file', 'BODY "ﬁle"', 'SUBJECT "ǆemal"', 'BODY "σίσυφος"', 'SUBJECT "σίσυφος"', 'BODY istanbul', 'SUBJECT "İSTANBUL"', 'BODY "한국"', 'BODY "ｆｕｌｌ"', 'BODY full', 'BODY "ⅻ"', 'BODY "e\u0301"',
  'SUBJECT "Unknown Charset Word"', 'SUBJECT "unknown charset word"', 'SUBJECT "ça"', 'SUBJECT "=?utf-8?x?bad?="', 'HEADER "" "just a line"', 'HEADER "" "value after"', 'BODY "euro €"', 'BODY "hole \uFFFD"', 'BODY "=ZZ soft end"', 'BODY "end =4"',
  'BODY "hidden by"', 'TEXT "hidden by"', 'BODY "then garbage"', 'BODY "never decoded"', 'BODY "привет"', 'BODY "inner text of a"', 'TEXT "subject: inner of a"', 'SENTON 12-Jan-2020', 'SENTON 13-Jan-2020',
  'BODY "caf\uFFFD"', 'BODY "\uFFFD end"', 'CHARSET UTF-8 BODY "café"', 'CHARSET us-ascii SEEN', 'TEXT {18+}\r\nline one\r\nline two',
];

let client: RawImap;
let messages: SearchableMessage[] = [];
let mailbox: SearchMailbox;
let tagCounter = 0;
let lostConnection: string | undefined;

async function send(command: Buffer | string): Promise<string> {
  const tag = `s${++tagCounter}`;
  client.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(command) ? command : Buffer.from(command, 'utf8'), Buffer.from('\r\n')]));
  return client.waitFor(new RegExp(`(^|\\n)${tag} (OK|NO|BAD)[^\\n]*\\n`), 60_000);
}

function appendCommand(message: CorpusMessage): Buffer {
  return Buffer.concat([Buffer.from(`APPEND INBOX (${message.flags}) "${message.internalDate}" {${message.raw.length}+}\r\n`), message.raw]);
}

/** A command buffer with LITERAL+ literals cut into the framer's segments and literals. */
function commandParts(command: Buffer): CommandParts {
  const segments: Buffer[] = [];
  const literals: Buffer[] = [];
  const text = command.toString('latin1');
  const announcement = /\{(\d+)\+?\}\r\n/g;
  let start = 0;
  for (let match = announcement.exec(text); match; match = announcement.exec(text)) {
    const literalStart = match.index + match[0].length;
    segments.push(command.subarray(start, literalStart));
    literals.push(command.subarray(literalStart, literalStart + Number(match[1])));
    start = literalStart + Number(match[1]);
    announcement.lastIndex = start;
  }
  segments.push(command.subarray(start));
  return { segments, literals };
}

async function dovecotUids(criteria: Buffer): Promise<number[]> {
  let response: string;
  try {
    response = await send(Buffer.concat([Buffer.from('UID SEARCH '), criteria]));
  } catch (error) {
    // Once the connection is gone every later search fails too: report the first one.
    lostConnection ??= `no answer from Dovecot to UID SEARCH ${JSON.stringify(criteria.toString('utf8'))}: ${(error as Error).message}\n${(await dovecot.readLog()).split('\n').slice(-15).join('\n')}`;
    throw new Error(lostConnection, { cause: error });
  }
  const tagged = /[^\n]*\n$/.exec(response)?.[0] ?? '';
  if (!/^s\d+ OK/.test(tagged)) throw new Error(`Dovecot refused ${JSON.stringify(criteria.toString('utf8'))}: ${tagged.trim()}`);
  const untagged = /\* SEARCH([ 0-9]*)\r\n/.exec(response)?.[1] ?? '';
  return untagged.split(' ').filter(Boolean).map(Number).sort((a, b) => a - b);
}

function moduleUids(program: SearchProgram): number[] {
  return messages.filter((message) => matchesSearch(program, message, mailbox)).map((message) => message.uid);
}

function describeMessages(uids: readonly number[]): string {
  return uids.map((uid) => `${uid}:${/Subject:([^\r\n]*)/.exec(messages.find((message) => message.uid === uid)!.raw.toString('utf8'))?.[1]?.trim() ?? '-'}`).join(', ');
}

beforeAll(async () => {
  const user = await dovecot.addUser();
  const login = `LOGIN "${user.user}" "${user.password}"`;
  // Batch 1 through a session that selects INBOX and leaves: those messages lose \Recent.
  // Fillers between them are expunged, so the UIDs have gaps.
  const first = await RawImap.connect(dovecot.port);
  await first.greeting();
  await first.command('a', login);
  let index = 0;
  for (const message of CORPUS) {
    if (message.batch !== 1) continue;
    first.write(Buffer.concat([Buffer.from(`f${index} `), appendCommand(message), Buffer.from('\r\n')]));
    await first.waitFor(new RegExp(`f${index} OK[^\\n]*\\n`));
    await first.command(`g${index}`, `APPEND INBOX (\\Deleted) {7+}\r\nfiller!`);
    index++;
  }
  await first.command('s', 'SELECT INBOX');
  await first.command('e', 'EXPUNGE');
  await first.command('l', 'LOGOUT');
  first.close();

  client = await RawImap.connect(dovecot.port);
  await client.greeting();
  await send(login);
  for (const message of CORPUS) if (message.batch === 2) expect(await send(appendCommand(message))).toMatch(/ OK /);
  await send('SELECT INBOX');
  const fetched = await send('FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)');
  const lines = fetched.split('\r\n').filter((line) => line.startsWith('* ') && line.includes(' FETCH '));
  const ordered = [...CORPUS.filter((message) => message.batch === 1), ...CORPUS.filter((message) => message.batch === 2)];
  expect(lines).toHaveLength(ordered.length);
  messages = lines.map((line, position) => {
    const flags = /FLAGS \(([^)]*)\)/.exec(line)![1]!.split(' ').filter(Boolean);
    const internal = /INTERNALDATE "([^"]+)"/.exec(line)![1]!;
    const [, day, month, year, time, zone] = /^ ?(\d+)-(\w+)-(\d+) (\S+) ([+-]\d{4})$/.exec(internal)!;
    return {
      sequence: Number(/^\* (\d+) /.exec(line)![1]),
      uid: Number(/UID (\d+)/.exec(line)![1]),
      flags: flags.filter((flag) => flag !== '\\Recent'),
      recent: flags.includes('\\Recent'),
      internalDate: new Date(`${day} ${month} ${year} ${time} ${zone}`),
      size: Number(/RFC822\.SIZE (\d+)/.exec(line)![1]),
      raw: ordered[position]!.raw,
    };
  });
  mailbox = {
    highestSequence: messages.length,
    highestUid: messages[messages.length - 1]!.uid,
    serverUtcOffsetMinutes: utcOffsetIn(Intl.DateTimeFormat().resolvedOptions().timeZone),
  };
}, 120_000);

afterAll(() => {
  client?.close();
});

describe('SEARCH evaluated by the proxy agrees with Dovecot', () => {
  it('sees the corpus as appended', () => {
    expect(messages.some((message) => message.recent)).toBe(true);
    expect(messages.some((message) => !message.recent)).toBe(true);
    expect(messages.map((message) => message.uid)).not.toEqual(messages.map((_, position) => position + 1));
    expect(messages.every((message) => !Number.isNaN(message.internalDate.getTime()))).toBe(true);
  });

  it.each(HAND_PICKED.map((criteria) => [criteria.replace(/\r\n/g, '\\r\\n'), criteria]))('%s', async (_title, criteria) => {
    const bytes = Buffer.from(criteria, 'utf8');
    const program = parseSearchCommand(commandParts(bytes), 0);
    const expected = await dovecotUids(bytes);
    expect(describeMessages(moduleUids(program)), criteria).toEqual(describeMessages(expected));
  });

  it('agrees on random criteria', async () => {
    const vocabulary: SearchVocabulary = {
      highestSequence: messages.length,
      uids: messages.map((message) => message.uid),
      corpus: CORPUS.map((message) => message.raw.toString('utf8')).join('\n'),
      phrases: PHRASES,
      headerFields: HEADER_FIELDS,
      keywords: ['$Label1', '$label1', 'Work', 'WORK', '$Forwarded', 'Unused'],
      dates: searchDates(),
      sizes: messages.flatMap((message) => [message.size - 1, message.size, message.size + 1]),
    };
    const seed = Number(process.env.SEARCH_SEED ?? Date.now() % 2 ** 31);
    const numRuns = Number(process.env.SEARCH_RUNS ?? 1500);
    let compared = 0;
    try {
      await fc.assert(
        fc.asyncProperty(searchProgramArbitrary(vocabulary), async (program) => {
          const criteria = formatSearch(program);
          expect(parseSearchCommand(commandParts(criteria), 0), 'format/parse round trip').toEqual(program);
          const expected = await dovecotUids(criteria);
          compared++;
          expect(describeMessages(moduleUids(program)), criteria.toString('utf8')).toEqual(describeMessages(expected));
        }),
        { seed, numRuns },
      );
    } catch (error) {
      throw new Error(`random SEARCH comparison failed; replay with SEARCH_SEED=${seed} SEARCH_RUNS=${numRuns}\n${(error as Error).message}`, { cause: error });
    }
    console.log(`[search-dovecot] ${compared} random criteria × ${messages.length} messages agreed (seed ${seed})`);
  }, 600_000);
});

/** Days around every INTERNALDATE and Date: of the corpus, plus impossible and far days. */
function searchDates(): SearchDate[] {
  const dates: SearchDate[] = [{ day: 1, month: 1, year: 1970 }, { day: 31, month: 2, year: 2020 }, { day: 30, month: 2, year: 1999 }, { day: 1, month: 1, year: 2100 }];
  for (let day = 30; day <= 42; day++) {
    const date = new Date(Date.UTC(2019, 11, day));
    dates.push({ day: date.getUTCDate(), month: date.getUTCMonth() + 1, year: date.getUTCFullYear() });
  }
  return dates;
}
