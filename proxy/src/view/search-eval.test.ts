import { describe, expect, it } from 'vitest';
import { inSequenceSet, inUidSet, matchesSearch, utcOffsetIn, type SearchableMessage, type SearchMailbox } from './search-eval.js';
import { parseSearchCommand, parseSequenceSet } from './search-parse.js';

const crlf = (text: string): Buffer => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');

function message(raw: string | Buffer, fields: Partial<SearchableMessage> = {}): SearchableMessage {
  const bytes = typeof raw === 'string' ? crlf(raw) : raw;
  return { sequence: 1, uid: 16, flags: [], recent: false, internalDate: new Date('2020-01-01T12:00:00Z'), size: bytes.length, raw: bytes, ...fields };
}

const mailbox: SearchMailbox = { highestSequence: 3, highestUid: 48 };

function matches(criteria: string, target: SearchableMessage, box: SearchMailbox = mailbox): boolean {
  return matchesSearch(parseSearchCommand({ segments: [Buffer.from(criteria, 'utf8')], literals: [] }, 0), target, box);
}

const plain = message('From: "Smith, John" (work) <John.Smith@Example.COM>\nTo: undisclosed-recipients:;\nSubject: Re:   hello\n\tworld\nDate: Wed, 01 Jan 2020 23:30:00 -0500\n\nHello body\n');

describe('flags, keywords and numbers', () => {
  const flagged = message('Subject: x\n\n', { flags: ['\\Seen', '\\Flagged', '$Label1'], recent: true });

  it('matches system flags, RECENT and NEW (recent and unseen)', () => {
    expect(['SEEN', 'FLAGGED', 'RECENT', 'UNANSWERED', 'UNDRAFT', 'UNDELETED'].map((key) => matches(key, flagged))).toEqual([true, true, true, true, true, true]);
    expect(matches('NEW', flagged)).toBe(false);
    expect(matches('NEW', message('', { recent: true }))).toBe(true);
    expect(matches('OLD', message(''))).toBe(true);
  });

  it('matches keywords case-insensitively and never a system flag or an invalid name', () => {
    expect(matches('KEYWORD $label1', flagged)).toBe(true);
    expect(matches('KEYWORD \\Seen', flagged)).toBe(false);
    expect(matches('UNKEYWORD "a b"', flagged)).toBe(true);
    expect(matches(`KEYWORD ${'k'.repeat(51)}`, message('', { flags: ['k'.repeat(51)] }))).toBe(false);
  });

  it('compares RFC822.SIZE strictly', () => {
    expect(matches('LARGER 99 SMALLER 101', message('', { size: 100 }))).toBe(true);
    expect(matches('LARGER 100', message('', { size: 100 }))).toBe(false);
  });

  it('resolves "*" in sequence sets as Dovecot does: n:* above the highest matches nothing', () => {
    const check = (set: string, sequence: number): boolean => inSequenceSet(parseSequenceSet(set), sequence, 3);
    expect(check('*', 3)).toBe(true);
    expect(check('2:*', 3)).toBe(true);
    expect(check('*:2', 2)).toBe(true);
    expect(check('9:*', 3)).toBe(false);
    expect(check('9:*,*', 3)).toBe(false);
    expect(check('1,*', 3)).toBe(true);
    expect(inSequenceSet(parseSequenceSet('*'), 1, 0)).toBe(false);
  });

  it('resolves "*" in UID sets as Dovecot does: n:* always takes the highest UID', () => {
    const check = (set: string, uid: number): boolean => inUidSet(parseSequenceSet(set), uid, 48);
    expect(check('99:*', 48)).toBe(true);
    expect(check('99:*', 47)).toBe(false);
    expect(check('20:*', 32)).toBe(true);
    expect(check('*', 48)).toBe(true);
    expect(check('3:17', 16)).toBe(true);
  });
});

