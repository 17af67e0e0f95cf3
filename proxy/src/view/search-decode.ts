/**
 * Decoding of message text into the normalised form Dovecot 2.3 searches: bodies by their
 * Content-Transfer-Encoding (qp-decoder.c, base64.c) and charset (charset-iconv.c), header values
 * by their RFC 2047 encoded-words (message-header-decode.c), all through the search normaliser.
 *
 * It must never throw on malformed input: broken encodings decode as far as Dovecot's do, and
 * what Dovecot drops (an unknown transfer encoding, trailing whitespace of a quoted-printable
 * part, an incomplete last UTF-8 sequence) is dropped here too.
 */
import { asciiLower } from './imap-string.js';
import { parseMimeParameters, Rfc822Parser, type MimeParameter } from './message-rfc822-parser.js';
import { completeUtf8Length, normalizeText, normalizeUtf8, validUtf8OrReplaced } from './search-unicode.js';

export type TransferEncoding = '7bit' | 'base64' | 'quoted-printable' | 'unknown';

/** message_decoder_parse_cte: one MIME token, comments allowed, a ";" may follow; else unknown. */
export function transferEncodingOf(value: string): TransferEncoding {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const token = { value: '' };
  if (parser.parseMimeToken(token) === 1) {
    parser.skipLwsp();
    if (parser.data[parser.pos] !== ';') return 'unknown';
  }
  switch (token.value.toLowerCase()) {
    case '7bit':
    case '8bit':
    case 'binary':
      return '7bit';
    case 'base64':
      return 'base64';
    case 'quoted-printable':
      return 'quoted-printable';
    default:
      return 'unknown';
  }
}

/**
 * A Content-Type value as message-parser.c and message-decoder.c read it: "type/subtype" (partial
 * or '' when invalid, as Dovecot keeps it) and, only when valid, its parameters.
 */
export function contentTypeOf(value: string): { type: string; params: MimeParameter[] } {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const type = { value: '' };
  const ret = parser.parseContentType(type);
  return { type: type.value, params: ret < 0 ? [] : parseMimeParameters(parser) };
}

/** A parameter's value ("charset", "boundary"), the first of that name (strcasecmp), or null. */
export function paramOf(params: readonly MimeParameter[], name: string): string | null {
  return params.find(([key]) => asciiLower(key) === name)?.[1] ?? null;
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

const isBlank = (byte: number | undefined): boolean => byte === 0x20 || byte === 0x09;

/**
 * A quoted-printable body (qp_decoder_more): soft line breaks removed, trailing whitespace of
 * lines dropped, invalid "=" sequences kept as they are; what is pending at the end is lost.
 */
export function decodeQuotedPrintable(input: Uint8Array): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < input.length) {
    const byte = input[i]!;
    if (byte === 0x3d) {
      const first = input[i + 1];
      if (first === undefined) break;
      if (hexValue(first) >= 0) {
        const second = input[i + 2];
        if (second === undefined) break;
        if (hexValue(second) >= 0) {
          out.push(hexValue(first) * 16 + hexValue(second));
          i += 3;
        } else {
          out.push(0x3d, first);
          i += 2;
        }
        continue;
      }
      // "=" then optional blanks then [CR]LF is a soft break.
      let j = i + 1;
      while (isBlank(input[j])) j++;
      if (input[j] === 0x0a) {
        i = j + 1;
      } else if (input[j] === 0x0d && input[j + 1] === 0x0a) {
        i = j + 2;
      } else if (j >= input.length || (input[j] === 0x0d && j + 1 >= input.length)) {
        break;
      } else if (input[j] === 0x0d) {
        out.push(0x3d, ...input.subarray(i + 1, Math.min(j, i + 78)), 0x0d);
        i = j + 1;
      } else {
        out.push(0x3d, ...input.subarray(i + 1, Math.min(j, i + 78)));
        i = j;
      }
      continue;
    }
    if (isBlank(byte)) {
      let j = i;
      while (isBlank(input[j])) j++;
      if (j >= input.length) break;
      if (input[j] === 0x0a || (input[j] === 0x0d && input[j + 1] === 0x0a)) {
        i = j;
        continue;
      }
      if (input[j] === 0x0d) {
        if (j + 1 >= input.length) break;
        out.push(...input.subarray(i, Math.min(j, i + 77)), 0x0d);
        i = j + 1;
        continue;
      }
      // Dovecot keeps at most 77 blanks of a run it thought might be trailing.
      out.push(...input.subarray(i, Math.min(j, i + 77)));
      i = j;
      continue;
    }
    if (byte === 0x0d) {
      if (input[i + 1] === 0x0a) {
        out.push(0x0d, 0x0a);
        i += 2;
      } else if (i + 1 >= input.length) {
        break;
      } else {
        out.push(0x0d);
        i++;
      }
      continue;
    }
    if (byte === 0x0a) {
      out.push(0x0d, 0x0a);
      i++;
      continue;
    }
    out.push(byte);
    i++;
  }
  return Buffer.from(out);
}

const BASE64 = new Int16Array(256).fill(-1);
for (const [index, char] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) {
  BASE64[char.charCodeAt(0)] = index;
}
const isBase64Space = (byte: number): boolean => byte === 0x0a || byte === 0x0d || byte === 0x20 || byte === 0x09;

/** Base64 as Dovecot's decoder reads it: whitespace skipped, stops at the first invalid byte. */
export function decodeBase64(input: Uint8Array): Buffer {
  const out: number[] = [];
  let buffer = 0;
  let quantum = 0;
  for (const byte of input) {
    const value = BASE64[byte]!;
    if (value < 0) {
      if (isBase64Space(byte)) continue;
      break;
    }
    if (quantum === 0) buffer = value;
    else if (quantum === 1) out.push(((buffer << 2) | (value >> 4)) & 0xff);
    else if (quantum === 2) out.push(((buffer << 4) & 0xff) | (value >> 2));
    else out.push(((buffer << 6) & 0xc0) | value);
    if (quantum > 0) buffer = value;
    quantum = (quantum + 1) % 4;
  }
  return Buffer.from(out);
}

