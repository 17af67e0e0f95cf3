// Dovecot's choices between quoted strings and literals (src/lib-imap/imap-quote.c).
import { describe, expect, it } from 'vitest';
import { asciiUpper, nstring, nstringNoLf, quoted, stringForHumans } from './imap-string.js';

describe('nstring', () => {
  it('quotes when it can, escaping up to four quoted-specials', () => {
    expect(nstring(null)).toBe('NIL');
    expect(nstring('')).toBe('""');
    expect(nstring('a "b" \\c\\')).toBe('"a \\"b\\" \\\\c\\\\"');
  });

  it('switches to a literal for the fifth special, CR, LF or 8-bit bytes', () => {
    expect(nstring('"""""')).toBe('{5}\r\n"""""');
    expect(nstring('a\nb')).toBe('{3}\r\na\nb');
    expect(nstring('caf\xc3\xa9')).toBe('{5}\r\ncaf\xc3\xa9');
  });
});

describe('nstringNoLf', () => {
  it('drops line breaks, adding a space only where words would run together', () => {
    expect(nstringNoLf('<a@b>\n <c@d>')).toBe('"<a@b> <c@d>"');
    expect(nstringNoLf('a\nb')).toBe('"a b"');
    expect(nstringNoLf('a\n')).toBe('"a"');
  });
});

describe('stringForHumans', () => {
  it('leaves a plain value quoted as it is', () => {
    expect(stringForHumans('Hello world')).toBe('"Hello world"');
  });

  it('collapses whitespace and trims, then sends a literal', () => {
    expect(stringForHumans('  a \t b\n c  ')).toBe('{5}\r\na b c');
    expect(stringForHumans('say "hi"')).toBe('{8}\r\nsay "hi"');
    expect(stringForHumans('nul\0')).toBe('{4}\r\nnul\x80');
  });

  it('gives "" for whitespace only', () => {
    expect(stringForHumans(' \t ')).toBe('""');
  });
});

describe('helpers', () => {
  it('quoted drops what a quoted string cannot carry', () => {
    expect(quoted('a\r\nb\xe9"')).toBe('"ab\\""');
  });

  it('folds ASCII only, as C does', () => {
    expect(asciiUpper('subject-é')).toBe('SUBJECT-é');
  });
});