describe('dates', () => {
  it('takes the day of INTERNALDATE in the server time zone', () => {
    const late = message('', { internalDate: new Date('2020-01-02T03:30:00Z') });
    expect(matches('ON 2-Jan-2020', late)).toBe(true);
    const newYork = { ...mailbox, serverUtcOffsetMinutes: utcOffsetIn('America/New_York') };
    expect(matches('ON 1-Jan-2020', late, newYork)).toBe(true);
    expect(matches('BEFORE 2-Jan-2020', late, newYork)).toBe(true);
    expect(utcOffsetIn('America/New_York')(new Date('2020-07-01T00:00:00Z'))).toBe(-240);
  });

  it('takes the day of the Date: header in its own zone; none or an unreadable one is 1 Jan 1970', () => {
    expect(matches('SENTON 1-Jan-2020', plain)).toBe(true);
    expect(matches('SENTON 1-Jan-1970', message('Subject: no date\n\n'))).toBe(true);
    expect(matches('SENTBEFORE 2-Jan-1970', message('Date: garbage\n\n'))).toBe(true);
    expect(matches('SENTON 2-Jan-2020', message('Date: 2 Jan 20 10:00 EST\n\n'))).toBe(true);
    expect(matches('SENTON 2-Jan-2020', message('Date: Thu, 02 Jan 2020 10:00:00 +0000\nDate: Fri, 03 Jan 2020 10:00:00 +0000\n\n'))).toBe(true);
  });

  it('lets an impossible day sort after (or, up to 2000, before) every real date', () => {
    expect(matches('BEFORE 31-Feb-2020', plain)).toBe(true);
    expect(matches('SINCE 31-Feb-2020', plain)).toBe(false);
    expect(matches('SINCE 31-Feb-1999', plain)).toBe(true);
  });
});

describe('header keys', () => {
  it('matches FROM/TO/CC/BCC against the address list in Dovecot\'s normal form', () => {
    expect(matches('FROM "\\"Smith, John\\" <john.smith@example.com>"', plain)).toBe(true);
    expect(matches('FROM work', plain)).toBe(false);
    expect(matches('TO "undisclosed-recipients:;"', plain)).toBe(true);
    expect(matches('CC ""', plain)).toBe(false);
  });

  it('compresses blanks for SUBJECT but not for HEADER SUBJECT', () => {
    expect(matches('SUBJECT "re: hello world"', plain)).toBe(true);
    expect(matches('HEADER SUBJECT "re: hello"', plain)).toBe(false);
    expect(matches('HEADER SUBJECT "re:   hello world"', plain)).toBe(true);
  });

  it('decodes encoded-words and folds case and accents the way Dovecot\'s normaliser does', () => {
    const encoded = message('Subject: =?ISO-8859-1?Q?caf=E9?= =?utf-8?b?w6k=?=\n\n');
    expect(matches('SUBJECT "CAFÉÉ"', encoded)).toBe(true);
    expect(matches('SUBJECT cafe', encoded)).toBe(true);
    expect(matches('BODY naive', message('\nnaïve\n'))).toBe(false);
  });

  it('treats HEADER name "" as "the field exists"', () => {
    expect(matches('HEADER X-Empty ""', message('X-Empty:\n\n'))).toBe(true);
    expect(matches('NOT HEADER X-Missing ""', plain)).toBe(true);
  });

  it('lets the first header key on a line decode it for the keys after it, as Dovecot does', () => {
    const commented = message('From: "Smith, John" (c) <john@example.com>\n\n');
    expect(matches('HEADER FROM "(c)"', commented)).toBe(true);
    expect(matches('FROM x HEADER FROM "(c)"', commented)).toBe(false);
  });
});

