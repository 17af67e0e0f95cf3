/**
 * The two header values SEARCH reads structurally, as Dovecot 2.3 does: address lists, which
 * FROM/TO/CC/BCC match in Dovecot's rewritten form (message_address_parse with FILL_MISSING, then
 * message_address_write: comments dropped, display names re-quoted, groups as "name: …;"), and
 * the Date: header for SENTBEFORE/SENTON/SENTSINCE (message_date_parse). Byte strings in and out.
 *
 * It must never "repair" input beyond what Dovecot does: a search only agrees with the server's
 * if both see the same text.
 */
import { NUL_REPLACEMENT, Rfc822Reader } from './search-rfc822.js';

interface Address {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  domain: string | null;
  invalid: boolean;
}

function emptyAddress(): Address {
  return { name: null, route: null, mailbox: null, domain: null, invalid: false };
}

class AddressParser {
  readonly list: Address[] = [];
  addr = emptyAddress();
  readonly reader: Rfc822Reader;

  constructor(value: string) {
    this.reader = new Rfc822Reader(value, true, NUL_REPLACEMENT);
  }

  private add(): void {
    this.list.push(this.addr);
    this.addr = emptyAddress();
  }

  private nonStrictDotAtom(out: { value: string }): number {
    const r = this.reader;
    let ret = -1;
    do {
      while (r.cur() === '.') {
        out.value += '.';
        r.pos++;
        if (r.atEnd) return 0;
        ret = 1;
      }
      if (r.cur() === '@') break;
      ret = r.atom(out);
    } while (ret > 0 && r.cur() === '.');
    return ret;
  }

  private localPart(): number {
    const out = { value: '' };
    const ret = this.reader.cur() === '"' ? this.reader.quotedString(out) : this.nonStrictDotAtom(out);
    if (ret < 0) return -1;
    this.addr.mailbox = out.value;
    return ret;
  }

  private domain(): number {
    const out = { value: '' };
    const ret = this.reader.domain(out);
    if (ret < 0) return -1;
    this.addr.domain = out.value;
    return ret;
  }

  private domainList(): number {
    const r = this.reader;
    let route = '';
    for (;;) {
      if (r.atEnd) return 0;
      if (r.cur() !== '@') break;
      if (route !== '') route += ',';
      route += '@';
      const out = { value: route };
      const ret = r.domain(out);
      route = out.value;
      if (ret <= 0) return ret;
      while (r.skipLwsp() > 0 && r.cur() === ',') r.pos++;
    }
    this.addr.route = route;
    return 1;
  }

  private angleAddr(): number {
    const r = this.reader;
    r.pos++;
    if (r.skipLwsp() <= 0) return -1;
    if (r.cur() === '@') {
      if (this.domainList() > 0 && r.cur() === ':') {
        r.pos++;
      } else {
        this.addr.route = 'INVALID_ROUTE';
        if (r.atEnd) return -1;
      }
      if (r.skipLwsp() <= 0) return -1;
    }
    if (r.cur() !== '>') {
      if (this.localPart() <= 0) return -1;
      if (r.cur() === '@' && this.domain() <= 0) return -1;
    }
    if (r.cur() !== '>') return -1;
    r.pos++;
    return r.skipLwsp();
  }

  private nameAddr(): number {
    const r = this.reader;
    const name = { value: '' };
    if (r.phrase(name) <= 0 || r.cur() !== '<') return -1;
    this.addr.name = name.value === '' ? null : name.value;
    if (this.angleAddr() < 0) {
      this.addr.domain = 'SYNTAX_ERROR';
      this.addr.invalid = true;
    }
    return r.atEnd ? 0 : 1;
  }

