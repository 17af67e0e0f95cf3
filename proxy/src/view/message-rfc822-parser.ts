/**
 * RFC 822/5322 and MIME token reading as Dovecot 2.3 does it (src/lib-mail/rfc822-parser.c and
 * rfc2231-parser.c): atoms, dot-atoms, quoted strings, comments, phrases, domains, content types
 * and parameters. Addresses, Content-Type and Content-Disposition are read with it, so its
 * quirks (what counts as whitespace, where a broken value stops) decide what ENVELOPE and
 * BODYSTRUCTURE show, and equally what SEARCH matches (address lists, Date:, Content-Type and
 * Content-Transfer-Encoding): Dovecot reads all of them with these same functions, so the proxy
 * keeps one port. Must never be "fixed" towards the RFCs: only Dovecot's behaviour counts.
 *
 * Return codes follow the C code: 1 = more data follows, 0 = end of input, -1 = invalid.
 */
import { asciiLower, type ByteString } from './imap-string.js';

/** atext bytes are 1, letters and digits 2, atext that is a MIME tspecial 4 (rfc822_atext_chars). */
const ATEXT_CHARS = new Uint8Array(256);
for (let code = 0; code < 256; code++) {
  if (code >= 0x80 || (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) {
    ATEXT_CHARS[code] = 2;
  }
}
for (const char of "!#$%&'*+-^_`{|}~") ATEXT_CHARS[char.charCodeAt(0)] = 1;
for (const char of '/=?') ATEXT_CHARS[char.charCodeAt(0)] = 4;

export function isAtext(code: number): boolean {
  return ATEXT_CHARS[code] !== 0;
}

export function isAtextNonTspecial(code: number): boolean {
  return (ATEXT_CHARS[code]! & 3) !== 0;
}

/** U+FFFD as UTF-8 bytes: Dovecot's replacement for NUL bytes in header values. */
export const NUL_REPLACEMENT: ByteString = '\xef\xbf\xbd';

/** A growable string the parse functions append to, as Dovecot's string_t. */
export interface StringBuffer {
  value: ByteString;
}

export class Rfc822Parser {
  pos: number;
  /** The text of the last comment skipped; tracked only when not null. */
  lastComment: ByteString | null;
  nulReplacement: ByteString | null = null;

  constructor(
    readonly data: ByteString,
    trackComments = false,
  ) {
    this.pos = 0;
    this.lastComment = trackComments ? '' : null;
  }

  get end(): number {
    return this.data.length;
  }

  /** The byte at the cursor; 0 past the end, where the C code reads the terminating NUL. */
  peek(): number {
    return this.pos < this.data.length ? this.data.charCodeAt(this.pos) : 0;
  }

  skipComment(): number {
    const data = this.data;
    let level = 1;
    if (this.lastComment !== null) this.lastComment = '';
    let start = ++this.pos;
    for (; this.pos < data.length; this.pos++) {
      const char = data[this.pos];
      switch (char) {
        case '\0':
          if (this.lastComment !== null && this.nulReplacement !== null) {
            this.lastComment += data.slice(start, this.pos) + this.nulReplacement;
            start = this.pos + 1;
          }
          break;
        case '(':
          level++;
          break;
        case ')':
          if (--level === 0) {
            if (this.lastComment !== null) this.lastComment += data.slice(start, this.pos);
            this.pos++;
            return this.pos < data.length ? 1 : 0;
          }
          break;
        case '\n': {
          // Folding whitespace: the (CR)LF is removed from the comment text.
          if (this.lastComment === null) break;
          let length = this.pos - start;
          if (length > 0 && data[start + length - 1] === '\r') length--;
          this.lastComment += data.substr(start, length);
          start = this.pos + 1;
          break;
        }
        case '\\': {
          this.pos++;
          if (this.pos >= data.length) return -1;
          const quotedChar = data[this.pos];
          if (quotedChar === '\r' || quotedChar === '\n' || quotedChar === '\0') {
            // Not a quoted-pair (obs-qp); looked at again on the next round.
            this.pos--;
            break;
          }
          if (this.lastComment !== null) this.lastComment += data.slice(start, this.pos - 1);
          start = this.pos;
          break;
        }
      }
    }
    return -1;
  }

  skipLwsp(): number {
    const data = this.data;
    while (this.pos < data.length) {
      const char = data[this.pos];
      if (char === ' ' || char === '\t' || char === '\r' || char === '\n') {
        this.pos++;
        continue;
      }
      if (char !== '(') break;
      if (this.skipComment() < 0) return -1;
    }
    return this.pos < data.length ? 1 : 0;
  }

  parseAtom(out: StringBuffer): number {
    if (this.pos >= this.end || !isAtext(this.peek())) return -1;
    const start = this.pos++;
    for (; this.pos < this.end; this.pos++) {
      if (isAtext(this.data.charCodeAt(this.pos))) continue;
      out.value += this.data.slice(start, this.pos);
      return this.skipLwsp();
    }
    out.value += this.data.slice(start, this.pos);
    return 0;
  }

  /** dot-atom, allowing whitespace around the dots for RFC 822 compatibility. */
  parseDotAtom(out: StringBuffer): number {
    if (this.pos >= this.end || !isAtext(this.peek())) return -1;
    let start = this.pos++;
    while (this.pos < this.end) {
      if (isAtext(this.data.charCodeAt(this.pos))) {
        this.pos++;
        continue;
      }
      if (start === this.pos) return -1;
      out.value += this.data.slice(start, this.pos);
      const ret = this.skipLwsp();
      if (ret <= 0) return ret;
      if (this.data[this.pos] !== '.') return 1;
      this.pos++;
      out.value += '.';
      if (this.skipLwsp() <= 0) return -1;
      start = this.pos;
    }
    out.value += this.data.slice(start, this.pos);
    return 0;
  }

  /** MIME token: like a dot-atom but stops at tspecials too; may be empty. */
  parseMimeToken(out: StringBuffer): number {
    const start = this.pos;
    for (; this.pos < this.end; this.pos++) {
      const code = this.data.charCodeAt(this.pos);
      if (isAtextNonTspecial(code) || code === 0x2e) continue;
      out.value += this.data.slice(start, this.pos);
      return this.skipLwsp();
    }
    out.value += this.data.slice(start, this.pos);
    return 0;
  }

  parseQuotedString(out: StringBuffer): number {
    const data = this.data;
    this.pos++;
    let start = this.pos;
    for (; this.pos < data.length; this.pos++) {
      const char = data[this.pos];
      switch (char) {
        case '\0':
          if (this.nulReplacement !== null) {
            out.value += data.slice(start, this.pos) + this.nulReplacement;
            start = this.pos + 1;
          }
          break;
        case '"':
          out.value += data.slice(start, this.pos);
          this.pos++;
          return this.skipLwsp();
        case '\n': {
          let length = this.pos - start;
          if (length > 0 && data[start + length - 1] === '\r') length--;
          out.value += data.substr(start, length);
          start = this.pos + 1;
          break;
        }
        case '\\': {
          this.pos++;
          if (this.pos >= data.length) return -1;
          const quotedChar = data[this.pos];
          if (quotedChar === '\r' || quotedChar === '\n' || quotedChar === '\0') {
            this.pos--;
            break;
          }
          out.value += data.slice(start, this.pos - 1);
          start = this.pos;
          break;
        }
      }
    }
    return -1;
  }

  private parseAtomOrDot(out: StringBuffer): number {
    const start = this.pos;
    for (; this.pos < this.end; this.pos++) {
      const code = this.data.charCodeAt(this.pos);
      if (isAtext(code) || code === 0x2e) continue;
      out.value += this.data.slice(start, this.pos);
      return this.skipLwsp();
    }
    out.value += this.data.slice(start, this.pos);
    return 0;
  }

  /** phrase / obs-phrase: words joined by single spaces. */
  parsePhrase(out: StringBuffer): number {
    if (this.pos >= this.end) return 0;
    if (this.data[this.pos] === '.') return -1;
    for (;;) {
      const ret = this.data[this.pos] === '"' ? this.parseQuotedString(out) : this.parseAtomOrDot(out);
      if (ret <= 0) return ret;
      const next = this.peek();
      if (!isAtext(next) && next !== 0x22 && next !== 0x2e) break;
      out.value += ' ';
    }
    return this.skipLwsp();
  }

  private parseDomainLiteral(out: StringBuffer): number {
    const data = this.data;
    let start = this.pos++;
    for (; this.pos < data.length; this.pos++) {
      const char = data[this.pos];
      switch (char) {
        case '\0':
          if (this.nulReplacement !== null) {
            out.value += data.slice(start, this.pos) + this.nulReplacement;
            start = this.pos + 1;
          }
          break;
        case '[':
          return -1;
        case ']':
          out.value += data.slice(start, this.pos + 1);
          this.pos++;
          return this.skipLwsp();
        case '\n': {
          let length = this.pos - start;
          if (length > 0 && data[start + length - 1] === '\r') length--;
          out.value += data.substr(start, length);
          start = this.pos + 1;
          break;
        }
        case '\\': {
          // The backslash stays in the output.
          this.pos++;
          if (this.pos >= data.length) return -1;
          const quotedChar = data[this.pos];
          if (quotedChar === '\r' || quotedChar === '\n' || quotedChar === '\0') {
            out.value += data.slice(start, this.pos);
            start = this.pos;
            this.pos--;
          }
          break;
        }
      }
    }
    return -1;
  }

  /** Expects the cursor on the '@'. */
  parseDomain(out: StringBuffer): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    return this.data[this.pos] === '[' ? this.parseDomainLiteral(out) : this.parseDotAtom(out);
  }

  /** "type/subtype"; on failure `out` may keep a partial value, as in Dovecot. */
  parseContentType(out: StringBuffer): number {
    const startLength = out.value.length;
    if (this.skipLwsp() <= 0) return -1;
    if (this.parseMimeToken(out) <= 0 || out.value.length === startLength) return -1;
    if (this.data[this.pos] !== '/') {
      out.value = out.value.slice(0, startLength);
      return -1;
    }
    this.pos++;
    if (this.skipLwsp() <= 0) {
      out.value = out.value.slice(0, startLength);
      return -1;
    }
    out.value += '/';
    const subtypeStart = out.value.length;
    const ret = this.parseMimeToken(out);
    if (ret < 0 || out.value.length === subtypeStart || (this.pos !== this.end && this.data[this.pos] !== ';')) {
      out.value = out.value.slice(0, startLength);
      return -1;
    }
    return ret;
  }

  /** One `; key=value` parameter. */
  parseContentParam(): { ret: number; key: ByteString | null; value: ByteString } {
    const value: StringBuffer = { value: '' };
    if (this.pos >= this.end) return { ret: 0, key: null, value: '' };
    if (this.data[this.pos] !== ';') return { ret: -1, key: null, value: '' };
    this.pos++;
    if (this.skipLwsp() <= 0) return { ret: -1, key: null, value: '' };
    const key: StringBuffer = { value: '' };
    if (this.parseMimeToken(key) <= 0) return { ret: -1, key: null, value: '' };
    if (this.data[this.pos] !== '=') return { ret: -1, key: null, value: '' };
    this.pos++;
    let ret = this.skipLwsp();
    if (ret <= 0) {
      // broken / no value
    } else if (this.data[this.pos] === '"') {
      ret = this.parseQuotedString(value);
    } else if (this.data[this.pos] === '=') {
      // Dovecot's workaround for unquoted encoded words: name==?utf-8?b?...?=
      while (this.pos < this.end && !';\r\n \t'.includes(this.data[this.pos]!)) {
        value.value += this.data[this.pos];
        this.pos++;
      }
    } else {
      ret = this.parseMimeToken(value);
    }
    return { ret: ret < 0 ? -1 : 1, key: key.value, value: value.value };
  }
}

