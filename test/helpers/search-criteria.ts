/**
 * Random SEARCH criteria (proxy/src/view/search-parse.ts trees) for differential tests: every
 * key of RFC 3501, nested NOT/OR/lists, sets around the mailbox's real numbers, dates around
 * the messages' days and strings cut from the messages themselves, so that a good share of the
 * keys match something. Whatever it generates is valid IMAP that Dovecot accepts.
 *
 * It must never generate what the parser would refuse, so a failure always means a difference
 * in matching, not in syntax.
 */
import fc from 'fast-check';
import type { SearchDate, SearchKey, SearchProgram, SequenceSet, SetBound, SetRange } from '../../proxy/src/view/search-parse.ts';
import { dovecotArgs, FLAG_BITS } from '../../proxy/src/view/search-simplify.ts';

export interface SearchVocabulary {
  /** The mailbox's highest sequence number and its UIDs in order. */
  readonly highestSequence: number;
  readonly uids: readonly number[];
  /** Text the messages hold (decoded or raw), to cut search strings from. */
  readonly corpus: string;
  /** Strings worth searching for as they are. */
  readonly phrases: readonly string[];
  readonly headerFields: readonly string[];
  readonly keywords: readonly string[];
  readonly dates: readonly SearchDate[];
  readonly sizes: readonly number[];
}

const FLAGS = ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen', '\\Recent'] as const;
// Characters whose case mapping or decomposition Dovecot treats specially.
const ODD_TEXT = ['é', 'É', 'e\u0301', 'ß', 'SS', 'ﬁ', 'fi', 'ǅ', 'ǆ', 'Ǆ', 'ς', 'σ', 'Σ', 'İ', 'i', 'ı', 'Å', 'Å', '한', 'ᄒ', '€', '😀', 'ｆ', 'Ⅻ', '"', '\\', ' ', '  ', '\t', ':', '<', '>', ',', ';', '=?', '?='];

function flipCase(text: string, mask: number): string {
  return [...text].map((char, index) => ((mask >> index % 30) & 1 ? char.toUpperCase() : char.toLowerCase())).join('');
}

/**
 * A search string: a phrase, a piece of the corpus, odd characters, or random text. Without
 * `lineBreaks` it holds no CR or LF: Dovecot never resets the matcher of a header key, so one
 * with a line break can match across header lines and even carry over from the previous
 * message (search-eval.ts), which no evaluation of one message can reproduce.
 */
export function searchStringArbitrary(vocabulary: SearchVocabulary, lineBreaks = true): fc.Arbitrary<string> {
  if (!lineBreaks) return searchStringArbitrary(vocabulary).map((text) => text.replace(/[\r\n]+/g, ' '));
  const corpus = [...vocabulary.corpus.replace(/\0/g, '')];
  const piece = fc
    .record({ start: fc.nat({ max: Math.max(0, corpus.length - 1) }), length: fc.integer({ min: 1, max: 12 }), mask: fc.nat() })
    .map(({ start, length, mask }) => flipCase(corpus.slice(start, start + length).join(''), mask));
  const phrase = fc.record({ text: fc.constantFrom(...vocabulary.phrases), mask: fc.nat(), keepCase: fc.boolean() }).map(({ text, mask, keepCase }) => (keepCase ? text : flipCase(text, mask)));
  const odd = fc.array(fc.constantFrom(...ODD_TEXT, 'a', 'e', 'x', 'o'), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));
  const random = fc.string({ unit: 'grapheme-ascii', minLength: 0, maxLength: 6 });
  return fc.oneof({ arbitrary: piece, weight: 5 }, { arbitrary: phrase, weight: 4 }, { arbitrary: odd, weight: 1 }, { arbitrary: random, weight: 1 }, { arbitrary: fc.constant(''), weight: 1 });
}

/**
 * Sets of one to three members, at most one of them with "*": Dovecot 2.3.19's imap process
 * panics on some sets with two (seq_range_array_remove_range on "5:8,15:*,*:5").
 */
function setArbitrary(highest: number, candidates: readonly number[]): fc.Arbitrary<SequenceSet> {
  const bound: fc.Arbitrary<SetBound> = fc.oneof(
    { arbitrary: fc.constantFrom(...(candidates.length > 0 ? candidates : [1])), weight: 4 },
    { arbitrary: fc.integer({ min: 1, max: Math.max(1, highest + 3) }), weight: 3 },
    { arbitrary: fc.constant('*' as const), weight: 1 },
  );
  const range: fc.Arbitrary<SetRange> = fc.oneof(
    bound.map((value) => ({ from: value, to: value })),
    fc.record({ from: bound, to: bound }),
  );
  const hasStar = ({ from, to }: SetRange): boolean => from === '*' || to === '*';
  return fc.array(range, { minLength: 1, maxLength: 3 }).filter((ranges) => ranges.filter(hasStar).length <= 1).map((ranges) => ({
    ranges,
    text: ranges.map(({ from, to }) => (from === to ? `${from}` : `${from}:${to}`)).join(','),
  }));
}

