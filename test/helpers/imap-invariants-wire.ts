/**
 * IMAP on the wire, as a test observer needs it: cuts either direction of a session into
 * frames (a command or response with its literals), and parses frames into typed values —
 * responses (status, EXISTS/EXPUNGE/RECENT, FETCH with literals, SEARCH, STATUS, FLAGS) and
 * the parts of commands an observer cares about (tag, name, UID prefix, arguments).
 *
 * Used by the invariant checker and the differential harness. It is a test tool: it favours
 * clear failure over tolerance and never rewrites bytes; it must never take a status line's
 * human-readable text that happens to end in "{5}" for a literal.
 */

/** A parsed IMAP value: atom, number, string (quoted or literal, as bytes), NIL or list. */
export type ImapValue =
  | { readonly kind: 'atom'; readonly text: string }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'string'; readonly bytes: Buffer }
  | { readonly kind: 'nil' }
  | { readonly kind: 'list'; readonly items: readonly ImapValue[] };

export interface ResponseCode {
  /** Upper-cased, e.g. "UIDNEXT", "APPENDUID". */
  readonly name: string;
  /** The code's arguments as sent, e.g. "1795359157 4" or "(\\Seen \\*)"; "" when none. */
  readonly args: string;
}

export type StatusWord = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

export interface FetchItem {
  /** Upper-cased item name as the server sent it, e.g. "UID", "BODY[HEADER.FIELDS (SUBJECT)]". */
  readonly name: string;
  /** The section of a BODY[...]/BINARY[...] item, upper-cased ("" for BODY[]); null otherwise. */
  readonly section: string | null;
  /** The <origin> of a partial section; null when the item is not partial. */
  readonly origin: number | null;
  readonly value: ImapValue;
}

export type ImapResponse =
  | { readonly kind: 'continuation'; readonly text: string }
  | { readonly kind: 'tagged'; readonly tag: string; readonly status: 'OK' | 'NO' | 'BAD'; readonly code: ResponseCode | null; readonly text: string }
  | { readonly kind: 'status'; readonly status: StatusWord; readonly code: ResponseCode | null; readonly text: string }
  | { readonly kind: 'exists' | 'recent' | 'expunge'; readonly number: number }
  | { readonly kind: 'fetch'; readonly seq: number; readonly items: readonly FetchItem[] }
  | { readonly kind: 'search'; readonly numbers: readonly number[] }
  | { readonly kind: 'flags'; readonly flags: readonly string[] }
  | { readonly kind: 'mailbox-status'; readonly mailbox: string; readonly attributes: ReadonlyMap<string, number> }
  | { readonly kind: 'other'; readonly name: string; readonly values: readonly ImapValue[] };

/** One client command, as far as an observer needs to understand it. */
export interface ParsedCommand {
  readonly tag: string;
  /** Upper-cased; for "UID FETCH" this is "FETCH" and `uid` is true. */
  readonly name: string;
  readonly uid: boolean;
  /** Arguments after the command name, parsed as IMAP values (sets and flags are atoms). */
  readonly args: readonly ImapValue[];
}

// Status lines end at their CRLF whatever their text says (RFC 3501 resp-text has no literals).
const statusLine = /^(?:\* (?:OK|NO|BAD|BYE|PREAUTH)|[^\s*+]+ (?:OK|NO|BAD))(?:[ \r])/i;
const literalAtEnd = /\{(\d+)(\+?)\}\r\n$/;

/**
 * Cuts a byte stream into frames: a line ending in CRLF, plus any literals it announces and
 * the lines continuing it. `side` decides whether status lines may announce literals.
 */
export class ImapFramer {
  private pending: Buffer = Buffer.alloc(0);
  /** Where the current frame, and the current line within it, began. */
  private frameStart = 0;
  private lineStart = 0;
  /** Where to look for the next LF (or literal bytes) from. */
  private scanFrom = 0;
  private literalLeft = 0;

  constructor(private readonly side: 'client' | 'server') {}

