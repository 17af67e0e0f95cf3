import { describe, expect, it } from 'vitest';
import { MAX_SEARCH_DEPTH, parseSearch, parseSearchCommand, SearchCharsetError, SearchSyntaxError, tokenizeSearchArguments, type SearchProgram } from './search-parse.js';
import { formatSearch, hasSets, mapSearchSets } from './search-format.js';
import { matchesSearch } from './search-eval.js';
import { dovecotArgs } from './search-simplify.js';

/** A command as the framer hands it over: `{n}` literals cut out into their own buffers. */
function parts(text: string): { segments: Buffer[]; literals: Buffer[] } {
  const buffer = Buffer.from(text, 'utf8');
  const bytes = buffer.toString('latin1');
  const segments: Buffer[] = [];
  const literals: Buffer[] = [];
  const announcement = /\{(\d+)\+?\}\r\n/g;
  let start = 0;
  for (let match = announcement.exec(bytes); match; match = announcement.exec(bytes)) {
    const literalStart = match.index + match[0].length;
    segments.push(buffer.subarray(start, literalStart));
    literals.push(buffer.subarray(literalStart, literalStart + Number(match[1])));
    start = literalStart + Number(match[1]);
    announcement.lastIndex = start;
  }
  segments.push(buffer.subarray(start));
  return { segments, literals };
}

const parse = (text: string): SearchProgram => parseSearchCommand(parts(text), 0);
const keys = (text: string) => parse(text).keys;

function syntaxError(text: string): string {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(SearchSyntaxError);
    return (error as Error).message;
  }
  throw new Error(`no error for ${text}`);
}

describe('tokenizeSearchArguments', () => {
  it('reads atoms, quoted strings with escapes, literals and nested lists', () => {
    const tokens = tokenizeSearchArguments(parts('t1 UID SEARCH (OR 1:* "a \\"b\\" \\\\c") BODY {4+}\r\nx\r\ny SEEN\r\n'), 'T1 UID SEARCH'.length);
    expect(tokens).toEqual([
      { kind: 'list', items: [{ kind: 'atom', value: 'OR' }, { kind: 'atom', value: '1:*' }, { kind: 'string', value: Buffer.from('a "b" \\c') }] },
      { kind: 'atom', value: 'BODY' },
      { kind: 'string', value: Buffer.from('x\r\ny') },
      { kind: 'atom', value: 'SEEN' },
    ]);
  });

  it('accepts any escaped character in a quoted string, as Dovecot does', () => {
    expect(keys('SUBJECT "a\\b"')).toEqual([{ kind: 'subject', value: 'ab' }]);
  });

  it('explains what is wrong', () => {
    expect(syntaxError('SUBJECT "open')).toBe('Unterminated quoted string');
    expect(syntaxError('(SEEN')).toBe('Missing ")"');
    expect(syntaxError('SEEN)')).toBe('Unexpected ")"');
    expect(syntaxError('SUBJECT café')).toMatch(/8-bit data in an atom/);
    expect(syntaxError('SEEN(ALL)')).toBe('Unexpected character 0x28 in an atom');
    expect(keys('(SEEN)(ALL)')).toHaveLength(2);
    expect(syntaxError('BODY {3}x')).toBe('A literal must end its line');
    expect(() => tokenizeSearchArguments({ segments: [Buffer.from('BODY {3}\r\n')], literals: [] }, 0)).toThrow('Literal announced but not received');
  });
});

