/**
 * The criteria of SEARCH / UID SEARCH (RFC 3501 §6.4.4) read into a typed tree: the command's
 * arguments (atoms, quoted strings, literals, parenthesised lists) are tokenised from the
 * segments and literals the framer collected, then parsed key by key as Dovecot 2.3 does
 * (src/lib-storage/mail-search-register-imap.c): keys are case-insensitive atoms, a key that
 * starts with a digit or "*" is a sequence set, `OR a b c` is `(OR a b) c`.
 *
 * It must never accept what Dovecot would refuse (the proxy sends the criteria on), never
 * accept an extension key whose capability the proxy hides (SEARCHRES "$", WITHIN, MODSEQ,
 * RETURN), and never throw anything but SearchSyntaxError / SearchCharsetError.
 */
import type { CommandParts, ImapToken } from '../imap-syntax.js';

export type SystemFlag = '\\Answered' | '\\Deleted' | '\\Draft' | '\\Flagged' | '\\Seen' | '\\Recent';

/** `*` stays symbolic: it means the highest number in the mailbox when evaluated. */
export type SetBound = number | '*';
export interface SetRange {
  readonly from: SetBound;
  readonly to: SetBound;
}
/** A sequence set or UID set as sent, e.g. "1:4,7,9:*". */
export interface SequenceSet {
  readonly text: string;
  readonly ranges: readonly SetRange[];
}

/** A date argument ("1-Feb-2024"); the day is kept even when the month has no such day. */
export interface SearchDate {
  readonly day: number;
  /** 1-12 */
  readonly month: number;
  readonly year: number;
}

export type DateRelation = 'before' | 'on' | 'since';

export type SearchKey =
  | { readonly kind: 'all' }
  /** ANSWERED/UNANSWERED … SEEN/UNSEEN, RECENT/OLD. */
  | { readonly kind: 'flag'; readonly flag: SystemFlag; readonly set: boolean }
  /** NEW: recent and unseen. */
  | { readonly kind: 'new' }
  | { readonly kind: 'keyword'; readonly keyword: string; readonly set: boolean }
  /** BEFORE/ON/SINCE compare INTERNALDATE, SENTBEFORE/SENTON/SENTSINCE the Date: header. */
  | { readonly kind: 'date'; readonly field: 'internal' | 'sent'; readonly relation: DateRelation; readonly date: SearchDate }
  | { readonly kind: 'size'; readonly relation: 'larger' | 'smaller'; readonly bytes: bigint }
  | { readonly kind: 'address'; readonly field: 'BCC' | 'CC' | 'FROM' | 'TO'; readonly value: string }
  | { readonly kind: 'subject'; readonly value: string }
  /** HEADER field-name string; `field` upper-cased. */
  | { readonly kind: 'header'; readonly field: string; readonly value: string }
  | { readonly kind: 'body'; readonly value: string }
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'sequence'; readonly set: SequenceSet }
  | { readonly kind: 'uid'; readonly set: SequenceSet }
  | { readonly kind: 'not'; readonly key: SearchKey }
  | { readonly kind: 'or'; readonly left: SearchKey; readonly right: SearchKey }
  /** A parenthesised list. */
  | { readonly kind: 'and'; readonly keys: readonly SearchKey[] };

export type SearchCharset = 'US-ASCII' | 'UTF-8';

/** Everything after "SEARCH": an optional CHARSET and the keys, which must all match. */
export interface SearchProgram {
  readonly charset: SearchCharset | null;
  readonly keys: readonly SearchKey[];
}

/** The criteria cannot be parsed: the proxy answers BAD with the message. */
export class SearchSyntaxError extends Error {
  override readonly name = 'SearchSyntaxError';
}

/** CHARSET names something other than US-ASCII or UTF-8: NO [BADCHARSET (US-ASCII UTF-8)]. */
export class SearchCharsetError extends Error {
  override readonly name = 'SearchCharsetError';
  constructor(readonly charset: string) {
    super(`Unsupported charset ${charset.slice(0, 64)}; use US-ASCII or UTF-8`);
  }
}

export const SUPPORTED_CHARSETS: readonly SearchCharset[] = ['US-ASCII', 'UTF-8'];

// ---- tokenizer -------------------------------------------------------------------------------

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Bytes an atom of search criteria may hold: RFC 3501 ATOM-CHAR plus "*" and "\" (sets, flags). */
function isSearchAtomByte(byte: number): boolean {
  return byte > SP && byte < 0x7f && byte !== 0x28 && byte !== 0x29 && byte !== DQUOTE && byte !== 0x7b;
}

/**
 * Tokenises the arguments of a command from `start` (a byte offset in the first segment, just
 * after "SEARCH"). Each segment but the last ends with a literal announcement whose bytes are
 * the literal of the same index. Throws SearchSyntaxError.
 */
