// Known answers for MessageModel, captured from Dovecot 2.3.19.1 (Debian 12) for the same bytes;
// test/integration/message-model-dovecot.test.ts compares against a live Dovecot at length.
import { describe, expect, it } from 'vitest';
import { MessageModel, servedForm } from './message-model.js';
import { parseFetchItems, type FetchItem } from './fetch-items.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'latin1');

const multipart = crlf([
  'From: "Doe, John" <john@example.org>, plain@example.org (Real Name)',
  'To: Team: a@b.example, "C D" <c@d.example>;, lonely',
  'Cc: <@r1,@r2:u@example.org>, broken@, "unterminated <u@x>',
  'Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=',
  '  folded',
  'Date: Mon, 2 Nov 2026 10:00:00 +0000',
  'Message-ID: <id@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'preamble',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=C3=A9',
  '--outer',
  "Content-Type: application/pdf; name*0*=utf-8''%E2%82%AC; name*1=.pdf",
  'Content-Disposition: attachment; filename="a.pdf"',
  'Content-Language: en, de',
  '',
  'JVBERi0=',
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'Subject: inner',
  'From: i@example.org',
  '',
  'inner body',
  '--outer--',
  'epilogue',
  '',
]);

function answer(model: MessageModel, items: string): string {
  const parsed = parseFetchItems(items);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.items.map((item: FetchItem) => model.fetchItem(item)?.toString('latin1') ?? '').join(' ');
}

describe('MessageModel against known Dovecot answers', () => {
  const model = MessageModel.parse(multipart);

  it('gives RFC822.SIZE and ENVELOPE', () => {
    expect(model.size).toBe(766);
    expect(model.envelope().toString('latin1')).toBe(
      '("Mon, 2 Nov 2026 10:00:00 +0000" {34}\r\n=?utf-8?Q?Gr=C3=BC=C3=9Fe?= folded ' +
        '(("Doe, John" NIL "john" "example.org")("Real Name" NIL "plain" "example.org")) ' +
        '(("Doe, John" NIL "john" "example.org")("Real Name" NIL "plain" "example.org")) ' +
        '(("Doe, John" NIL "john" "example.org")("Real Name" NIL "plain" "example.org")) ' +
        '((NIL NIL "Team" NIL)(NIL NIL "a" "b.example")("C D" NIL "c" "d.example")(NIL NIL NIL NIL)(NIL NIL "lonely" "MISSING_DOMAIN")) ' +
        '((NIL "@r1,@r2" "u" "example.org")(NIL NIL "broken" "MISSING_DOMAIN")(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) ' +
        'NIL NIL "<id@example.org>")',
    );
  });

  it('gives BODYSTRUCTURE with extension data and BODY without', () => {
    const inner =
      '"message" "rfc822" NIL NIL NIL "7bit" 49 (NIL "inner" ((NIL NIL "i" "example.org")) ((NIL NIL "i" "example.org")) ((NIL NIL "i" "example.org")) NIL NIL NIL NIL NIL)';
    expect(model.bodyStructure(true).toString('latin1')).toBe(
      '(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 9 0 NIL NIL NIL NIL)' +
        `("application" "pdf" ("name*" "utf-8''%E2%82%AC.pdf") NIL NIL "7bit" 8 NIL ("attachment" ("filename" "a.pdf")) ("en" "de") NIL)` +
        `(${inner} ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)`,
    );
    expect(model.bodyStructure(false).toString('latin1')).toBe(
      '(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 9 0)' +
        `("application" "pdf" ("name*" "utf-8''%E2%82%AC.pdf") NIL NIL "7bit" 8)` +
        `(${inner} ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0) 3) "mixed")`,
    );
  });

  it('serves sections, partials and missing parts', () => {
    expect(answer(model, '(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] BODY.PEEK[3.1])')).toBe(
      'BODY[1] {9}\r\ncaf=C3=A9 ' +
        `BODY[2.MIME] {149}\r\nContent-Type: application/pdf; name*0*=utf-8''%E2%82%AC; name*1=.pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\nContent-Language: en, de\r\n\r\n ` +
        'BODY[3.HEADER] {39}\r\nSubject: inner\r\nFrom: i@example.org\r\n\r\n ' +
        'BODY[3.TEXT] {10}\r\ninner body ' +
        'BODY[3.1] {10}\r\ninner body',
    );
    expect(answer(model, '(BODY.PEEK[HEADER.FIELDS (subject "Date")] BODY.PEEK[TEXT]<0.8> BODY.PEEK[4] BODY.PEEK[1.HEADER])')).toBe(
      'BODY[HEADER.FIELDS (SUBJECT "DATE")] {88}\r\nSubject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\r\n  folded\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n ' +
        'BODY[TEXT]<0> {8}\r\npreamble BODY[4] {0}\r\n BODY[1.HEADER] {0}\r\n',
    );
  });

  it('lists every part number', () => {
    expect(model.partNumbers()).toEqual([[1], [2], [3], [3, 1]]);
  });
});