describe('BODY and TEXT', () => {
  const mixed = message(
    'Subject: mixed\nContent-Type: multipart/mixed; boundary=B\n\npreamble\n--B\nContent-Type: text/html\n\n<b>bold</b>\n--B\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n' +
      `${Buffer.from('attached secret').toString('base64')}\n--B--\nepilogue\n`,
  );

  it('searches text parts (HTML as it is) and never preambles, epilogues or attachments', () => {
    expect(matches('BODY "<b>bold"', mixed)).toBe(true);
    expect(matches('BODY preamble', mixed)).toBe(false);
    expect(matches('BODY epilogue', mixed)).toBe(false);
    expect(matches('TEXT "attached secret"', mixed)).toBe(false);
    expect(matches('TEXT "application/pdf"', mixed)).toBe(true);
    expect(matches('BODY "application/pdf"', mixed)).toBe(false);
  });

  it('sees bodies with the LF line ends Dovecot stores, unless told the server keeps CRLF', () => {
    const lines = message('Subject: x\n\nline one\nline two\n');
    const criteria = (text: string) => parseSearchCommand({ segments: [Buffer.from(`BODY {${text.length}+}\r\n`), Buffer.alloc(0)], literals: [Buffer.from(text)] }, 0);
    expect(matchesSearch(criteria('one\r\nline'), lines, mailbox)).toBe(false);
    expect(matchesSearch(criteria('one\nline'), lines, mailbox)).toBe(true);
    expect(matchesSearch(criteria('one\r\nline'), lines, { ...mailbox, storedLineEnding: 'crlf' })).toBe(true);
  });

  it('matches BODY "" and TEXT "" everywhere', () => {
    expect(matches('BODY "" TEXT ""', message(''))).toBe(true);
  });
});

describe('Dovecot\'s rewrite of the criteria', () => {
  const days = (day: number) => message('', { internalDate: new Date(Date.UTC(2020, 0, day, 10)) });

  it('keeps the wrong bound when it merges negated dates or sizes', () => {
    expect(matches('NOT BEFORE 2-Jan-2020 NOT BEFORE 5-Jan-2020', days(3))).toBe(true);
    expect(matches('NOT (BEFORE 2-Jan-2020 BEFORE 5-Jan-2020)', days(3))).toBe(false);
    expect(matches('NOT LARGER 30 NOT LARGER 70', message('', { size: 50 }))).toBe(true);
  });

  it('drops a negated list that looks redundant in a flat OR', () => {
    const seenOnly = message('Subject: other\n\n', { flags: ['\\Seen'] });
    expect(matches('OR UNSEEN OR NOT (UNSEEN ANSWERED) SUBJECT hello', seenOnly)).toBe(false);
    expect(matches('OR UNSEEN (OR NOT (UNSEEN ANSWERED) SUBJECT hello)', seenOnly)).toBe(true);
  });
});

describe('malformed mail', () => {
  it('never throws, whatever the bytes', () => {
    const templates = [
      'From: "a\\" (b <c@d>\nSubject: =?utf-8?q?=C3?= =?x?b?@@?=\nDate: 31 Foo 99 25:61\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: message/rfc822\n\n--B--\n',
      'Content-Type: multipart/digest; boundary=x\n\n--x\n--x\nContent-Transfer-Encoding: quoted-printable\n\n=\r=\n=4\n--x--',
      'To: a:b:c;;,<>,@,"\nCc: (((\n\n',
    ];
    const criteria = ['BODY a', 'TEXT "="', 'FROM b', 'TO ";"', 'CC "("', 'SUBJECT x', 'HEADER CONTENT-TYPE b', 'SENTON 1-Jan-1970'].map((text) =>
      parseSearchCommand({ segments: [Buffer.from(text)], literals: [] }, 0),
    );
    let seed = 7;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    for (let round = 0; round < 1500; round++) {
      const bytes = Buffer.from(templates[random(templates.length)]!, 'latin1');
      for (let edits = random(8); edits > 0; edits--) bytes[random(bytes.length)] = random(256);
      const raw = bytes.subarray(0, random(bytes.length + 1));
      for (const program of criteria) expect(() => matchesSearch(program, message(raw), mailbox)).not.toThrow();
    }
  });
});
