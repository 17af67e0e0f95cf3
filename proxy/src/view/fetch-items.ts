/**
 * FETCH attribute lists as clients send them, read the way Dovecot 2.3 reads them
 * (src/imap/cmd-fetch.c, imap-fetch.c, imap-fetch-body.c, lib-imap-storage/imap-msgpart.c):
 * macros (ALL, FAST, FULL), single items or a parenthesised list, BODY[...] and BODY.PEEK[...]
 * with header-field lists and <origin.count> partials. Each item knows the name the server
 * writes back (`BODY[HEADER.FIELDS (SUBJECT "X-Y")]<0>`) and the order Dovecot answers in.
 *
 * Must never accept what Dovecot answers with BAD, nor refuse what it accepts: the proxy serves
 * virtual messages next to real ones and both must behave as one server.
 */
import { asciiUpper, quoted } from './imap-string.js';
import type { BodySection, Partial, SectionText } from './message-sections.js';

/** One requested fetch-att; MessageModel.fetchItem answers those that come from the message bytes. */
export type FetchItem =
  | { readonly kind: 'uid' }
  | { readonly kind: 'flags' }
  | { readonly kind: 'internaldate' }
  | { readonly kind: 'rfc822.size' }
  | { readonly kind: 'envelope' }
  | { readonly kind: 'body' }
  | { readonly kind: 'bodystructure' }
  | { readonly kind: 'rfc822' }
  | { readonly kind: 'rfc822.header' }
  | { readonly kind: 'rfc822.text' }
  | {
      readonly kind: 'body-section';
      readonly peek: boolean;
      readonly section: BodySection;
      readonly partial: Partial | null;
      /** As written back, e.g. `BODY[1.MIME]` or `BODY[HEADER.FIELDS (SUBJECT)]<0>`. */
      readonly responseName: string;
    }
  /** Known to Dovecot but not served for virtual messages (BINARY, MODSEQ, PREVIEW, ...). */
  | { readonly kind: 'unsupported'; readonly name: string };

export type FetchItemsResult = { readonly ok: true; readonly items: readonly FetchItem[] } | { readonly ok: false; readonly error: string };

type Token =
  | { readonly type: 'atom'; readonly value: string }
  | { readonly type: 'nil'; readonly value: 'NIL' }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'list'; readonly items: Token[] };

class FetchSyntaxError extends Error {}

/** Characters Dovecot's command parser refuses inside an atom. */
function isAtomBreaker(char: string): boolean {
  const code = char.charCodeAt(0);
  return char === '(' || char === ')' || char === '{' || char === '"' || code <= 32 || code === 0x7f;
}

/** Tokens of the command arguments: atoms, quoted strings, literals (`{n}\r\n` inline) and lists. */
function tokenize(text: string): Token[] {
  const root: Token[] = [];
  const stack: Token[][] = [root];
  let i = 0;
  const current = (): Token[] => stack[stack.length - 1]!;
  while (i < text.length) {
    const char = text[i]!;
    if (char === ' ') {
      i++;
    } else if (char === '(') {
      const list: Token = { type: 'list', items: [] };
      current().push(list);
      stack.push(list.items);
      i++;
    } else if (char === ')') {
      if (stack.length === 1) throw new FetchSyntaxError("Unexpected ')'");
      stack.pop();
      i++;
    } else if (char === '"') {
      let value = '';
      i++;
      for (;;) {
        const next = text[i];
        if (next === undefined || next === '\r' || next === '\n') throw new FetchSyntaxError('Missing \'"\'');
        if (next === '"') break;
        // Dovecot unescapes any backslashed byte, not only quoted-specials.
        if (next === '\\') i++;
        if (i >= text.length) throw new FetchSyntaxError('Missing \'"\'');
        value += text[i];
        i++;
      }
      i++;
      current().push({ type: 'string', value });
    } else if (char === '{') {
      const match = /^\{(\d+)\+?\}\r\n/.exec(text.slice(i));
      if (!match) throw new FetchSyntaxError('Invalid literal');
      const size = Number(match[1]);
      const start = i + match[0].length;
      if (start + size > text.length) throw new FetchSyntaxError('Literal ends early');
      current().push({ type: 'string', value: text.slice(start, start + size) });
      i = start + size;
    } else if (char === '\r' || char === '\n') {
      throw new FetchSyntaxError('Unexpected line break');
    } else {
      const start = i;
      while (i < text.length && text[i] !== ' ' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === ')' && stack.length > 1) break;
        if (isAtomBreaker(text[i]!)) throw new FetchSyntaxError('Invalid characters in atom');
        if (text.charCodeAt(i) >= 0x80) throw new FetchSyntaxError('8bit data in atom');
        i++;
      }
      const atom = text.slice(start, i);
      current().push(asciiUpper(atom) === 'NIL' ? { type: 'nil', value: 'NIL' } : { type: 'atom', value: atom });
    }
  }
  if (stack.length > 1) throw new FetchSyntaxError("Missing ')'");
  return root;
}