export type MimeParameter = readonly [name: ByteString, value: ByteString];

/** Dovecot stops reading parameters after this many, to bound the cost of merging them. */
const RFC2231_MAX_PARAMS = 128;

/** Dovecot keeps parameter values as C strings: a NUL (possible after "name==") ends them. */
function cString(value: ByteString): ByteString {
  const nul = value.indexOf('\0');
  return nul < 0 ? value : value.slice(0, nul);
}

interface Rfc2231Piece {
  key: ByteString;
  value: ByteString;
  index: number;
  extended: boolean;
}

/**
 * rfc2231_parse: all `; key=value` parameters, with RFC 2231 continuations (`key*0*=...`) merged
 * into one `key*` (or `key`) parameter whose value stays *encoded* (`utf-8''%E2%82%AC`), as
 * Dovecot shows it. Merged parameters come after the plain ones, sorted by name.
 */
export function parseMimeParameters(parser: Rfc822Parser): MimeParameter[] {
  const result: MimeParameter[] = [];
  const pieces: Rfc2231Piece[] = [];
  const savedReplacement = parser.nulReplacement;
  parser.nulReplacement = NUL_REPLACEMENT;
  // Dovecot reuses one struct for every piece and resets the index only when digits follow
  // the '*', so a bare "key*" inherits the previous piece's index. Kept for fidelity.
  let index = 0;
  for (let count = 1; ; count++) {
    const { ret, key, value } = parser.parseContentParam();
    if (ret === 0) break;
    // CVE-2026-27859 fix (Dovecot 2.4.5, backported by Debian): later parameters are ignored.
    if (count > RFC2231_MAX_PARAMS) break;
    if (ret < 0 || key === null) {
      if (parser.pos >= parser.end) break;
      parser.pos++;
      continue;
    }
    const star = key.indexOf('*');
    let isPiece = false;
    if (star >= 0) {
      let cursor = star;
      if (cursor + 1 < key.length) {
        cursor++;
        index = 0;
        while (cursor < key.length && key[cursor]! >= '0' && key[cursor]! <= '9') {
          index = (index * 10 + key.charCodeAt(cursor) - 0x30) >>> 0;
          cursor++;
        }
      }
      let extended = false;
      if (key[cursor] === '*') {
        extended = true;
        cursor++;
      }
      if (cursor >= key.length) {
        isPiece = true;
        pieces.push({ key: key.slice(0, star), value: cString(value), index, extended });
      }
    }
    if (!isPiece) result.push([key, cString(value)]);
  }
  parser.nulReplacement = savedReplacement;
  if (pieces.length === 0) return result;

  pieces.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));
  for (let first = 0; first < pieces.length; ) {
    let ok = true;
    let haveExtended = false;
    let nextIndex = 0;
    let next = first;
    const groupKey = asciiLower(pieces[first]!.key);
    for (; next < pieces.length; next++) {
      const piece = pieces[next]!;
      if (asciiLower(piece.key) !== groupKey) break;
      if (piece.index !== nextIndex) ok = false;
      if (piece.extended) haveExtended = true;
      nextIndex++;
    }
    const group = pieces.slice(first, next);
    first = next;
    if (!ok) {
      for (const piece of group) result.push([`${piece.key}*${piece.index}${piece.extended ? '*' : ''}`, piece.value]);
      continue;
    }
    let merged = !group[0]!.extended && haveExtended ? "''" : '';
    for (const piece of group) merged += !piece.extended && haveExtended ? piece.value.replace(/%/g, '%25') : piece.value;
    result.push([haveExtended ? `${group[0]!.key}*` : group[0]!.key, merged]);
  }
  return result;
}