  /** Feeds bytes; returns every frame completed by them. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      if (this.literalLeft > 0) {
        const available = this.pending.length - this.scanFrom;
        if (available < this.literalLeft) {
          this.literalLeft -= available;
          this.scanFrom = this.pending.length;
          break;
        }
        this.scanFrom += this.literalLeft;
        this.literalLeft = 0;
        this.lineStart = this.scanFrom;
      }
      const lf = this.pending.indexOf(0x0a, this.scanFrom);
      if (lf < 0) {
        this.scanFrom = this.pending.length;
        break;
      }
      const line = this.pending.subarray(this.lineStart, lf + 1).toString('latin1');
      const firstLine = this.lineStart === this.frameStart;
      this.scanFrom = lf + 1;
      this.lineStart = this.scanFrom;
      const announcesLiteral = literalAtEnd.exec(line);
      const textOnly = this.side === 'server' && firstLine && statusLine.test(line);
      if (announcesLiteral && !textOnly) {
        // The frame goes on after the literal's bytes (none for {0}).
        this.literalLeft = Number(announcesLiteral[1]);
        continue;
      }
      frames.push(Buffer.from(this.pending.subarray(this.frameStart, this.scanFrom)));
      this.frameStart = this.scanFrom;
    }
    // Drop consumed bytes so a long session does not keep its whole history.
    if (this.frameStart > 0) {
      this.pending = this.pending.subarray(this.frameStart);
      this.scanFrom -= this.frameStart;
      this.lineStart -= this.frameStart;
      this.frameStart = 0;
    }
    return frames;
  }
}

/** Reads IMAP values from one frame. */
export class ValueReader {
  pos = 0;
  constructor(readonly bytes: Buffer) {}

  get done(): boolean {
    return this.pos >= this.bytes.length || this.peek() === '\r' || this.peek() === '\n';
  }

  peek(): string {
    return String.fromCharCode(this.bytes[this.pos] ?? 0);
  }

  skipSpaces(): void {
    while (this.peek() === ' ') this.pos += 1;
  }

  /** The rest of the current line, without CRLF. */
  restOfLine(): string {
    const end = this.bytes.indexOf('\r\n', this.pos, 'latin1');
    const text = this.bytes.subarray(this.pos, end < 0 ? this.bytes.length : end).toString('latin1');
    this.pos = end < 0 ? this.bytes.length : end;
    return text;
  }

  /** An atom, including bracketed parts such as BODY[HEADER.FIELDS (A B)]<0>. */
  atom(): string {
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.bytes.length) {
      const ch = this.peek();
      if (ch === '[') depth += 1;
      else if (ch === ']') depth -= 1;
      else if (depth === 0 && (ch === ' ' || ch === '(' || ch === ')' || ch === '\r' || ch === '\n')) break;
      this.pos += 1;
    }
    return this.bytes.subarray(start, this.pos).toString('latin1');
  }

  value(): ImapValue {
    this.skipSpaces();
    const ch = this.peek();
    if (ch === '(') {
      this.pos += 1;
      const items: ImapValue[] = [];
      for (;;) {
        this.skipSpaces();
        if (this.peek() === ')') {
          this.pos += 1;
          return { kind: 'list', items };
        }
        if (this.done) throw new Error(`unterminated list in ${this.describe()}`);
        items.push(this.value());
      }
    }
    if (ch === '"') return { kind: 'string', bytes: this.quoted() };
    if (ch === '{' || (ch === '~' && this.bytes[this.pos + 1] === 0x7b)) return { kind: 'string', bytes: this.literal() };
    const text = this.atom();
    if (text === '') throw new Error(`expected a value at offset ${this.pos} in ${this.describe()}`);
    if (/^NIL$/i.test(text)) return { kind: 'nil' };
    if (/^\d+$/.test(text) && text.length < 16) return { kind: 'number', value: Number(text) };
    return { kind: 'atom', text };
  }