/** One search key, nested at most `depth` levels. */
export function searchKeyArbitrary(vocabulary: SearchVocabulary, depth = 3): fc.Arbitrary<SearchKey> {
  const text = searchStringArbitrary(vocabulary);
  const headerText = searchStringArbitrary(vocabulary, false);
  const sequences = Array.from({ length: vocabulary.highestSequence }, (_, index) => index + 1);
  const date = fc.constantFrom(...vocabulary.dates);
  const leaf: fc.Arbitrary<SearchKey> = fc.oneof(
    { arbitrary: fc.constant({ kind: 'all' } as const), weight: 1 },
    { arbitrary: fc.record({ flag: fc.constantFrom(...FLAGS), set: fc.boolean() }).map(({ flag, set }) => ({ kind: 'flag' as const, flag, set })), weight: 4 },
    { arbitrary: fc.constant({ kind: 'new' } as const), weight: 1 },
    {
      arbitrary: fc.record({ keyword: fc.oneof(fc.constantFrom(...vocabulary.keywords), fc.constantFrom('\\Seen', 'nonexistent', 'a b', '')), set: fc.boolean() }).map(({ keyword, set }) => ({ kind: 'keyword' as const, keyword, set })),
      weight: 2,
    },
    {
      arbitrary: fc.record({ field: fc.constantFrom('internal' as const, 'sent' as const), relation: fc.constantFrom('before' as const, 'on' as const, 'since' as const), date }).map((key) => ({ kind: 'date' as const, ...key })),
      weight: 4,
    },
    {
      arbitrary: fc.record({ relation: fc.constantFrom('larger' as const, 'smaller' as const), size: fc.oneof(fc.constantFrom(...vocabulary.sizes), fc.nat({ max: 20_000 })) }).map(({ relation, size }) => ({ kind: 'size' as const, relation, bytes: BigInt(size) })),
      weight: 2,
    },
    { arbitrary: fc.record({ field: fc.constantFrom('BCC' as const, 'CC' as const, 'FROM' as const, 'TO' as const), value: headerText }).map((key) => ({ kind: 'address' as const, ...key })), weight: 4 },
    { arbitrary: headerText.map((value) => ({ kind: 'subject' as const, value })), weight: 3 },
    { arbitrary: fc.record({ field: fc.constantFrom(...vocabulary.headerFields).map((field) => field.toUpperCase()), value: headerText }).map((key) => ({ kind: 'header' as const, ...key })), weight: 4 },
    { arbitrary: text.map((value) => ({ kind: 'body' as const, value })), weight: 3 },
    { arbitrary: text.map((value) => ({ kind: 'text' as const, value })), weight: 3 },
    { arbitrary: setArbitrary(vocabulary.highestSequence, sequences).map((set) => ({ kind: 'sequence' as const, set })), weight: 2 },
    { arbitrary: setArbitrary(Math.max(0, ...vocabulary.uids), vocabulary.uids).map((set) => ({ kind: 'uid' as const, set })), weight: 2 },
  );
  if (depth <= 0) return leaf;
  const inner = searchKeyArbitrary(vocabulary, depth - 1);
  return fc.oneof(
    { arbitrary: leaf, weight: 6 },
    { arbitrary: inner.map((key) => ({ kind: 'not' as const, key })), weight: 2 },
    { arbitrary: fc.record({ left: inner, right: inner }).map(({ left, right }) => ({ kind: 'or' as const, left, right })), weight: 2 },
    { arbitrary: fc.array(inner, { minLength: 1, maxLength: 3 }).map((keys) => ({ kind: 'and' as const, keys })), weight: 1 },
  );
}

/**
 * True when Dovecot's rewrite of the criteria leaves, at the top level, a negated test of \Seen
 * merged with other flags (`OR UNSEEN UNANSWERED` becomes NOT (\Seen and \Answered)). Dovecot
 * then skips every message below the mailbox's first-unseen hint as if the key were UNSEEN
 * (search_limit_by_hdr), a result that depends on the whole mailbox, not on one message.
 */
export function hitsDovecotUnseenShortcut(program: SearchProgram): boolean {
  const seen = FLAG_BITS['\\Seen'];
  return dovecotArgs(program).some((arg) => arg.type === 'FLAGS' && arg.not && (arg.flags & seen) !== 0 && arg.flags !== seen);
}

/** Whole criteria: one to four keys, sometimes with a CHARSET. */
export function searchProgramArbitrary(vocabulary: SearchVocabulary): fc.Arbitrary<SearchProgram> {
  return fc
    .record({
      charset: fc.constantFrom(null, null, null, 'UTF-8' as const, 'US-ASCII' as const),
      keys: fc.array(searchKeyArbitrary(vocabulary), { minLength: 1, maxLength: 4 }),
    })
    .filter((program) => !hitsDovecotUnseenShortcut(program));
}