export function tokenizeSearchArguments(parts: CommandParts, start: number): ImapToken[] {
  let segment = 0;
  let pos = start;
  const stack: ImapToken[][] = [[]];
  for (;;) {
    const line = parts.segments[segment];
    if (!line) throw new SearchSyntaxError('Empty command');
    while (line[pos] === SP) pos++;
    const byte = line[pos];
    const items = stack[stack.length - 1]!;
    if (byte === undefined || byte === 0x0d || byte === 0x0a) {
      if (stack.length > 1) throw new SearchSyntaxError('Missing ")"');
      return items;
    }
    if (byte === 0x28) {
      const list: ImapToken[] = [];
      items.push({ kind: 'list', items: list });
      stack.push(list);
      pos++;
    } else if (byte === 0x29) {
      if (stack.length === 1) throw new SearchSyntaxError('Unexpected ")"');
      stack.pop();
      pos++;
    } else if (byte === DQUOTE) {
      const { value, end } = readQuoted(line, pos);
      items.push({ kind: 'string', value });
      pos = end;
    } else if (byte === 0x7b) {
      if (!/^\{\d+\+?\}\r?\n?$/.test(line.toString('latin1', pos))) throw new SearchSyntaxError('A literal must end its line');
      const literal = parts.literals[segment];
      if (!literal) throw new SearchSyntaxError('Literal announced but not received');
      items.push({ kind: 'string', value: literal });
      segment++;
      pos = 0;
    } else {
      const begin = pos;
      while (pos < line.length && isSearchAtomByte(line[pos]!)) pos++;
      if (pos === begin) {
        throw new SearchSyntaxError(byte >= 0x80 ? '8-bit data in an atom; send it as a quoted string or literal' : `Unexpected character 0x${byte.toString(16)}`);
      }
      const next = line[pos];
      if (next !== undefined && next !== SP && next !== 0x29 && next !== 0x0d && next !== 0x0a) {
        throw new SearchSyntaxError(next >= 0x80 ? '8-bit data in an atom; send it as a quoted string or literal' : `Unexpected character 0x${next.toString(16)} in an atom`);
      }
      items.push({ kind: 'atom', value: line.toString('latin1', begin, pos) });
    }
  }
}

function readQuoted(line: Buffer, at: number): { value: Buffer; end: number } {
  const bytes: number[] = [];
  for (let i = at + 1; i < line.length; i++) {
    const byte = line[i]!;
    if (byte === DQUOTE) return { value: Buffer.from(bytes), end: i + 1 };
    if (byte === 0x0d || byte === 0x0a) break;
    if (byte === 0) throw new SearchSyntaxError('NUL in a quoted string');
    if (byte === BACKSLASH) {
      // Like Dovecot, any character may follow the backslash and stands for itself.
      const escaped = line[++i];
      if (escaped === undefined || escaped === 0x0d || escaped === 0x0a) break;
      if (escaped === 0) throw new SearchSyntaxError('NUL in a quoted string');
      bytes.push(escaped);
      continue;
    }
    bytes.push(byte);
  }
  throw new SearchSyntaxError('Unterminated quoted string');
}

// ---- parser ----------------------------------------------------------------------------------

/** Parses the tokens after "SEARCH" (or "UID SEARCH"). Throws SearchSyntaxError, SearchCharsetError. */
export function parseSearch(tokens: readonly ImapToken[]): SearchProgram {
  let charset: SearchCharset | null = null;
  let rest = tokens;
  const first = tokens[0];
  if (first?.kind === 'atom' && first.value.toUpperCase() === 'CHARSET') {
    const name = tokens[1];
    if (!name || name.kind === 'list') throw new SearchSyntaxError('CHARSET needs a charset name');
    const text = name.kind === 'atom' ? name.value : name.kind === 'nil' ? 'NIL' : name.value.toString('latin1');
    const known = SUPPORTED_CHARSETS.find((candidate) => candidate === text.toUpperCase());
    if (!known) throw new SearchCharsetError(text);
    charset = known;
    rest = tokens.slice(2);
  }
  if (rest.length === 0) throw new SearchSyntaxError('Missing search criteria');
  return { charset, keys: readKeys(rest) };
}

/** tokenizeSearchArguments + parseSearch. */
export function parseSearchCommand(parts: CommandParts, start: number): SearchProgram {
  return parseSearch(tokenizeSearchArguments(parts, start));
}

/**
 * How deep the criteria may nest (lists, NOT, OR, counted together). The parser is iterative,
 * but the simplification, evaluation and formatting that follow walk the tree recursively; this
 * many levels leave them ample stack (search-parse.test.ts runs the deepest allowed criteria
 * through all of them). Dovecot 2.3 answers OK to deeper criteria, bounded only by its 64 KiB
 * line; no real client comes near either.
 */