describe('servedForm: what Dovecot stores for an APPEND and serves back', () => {
  it.each([
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\r\nb', 'a\r\nb'],
    ['a\r\r\nb', 'a\r\nb'],
    ['a\r\r\r\nb', 'a\r\r\nb'],
    ['a\rb', 'a\rb'],
    ['a\r', 'a'],
    ['a\r\r', 'a\r'],
    ['\nx', '\r\nx'],
  ])('%j → %j', (raw, served) => {
    expect(servedForm(Buffer.from(raw, 'latin1')).toString('latin1')).toBe(served);
  });
});

describe('Dovecot quirks the model keeps', () => {
  it('describes a lone text/plain us-ascii 7bit part in its fixed lower-case form', () => {
    const model = MessageModel.parse(crlf(['Content-Type: TEXT/PLAIN; CHARSET=US-ASCII', 'Content-Transfer-Encoding: 7BIT', '', 'line1', 'line2']));
    expect(model.bodyStructure(true).toString()).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)');
  });

  it('gives a multipart without any part an empty text/plain child', () => {
    const model = MessageModel.parse(crlf(['Content-Type: multipart/mixed; boundary=never', '', 'no boundary here']));
    expect(model.bodyStructure(false).toString()).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
  });

  it('sends CR for a HEADER.FIELDS partial starting on its last byte', () => {
    const model = MessageModel.parse(crlf(['Subject: x', '', 'body']));
    expect(answer(model, 'BODY.PEEK[HEADER.FIELDS.NOT (X)]<13>')).toBe('BODY[HEADER.FIELDS.NOT (X)]<13> {1}\r\n\r');
    expect(answer(model, 'BODY.PEEK[HEADER]<13>')).toBe('BODY[HEADER]<13> {1}\r\n\n');
  });

  it('joins a one-byte continuation line without a newline (an unterminated quote then ends there)', () => {
    const model = MessageModel.parse(crlf(['To: a "b', ' ', 'Date: a', ' ', '', 'x']));
    expect(model.envelope().toString()).toBe('("a " NIL NIL NIL NIL ((NIL NIL "a" "MISSING_DOMAIN")) NIL NIL NIL NIL)');
  });

  it('turns NUL into U+FFFD in ENVELOPE strings and into 0x80 in BODY[]', () => {
    const model = MessageModel.parse(Buffer.from('Subject: nul\0here\r\n\r\nbody\0x\r\n', 'latin1'));
    expect(model.envelope().toString('latin1')).toBe('(NIL {10}\r\nnul\xef\xbf\xbdhere NIL NIL NIL NIL NIL NIL NIL NIL)');
    expect(model.section({ part: [], text: { kind: 'text' } }).toString('latin1')).toBe('body\x80x\r\n');
  });

  it('ends a header cut short by a boundary before the boundary line, newline included', () => {
    const model = MessageModel.parse(crlf(['Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/plain', '--b--', '']));
    expect(model.section({ part: [1], text: { kind: 'mime' } }).toString()).toBe('Content-Type: text/plain');
    expect(model.bodyStructure(false).toString()).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
  });

  it('answers BODY[0] with the first part, as Dovecot does', () => {
    const model = MessageModel.parse(crlf(['Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'first', '--b', '', 'second', '--b--']));
    expect(model.section({ part: [0], text: { kind: 'all' } }).toString()).toBe('first');
  });
});