describe('parseSearch', () => {
  it('reads every RFC 3501 key, case-insensitively', () => {
    expect(
      keys(
        'all answered bcc "b" before 1-Feb-2024 body x cc c deleted draft flagged from f header X-Campaign "" keyword $Label1 larger 10 new not seen old ' +
          'on 01-feb-2024 or recent unseen sentbefore 2-Mar-2020 senton " 3-Mar-2020" sentsince 4-Mar-2020 since 5-Mar-2020 smaller 20 subject s text t to t2 ' +
          'uid 1:* unanswered undeleted undraft unflagged unkeyword work 2,4:6',
      ),
    ).toEqual([
      { kind: 'all' },
      { kind: 'flag', flag: '\\Answered', set: true },
      { kind: 'address', field: 'BCC', value: 'b' },
      { kind: 'date', field: 'internal', relation: 'before', date: { day: 1, month: 2, year: 2024 } },
      { kind: 'body', value: 'x' },
      { kind: 'address', field: 'CC', value: 'c' },
      { kind: 'flag', flag: '\\Deleted', set: true },
      { kind: 'flag', flag: '\\Draft', set: true },
      { kind: 'flag', flag: '\\Flagged', set: true },
      { kind: 'address', field: 'FROM', value: 'f' },
      { kind: 'header', field: 'X-CAMPAIGN', value: '' },
      { kind: 'keyword', keyword: '$Label1', set: true },
      { kind: 'size', relation: 'larger', bytes: 10n },
      { kind: 'new' },
      { kind: 'not', key: { kind: 'flag', flag: '\\Seen', set: true } },
      { kind: 'flag', flag: '\\Recent', set: false },
      { kind: 'date', field: 'internal', relation: 'on', date: { day: 1, month: 2, year: 2024 } },
      { kind: 'or', left: { kind: 'flag', flag: '\\Recent', set: true }, right: { kind: 'flag', flag: '\\Seen', set: false } },
      { kind: 'date', field: 'sent', relation: 'before', date: { day: 2, month: 3, year: 2020 } },
      { kind: 'date', field: 'sent', relation: 'on', date: { day: 3, month: 3, year: 2020 } },
      { kind: 'date', field: 'sent', relation: 'since', date: { day: 4, month: 3, year: 2020 } },
      { kind: 'date', field: 'internal', relation: 'since', date: { day: 5, month: 3, year: 2020 } },
      { kind: 'size', relation: 'smaller', bytes: 20n },
      { kind: 'subject', value: 's' },
      { kind: 'text', value: 't' },
      { kind: 'address', field: 'TO', value: 't2' },
      { kind: 'uid', set: { text: '1:*', ranges: [{ from: 1, to: '*' }] } },
      { kind: 'flag', flag: '\\Answered', set: false },
      { kind: 'flag', flag: '\\Deleted', set: false },
      { kind: 'flag', flag: '\\Draft', set: false },
      { kind: 'flag', flag: '\\Flagged', set: false },
      { kind: 'keyword', keyword: 'work', set: false },
      { kind: 'sequence', set: { text: '2,4:6', ranges: [{ from: 2, to: 2 }, { from: 4, to: 6 }] } },
    ]);
  });

  it('nests OR, NOT and lists the way Dovecot reads them', () => {
    expect(keys('OR 1 2 3')).toEqual([
      { kind: 'or', left: { kind: 'sequence', set: { text: '1', ranges: [{ from: 1, to: 1 }] } }, right: { kind: 'sequence', set: { text: '2', ranges: [{ from: 2, to: 2 }] } } },
      { kind: 'sequence', set: { text: '3', ranges: [{ from: 3, to: 3 }] } },
    ]);
    expect(keys('NOT (SEEN OR DRAFT FLAGGED)')).toEqual([
      {
        kind: 'not',
        key: {
          kind: 'and',
          keys: [
            { kind: 'flag', flag: '\\Seen', set: true },
            { kind: 'or', left: { kind: 'flag', flag: '\\Draft', set: true }, right: { kind: 'flag', flag: '\\Flagged', set: true } },
          ],
        },
      },
    ]);
  });

  it('takes strings as quoted strings, literals or atoms, and keeps UTF-8', () => {
    expect(keys('SUBJECT {7+}\r\ncafé\r\n HEADER x-a "v w"')).toEqual([
      { kind: 'subject', value: 'café\r\n' },
      { kind: 'header', field: 'X-A', value: 'v w' },
    ]);
    expect(keys('LARGER "20"')).toEqual([{ kind: 'size', relation: 'larger', bytes: 20n }]);
    expect(keys('LARGER 18446744073709551615')).toEqual([{ kind: 'size', relation: 'larger', bytes: 18446744073709551615n }]);
  });

  it('accepts CHARSET US-ASCII and UTF-8 only', () => {
    expect(parse('CHARSET utf-8 SEEN')).toEqual({ charset: 'UTF-8', keys: [{ kind: 'flag', flag: '\\Seen', set: true }] });
    expect(parse('CHARSET "US-ASCII" ALL').charset).toBe('US-ASCII');
    expect(() => parse('CHARSET ISO-8859-1 SEEN')).toThrow(SearchCharsetError);
    expect(() => parse('CHARSET ISO-8859-1 SEEN')).toThrow('Unsupported charset ISO-8859-1; use US-ASCII or UTF-8');
    expect(syntaxError('CHARSET')).toBe('CHARSET needs a charset name');
    expect(syntaxError('SEEN CHARSET UTF-8')).toBe('Unknown search key CHARSET');
  });

  it('gives client developers a message that says what is wrong', () => {
    expect(syntaxError('')).toBe('Missing search criteria');
    expect(syntaxError('FOO')).toBe('Unknown search key FOO');
    expect(syntaxError('"SEEN"')).toBe('A search key must be an atom, not a string ("SEEN")');
    expect(syntaxError('()')).toBe('Empty parenthesised list');
    expect(syntaxError('NOT')).toBe('NOT needs a search key after it');
    expect(syntaxError('OR SEEN')).toBe('OR needs a search key after it');
    expect(syntaxError('SUBJECT')).toBe('SUBJECT needs an argument');
    expect(syntaxError('SUBJECT (a)')).toBe('SUBJECT needs a string argument, not a parenthesised list');
    expect(syntaxError('ON 1-Jan-20')).toBe('Invalid search date "1-Jan-20"; expected a date like 1-Feb-2024');
    expect(syntaxError('ON 001-Jan-2020')).toMatch(/Invalid search date/);
    expect(syntaxError('SINCE 1-Foo-2020')).toMatch(/Invalid search date/);
    expect(syntaxError('LARGER -1')).toBe('Invalid size "-1"; expected a number of bytes');
    expect(syntaxError('LARGER 18446744073709551616')).toMatch(/Invalid size/);
    expect(syntaxError('0')).toBe('Invalid sequence set "0"');
    expect(syntaxError('1:2:3')).toBe('Invalid sequence set "1:2:3"');
    expect(syntaxError('2,')).toBe('Invalid sequence set "2,"');
    expect(syntaxError('4294967296')).toBe('Invalid sequence set "4294967296"');
    expect(syntaxError('UID $')).toBe('"$" (SEARCHRES) is not available');
    expect(syntaxError('YOUNGER 10')).toBe('Unknown search key YOUNGER');
    const invalid = { segments: [Buffer.from('BODY {2+}\r\n'), Buffer.from('\r\n')], literals: [Buffer.from([0xff, 0xfe])] };
    expect(() => parseSearchCommand(invalid, 0)).toThrow('The argument of BODY is not valid UTF-8');
  });

  it('reads criteria nested as deep as the limit without recursion, and refuses deeper ones', () => {
    // Dovecot answers OK to all of these; the proxy to MAX_SEARCH_DEPTH levels.
    expect(keys(`${'NOT '.repeat(MAX_SEARCH_DEPTH)}SEEN`)).toHaveLength(1);
    expect(keys(`${'('.repeat(MAX_SEARCH_DEPTH)}SEEN${')'.repeat(MAX_SEARCH_DEPTH)}`)).toHaveLength(1);
    expect(keys(`${'OR SEEN '.repeat(MAX_SEARCH_DEPTH)}ALL`)).toHaveLength(1);
    expect(syntaxError(`${'NOT '.repeat(MAX_SEARCH_DEPTH + 1)}SEEN`)).toBe(`Search criteria nested deeper than ${MAX_SEARCH_DEPTH} levels`);
    expect(syntaxError(`${'('.repeat(20_000)}SEEN${')'.repeat(20_000)}`)).toBe(`Search criteria nested deeper than ${MAX_SEARCH_DEPTH} levels`);
    expect(syntaxError('OR SEEN')).toBe('OR needs a search key after it');
    expect(syntaxError('(NOT)')).toBe('NOT needs a search key after it');
  });

  it('simplifies, formats and evaluates the deepest allowed criteria of every shape', () => {
    const half = MAX_SEARCH_DEPTH / 2;
    const third = Math.floor(MAX_SEARCH_DEPTH / 3);
    const shapes = [
      `${'NOT '.repeat(MAX_SEARCH_DEPTH)}1:*`,
      `${'('.repeat(MAX_SEARCH_DEPTH)}UID 1:*${')'.repeat(MAX_SEARCH_DEPTH)}`,
      `${'OR 1 '.repeat(MAX_SEARCH_DEPTH)}SEEN`,
      `${'OR OR '.repeat(half)}1 ${'SEEN 2 '.repeat(half)}3`,
      `${'(NOT OR 1 '.repeat(third)}SEEN${')'.repeat(third)}`,
    ];
    for (const criteria of shapes) {
      const program = parse(criteria);
      const mapped = mapSearchSets(program, { sequence: (set) => set.text, uid: (set) => ({ uid: set.text }) });
      expect(formatSearch(mapped).length).toBeGreaterThan(0);
      expect(program.keys.some(hasSets)).toBe(true);
      expect(dovecotArgs(program).length).toBeGreaterThan(0);
      const message = { sequence: 1, uid: 16, flags: [], recent: false, internalDate: new Date(0), size: 10, raw: Buffer.from('Subject: x\r\n\r\nbody\r\n') };
      expect(typeof matchesSearch(program, message, { highestSequence: 1, highestUid: 16 })).toBe('boolean');
    }
  });

  it('reads tokens that imap-syntax produced, NIL included', () => {
    expect(parseSearch([{ kind: 'atom', value: 'SUBJECT' }, { kind: 'nil' }]).keys).toEqual([{ kind: 'subject', value: 'NIL' }]);
  });
});