const ALL_MACRO = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'];
const FAST_MACRO = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'];
const FULL_MACRO = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'];

/** Dovecot's handlers that ignore anything after their name (it looks names up by their alnum/'-' prefix). */
const SIMPLE_ITEMS: Readonly<Record<string, FetchItem>> = {
  UID: { kind: 'uid' },
  FLAGS: { kind: 'flags' },
  INTERNALDATE: { kind: 'internaldate' },
  ENVELOPE: { kind: 'envelope' },
  BODYSTRUCTURE: { kind: 'bodystructure' },
};
const UNSUPPORTED_ITEMS = new Set(['MODSEQ', 'PREVIEW', 'SNIPPET', 'SAVEDATE', 'X-GUID', 'X-MAILBOX', 'X-REAL-UID', 'X-SAVEDATE']);

/** Parses a section spec as it appears between the brackets (imap_msgpart_parse); null if invalid. */
export function parseSection(spec: string, fields: readonly string[] | null): BodySection | null {
  // The part number: digits, each dot only after a digit.
  let end = 0;
  let expectDigit = true;
  for (; end < spec.length; end++) {
    const char = spec[end]!;
    if (char >= '0' && char <= '9') expectDigit = false;
    else if (!expectDigit && char === '.') expectDigit = true;
    else break;
  }
  let numbers = '';
  let rest = spec;
  if (end > 0 && end === spec.length) {
    if (spec[end - 1] === '.') return null;
    numbers = spec;
    rest = '';
  } else if (end > 0) {
    // "1.2.MIME": a dot must separate the number from what follows.
    if (spec[end - 1] !== '.') return null;
    numbers = spec.slice(0, end - 1);
    rest = spec.slice(end);
  }
  // Dovecot reads each number into an unsigned int, wrapping silently.
  const part = numbers === '' ? [] : numbers.split('.').map((digits) => [...digits].reduce((value, digit) => (value * 10 + Number(digit)) >>> 0, 0));
  let text: SectionText;
  switch (asciiUpper(rest)) {
    case '':
      text = { kind: 'all' };
      break;
    case 'MIME':
      if (part.length === 0) return null;
      text = { kind: 'mime' };
      break;
    case 'TEXT':
      text = { kind: 'text' };
      break;
    case 'HEADER':
      text = { kind: 'header' };
      break;
    case 'HEADER.FIELDS':
      if (fields === null || fields.length === 0) return null;
      text = { kind: 'header-fields', fields };
      break;
    case 'HEADER.FIELDS.NOT':
      if (fields === null || fields.length === 0) return null;
      text = { kind: 'header-fields-not', fields };
      break;
    default:
      return null;
  }
  return { part, text };
}

const MAX_PARTIAL = Number.MAX_SAFE_INTEGER;

function parsePartial(text: string): Partial | null | string {
  if (text === '') return null;
  if (!text.startsWith('<')) return "Unexpected data after ']'";
  const match = /^<(\d+)(?:\.(\d+))?(.*)$/s.exec(text);
  if (!match) return 'Too big partial start';
  const offset = Number(match[1]);
  if (offset > MAX_PARTIAL) return 'Too big partial start';
  if (match[2] === undefined && text.slice(1 + match[1]!.length).startsWith('.')) return 'Too big partial end';
  const length = match[2] === undefined ? null : Number(match[2]);
  if (length !== null && length > MAX_PARTIAL) return 'Too big partial end';
  const tail = match[3]!;
  if (!tail.startsWith('>')) return "Missing '>' in partial";
  if (tail !== '>') return "Unexpected data after '>'";
  return { offset, length };
}

interface SectionRequest {
  readonly section: BodySection;
  readonly partial: Partial | null;
  /** The section as written back between the brackets, e.g. `HEADER.FIELDS (SUBJECT)`. */
  readonly sectionName: string;
}

