/**
 * The small part of IMAP syntax the proxy itself must read and write: a command's tag and name,
 * the arguments of the few commands it answers before login (LOGIN, AUTHENTICATE, ID, ENABLE),
 * and strings quoted safely for the upstream. Everything else passes through unparsed.
 */

/** One argument: an atom, a string (quoted or literal), NIL, or a parenthesised list. */
export type ImapToken =
  | { readonly kind: 'atom'; readonly value: string }
  | { readonly kind: 'string'; readonly value: Buffer }
  | { readonly kind: 'nil' }
  | { readonly kind: 'list'; readonly items: readonly ImapToken[] };

/** A whole command as received: its text segments with the literals that followed each. */
export interface CommandParts {
  readonly segments: readonly Buffer[];
  readonly literals: readonly Buffer[];
}

export interface ParsedCommand {
  readonly tag: string;
  /** Upper-cased command name. */
  readonly name: string;
  readonly args: readonly ImapToken[];
}

export class ImapSyntaxError extends Error {
  override readonly name = 'ImapSyntaxError';
}

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** RFC 3501 ATOM-CHAR: any CHAR except atom-specials. `]` is allowed (ASTRING-CHAR) where it helps. */
function isAtomChar(byte: number): boolean {
  if (byte <= 0x20 || byte >= 0x7f) return false;
  return byte !== 0x28 && byte !== 0x29 && byte !== 0x7b && byte !== 0x25 && byte !== 0x2a && byte !== DQUOTE && byte !== BACKSLASH;
}

/** Any visible character that cannot start another token or end a list. */
function isLooseAtomChar(byte: number): boolean {
  return byte > 0x20 && byte < 0x7f && byte !== 0x28 && byte !== 0x29 && byte !== 0x7b && byte !== DQUOTE;
}

/** Tag: ATOM-CHARs except "+" (RFC 3501 §9). */
function isTagChar(byte: number): boolean {
  return isAtomChar(byte) && byte !== 0x2b && byte !== 0x5d;
}

/**
 * Reads "tag SP name" from the start of a line without allocating for anything else;
 * null when the line does not start like a command.
 */
export function peekTagAndName(line: Buffer): { tag: string; name: string; end: number } | null {
  let i = 0;
  while (i < line.length && isTagChar(line[i]!)) i++;
  if (i === 0 || i > 64 || line[i] !== SP) return null;
  const tag = line.toString('latin1', 0, i);
  const nameStart = ++i;
  while (i < line.length && isAtomChar(line[i]!)) i++;
  if (i === nameStart || i - nameStart > 32) return null;
  return { tag, name: line.toString('latin1', nameStart, i).toUpperCase(), end: i };
}

/** Parses a complete command (all segments and literals). Throws ImapSyntaxError. */
export function parseCommand(parts: CommandParts): ParsedCommand {
  const first = parts.segments[0];
  if (!first) throw new ImapSyntaxError('Empty command');
  const head = peekTagAndName(first);
  if (!head) throw new ImapSyntaxError('Expected a tag and a command name');
  const reader = new TokenReader(parts, head.end);
  const args = reader.readList(null);
  return { tag: head.tag, name: head.name, args };
}

/**
 * The first `count` arguments of a command whose rest may not have arrived yet: APPEND's mailbox
 * before its message literal streams by. Fewer when the received part ends first, or reaches
 * a literal not received yet. Throws ImapSyntaxError for what it does read.
 */
export function parseLeadingArguments(parts: CommandParts, count: number): ParsedCommand {
  const first = parts.segments[0];
  if (!first) throw new ImapSyntaxError('Empty command');
  const head = peekTagAndName(first);
  if (!head) throw new ImapSyntaxError('Expected a tag and a command name');
  const args = new TokenReader(parts, head.end).readLeading(count);
  return { tag: head.tag, name: head.name, args };
}

/** The tag of a line, for answering BAD to a line we cannot parse; "*" when there is none. */
export function tagOrStar(line: Buffer): string {
  let i = 0;
  while (i < line.length && isTagChar(line[i]!)) i++;
  return i > 0 && i <= 64 && line[i] === SP ? line.toString('latin1', 0, i) : '*';
}

/**
 * How deep parenthesised lists may nest. The reader is iterative, so depth costs only memory,
 * already bounded by maxLineBytes; this bound is the most a 64 KiB line can hold ("(" and ")"
 * per level), so a raised line limit does not make it unbounded. Dovecot itself accepts SEARCH
 * criteria nested as deep as its 64 KiB line allows (measured on 2.3: 5,000 levels answer OK).
 */
export const MAX_LIST_NESTING = 32_768;

/**
 * Reads the arguments of a command into tokens. Iterative: nesting is tracked on an explicit
 * stack, never on the call stack, so no input can exhaust it.
 */
export class TokenReader {
  private segment = 0;

  constructor(
    private readonly parts: CommandParts,
    private pos: number,
  ) {}

  private get line(): Buffer {
    return this.parts.segments[this.segment]!;
  }

