// What Dovecot 2.3 accepts in a FETCH attribute list and how it names the items it answers
// (checked against a live Dovecot by test/integration/message-model-dovecot.test.ts).
import { describe, expect, it } from 'vitest';
import { dovecotResponseOrder, fetchSetsSeen, parseFetchItems, parseSection, type FetchItem } from './fetch-items.js';

function items(text: string): readonly FetchItem[] {
  const parsed = parseFetchItems(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.items;
}

function names(text: string): string[] {
  return items(text).map((item) => (item.kind === 'body-section' ? item.responseName : item.kind));
}

describe('parseFetchItems', () => {
  it('expands the macros, but only as the whole argument', () => {
    expect(names('ALL')).toEqual(['flags', 'internaldate', 'rfc822.size', 'envelope']);
    expect(names('fast')).toEqual(['flags', 'internaldate', 'rfc822.size']);
    expect(names('FULL')).toEqual(['flags', 'internaldate', 'rfc822.size', 'envelope', 'body']);
    expect(parseFetchItems('(ALL)')).toEqual({ ok: false, error: 'Unknown parameter: ALL' });
  });

  it('names sections as Dovecot writes them back', () => {
    expect(names('(UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject Date)]<0.100> ENVELOPE)')).toEqual([
      'uid',
      'flags',
      'BODY[HEADER.FIELDS (SUBJECT DATE)]<0>',
      'envelope',
    ]);
    expect(names('(body[1.mime] BODY[header.fields.not ("X-Quoted" nil)] BODY[]<5> BODY[TEXT])')).toEqual([
      'BODY[1.MIME]',
      'BODY[HEADER.FIELDS.NOT ("X-QUOTED" "NIL")]',
      'BODY[]<5>',
      'BODY[TEXT]',
    ]);
  });

  it('reads partials, peek and header lists given as literals', () => {
    const [item] = items('BODY.PEEK[HEADER.FIELDS ({7}\r\nSubject)]<10.20>');
    expect(item).toMatchObject({
      kind: 'body-section',
      peek: true,
      partial: { offset: 10, length: 20 },
      section: { part: [], text: { kind: 'header-fields', fields: ['SUBJECT'] } },
      responseName: 'BODY[HEADER.FIELDS ("SUBJECT")]<10>',
    });
  });

  it.each([
    ['BODY[', "Invalid BODY[..] parameter: Missing ']'"],
    ['BODY.PEK[]', "Invalid BODY[..] parameter: Missing '['"],
    ['BODY[MIME]', 'Invalid BODY[..] section'],
    ['BODY[1.]', 'Invalid BODY[..] section'],
    ['BODY[HEADER.FIELDS ()]', 'Invalid BODY[..] section'],
    ['BODY[TEXT (A)]', 'Invalid BODY[..] section'],
    ['BODY[]<>', 'Invalid BODY[..] parameter: Too big partial start'],
    ['BODY[]<1.>', 'Invalid BODY[..] parameter: Too big partial end'],
    ['BODY[]<1', "Invalid BODY[..] parameter: Missing '>' in partial"],
    ['BODY[]x', "Invalid BODY[..] parameter: Unexpected data after ']'"],
    ['RFC822.FOO', 'Unknown parameter RFC822.FOO'],
    ['X-NOPE', 'Unknown parameter: X-NOPE'],
    ['()', 'FETCH list is empty.'],
    ['(UID "FLAGS")', 'FETCH list contains non-atoms'],
    ['NIL', 'Invalid arguments'],
    ['(UID) (CHANGEDSINCE 1)', 'Unknown FETCH modifier'],
    ['BODY[HEADER.FIELDS(A)]', 'Invalid characters in atom'],
  ])('refuses %j', (text, error) => {
    expect(parseFetchItems(text)).toEqual({ ok: false, error });
  });

  it('accepts what Dovecot accepts but the proxy does not serve', () => {
    expect(items('(BINARY.PEEK[1]<0.10> MODSEQ X-GUID PREVIEW (LAZY))')).toEqual([
      { kind: 'unsupported', name: 'BINARY' },
      { kind: 'unsupported', name: 'MODSEQ' },
      { kind: 'unsupported', name: 'X-GUID' },
      { kind: 'unsupported', name: 'PREVIEW' },
    ]);
  });
});

describe('parseSection', () => {
  it('wraps part numbers at 2^32 and unescapes any quoted byte, as Dovecot does', () => {
    expect(parseSection('4294967297', null)).toEqual({ part: [1], text: { kind: 'all' } });
    expect(names('BODY[HEADER.FIELDS ("Sub\\ject")]')).toEqual(['BODY[HEADER.FIELDS ("SUBJECT")]']);
  });

  it('follows imap_msgpart_parse', () => {
    expect(parseSection('', null)).toEqual({ part: [], text: { kind: 'all' } });
    expect(parseSection('1.2.3', null)).toEqual({ part: [1, 2, 3], text: { kind: 'all' } });
    expect(parseSection('2.text', null)).toEqual({ part: [2], text: { kind: 'text' } });
    expect(parseSection('01.0.MIME', null)).toEqual({ part: [1, 0], text: { kind: 'mime' } });
    expect(parseSection('1MIME', null)).toBeNull();
    expect(parseSection('.MIME', null)).toBeNull();
    expect(parseSection('1..2', null)).toBeNull();
  });
});

describe('dovecotResponseOrder', () => {
  it('puts UID, FLAGS, INTERNALDATE and RFC822.SIZE first and drops repeats except sections', () => {
    const order = dovecotResponseOrder(items('(ENVELOPE BODY[1] RFC822.SIZE BODY[1] ENVELOPE FLAGS)'), true);
    expect(order.map((item) => (item.kind === 'body-section' ? item.responseName : item.kind))).toEqual([
      'uid',
      'rfc822.size',
      'flags',
      'envelope',
      'BODY[1]',
      'BODY[1]',
    ]);
  });
});

describe('fetchSetsSeen', () => {
  it('is true for non-PEEK bodies, RFC822 and RFC822.TEXT only', () => {
    expect(items('(BODY[] BODY.PEEK[] RFC822 RFC822.TEXT RFC822.HEADER BODY)').map(fetchSetsSeen)).toEqual([true, false, true, true, false, false]);
  });
});
