import { describe, expect, it } from 'vitest';
import { formatSearch, hasSets, mapSearchSets, type SetMapper } from './search-format.js';
import { parseSearch, parseSearchCommand, type SearchProgram, type SequenceSet } from './search-parse.js';
import { matchesSearch } from './search-eval.js';

function parse(text: string): SearchProgram {
  return parseSearchCommand({ segments: [Buffer.from(text, 'utf8')], literals: [] }, 0);
}

const text = (program: SearchProgram): string => formatSearch(program).toString('utf8');

describe('formatSearch', () => {
  it('writes keys back in canonical form', () => {
    expect(text(parse('charset utf-8 or seen unanswered not (flagged draft) keyword $Label1 unkeyword \\Seen'))).toBe(
      'CHARSET UTF-8 OR SEEN UNANSWERED NOT (FLAGGED DRAFT) KEYWORD $Label1 UNKEYWORD "\\\\Seen"',
    );
    expect(text(parse('on 1-feb-2024 sentsince " 9-Mar-0999" larger 018 uid *:4,7 2:3 new old recent all'))).toBe(
      'ON 1-Feb-2024 SENTSINCE 9-Mar-0999 LARGER 18 UID *:4,7 2:3 NEW OLD RECENT ALL',
    );
    expect(text(parse('from "a \\"b\\"" header x-y "" subject s body b text t'))).toBe('FROM "a \\"b\\"" HEADER "X-Y" "" SUBJECT "s" BODY "b" TEXT "t"');
  });

  it('sends 8-bit text and line breaks as LITERAL+ literals', () => {
    const program = parseSearch([
      { kind: 'atom', value: 'BODY' },
      { kind: 'string', value: Buffer.from('café') },
      { kind: 'atom', value: 'TEXT' },
      { kind: 'string', value: Buffer.from('a\r\nb') },
    ]);
    expect(formatSearch(program)).toEqual(Buffer.from('BODY {5+}\r\ncafé TEXT {4+}\r\na\r\nb'));
  });
});

describe('mapSearchSets', () => {
  const program = parse('OR 1:3 UID 10:* NOT 5 (UID 7 SEEN)');
  const seen: string[] = [];
  const mapper: SetMapper = {
    sequence: (set: SequenceSet) => {
      seen.push(`seq ${set.text}`);
      return set.text === '5' ? null : '1:2';
    },
    uid: (set: SequenceSet) => {
      seen.push(`uid ${set.text}`);
      return set.text === '7' ? { uid: '96' } : null;
    },
  };

  it('rewrites every set through the mapper and turns empty ones into a set that matches nothing', () => {
    expect(text(mapSearchSets(program, mapper))).toBe('OR 1:2 NOT 1:* NOT NOT 1:* (UID 96 SEEN)');
    expect(seen).toEqual(['seq 1:3', 'uid 10:*', 'seq 5', 'uid 7']);
    expect(text(mapSearchSets(parse('NOT 4'), { sequence: () => ({ uid: '8:9' }), uid: () => null }))).toBe('NOT UID 8:9');
  });

  it('keeps meaning: a set with no real message matches nothing, its NOT everything', () => {
    const message = { sequence: 1, uid: 1, flags: [], recent: false, internalDate: new Date(0), size: 10, raw: Buffer.from('Subject: x\r\n\r\n') };
    const mailbox = { highestSequence: 1, highestUid: 1 };
    const none = { sequence: () => null, uid: () => null };
    expect(matchesSearch(mapSearchSets(parse('UID 5'), none), message, mailbox)).toBe(false);
    expect(matchesSearch(mapSearchSets(parse('NOT UID 5'), none), message, mailbox)).toBe(true);
    expect(matchesSearch(mapSearchSets(parse('OR UID 5 ALL'), none), message, mailbox)).toBe(true);
  });

  it('tells whether criteria have sets at all', () => {
    expect(program.keys.map(hasSets)).toEqual([true, true, true]);
    expect(parse('SEEN (NOT FLAGGED)').keys.some(hasSets)).toBe(false);
  });

  it('refuses a mapper result that is not a set', () => {
    expect(() => mapSearchSets(parse('1'), { sequence: () => 'x', uid: () => null })).toThrow('Invalid sequence set "x"');
  });
});