  private addrSpec(): number {
    const r = this.reader;
    r.lastComment = '';
    const quoted = r.cur() === '"';
    let ret = this.localPart();
    let ret2 = -2;
    if (ret <= 0) this.addr.invalid = true;
    if (ret !== 0 && !r.atEnd && r.cur() === '@') {
      ret2 = this.domain();
      if (ret2 <= 0) ret = ret2;
    }
    if (r.lastComment !== '') {
      this.addr.name = r.lastComment;
    } else if (ret2 === -2) {
      // "user" alone is a mailbox; "user more words" is a display name.
      const phrase = { value: `${this.addr.mailbox ?? ''} ` };
      const before = phrase.value.length;
      r.phrase(phrase);
      if (phrase.value.length !== before) {
        this.addr.mailbox = null;
        this.addr.name = phrase.value;
      } else if (!quoted) {
        this.addr.domain = '';
      }
      this.addr.invalid = true;
      ret = -1;
    }
    return ret;
  }

  private fixedAdd(): void {
    if (this.addr.mailbox === null) {
      this.addr.mailbox = 'MISSING_MAILBOX';
      this.addr.invalid = true;
    }
    if (this.addr.domain === null || this.addr.domain === '') {
      this.addr.domain = 'MISSING_DOMAIN';
      this.addr.invalid = true;
    }
    this.add();
  }

  private mailbox(): number {
    const r = this.reader;
    const start = r.pos;
    let ret = this.nameAddr();
    if (ret < 0) {
      r.pos = start;
      ret = this.addrSpec();
      if (this.addr.invalid && this.addr.name === null && this.addr.mailbox !== null && this.addr.domain === null) {
        this.addr.name = this.addr.mailbox;
        this.addr.mailbox = null;
      }
    }
    if (ret < 0) this.addr.invalid = true;
    this.fixedAdd();
    return ret;
  }