/** Charsets Dovecot treats as UTF-8 (charset_is_utf8). */
function isUtf8Charset(charset: string): boolean {
  return /^(us-ascii|ascii|utf-8|utf8)$/i.test(charset);
}

// iconv's ISO-8859-1 is Latin-1 proper; the WHATWG decoder Node has reads it as Windows-1252.
const LATIN1 = /^(iso[-_]?8859-1(:1987)?|iso_8859-1|latin1|l1|iso-ir-100|cp819|ibm819|csisolatin1)$/i;
// Windows-1252 at 0x80-0x9F as glibc's iconv has it (U+FFFD where it has no character). Node's
// TextDecoder reads these bytes as Latin-1, so the table is needed.
const CP1252_HIGH = '€\ufffd‚ƒ„…†‡ˆ‰Š‹Œ\ufffdŽ\ufffd\ufffd‘’“”•–—˜™š›œ\ufffdžŸ';

/** Text in a charset Dovecot's iconv would know, or null when the charset is unknown. */
function decodeCharset(bytes: Uint8Array, charset: string): string | null {
  if (LATIN1.test(charset)) return Buffer.from(bytes).toString('latin1');
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    return null;
  }
  let text: string;
  if (decoder.encoding === 'windows-1252') {
    text = Array.from(bytes, (byte) => (byte >= 0x80 && byte < 0xa0 ? CP1252_HIGH[byte - 0x80]! : String.fromCharCode(byte))).join('');
  } else {
    text = decoder.decode(bytes);
    // Where a Windows code page has no character, the WHATWG decoder gives a C1 control and
    // glibc an error (U+FFFD in Dovecot).
    if (decoder.encoding.startsWith('windows-')) text = text.replace(/[\u0080-\u009f]/g, '\ufffd');
  }
  return text.replace(/\ufffd+/g, '\ufffd');
}

/** A body's decoded bytes in its charset (UTF-8 when none or unknown), normalised for search. */
export function normalizeBody(bytes: Uint8Array, charset: string | null): string {
  if (charset !== null && !isUtf8Charset(charset)) {
    const text = decodeCharset(bytes, charset);
    if (text !== null) return normalizeText(text);
  }
  return normalizeUtf8(bytes.subarray(0, completeUtf8Length(bytes)));
}

/** quoted_printable_q_decode: "_" is a space, "=XX" a byte, anything else as it is. */
function decodeQ(input: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (code === 0x5f) {
      out.push(0x20);
    } else if (code === 0x3d && i + 2 < input.length) {
      const high = hexValue(input.charCodeAt(i + 1));
      const low = hexValue(input.charCodeAt(i + 2));
      if (input.charCodeAt(i + 1) === 0) {
        i += 2;
      } else if (high >= 0 && low >= 0) {
        out.push(high * 16 + low);
        i += 2;
      } else {
        out.push(code);
      }
    } else {
      out.push(code);
    }
  }
  return Buffer.from(out);
}

/** One run of header text in a charset (null = not encoded) as Dovecot's decode_utf8_callback sees it. */
function normalizeHeaderRun(bytes: Uint8Array, charset: string | null): string {
  if (charset === null || isUtf8Charset(charset)) return normalizeUtf8(bytes);
  const text = decodeCharset(bytes, charset);
  if (text !== null) return normalizeText(text);
  // An unknown charset: only made valid, not normalised, so it matches case-sensitively.
  return validUtf8OrReplaced(bytes) ?? Buffer.from(bytes).toString('utf8');
}

/**
 * A header value (a byte string) with its encoded-words decoded and everything normalised
 * (message_header_decode_utf8): whitespace between two encoded-words disappears.
 */
export function normalizeHeaderValue(value: string): string {
  let out = '';
  let start = 0;
  let pos = 0;
  while (pos + 1 < value.length) {
    if (value[pos] !== '=' || value[pos + 1] !== '?') {
      pos++;
      continue;
    }
    const between = value.slice(start, pos);
    if (pos !== start && !/^[ \t\r\n]*$/.test(between)) out += normalizeHeaderRun(Buffer.from(between, 'latin1'), null);
    pos += 2;
    const word = encodedWord(value, pos);
    if (!word) {
      start = pos - 2;
      continue;
    }
    pos += word.length;
    if (word.text.length > 0) out += normalizeHeaderRun(word.text, word.charset);
    start = pos;
  }
  if (start < value.length) out += normalizeHeaderRun(Buffer.from(value.slice(start), 'latin1'), null);
  return out;
}

/** "charset?encoding?text?=" from `at` (message_header_decode_encoded); null when not one. */
function encodedWord(value: string, at: number): { charset: string; text: Buffer; length: number } | null {
  const marks: number[] = [];
  let i = at;
  for (; i < value.length; i++) {
    if (value[i] === '?') {
      marks.push(i);
      if (marks.length === 3) break;
    }
  }
  if (i + 1 >= value.length || value[i + 1] !== '=') return null;
  const [first, second, third] = marks as [number, number, number];
  const encoded = value.slice(second + 1, third);
  let text: Buffer;
  switch (value[first + 1]) {
    case 'q':
    case 'Q':
      text = decodeQ(encoded);
      break;
    case 'b':
    case 'B':
      text = decodeBase64(Buffer.from(encoded, 'latin1'));
      break;
    default:
      return null;
  }
  return { charset: value.slice(at, first), text, length: third + 2 - at };
}
