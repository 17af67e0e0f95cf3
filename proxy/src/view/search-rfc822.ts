/**
 * The RFC 822/5322 reading that Dovecot 2.3's SEARCH depends on, ported from its C sources so
 * that the proxy finds exactly what Dovecot finds: the token reader (src/lib-mail/rfc822-parser.c),
 * address lists parsed and written back in normal form (message-address.c; FROM/TO/CC/BCC match
 * against that form), Date: headers (message-date.c) and Content-Type parameters
 * (rfc2231-parser.c). Values are byte strings: one JS char per byte (latin1).
 *
 * It must never be "fixed" towards the RFCs: only Dovecot's behaviour counts, quirks included.
 * Return codes follow the C code: 1 = more input follows, 0 = end of input, -1 = invalid.
 */

/** atext is 1, letters and digits 2, atext that is a MIME tspecial 4 (rfc822_atext_chars). */
const ATEXT = new Uint8Array(256);
for (let code = 0; code < 256; code++) {
  if (code >= 0x80 || /[0-9A-Za-z]/.test(String.fromCharCode(code))) ATEXT[code] = 2;
}
for (const char of "!#$%&'*+-^_`{|}~") ATEXT[char.charCodeAt(0)] = 1;
for (const char of '/=?') ATEXT[char.charCodeAt(0)] = 4;

function isAtext(char: string): boolean {
  return char !== '' && ATEXT[char.charCodeAt(0)] !== 0;
}

function isTokenChar(char: string): boolean {
  return char !== '' && (ATEXT[char.charCodeAt(0)]! & 3) !== 0;
}

/** U+FFFD in UTF-8, as a byte string: what address parsing puts where a NUL byte was. */
export const NUL_REPLACEMENT = '\xef\xbf\xbd';

export class Rfc822Reader {
  pos = 0;
  /** The text of the last comment skipped, when collecting them. */
  lastComment: string | null;

  constructor(
    readonly data: string,
    collectComments = false,
    private readonly nulReplacement: string | null = null,
  ) {
    this.lastComment = collectComments ? '' : null;
  }

  /** The current byte, or '' at the end (where the C code would read a NUL). */
  cur(): string {
    return this.data.charAt(this.pos);
  }

  get atEnd(): boolean {
    return this.pos >= this.data.length;
  }

  private more(): number {
    return this.atEnd ? 0 : 1;
  }

