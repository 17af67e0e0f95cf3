/**
 * Mailbox names as IMAP defines them: the bytes of an astring argument (atom, quoted string or
 * literal, already read by imap-syntax.ts) decoded from modified UTF-7 (RFC 3501 §5.1.3), and
 * the one question the proxy asks of a name: is it INBOX?
 *
 * It must never decide from raw command bytes: only the whole decoded name counts, so
 * "inbox archive", "INBOX.sub", "inbox/sub" and "&AOQ-inbox" are other mailboxes.
 */
import type { ImapToken } from './imap-syntax.js';

const AMPERSAND = 0x26;
const DASH = 0x2d;

/**
 * Decodes a modified UTF-7 mailbox name; null when the bytes are not valid modified UTF-7
 * (8-bit bytes, an unterminated or malformed "&…-" run, or printable ASCII encoded in base64,
 * which RFC 3501 forbids). A server refuses such a name or takes it as some other mailbox: it is
 * never INBOX.
 */
export function decodeMailboxName(bytes: Buffer): string | null {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    if (byte < 0x20 || byte > 0x7e) return null;
    if (byte !== AMPERSAND) {
      out += String.fromCharCode(byte);
      i++;
      continue;
    }
    const end = bytes.indexOf(DASH, i + 1);
    if (end === -1) return null;
    if (end === i + 1) {
      out += '&'; // "&-" is "&" itself
      i = end + 1;
      continue;
    }
    const decoded = decodeBase64Run(bytes.toString('latin1', i + 1, end));
    if (decoded === null) return null;
    out += decoded;
    i = end + 1;
  }
  return out;
}

/** One "&…-" run: modified base64 (',' for '/', no padding) of UTF-16BE. */
function decodeBase64Run(run: string): string | null {
  if (!/^[A-Za-z0-9+,]+$/.test(run)) return null;
  const bytes = Buffer.from(run.replace(/,/g, '/'), 'base64');
  // Bits left over must be padding of the last 16-bit unit, not a further half unit.
  if (bytes.length % 2 !== 0 || bytes.length === 0 || Math.floor((run.length * 6) / 8) !== bytes.length) return null;
  let text = '';
  for (let i = 0; i < bytes.length; i += 2) {
    const unit = bytes.readUInt16BE(i);
    // Printable US-ASCII stands for itself and must not be encoded (RFC 3501 §5.1.3).
    if (unit >= 0x20 && unit <= 0x7e) return null;
    text += String.fromCharCode(unit);
  }
  return LONE_SURROGATE.test(text) ? null : text;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the argument names INBOX: the whole decoded name, compared case-insensitively. */
export function isInboxMailbox(token: ImapToken | undefined): boolean {
  if (token === undefined) return false;
  let bytes: Buffer;
  if (token.kind === 'string') bytes = token.value;
  else if (token.kind === 'atom') bytes = Buffer.from(token.value, 'latin1');
  else return false;
  // INBOX cannot be spelt in fewer or more bytes: its letters may not be base64-encoded.
  if (bytes.length !== 5) return false;
  return decodeMailboxName(bytes)?.toUpperCase() === 'INBOX';
}