export const MAX_SEARCH_DEPTH = 1_000;

const FLAG_KEYS: Readonly<Record<string, { flag: SystemFlag; set: boolean }>> = {
  ANSWERED: { flag: '\\Answered', set: true },
  UNANSWERED: { flag: '\\Answered', set: false },
  DELETED: { flag: '\\Deleted', set: true },
  UNDELETED: { flag: '\\Deleted', set: false },
  DRAFT: { flag: '\\Draft', set: true },
  UNDRAFT: { flag: '\\Draft', set: false },
  FLAGGED: { flag: '\\Flagged', set: true },
  UNFLAGGED: { flag: '\\Flagged', set: false },
  SEEN: { flag: '\\Seen', set: true },
  UNSEEN: { flag: '\\Seen', set: false },
  RECENT: { flag: '\\Recent', set: true },
  OLD: { flag: '\\Recent', set: false },
};

const DATE_KEYS: Readonly<Record<string, { field: 'internal' | 'sent'; relation: DateRelation }>> = {
  BEFORE: { field: 'internal', relation: 'before' },
  ON: { field: 'internal', relation: 'on' },
  SINCE: { field: 'internal', relation: 'since' },
  SENTBEFORE: { field: 'sent', relation: 'before' },
  SENTON: { field: 'sent', relation: 'on' },
  SENTSINCE: { field: 'sent', relation: 'since' },
};

/** A key whose operands are still being read: NOT waits for one, OR for two. */
type PendingOperator = { readonly kind: 'not'; readonly name: string } | { readonly kind: 'or'; readonly name: string; left: SearchKey | null };

/**
 * Reads keys until the tokens run out. Iterative: each open list and each NOT or OR waiting for
 * its operands is a frame on an explicit stack, so nesting never costs call stack.
 */
function readKeys(tokens: readonly ImapToken[]): SearchKey[] {
  const root = new KeyReader(tokens);
  const frames: (KeyReader | PendingOperator)[] = [root];
  // The innermost list being read: NOT and OR take their operands from it.
  const readers: KeyReader[] = [root];
  for (;;) {
    const top = frames[frames.length - 1]!;
    const reader = readers[readers.length - 1]!;
    let key: SearchKey;
    if (top instanceof KeyReader && top.done) {
      frames.pop();
      readers.pop();
      if (frames.length === 0) return top.keys;
      key = { kind: 'and', keys: top.keys };
    } else {
      if (!(top instanceof KeyReader) && reader.done) throw new SearchSyntaxError(`${top.name} needs a search key after it`);
      const next = reader.next();
      if (next.kind === 'open') {
        if (frames.length > MAX_SEARCH_DEPTH) throw new SearchSyntaxError(`Search criteria nested deeper than ${MAX_SEARCH_DEPTH} levels`);
        frames.push(next.frame);
        if (next.frame instanceof KeyReader) readers.push(next.frame);
        continue;
      }
      key = next.key;
    }
    // Hand the finished key to the frames waiting for it, completing NOTs and ORs on the way.
    for (;;) {
      const waiting = frames[frames.length - 1]!;
      if (waiting instanceof KeyReader) {
        waiting.keys.push(key);
        break;
      }
      if (waiting.kind === 'or' && waiting.left === null) {
        waiting.left = key;
        break;
      }
      frames.pop();
      key = waiting.kind === 'not' ? { kind: 'not', key } : { kind: 'or', left: waiting.left!, right: key };
    }
  }
}

/** One list of keys being read: its tokens, how far, and the keys read so far. */
class KeyReader {
  private index = 0;
  readonly keys: SearchKey[] = [];

  constructor(private readonly tokens: readonly ImapToken[]) {}

  get done(): boolean {
    return this.index >= this.tokens.length;
  }

  /** The next key when it stands alone; a frame to push when it opens a list, NOT or OR. */
  next(): { kind: 'key'; key: SearchKey } | { kind: 'open'; frame: KeyReader | PendingOperator } {
    const token = this.tokens[this.index++];
    if (!token) throw new SearchSyntaxError('Missing search key');
    if (token.kind === 'list') {
      if (token.items.length === 0) throw new SearchSyntaxError('Empty parenthesised list');
      return { kind: 'open', frame: new KeyReader(token.items) };
    }
    if (token.kind === 'string') throw new SearchSyntaxError(`A search key must be an atom, not a string ("${printable(token.value)}")`);
    const name = token.kind === 'nil' ? 'NIL' : token.value.toUpperCase();
    if (name === 'NOT') return { kind: 'open', frame: { kind: 'not', name } };
    if (name === 'OR') return { kind: 'open', frame: { kind: 'or', name, left: null } };
    return { kind: 'key', key: this.simpleKey(name, token.kind === 'atom' ? token.value : 'NIL') };
  }