  private group(): number {
    const r = this.reader;
    const name = { value: '' };
    if (r.phrase(name) <= 0 || r.cur() !== ':') return -1;
    r.pos++;
    let ret = r.skipLwsp();
    if (ret <= 0) this.addr.invalid = true;
    this.addr.mailbox = name.value;
    this.add();
    if (ret > 0 && r.cur() !== ';') {
      for (;;) {
        this.mailbox();
        if (r.atEnd || r.cur() !== ',') break;
        r.pos++;
        if (r.skipLwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (r.atEnd || r.cur() !== ';') {
        ret = -1;
      } else {
        r.pos++;
        ret = r.skipLwsp();
      }
    }
    if (ret < 0) this.addr.invalid = true;
    this.add();
    return ret === 0 ? 0 : 1;
  }

  private address(): number {
    const start = this.reader.pos;
    const ret = this.group();
    if (ret >= 0) return ret;
    this.reader.pos = start;
    return this.mailbox();
  }

  parseList(): void {
    const r = this.reader;
    if (r.skipLwsp() <= 0) return;
    for (;;) {
      if (this.address() === 0) break;
      if (r.atEnd || r.cur() !== ',') break;
      r.pos++;
      const ret = r.skipLwsp();
      if (ret <= 0) {
        if (ret < 0) this.fixedAdd();
        break;
      }
    }
  }
}

const IS_ESCAPED = /["\\]/;

/** str_append_maybe_escape: as is when every byte is atext (or "." when allowed), else quoted. */
function maybeQuoted(value: string, escapeDot: boolean): string {
  let plain = true;
  for (const char of value) {
    const code = char.charCodeAt(0);
    const atext = code >= 0x80 || /[0-9A-Za-z!#$%&'*+\-/=?^_`{|}~]/.test(char);
    if (!atext && (escapeDot || char !== '.')) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  if (!IS_ESCAPED.test(value)) return `"${value}"`;
  return `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`;
}

/** An address-list header value as Dovecot rewrites it before FROM/TO/CC/BCC match on it. */
export function normalizedAddressList(value: string): string {
  const parser = new AddressParser(value);
  parser.parseList();
  let out = '';
  let first = true;
  let inGroup = false;
  for (const addr of parser.list) {
    if (first) first = false;
    else out += ', ';
    if (addr.domain === null) {
      if (!inGroup) {
        const name = addr.mailbox ?? '';
        out += name === '' ? '""' : name.includes('=?') ? name : maybeQuoted(name, true);
        out += ': ';
        first = true;
      } else if (out.endsWith(', ')) {
        out = `${out.slice(0, -2)};`;
      } else {
        out = `${out.slice(0, -1)};`;
      }
      inGroup = !inGroup;
      continue;
    }
    const mailbox = addr.mailbox ?? '';
    if (addr.name !== null) out += addr.name.includes('=?') ? addr.name : maybeQuoted(addr.name, true);
    if (addr.route !== null || mailbox !== '' || addr.domain !== '') {
      if (addr.name !== null && addr.name !== '') out += ' ';
      out += '<';
      if (addr.route !== null) out += `${addr.route}:`;
      out += mailbox === '' ? '""' : maybeQuoted(mailbox, false);
      if (addr.domain !== '') out += `@${addr.domain}`;
      out += '>';
    }
  }
  return out;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Seconds since the epoch of a UTC calendar time, or null when a field is out of range (utc_mktime). */
export function utcSeconds(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number | null {
  const sec = second === 60 ? 59 : second;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, sec);
  const same =
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day &&
    date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === sec;
  return same ? date.getTime() / 1000 : null;
}

/**
 * A Date: value as the sender's wall-clock time, in seconds as if it were UTC (Dovecot compares
 * SENT* dates in the header's own zone); null when Dovecot cannot parse it.
 */
export function sentWallClockSeconds(value: string): number | null {
  const r = new Rfc822Reader(value);
  const token = (): string | null => {
    const out = { value: '' };
    const ret = r.atEnd ? 0 : r.atom(out);
    return ret < 0 ? null : out.value;
  };
  r.skipLwsp();
  let value1 = token();
  if (!value1) return null;
  if (value1.length === 3) {
    if (r.cur() !== ',') return null;
    r.pos++;
    r.skipLwsp();
    value1 = token();
    if (!value1) return null;
  }
  if (!/^[0-9][0-9]?$/.test(value1)) return null;
  const day = Number(value1);
  const monthName = token();
  const month = monthName && monthName.length >= 3 ? MONTHS.indexOf(monthName.slice(0, 3).toLowerCase()) + 1 : 0;
  if (month === 0) return null;
  const yearText = token();
  if (!yearText || !/^([0-9]{2}|[0-9]{4})$/.test(yearText)) return null;
  let year = Number(yearText);
  if (yearText.length === 2) year += year < 70 ? 2000 : 1900;
  else if (year < 1900) return null;
  const hourText = token();
  if (!hourText || !/^[0-9][0-9]?$/.test(hourText)) return null;
  if (r.cur() !== ':' && r.cur() !== '.') return null;
  r.pos++;
  r.skipLwsp();
  const minuteText = token();
  if (minuteText === null || !/^[0-9]{2}$/.test(minuteText)) return null;
  let second = 0;
  if (!r.atEnd && (r.cur() === ':' || r.cur() === '.')) {
    r.pos++;
    r.skipLwsp();
    const secondText = token();
    if (!secondText || !/^[0-9]{2}$/.test(secondText)) return null;
    second = Number(secondText);
  }
  // The zone must still be a readable token, but Dovecot subtracts its offset and adds it back
  // before comparing: only the wall clock counts.
  if (token() === null) return null;
  return utcSeconds(year, month, day, Number(hourText), Number(minuteText), second);
}

/**
 * A search date as Dovecot holds it (imap_parse_date): midnight UTC of that day in seconds. A day
 * the month lacks (31-Feb) makes timegm fail, and Dovecot then takes the oldest time it can hold
 * for years up to 2000, the newest for later years.
 */
export function searchDateSeconds(date: { readonly year: number; readonly month: number; readonly day: number }): number {
  const seconds = utcSeconds(date.year, date.month, date.day);
  if (seconds !== null) return seconds;
  return date.year <= 2000 ? -(2 ** 31) : Number.MAX_SAFE_INTEGER;
}