/**
 * The `[section]<partial>` part of a BODY[...] or BINARY[...] item (`rest` starts at '['),
 * consuming the header list and the closing `]...` atom from `args` when present.
 */
function parseSectionRequest(keyword: 'BODY' | 'BINARY', rest: string, args: Token[], withPartial: boolean): SectionRequest {
  const invalid = `Invalid ${keyword}[..] parameter`;
  if (!rest.startsWith('[')) throw new FetchSyntaxError(`${invalid}: Missing '['`);
  let sectionName: string;
  let sectionSpec: string;
  let fields: string[] | null = null;
  let after: string;
  const list = args[0];
  if (list?.type === 'list') {
    // BODY[HEADER.FIELDS (A B)]: the list, then an atom starting with ']'.
    const close = args[1];
    if (close?.type !== 'atom' || !close.value.startsWith(']')) throw new FetchSyntaxError(`${invalid}: Missing ']'`);
    fields = [];
    const written: string[] = [];
    for (const field of list.items) {
      if (field.type === 'list') throw new FetchSyntaxError(`${invalid}: Header list contains non-strings`);
      const upper = asciiUpper(field.value);
      // Dovecot re-reads the list from the quoted form it wrote, which drops CR, LF and 8-bit bytes.
      fields.push(field.type === 'atom' ? upper : upper.replace(/[\r\n\x80-\xff]/g, ''));
      // Atoms are written back as they came (upper-cased); strings and NIL as quoted strings.
      written.push(field.type === 'atom' ? upper : quoted(upper));
    }
    sectionSpec = rest.slice(1);
    sectionName = `${sectionSpec} (${written.join(' ')})`;
    if (!/^(\d+(\.\d+)*\.)?HEADER\.FIELDS(\.NOT)?$/.test(sectionSpec)) throw new FetchSyntaxError(`Invalid ${keyword}[..] section`);
    after = close.value.slice(1);
    args.splice(0, 2);
  } else {
    const close = rest.indexOf(']');
    if (close < 0) throw new FetchSyntaxError(`${invalid}: Missing ']'`);
    sectionName = sectionSpec = rest.slice(1, close);
    after = rest.slice(close + 1);
  }
  const section = parseSection(sectionSpec, fields);
  if (section === null) throw new FetchSyntaxError(`Invalid ${keyword}[..] section`);
  if (!withPartial) return { section, partial: null, sectionName };
  const partial = parsePartial(after);
  if (typeof partial === 'string') throw new FetchSyntaxError(`${invalid}: ${partial}`);
  return { section, partial, sectionName };
}

/** BODY[...] / BODY.PEEK[...]; `name` is the upper-cased atom. */
function parseBodySection(name: string, args: Token[]): FetchItem {
  let rest = name.slice(4);
  const peek = rest.startsWith('.PEEK');
  if (peek) rest = rest.slice(5);
  const { section, partial, sectionName } = parseSectionRequest('BODY', rest, args, true);
  const responseName = `BODY[${sectionName}]${partial === null ? '' : `<${partial.offset}>`}`;
  return { kind: 'body-section', peek, section, partial, responseName };
}

/** BINARY[...], BINARY.PEEK[...], BINARY.SIZE[...]: validated like Dovecot, not served. */
function parseBinarySection(name: string, args: Token[]): FetchItem {
  let rest = name.slice(6);
  const size = rest.startsWith('.SIZE');
  if (size || rest.startsWith('.PEEK')) rest = rest.slice(5);
  parseSectionRequest('BINARY', rest, args, !size);
  return { kind: 'unsupported', name: size ? 'BINARY.SIZE' : 'BINARY' };
}

const PREVIEW_MODIFIERS = new Set(['LAZY', 'LAZY=FUZZY', 'FUZZY']);