  private quoted(): Buffer {
    const out: number[] = [];
    this.pos += 1;
    while (this.pos < this.bytes.length) {
      const byte = this.bytes[this.pos]!;
      this.pos += 1;
      if (byte === 0x22) return Buffer.from(out);
      if (byte === 0x5c) {
        out.push(this.bytes[this.pos] ?? 0);
        this.pos += 1;
      } else out.push(byte);
    }
    throw new Error(`unterminated quoted string in ${this.describe()}`);
  }

  private literal(): Buffer {
    if (this.peek() === '~') this.pos += 1;
    const close = this.bytes.indexOf('}', this.pos, 'latin1');
    const size = Number(this.bytes.subarray(this.pos + 1, close).toString('latin1').replace('+', ''));
    const start = close + 3; // "}\r\n"
    if (close < 0 || !Number.isInteger(size) || start + size > this.bytes.length) throw new Error(`bad literal in ${this.describe()}`);
    this.pos = start + size;
    return Buffer.from(this.bytes.subarray(start, start + size));
  }

  describe(): string {
    return JSON.stringify(this.bytes.subarray(0, 200).toString('latin1'));
  }
}

function parseCode(reader: ValueReader): ResponseCode | null {
  reader.skipSpaces();
  if (reader.peek() !== '[') return null;
  const text = reader.atom(); // "[NAME args]" is read as one bracketed atom
  reader.skipSpaces();
  const inner = text.slice(1, text.lastIndexOf(']'));
  const space = inner.indexOf(' ');
  return space < 0 ? { name: inner.toUpperCase(), args: '' } : { name: inner.slice(0, space).toUpperCase(), args: inner.slice(space + 1) };
}

/** Splits "BODY[1.MIME]<10>" into name parts; section and origin are null when absent. */
export function fetchItemName(raw: string): { name: string; section: string | null; origin: number | null } {
  const name = raw.toUpperCase();
  const open = name.indexOf('[');
  if (open < 0) return { name, section: null, origin: null };
  const close = name.lastIndexOf(']');
  const origin = /<(\d+)>$/.exec(name.slice(close + 1));
  return { name, section: name.slice(open + 1, close), origin: origin ? Number(origin[1]) : null };
}

function parseFetch(seq: number, reader: ValueReader): ImapResponse {
  reader.skipSpaces();
  if (reader.peek() !== '(') throw new Error(`FETCH without item list: ${reader.describe()}`);
  reader.pos += 1;
  const items: FetchItem[] = [];
  for (;;) {
    reader.skipSpaces();
    if (reader.peek() === ')') break;
    if (reader.done) throw new Error(`unterminated FETCH: ${reader.describe()}`);
    const raw = reader.atom();
    items.push({ ...fetchItemName(raw), value: reader.value() });
  }
  return { kind: 'fetch', seq, items };
}

export function atomsOf(values: readonly ImapValue[]): string[] {
  return values.map((value) => (value.kind === 'atom' ? value.text : value.kind === 'number' ? String(value.value) : ''));
}

function parseUntagged(reader: ValueReader): ImapResponse {
  const first = reader.atom();
  reader.skipSpaces();
  if (/^\d+$/.test(first)) {
    const number = Number(first);
    const word = reader.atom().toUpperCase();
    switch (word) {
      case 'EXISTS':
        return { kind: 'exists', number };
      case 'RECENT':
        return { kind: 'recent', number };
      case 'EXPUNGE':
        return { kind: 'expunge', number };
      case 'FETCH':
        return parseFetch(number, reader);
      default:
        return { kind: 'other', name: word, values: [{ kind: 'number', value: number }, ...restValues(reader)] };
    }
  }
  const word = first.toUpperCase();
  switch (word) {
    case 'OK':
    case 'NO':
    case 'BAD':
    case 'BYE':
    case 'PREAUTH': {
      const code = parseCode(reader);
      return { kind: 'status', status: word, code, text: reader.restOfLine() };
    }
    case 'SEARCH':
      return { kind: 'search', numbers: restValues(reader).flatMap((v) => (v.kind === 'number' ? [v.value] : [])) };
    case 'FLAGS': {
      const list = reader.value();
      return { kind: 'flags', flags: list.kind === 'list' ? atomsOf(list.items) : [] };
    }
    case 'STATUS': {
      const mailbox = reader.value();
      const list = reader.value();
      const attributes = new Map<string, number>();
      if (list.kind === 'list') {
        for (let i = 0; i + 1 < list.items.length; i += 2) {
          const key = list.items[i]!;
          const value = list.items[i + 1]!;
          if (key.kind === 'atom' && value.kind === 'number') attributes.set(key.text.toUpperCase(), value.value);
        }
      }
      return { kind: 'mailbox-status', mailbox: mailboxName(mailbox), attributes };
    }
    default:
      return { kind: 'other', name: word, values: restValues(reader) };
  }
}