  /**
   * Reads tokens until `close` (")" for a list whose "(" was just read) or the end of the
   * command. Throws ImapSyntaxError.
   */
  readList(close: number | null): ImapToken[] {
    const root: ImapToken[] = [];
    // The lists being read, innermost last; the root is a list only when `close` is given.
    const open: ImapToken[][] = [root];
    const rootIsList = close !== null;
    for (;;) {
      const line = this.line;
      while (line[this.pos] === SP) this.pos++;
      const byte = line[this.pos];
      const items = open[open.length - 1]!;
      if (byte === undefined || byte === 0x0d || byte === 0x0a) {
        if (open.length > 1 || rootIsList) throw new ImapSyntaxError('Missing ")"');
        return root;
      }
      if (byte === 0x29 /* ) */) {
        if (open.length === 1 && !rootIsList) throw new ImapSyntaxError('Unexpected ")"');
        this.pos++;
        open.pop();
        if (open.length === 0) return root;
        continue;
      }
      if (byte === 0x28 /* ( */) {
        if (open.length + (rootIsList ? 1 : 0) > MAX_LIST_NESTING) throw new ImapSyntaxError(`Lists nested deeper than ${MAX_LIST_NESTING} levels`);
        this.pos++;
        const list: ImapToken[] = [];
        items.push({ kind: 'list', items: list });
        open.push(list);
        continue;
      }
      items.push(this.readToken(byte));
    }
  }

  /** Up to `count` top-level tokens, stopping where the received input ends. */
  readLeading(count: number): ImapToken[] {
    const items: ImapToken[] = [];
    while (items.length < count && this.segment < this.parts.segments.length) {
      const line = this.line;
      while (line[this.pos] === SP) this.pos++;
      const byte = line[this.pos];
      if (byte === undefined || byte === 0x0d || byte === 0x0a) break;
      const literalStart = byte === 0x7b /* { */ || (byte === 0x7e /* ~ */ && line[this.pos + 1] === 0x7b);
      if (literalStart && this.parts.literals[this.segment] === undefined) break;
      if (byte === 0x28 /* ( */) {
        this.pos++;
        items.push({ kind: 'list', items: this.readList(0x29) });
        continue;
      }
      items.push(this.readToken(byte));
    }
    return items;
  }

  /** One token that is not a list: an atom, NIL, or a quoted or literal string. */
  private readToken(byte: number): ImapToken {
    const line = this.line;
    if (byte === DQUOTE) return { kind: 'string', value: this.readQuoted() };
    if (byte === 0x7b /* { */ || (byte === 0x7e /* ~ */ && line[this.pos + 1] === 0x7b)) {
      const literal = this.parts.literals[this.segment];
      if (!literal) throw new ImapSyntaxError('Literal announced but not received');
      this.segment++;
      this.pos = 0;
      return { kind: 'string', value: literal };
    }
    const start = this.pos;
    // Atoms as commands use them after login too: flags ("\\Seen"), sets with "*", LIST
    // wildcards, and FETCH items whose brackets hold spaces and parentheses
    // ("BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>").
    while (this.pos < line.length && isLooseAtomChar(line[this.pos]!)) {
      if (line[this.pos] === 0x5b /* [ */) {
        const close = line.indexOf(0x5d /* ] */, this.pos);
        if (close === -1) throw new ImapSyntaxError('Missing "]"');
        this.pos = close;
      }
      this.pos++;
    }
    if (this.pos === start) throw new ImapSyntaxError(`Unexpected character 0x${byte.toString(16)}`);
    const value = line.toString('latin1', start, this.pos);
    return value.toUpperCase() === 'NIL' ? { kind: 'nil' } : { kind: 'atom', value };
  }

  private readQuoted(): Buffer {
    const line = this.line;
    const bytes: number[] = [];
    for (let i = this.pos + 1; i < line.length; i++) {
      const byte = line[i]!;
      if (byte === DQUOTE) {
        this.pos = i + 1;
        return Buffer.from(bytes);
      }
      if (byte === 0x0d || byte === 0x0a || byte === 0) break;
      if (byte === BACKSLASH) {
        const next = line[++i];
        if (next !== DQUOTE && next !== BACKSLASH) throw new ImapSyntaxError('Only \\" and \\\\ may be escaped in a quoted string');
        bytes.push(next);
        continue;
      }
      bytes.push(byte);
    }
    throw new ImapSyntaxError('Unterminated quoted string');
  }
}

/** A token read as a string argument (astring/nstring); null for NIL. Throws for a list. */
export function tokenText(token: ImapToken | undefined, what: string): Buffer {
  if (token?.kind === 'string') return token.value;
  if (token?.kind === 'atom') return Buffer.from(token.value, 'latin1');
  throw new ImapSyntaxError(`Expected ${what}`);
}

/**
 * A string argument as bytes to send: quoted when that is safe, otherwise null (the caller
 * sends a literal). Quoted strings may not hold CR, LF, NUL or 8-bit bytes (RFC 3501 §4.3).
 */
export function quoteIfSafe(value: Buffer): string | null {
  if (value.length > 1024) return null;
  let out = '"';
  for (const byte of value) {
    if (byte === 0 || byte === 0x0d || byte === 0x0a || byte > 0x7e) return null;
    if (byte === DQUOTE || byte === BACKSLASH) out += '\\';
    out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

/** Quotes free text (ID values, names) for a response, dropping bytes a quoted string cannot hold. */
export function quoteText(value: string): string {
  return `"${value.replace(/[\r\n\0]/g, ' ').replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}
