/**
 * The two header values SEARCH reads structurally, as Dovecot 2.3 does: address lists, which
 * FROM/TO/CC/BCC match in Dovecot's rewritten form (message_address_parse with FILL_MISSING, then
 * message_address_write: comments dropped, display names re-quoted, groups as "name: …;"), and
 * the Date: header for SENTBEFORE/SENTON/SENTSINCE (message_date_parse). Byte strings in and out.
 * The parsing itself is ENVELOPE's (message-address.ts, message-rfc822-parser.ts): Dovecot runs
 * the same functions for both, so one port keeps SEARCH and FETCH from drifting apart.
 *
 * It must never "repair" input beyond what Dovecot does: a search only agrees with the server's
 * if both see the same text.
 */
import { parseAddressList } from './message-address.js';
import { isAtext, Rfc822Parser } from './message-rfc822-parser.js';

const IS_ESCAPED = /["\\]/;

/** str_append_maybe_escape: as is when every byte is atext (or "." when allowed), else quoted. */
function maybeQuoted(value: string, escapeDot: boolean): string {
  let plain = true;
  for (const char of value) {
    if (!isAtext(char.charCodeAt(0)) && (escapeDot || char !== '.')) {
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
  let out = '';
  let first = true;
  let inGroup = false;
  for (const addr of parseAddressList(value)) {
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
  const parser = new Rfc822Parser(value);
  const token = (): string | null => {
    const out = { value: '' };
    const ret = parser.pos >= parser.end ? 0 : parser.parseAtom(out);
    return ret < 0 ? null : out.value;
  };
  parser.skipLwsp();
  let value1 = token();
  if (!value1) return null;
  if (value1.length === 3) {
    if (parser.data[parser.pos] !== ',') return null;
    parser.pos++;
    parser.skipLwsp();
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
  if (parser.data[parser.pos] !== ':' && parser.data[parser.pos] !== '.') return null;
  parser.pos++;
  parser.skipLwsp();
  const minuteText = token();
  if (minuteText === null || !/^[0-9]{2}$/.test(minuteText)) return null;
  let second = 0;
  if (parser.data[parser.pos] === ':' || parser.data[parser.pos] === '.') {
    parser.pos++;
    parser.skipLwsp();
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