/** One fetch-att by its (upper-cased) atom; may consume following arguments. */
function parseItem(name: string, args: Token[]): FetchItem {
  const lookup = /^[A-Za-z0-9-]*/.exec(name)![0];
  const simple = SIMPLE_ITEMS[lookup];
  if (simple) return simple;
  switch (lookup) {
    case 'BODY':
      return name === 'BODY' ? { kind: 'body' } : parseBodySection(name, args);
    case 'RFC822':
      switch (name.slice(6)) {
        case '':
          return { kind: 'rfc822' };
        case '.SIZE':
          return { kind: 'rfc822.size' };
        case '.HEADER':
          return { kind: 'rfc822.header' };
        case '.TEXT':
          return { kind: 'rfc822.text' };
      }
      throw new FetchSyntaxError(`Unknown parameter ${name}`);
    case 'BINARY':
      return parseBinarySection(name, args);
    case 'PREVIEW':
    case 'SNIPPET': {
      const modifiers = args[0];
      if (modifiers?.type === 'list') {
        for (const modifier of modifiers.items) {
          if (modifier.type !== 'atom') throw new FetchSyntaxError('Invalid PREVIEW modifier');
          if (!PREVIEW_MODIFIERS.has(asciiUpper(modifier.value))) {
            throw new FetchSyntaxError(`'${modifier.value}' is not a supported PREVIEW modifier`);
          }
        }
        args.splice(0, 1);
      }
      return { kind: 'unsupported', name: lookup };
    }
  }
  if (UNSUPPORTED_ITEMS.has(lookup)) return { kind: 'unsupported', name: lookup };
  throw new FetchSyntaxError(`Unknown parameter: ${name}`);
}

/**
 * Parses what follows the sequence set of a FETCH command: one fetch-att, a macro, or a
 * parenthesised list of fetch-atts. Modifiers such as (CHANGEDSINCE n) are refused: the
 * proxy does not offer CONDSTORE.
 */
export function parseFetchItems(text: string | Buffer): FetchItemsResult {
  try {
    const tokens = tokenize(typeof text === 'string' ? text : text.toString('latin1'));
    const first = tokens.shift();
    const items: FetchItem[] = [];
    if (first === undefined) throw new FetchSyntaxError('Invalid arguments');
    if (first.type === 'atom') {
      const name = asciiUpper(first.value);
      const macro = name === 'ALL' ? ALL_MACRO : name === 'FAST' ? FAST_MACRO : name === 'FULL' ? FULL_MACRO : null;
      if (macro) items.push(...macro.map((item) => parseItem(item, [])));
      else items.push(parseItem(name, tokens));
    } else if (first.type === 'list') {
      if (first.items.length === 0) throw new FetchSyntaxError('FETCH list is empty.');
      const args = first.items;
      while (args.length > 0) {
        const next = args.shift()!;
        if (next.type !== 'atom' && next.type !== 'nil') throw new FetchSyntaxError('FETCH list contains non-atoms');
        items.push(parseItem(asciiUpper(next.value), args));
      }
    } else {
      throw new FetchSyntaxError('Invalid arguments');
    }
    if (tokens.length > 0) throw new FetchSyntaxError(tokens[0]!.type === 'list' ? 'Unknown FETCH modifier' : 'Invalid arguments');
    return { ok: true, items };
  } catch (error) {
    if (error instanceof FetchSyntaxError) return { ok: false, error: error.message };
    throw error;
  }
}

/** Whether fetching this item sets \Seen (RFC 3501 §6.4.5): BODY[...] without PEEK, RFC822, RFC822.TEXT. */
export function fetchSetsSeen(item: FetchItem): boolean {
  return (item.kind === 'body-section' && !item.peek) || item.kind === 'rfc822' || item.kind === 'rfc822.text';
}

/** Items Dovecot writes into its line buffer before any other ("buffered" handlers). */
function isBuffered(item: FetchItem): boolean {
  return item.kind === 'uid' || item.kind === 'flags' || item.kind === 'internaldate' || item.kind === 'rfc822.size';
}

/**
 * The items in the order Dovecot answers them: UID first for UID FETCH, then UID, FLAGS,
 * INTERNALDATE and RFC822.SIZE in request order, then the rest in request order; repeats of
 * an item are dropped except for BODY[...] sections, which are answered as often as asked.
 */
export function dovecotResponseOrder(items: readonly FetchItem[], uidCommand: boolean): FetchItem[] {
  const all: FetchItem[] = uidCommand ? [{ kind: 'uid' }, ...items] : [...items];
  const seen = new Set<string>();
  const buffered: FetchItem[] = [];
  const streamed: FetchItem[] = [];
  for (const item of all) {
    if (item.kind !== 'body-section' && item.kind !== 'unsupported') {
      if (seen.has(item.kind)) continue;
      seen.add(item.kind);
    }
    (isBuffered(item) ? buffered : streamed).push(item);
  }
  return [...buffered, ...streamed];
}
