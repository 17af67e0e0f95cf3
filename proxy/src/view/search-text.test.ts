import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeQuotedPrintable, normalizeBody, normalizeHeaderValue, transferEncodingOf } from './search-decode.js';
import { normalizedAddressList, sentWallClockSeconds } from './search-header-values.js';
import { mimeParts, readHeaderLines } from './search-text.js';
import { normalizeText, normalizeUtf8 } from './search-unicode.js';

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('the search normaliser', () => {
  it('titlecases, then decomposes one level deep', () => {
    expect(normalizeText('café')).toBe('CAFE\u0301');
    expect(normalizeText('ǆ ǅ Ǆ')).toBe('ǅ ǅ ǅ');
    expect(normalizeText('ß ﬁ')).toBe('ß fi');
    expect(normalizeText('ẫ')).toBe('Â\u0303');
    expect(normalizeText('한')).toBe('\u1112\u1161\u11ab');
    expect(normalizeText('ｆ Ⅻ ς σ')).toBe('F XII Σ Σ');
  });

  it('turns each run of invalid UTF-8 into one U+FFFD', () => {
    expect(normalizeUtf8(latin1('a\xff\xfeb\xc3(c'))).toBe('A\ufffdB\ufffd(C');
    expect(normalizeUtf8(latin1('\xed\xa0\x80'))).toBe('\ufffd');
  });
});

describe('decoders', () => {
  it('decodes quoted-printable bodies as Dovecot does', () => {
    const decode = (text: string): string => decodeQuotedPrintable(latin1(text)).toString('latin1');
    expect(decode('caf=C3=A9 soft=\nbreak')).toBe('caf\xc3\xa9 softbreak');
    expect(decode('trailing   \nnext')).toBe('trailing\r\nnext');
    expect(decode('bad =ZZ =4')).toBe('bad =ZZ ');
    expect(decode('lower =c3=a9 end =  \r\nx')).toBe('lower \xc3\xa9 end x');
    expect(decode('kept trailing   ')).toBe('kept trailing');
  });

  it('decodes base64 until the first byte that is not base64', () => {
    expect(decodeBase64(latin1('aGVs\r\nbG8=')).toString()).toBe('hello');
    expect(decodeBase64(latin1('aGVsbG8!d29ybGQ=')).toString()).toBe('hello');
    expect(decodeBase64(latin1('QQ')).toString()).toBe('A');
  });

  it('reads Content-Transfer-Encoding leniently but refuses junk', () => {
    expect(transferEncodingOf(' Base64 (comment)')).toBe('base64');
    expect(transferEncodingOf('quoted-printable; x=y')).toBe('quoted-printable');
    expect(transferEncodingOf('8bit')).toBe('7bit');
    expect(transferEncodingOf('base64 binary')).toBe('unknown');
    expect(transferEncodingOf('x-uuencode')).toBe('unknown');
  });

  it('converts charsets as glibc iconv does, UTF-8 when unknown', () => {
    expect(normalizeBody(latin1('\xe9'), 'ISO-8859-1')).toBe('E\u0301');
    expect(normalizeBody(latin1('\x80\x81\xe9'), 'windows-1252')).toBe('€\ufffdE\u0301');
    expect(normalizeBody(latin1('\xf0\xd2\xc9'), 'koi8-r')).toBe('ПРИ');
    expect(normalizeBody(Buffer.from('é'), 'x-unknown')).toBe('E\u0301');
    expect(normalizeBody(Buffer.from('ab\xc3', 'latin1'), null)).toBe('AB');
  });

  it('decodes encoded-words, dropping the blanks between two of them', () => {
    expect(normalizeHeaderValue('=?ISO-8859-1?Q?caf=E9?= =?utf-8?b?w6k=?= x')).toBe('CAFE\u0301E\u0301 X');
    expect(normalizeHeaderValue('a =?utf-8?x?bad?= =?utf-8?q?_ok?=')).toBe('A =?UTF-8?X?BAD?=  OK');
    expect(normalizeHeaderValue('=?x-unknown?q?Mixed_Case?=')).toBe('Mixed Case');
  });
});

describe('header values', () => {
  it('writes address lists in Dovecot\'s normal form', () => {
    expect(normalizedAddressList('"Smith, John" (c) <John@Example.COM>')).toBe('"Smith, John" <John@Example.COM>');
    expect(normalizedAddressList('(comment) bob@example.org (Bob B)')).toBe('"Bob B" <bob@example.org>');
    expect(normalizedAddressList('undisclosed-recipients:;')).toBe('undisclosed-recipients:;');
    expect(normalizedAddressList('Team: a@b.c, "X, Y" <x@y.z>;')).toBe('Team: <a@b.c>, "X, Y" <x@y.z>;');
    expect(normalizedAddressList('nodomain')).toBe('<nodomain@MISSING_DOMAIN>');
    expect(normalizedAddressList('=?utf-8?q?J=C3=BCrgen?= <j@x.de>')).toBe('=?utf-8?q?J=C3=BCrgen?= <j@x.de>');
    // A local part that fails half-way still leads the display name: Dovecot reuses its buffer
    // (checked against Dovecot 2.3 with SEARCH FROM).
    expect(normalizedAddressList('a.(x) b')).toBe('"a.  b" <MISSING_MAILBOX@MISSING_DOMAIN>');
  });

  it('reads Date: headers as the sender\'s wall clock', () => {
    expect(sentWallClockSeconds('Wed, 01 Jan 2020 23:30:00 -0500')).toBe(Date.UTC(2020, 0, 1, 23, 30) / 1000);
    expect(sentWallClockSeconds('2 Jan 20 10:00 EST')).toBe(Date.UTC(2020, 0, 2, 10) / 1000);
    expect(sentWallClockSeconds('Thu, 02 Jan 2020 10:00:00 +0000 (UTC)')).toBe(Date.UTC(2020, 0, 2, 10) / 1000);
    expect(sentWallClockSeconds('Thu, 31 Feb 2020 10:00:00 +0000')).toBeNull();
    expect(sentWallClockSeconds('garbage')).toBeNull();
    expect(sentWallClockSeconds('Thursday, 02 Jan 2020 10:00')).toBeNull();
  });
});

describe('message structure', () => {
  it('unfolds header lines as Dovecot does', () => {
    const { lines, end } = readHeaderLines('Subject : a\r\n\tb\r\n  c\r\nNo colon\r\n\r\nbody', 0);
    expect(lines).toEqual([
      { name: 'Subject', middle: ' : ', value: 'a b  c', newline: true, eoh: false },
      { name: '', middle: '', value: 'No colon', newline: true, eoh: false },
      { name: '', middle: '', value: '', newline: true, eoh: true },
    ]);
    expect(end).toBe(34);
  });

  it('cuts MIME parts at boundaries, nested and digest ones included', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary="A"\r\n\r\npre\r\n--A\r\nContent-Type: multipart/digest; boundary=AB\r\n\r\n--AB\r\n\r\nSubject: in digest\r\n\r\ndigest body\r\n--AB--\r\n' +
        '--A\r\nContent-Type: text/plain\r\n\r\nlast\r\n--A--\r\nepilogue\r\n',
    );
    const parts = mimeParts(raw);
    expect(parts.map((part) => [part.headers.filter((line) => !line.eoh).map((line) => line.value).join('|'), part.body?.toString() ?? null])).toEqual([
      ['multipart/mixed; boundary="A"', null],
      ['multipart/digest; boundary=AB', null],
      ['', null],
      ['in digest', 'digest body'],
      ['text/plain', 'last'],
    ]);
  });
});