  skipComment(): number {
    let level = 1;
    if (this.lastComment !== null) this.lastComment = '';
    let start = ++this.pos;
    for (; this.pos < this.data.length; this.pos++) {
      const char = this.data[this.pos];
      if (char === '\0' && this.lastComment !== null && this.nulReplacement !== null) {
        this.lastComment += this.data.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (char === '(') {
        level++;
      } else if (char === ')') {
        if (--level === 0) {
          if (this.lastComment !== null) this.lastComment += this.data.slice(start, this.pos);
          this.pos++;
          return this.more();
        }
      } else if (char === '\n') {
        if (this.lastComment === null) continue;
        let end = this.pos;
        if (end > start && this.data[end - 1] === '\r') end--;
        this.lastComment += this.data.slice(start, end);
        start = this.pos + 1;
      } else if (char === '\\') {
        this.pos++;
        if (this.atEnd) return -1;
        const escaped = this.data[this.pos];
        if (escaped === '\r' || escaped === '\n' || escaped === '\0') {
          this.pos--;
          continue;
        }
        if (this.lastComment !== null) this.lastComment += this.data.slice(start, this.pos - 1);
        start = this.pos;
      }
    }
    return -1;
  }

  skipLwsp(): number {
    while (!this.atEnd) {
      const char = this.cur();
      if (char === ' ' || char === '\t' || char === '\r' || char === '\n') {
        this.pos++;
        continue;
      }
      if (char !== '(') break;
      if (this.skipComment() < 0) return -1;
    }
    return this.more();
  }

  /** Appends an atom to `out.value`. */
  atom(out: { value: string }): number {
    if (!isAtext(this.cur())) return -1;
    const start = this.pos++;
    while (isAtext(this.cur())) this.pos++;
    out.value += this.data.slice(start, this.pos);
    return this.atEnd ? 0 : this.skipLwsp();
  }

  dotAtom(out: { value: string }): number {
    if (!isAtext(this.cur())) return -1;
    let start = this.pos++;
    while (!this.atEnd) {
      if (isAtext(this.cur())) {
        this.pos++;
        continue;
      }
      if (start === this.pos) return -1;
      out.value += this.data.slice(start, this.pos);
      const ret = this.skipLwsp();
      if (ret <= 0) return ret;
      if (this.cur() !== '.') return 1;
      this.pos++;
      out.value += '.';
      if (this.skipLwsp() <= 0) return -1;
      start = this.pos;
    }
    out.value += this.data.slice(start, this.pos);
    return 0;
  }

  mimeToken(out: { value: string }): number {
    const start = this.pos;
    while (isTokenChar(this.cur()) || this.cur() === '.') this.pos++;
    out.value += this.data.slice(start, this.pos);
    return this.atEnd ? 0 : this.skipLwsp();
  }

  quotedString(out: { value: string }): number {
    let start = ++this.pos;
    for (; this.pos < this.data.length; this.pos++) {
      const char = this.data[this.pos];
      if (char === '\0' && this.nulReplacement !== null) {
        out.value += this.data.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (char === '"') {
        out.value += this.data.slice(start, this.pos);
        this.pos++;
        return this.skipLwsp();
      } else if (char === '\n') {
        let end = this.pos;
        if (end > start && this.data[end - 1] === '\r') end--;
        out.value += this.data.slice(start, end);
        start = this.pos + 1;
      } else if (char === '\\') {
        this.pos++;
        if (this.atEnd) return -1;
        const escaped = this.data[this.pos];
        if (escaped === '\r' || escaped === '\n' || escaped === '\0') {
          this.pos--;
          continue;
        }
        out.value += this.data.slice(start, this.pos - 1);
        start = this.pos;
      }
    }
    return -1;
  }

  private atomOrDot(out: { value: string }): number {
    const start = this.pos;
    while (isAtext(this.cur()) || this.cur() === '.') this.pos++;
    out.value += this.data.slice(start, this.pos);
    return this.atEnd ? 0 : this.skipLwsp();
  }

  phrase(out: { value: string }): number {
    if (this.atEnd) return 0;
    if (this.cur() === '.') return -1;
    for (;;) {
      const ret = this.cur() === '"' ? this.quotedString(out) : this.atomOrDot(out);
      if (ret <= 0) return ret;
      if (!isAtext(this.cur()) && this.cur() !== '"' && this.cur() !== '.') break;
      out.value += ' ';
    }
    return this.skipLwsp();
  }

  private domainLiteral(out: { value: string }): number {
    let start = this.pos++;
    for (; this.pos < this.data.length; this.pos++) {
      const char = this.data[this.pos];
      if (char === '\0' && this.nulReplacement !== null) {
        out.value += this.data.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (char === '[') {
        return -1;
      } else if (char === ']') {
        out.value += this.data.slice(start, this.pos + 1);
        this.pos++;
        return this.skipLwsp();
      } else if (char === '\n') {
        let end = this.pos;
        if (end > start && this.data[end - 1] === '\r') end--;
        out.value += this.data.slice(start, end);
        start = this.pos + 1;
      } else if (char === '\\') {
        this.pos++;
        if (this.atEnd) return -1;
        const escaped = this.data[this.pos];
        if (escaped === '\r' || escaped === '\n' || escaped === '\0') {
          out.value += this.data.slice(start, this.pos);
          start = this.pos;
          this.pos--;
        }
      }
    }
    return -1;
  }

  /** At "@". */
  domain(out: { value: string }): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    return this.cur() === '[' ? this.domainLiteral(out) : this.dotAtom(out);
  }

  /** "type/subtype" into `out.value` (emptied again when invalid). */
  contentType(out: { value: string }): number {
    if (this.skipLwsp() <= 0) return -1;
    if (this.mimeToken(out) <= 0 || out.value === '') return -1;
    if (this.cur() !== '/') {
      out.value = '';
      return -1;
    }
    this.pos++;
    if (this.skipLwsp() <= 0) {
      out.value = '';
      return -1;
    }
    out.value += '/';
    const before = out.value.length;
    const ret = this.mimeToken(out);
    if (ret < 0 || out.value.length === before || (!this.atEnd && this.cur() !== ';')) {
      out.value = '';
      return -1;
    }
    return ret;
  }

  private contentParam(): { ret: number; key: string; value: string } {
    const none = { ret: -1, key: '', value: '' };
    if (this.atEnd) return { ...none, ret: 0 };
    if (this.cur() !== ';') return none;
    this.pos++;
    if (this.skipLwsp() <= 0) return none;
    const key = { value: '' };
    if (this.mimeToken(key) <= 0 || this.cur() !== '=') return none;
    this.pos++;
    const value = { value: '' };
    let ret = this.skipLwsp();
    if (ret <= 0) {
      // broken / no value
    } else if (this.cur() === '"') {
      ret = this.quotedString(value);
    } else if (this.cur() === '=') {
      while (!this.atEnd && !';\t\r\n '.includes(this.cur())) value.value += this.data[this.pos++];
    } else {
      ret = this.mimeToken(value);
    }
    return { ret: ret < 0 ? -1 : 1, key: key.value, value: value.value };
  }

  /** The parameters after a content type, RFC 2231 continuations merged (rfc2231_parse). */
  contentParams(): [string, string][] {
    const result: [string, string][] = [];
    const continued: { key: string; index: number; extended: boolean; value: string }[] = [];
    // The C code reuses one struct: a bare "name*" keeps the index of the parameter before it.
    let index = 0;
    for (;;) {
      const { ret, key, value } = this.contentParam();
      if (ret === 0) break;
      if (ret < 0) {
        if (this.atEnd) break;
        this.pos++;
        continue;
      }
      const star = key.indexOf('*');
      let rest = star < 0 ? null : key.slice(star + 1);
      if (rest !== null && rest !== '') {
        const digits = /^[0-9]*/.exec(rest)![0];
        index = digits === '' ? 0 : Number(digits);
        rest = rest.slice(digits.length);
      }
      if (rest !== null) {
        const extended = rest.startsWith('*');
        if (extended) rest = rest.slice(1);
        if (rest === '') continued.push({ key: key.slice(0, star), index, extended, value });
        else result.push([key, value]);
      } else {
        result.push([key, value]);
      }
    }
    continued.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));
    for (let i = 0; i < continued.length; ) {
      let next = i;
      let complete = true;
      let extended = false;
      while (next < continued.length && continued[next]!.key.toLowerCase() === continued[i]!.key.toLowerCase()) {
        if (continued[next]!.index !== next - i) complete = false;
        if (continued[next]!.extended) extended = true;
        next++;
      }
      const group = continued.slice(i, next);
      if (!complete) {
        for (const part of group) result.push([`${part.key}*${part.index}${part.extended ? '*' : ''}`, part.value]);
      } else {
        let value = !group[0]!.extended && extended ? "''" : '';
        for (const part of group) value += !part.extended && extended ? part.value.replace(/%/g, '%25') : part.value;
        result.push([extended ? `${group[0]!.key}*` : group[0]!.key, value]);
      }
      i = next;
    }
    return result;
  }
}

/** A Content-Type value: "type/subtype" ('' when invalid) and its parameters. */
export function contentTypeOf(value: string): { type: string; params: [string, string][] } {
  const reader = new Rfc822Reader(value, false, NUL_REPLACEMENT);
  reader.skipLwsp();
  const type = { value: '' };
  const ret = reader.contentType(type);
  return { type: type.value, params: ret < 0 ? [] : reader.contentParams() };
}

/** A parameter's value ("charset", "boundary"), the first of that name, or null. */
export function paramOf(params: readonly [string, string][], name: string): string | null {
  return params.find(([key]) => key.toLowerCase() === name)?.[1] ?? null;
}