  /** A key that holds no other key; `name` upper-cased, `text` as sent. */
  private simpleKey(name: string, text: string): SearchKey {
    const flag = FLAG_KEYS[name];
    if (flag) return { kind: 'flag', ...flag };
    const date = DATE_KEYS[name];
    if (date) return { kind: 'date', ...date, date: parseSearchDate(this.text(name)) };
    switch (name) {
      case 'ALL':
        return { kind: 'all' };
      case 'NEW':
        return { kind: 'new' };
      case 'KEYWORD':
      case 'UNKEYWORD':
        return { kind: 'keyword', keyword: this.utf8(name), set: name === 'KEYWORD' };
      case 'LARGER':
      case 'SMALLER':
        return { kind: 'size', relation: name === 'LARGER' ? 'larger' : 'smaller', bytes: parseSize(this.text(name)) };
      case 'BCC':
      case 'CC':
      case 'FROM':
      case 'TO':
        return { kind: 'address', field: name, value: this.utf8(name) };
      case 'SUBJECT':
        return { kind: 'subject', value: this.utf8(name) };
      case 'HEADER': {
        const field = this.utf8(name).toUpperCase();
        return { kind: 'header', field, value: this.utf8(name) };
      }
      case 'BODY':
        return { kind: 'body', value: this.utf8(name) };
      case 'TEXT':
        return { kind: 'text', value: this.utf8(name) };
      case 'UID':
        return { kind: 'uid', set: parseSequenceSet(this.text(name)) };
    }
    if (/^[0-9*]/.test(text)) return { kind: 'sequence', set: parseSequenceSet(text) };
    throw new SearchSyntaxError(`Unknown search key ${text.slice(0, 64)}`);
  }

  /** The next argument as bytes: an atom, a string or NIL, never a list. */
  private bytes(name: string): Buffer {
    const token = this.tokens[this.index++];
    if (!token) throw new SearchSyntaxError(`${name} needs an argument`);
    switch (token.kind) {
      case 'atom':
        return Buffer.from(token.value, 'latin1');
      case 'string':
        return token.value;
      case 'nil':
        return Buffer.from('NIL');
      case 'list':
        throw new SearchSyntaxError(`${name} needs a string argument, not a parenthesised list`);
    }
  }

  private text(name: string): string {
    return this.bytes(name).toString('latin1');
  }

  /** A string argument that must be valid UTF-8, as Dovecot requires of every search string. */
  private utf8(name: string): string {
    const bytes = this.bytes(name);
    if (!isValidUtf8(bytes)) throw new SearchSyntaxError(`The argument of ${name} is not valid UTF-8`);
    return bytes.toString('utf8');
  }
}

function printable(value: Buffer): string {
  return value.toString('latin1', 0, 40).replace(/[^\x20-\x7e]/g, '?');
}

const utf8Checker = new TextDecoder('utf-8', { fatal: true });

export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    utf8Checker.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** "d-Mon-yyyy" as Dovecot reads it (imap_parse_date): 1 or 2 digit day, a space before it allowed. */
export function parseSearchDate(text: string): SearchDate {
  const match = /^ ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text);
  const month = match ? MONTHS.indexOf(match[2]!.toUpperCase()) + 1 : 0;
  if (!match || month === 0) throw new SearchSyntaxError(`Invalid search date "${text.slice(0, 40)}"; expected a date like 1-Feb-2024`);
  return { day: Number(match[1]), month, year: Number(match[3]) };
}

const MAX_SIZE = 0xffff_ffff_ffff_ffffn;

function parseSize(text: string): bigint {
  if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) > MAX_SIZE) {
    throw new SearchSyntaxError(`Invalid size "${text.slice(0, 40)}"; expected a number of bytes`);
  }
  return BigInt(text);
}

const MAX_SET_NUMBER = 0xffff_ffff;

/** A sequence set by RFC 3501's grammar (no empty members, numbers 1 to 2^32-1, "*"). */
export function parseSequenceSet(text: string): SequenceSet {
  if (text === '$') throw new SearchSyntaxError('"$" (SEARCHRES) is not available');
  const ranges = text.split(',').map((member): SetRange => {
    const bounds = member.split(':');
    if (bounds.length > 2) throw new SearchSyntaxError(`Invalid sequence set "${text.slice(0, 64)}"`);
    const from = setBound(bounds[0]!, text);
    return { from, to: bounds.length === 2 ? setBound(bounds[1]!, text) : from };
  });
  return { text, ranges };
}

function setBound(text: string, whole: string): SetBound {
  if (text === '*') return '*';
  if (!/^[1-9][0-9]{0,9}$/.test(text) || Number(text) > MAX_SET_NUMBER) {
    throw new SearchSyntaxError(`Invalid sequence set "${whole.slice(0, 64)}"`);
  }
  return Number(text);
}