function restValues(reader: ValueReader): ImapValue[] {
  const values: ImapValue[] = [];
  for (;;) {
    reader.skipSpaces();
    if (reader.done) return values;
    values.push(reader.value());
  }
}

/** Parses one server frame. Throws on what it cannot read, so a test sees the bad bytes. */
export function parseResponse(frame: Buffer): ImapResponse {
  const reader = new ValueReader(frame);
  if (reader.peek() === '+') {
    reader.pos += 1;
    reader.skipSpaces();
    return { kind: 'continuation', text: reader.restOfLine() };
  }
  if (reader.peek() === '*') {
    reader.pos += 1;
    reader.skipSpaces();
    return parseUntagged(reader);
  }
  const tag = reader.atom();
  reader.skipSpaces();
  const status = reader.atom().toUpperCase();
  if (status !== 'OK' && status !== 'NO' && status !== 'BAD') throw new Error(`not a tagged status: ${reader.describe()}`);
  const code = parseCode(reader);
  return { kind: 'tagged', tag, status, code, text: reader.restOfLine() };
}

/** Parses one client frame; null for a line that is no command (e.g. DONE is handled by the caller). */
export function parseCommand(frame: Buffer): ParsedCommand | null {
  const reader = new ValueReader(frame);
  const tag = reader.atom();
  reader.skipSpaces();
  let name = reader.atom().toUpperCase();
  if (tag === '' || name === '') return null;
  let uid = false;
  if (name === 'UID') {
    reader.skipSpaces();
    uid = true;
    name = reader.atom().toUpperCase();
  }
  let args: ImapValue[];
  try {
    args = restValues(reader);
  } catch {
    args = [];
  }
  return { tag, name, uid, args };
}

/** A mailbox name from an atom or string; INBOX in any case is "INBOX". */
export function mailboxName(value: ImapValue | undefined): string {
  const text = value === undefined ? '' : value.kind === 'atom' ? value.text : value.kind === 'string' ? value.bytes.toString('utf8') : '';
  return text.toUpperCase() === 'INBOX' ? 'INBOX' : text;
}

/** A stable text form of a value: strings quoted with JSON escapes, whatever their wire form. */
export function canonicalValue(value: ImapValue): string {
  switch (value.kind) {
    case 'atom':
      return value.text;
    case 'number':
      return String(value.value);
    case 'string':
      return JSON.stringify(value.bytes.toString('latin1'));
    case 'nil':
      return 'NIL';
    case 'list':
      return `(${value.items.map(canonicalValue).join(' ')})`;
  }
}

/**
 * The numbers of a sequence set ("1:3,7,9:*"); `star` is what "*" stands for (null when
 * unknown: then a set with "*" answers null, "cannot tell").
 */
export function expandSet(set: string, star: number | null): { has(n: number): boolean } | null {
  const ranges: [number, number][] = [];
  for (const part of set.split(',')) {
    const [fromText, toText = fromText] = part.split(':') as [string, string?];
    const resolve = (text: string): number | null => (text === '*' ? star : Number(text));
    const from = resolve(fromText);
    const to = resolve(toText);
    if (from === null || to === null || Number.isNaN(from) || Number.isNaN(to)) return null;
    ranges.push([Math.min(from, to), Math.max(from, to)]);
  }
  return { has: (n) => ranges.some(([low, high]) => n >= low && n <= high) };
}
