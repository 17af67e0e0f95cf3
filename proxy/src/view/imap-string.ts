/**
 * IMAP string serialisation exactly as Dovecot 2.3 writes it (src/lib-imap/imap-quote.c), so
 * that a value the proxy serves for a virtual message is byte-identical to the one the real
 * server would send: quoted when it can, a literal when it must, NIL for absent values.
 *
 * Values here are *byte strings*: JavaScript strings holding one byte per character
 * (latin1-decoded), because mail headers are bytes, not text, and Dovecot never decodes them.
 * Must never decode, re-encode or normalise a value beyond what Dovecot itself does.
 */

/** A JavaScript string holding one byte (0–255) per character, as `Buffer.toString('latin1')` gives. */
export type ByteString = string;

/**
 * Dovecot switches from a quoted string to a literal after this many quoted-specials
 * (`"` and `\`), on the reasoning that a literal's overhead is smaller by then.
 */
const QUOTED_MAX_ESCAPE_CHARS = 4;

export function literal(value: ByteString): ByteString {
  return `{${value.length}}\r\n${value}`;
}

/** imap_append_quoted: CR, LF and 8-bit bytes are dropped; `"` and `\` are escaped. */
export function quoted(value: ByteString): ByteString {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 13 || code === 10 || code >= 0x80) continue;
    if (code === 0x22 || code === 0x5c) out += '\\';
    out += value[i];
  }
  return out + '"';
}

/** imap_append_nstring (and imap_append_string, which is the same for non-NULL values). */
export function nstring(value: ByteString | null): ByteString {
  if (value === null) return 'NIL';
  let escapes = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x22 || code === 0x5c) {
      if (escapes++ < QUOTED_MAX_ESCAPE_CHARS) continue;
      return literal(value);
    }
    if (code === 13 || code === 10 || code >= 0x80) return literal(value);
  }
  return quoted(value);
}

/**
 * imap_append_nstring_nolf: line breaks are removed, and a space takes their place when the
 * next byte would otherwise run into the previous line.
 */
export function nstringNoLf(value: ByteString | null): ByteString {
  if (value === null || !/[\r\n]/.test(value)) return nstring(value);
  let joined = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char !== '\r' && char !== '\n') {
      joined += char;
      continue;
    }
    const next = value[i + 1];
    if (next !== undefined && next !== ' ' && next !== '\t' && next !== '\r' && next !== '\n') joined += ' ';
  }
  return nstring(joined);
}

/**
 * imap_append_string_for_humans, used for the ENVELOPE subject and display names: runs of
 * whitespace (including folding line breaks) become one space, leading and trailing whitespace
 * goes, NUL becomes 0x80 — and whenever anything had to change, or the value holds `"`, `\` or
 * 8-bit bytes, it is written as a literal, never as an escaped quoted string.
 */
export function stringForHumans(value: ByteString): ByteString {
  let removeCount = 0;
  let whitespacePrefix = true;
  let lastLwsp = true;
  let modify = false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    switch (code) {
      case 0:
        lastLwsp = false;
        modify = true;
        break;
      case 13:
      case 10:
      case 9:
      case 32:
        if (code !== 32) modify = true;
        if (lastLwsp) {
          modify = true;
          removeCount++;
        }
        lastLwsp = true;
        break;
      case 0x22:
      case 0x5c:
        modify = true;
        lastLwsp = false;
        break;
      default:
        if (code >= 0x80) modify = true;
        lastLwsp = false;
        break;
    }
    if (!lastLwsp) whitespacePrefix = false;
  }
  if (lastLwsp && value.length > 0 && !whitespacePrefix) {
    modify = true;
    removeCount++;
  }
  if (!modify) return `"${value}"`;
  if (value.length === removeCount) return '""';

  let out = '';
  lastLwsp = true;
  whitespacePrefix = true;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0) {
      out += '\x80';
      lastLwsp = false;
    } else if (code === 13 || code === 10 || code === 9 || code === 32) {
      if (!lastLwsp) out += ' ';
      lastLwsp = true;
    } else {
      lastLwsp = false;
      out += value[i];
    }
    if (!lastLwsp) whitespacePrefix = false;
  }
  if (lastLwsp && value.length > 0 && !whitespacePrefix) out = out.slice(0, -1);
  return literal(out);
}

/** ASCII-only case folding, as C's strcasecmp and Dovecot's t_str_ucase do (never latin1 letters). */
export function asciiUpper(value: string): string {
  return value.replace(/[a-z]+/g, (run) => run.toUpperCase());
}

export function asciiLower(value: string): string {
  return value.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

export function asciiEqualsIgnoreCase(a: string, b: string): boolean {
  return a.length === b.length && asciiLower(a) === asciiLower(b);
}
