/**
 * What the string keys of SEARCH look at in a message's RFC 822 bytes, computed as Dovecot 2.3
 * computes it: header lines unfolded (message-header-parser.c, CLEAN_ONELINE), the MIME tree cut
 * at boundaries (message-parser.c), and per MIME part the text message-search.c runs its
 * substring search on: for BODY the decoded body of each text/* or message/* part, for TEXT
 * that part's header lines ("Name: decoded value" CRLF) followed by the same body. Multipart
 * preambles and epilogues and the bodies of other types (attachments) are never searched;
 * text/html is searched as it is, tags included.
 *
 * It must never throw on malformed mail, and never keep more than one analysis per message
 * (cached by the Buffer; a virtual message's bytes never change).
 */
import { contentTypeOf, decodeBase64, decodeQuotedPrintable, normalizeBody, normalizeHeaderValue, paramOf, transferEncodingOf, type TransferEncoding } from './search-decode.js';
import { normalizedAddressList, sentWallClockSeconds } from './search-header-values.js';
import { normalizeUtf8 } from './search-unicode.js';

/** One header as message_parse_header_next returns it, byte strings (latin1). */
export interface HeaderLine {
  readonly name: string;
  /** What separates name and value: blanks before the colon, the colon, one blank after. */
  readonly middle: string;
  /** The unfolded value: continuation lines appended, a leading tab turned into a space. */
  readonly value: string;
  /** False for a last line that ended the message without a line break. */
  readonly newline: boolean;
  /** The empty line that ends a header. */
  readonly eoh: boolean;
}

export type HeaderRewrite = 'raw' | 'address' | 'subject';

interface MimePart {
  readonly parent: number | null;
  headers: HeaderLine[];
  /** Body bytes handed to the search; null for multipart and message/rfc822 containers. */
  body: Buffer | null;
  multipartDigest: boolean;
}

const isLwsp = (char: string | undefined): boolean => char === ' ' || char === '\t';

/**
 * Header lines from `start` up to and including the empty line (or the end, or a line a
 * boundary matches, which is left unread). `data` is the message as a byte string.
 */
export function readHeaderLines(data: string, start: number, stopAt: (line: number) => boolean = () => false): { lines: HeaderLine[]; end: number } {
  const lines: HeaderLine[] = [];
  let pos = start;
  while (pos < data.length) {
    if (stopAt(pos)) break;
    const lineEnd = (from: number): { content: number; next: number; newline: boolean } => {
      const lf = data.indexOf('\n', from);
      if (lf < 0) return { content: data.length, next: data.length, newline: false };
      return { content: lf > from && data[lf - 1] === '\r' ? lf - 1 : lf, next: lf + 1, newline: true };
    };
    const first = lineEnd(pos);
    if (first.content === pos && first.newline) {
      lines.push({ name: '', middle: '', value: '', newline: true, eoh: true });
      return { lines, end: first.next };
    }
    const text = data.slice(pos, first.content);
    const colon = text.indexOf(':');
    let name = '';
    let middle = '';
    let value = text;
    if (colon >= 0) {
      let nameEnd = colon;
      while (nameEnd > 0 && isLwsp(text[nameEnd - 1])) nameEnd--;
      if (nameEnd <= 1000) {
        const valueStart = colon + 1 + (isLwsp(text[colon + 1]) ? 1 : 0);
        name = text.slice(0, nameEnd);
        middle = text.slice(nameEnd, valueStart);
        value = text.slice(valueStart);
      }
    }
    let { next, newline } = first;
    while (newline && isLwsp(data[next])) {
      const line = lineEnd(next);
      const continuation = data.slice(next, line.content);
      value += continuation[0] === '\t' ? ` ${continuation.slice(1)}` : continuation;
      ({ next, newline } = line);
    }
    lines.push({ name, middle, value, newline, eoh: false });
    pos = next;
  }
  return { lines, end: pos };
}

interface Boundary {
  readonly text: string;
  readonly part: number;
}

/** boundary_line_find: the boundary a line at `at` starts with, preferring the longest. */
function boundaryAt(data: string, at: number, boundaries: readonly Boundary[]): { boundary: Boundary; closing: boolean } | null {
  if (boundaries.length === 0 || data[at] !== '-' || data[at + 1] !== '-') return null;
  const lf = data.indexOf('\n', at + 2);
  let size = (lf < 0 ? data.length : lf) - (at + 2);
  if (lf >= 0 && size > 0 && data[lf - 1] === '\r') size--;
  if (lf < 0) size = Math.min(size, 84);
  const trailingDashes = lf >= 0 && size > 2 && data[at + 2 + size - 1] === '-' && data[at + 2 + size - 2] === '-';
  let best: Boundary | null = null;
  for (let i = boundaries.length - 1; i >= 0; i--) {
    const candidate = boundaries[i]!;
    const length = candidate.text.length;
    if (length <= size && data.startsWith(candidate.text, at + 2) && (!best || best.text.length < length)) {
      best = candidate;
      if (length === size || (length === size - 2 && trailingDashes)) break;
    }
  }
  if (!best) return null;
  return { boundary: best, closing: data.startsWith('--', at + 2 + best.text.length) };
}

/** The MIME parts in the order Dovecot's parser hands them to the search. */
export function mimeParts(raw: Buffer): MimePart[] {
  const data = raw.toString('latin1');
  const parts: MimePart[] = [{ parent: null, headers: [], body: null, multipartDigest: false }];
  let boundaries: Boundary[] = [];
  let current = 0;
  let pos = 0;
  let readHeaders = true;
  let mimeChild = false;
  for (;;) {
    const part = parts[current]!;
    let multipartBoundary: string | null = null;
    let container = false;
    if (readHeaders) {
      const own = boundaries;
      const read = readHeaderLines(data, pos, (at) => boundaryAt(data, at, own) !== null);
      part.headers = read.lines;
      pos = read.end;
      const named = (name: string): HeaderLine[] => read.lines.filter((line) => !line.eoh && line.name.toLowerCase() === name);
      const contentType = named('content-type')[0];
      const isMime = mimeChild || contentType !== undefined || named('mime-version').length > 0;
      const parsed = contentType && isMime ? contentTypeOf(contentType.value) : null;
      const type = parsed?.type.toLowerCase() ?? '';
      const parentDigest = part.parent !== null && parts[part.parent]!.multipartDigest;
      const message = type === 'message/rfc822' || (parsed === null && parentDigest);
      if (type.startsWith('multipart/')) {
        container = true;
        part.multipartDigest = type === 'multipart/digest';
        multipartBoundary = parsed && parsed.type !== '' ? paramOf(parsed.params, 'boundary') : null;
      }
      if (message && !container) {
        parts.push({ parent: current, headers: [], body: null, multipartDigest: false });
        current = parts.length - 1;
        mimeChild = false;
        continue;
      }
      if (multipartBoundary !== null) boundaries = [...boundaries, { text: multipartBoundary.slice(0, 80), part: current }];
    } else {
      container = true;
    }
    // The body, up to the next line that starts with a known boundary.
    let found: ReturnType<typeof boundaryAt> = null;
    let lineStart = pos;
    for (;;) {
      found = boundaryAt(data, lineStart, boundaries);
      if (found) break;
      const lf = data.indexOf('\n', lineStart);
      if (lf < 0) break;
      lineStart = lf + 1;
    }
    let bodyEnd = found ? lineStart : data.length;
    if (found && lineStart > pos) bodyEnd -= data[lineStart - 2] === '\r' ? 2 : 1;
    if (!container) part.body = raw.subarray(pos, Math.max(pos, bodyEnd));
    if (!found) return parts;
    const { boundary, closing } = found;
    while (current !== boundary.part) current = parts[current]!.parent!;
    const index = boundaries.indexOf(boundary);
    boundaries = boundaries.slice(0, closing ? index : index + 1);
    const lf = data.indexOf('\n', lineStart);
    if (lf < 0) return parts;
    pos = lf + 1;
    if (boundaries.length > 0 && boundaries[boundaries.length - 1]!.part === current) {
      parts.push({ parent: current, headers: [], body: null, multipartDigest: false });
      current = parts.length - 1;
      readHeaders = true;
      mimeChild = true;
    } else {
      readHeaders = false;
    }
  }
}

/** What message-search.c searches in one part: BODY sees `body`, TEXT `headers + body`. */
interface SearchablePart {
  readonly headers: string;
  readonly body: string;
}

function searchablePart(part: MimePart): SearchablePart {
  let text = true;
  let charset: string | null = null;
  let charsetSeen = false;
  let encoding: TransferEncoding = '7bit';
  let headers = '';
  for (const line of part.headers) {
    const lower = line.name.toLowerCase();
    if (!line.eoh && lower === 'content-type') {
      const { type, params } = contentTypeOf(line.value);
      text = /^(text|message)\//i.test(type);
      if (!charsetSeen) charset = type === '' ? null : paramOf(params, 'charset');
      charsetSeen = true;
    } else if (!line.eoh && lower === 'content-transfer-encoding') {
      encoding = transferEncodingOf(line.value);
    }
    headers += normalizeUtf8(Buffer.from(line.name, 'latin1')) + line.middle + normalizeHeaderValue(line.value) + (line.newline ? '\r\n' : '');
  }
  if (!text || part.body === null || encoding === 'unknown') return { headers, body: '' };
  const decoded = encoding === 'base64' ? decodeBase64(part.body) : encoding === 'quoted-printable' ? decodeQuotedPrintable(part.body) : part.body;
  return { headers, body: normalizeBody(decoded, charset) };
}

/** A message analysed once for all the string keys of any number of searches. */
export class SearchableMessageText {
  private topHeaders: HeaderLine[] | null = null;
  private parts: SearchablePart[] | null = null;

  constructor(private readonly raw: Buffer) {}

  private get headers(): HeaderLine[] {
    this.topHeaders ??= readHeaderLines(this.raw.toString('latin1'), 0).lines;
    return this.topHeaders;
  }

  private get searchableParts(): SearchablePart[] {
    this.parts ??= mimeParts(this.raw).map(searchablePart);
    return this.parts;
  }

  /** The message's own header lines (not those of its MIME parts), in order. */
  get headerLines(): readonly HeaderLine[] {
    return this.headers;
  }

  /**
   * One header line's value as a header key searches it: rewritten by `how` (FROM/TO/CC/BCC
   * search the address list in normal form, SUBJECT with blanks compressed, HEADER as it is),
   * encoded-words decoded, normalised, and followed by CRLF as in Dovecot.
   */
  headerValueText(line: HeaderLine, how: HeaderRewrite): string {
    const value = how === 'address' ? normalizedAddressList(line.value) : how === 'subject' ? compressLwsp(line.value) : line.value;
    return normalizeHeaderValue(value) + (line.newline ? '\r\n' : '');
  }

  /** BODY (`withHeaders` false) or TEXT, for a key already normalised (normalizeText). */
  textContains(wanted: string, withHeaders: boolean): boolean {
    return this.searchableParts.some((part) => (withHeaders ? part.headers + part.body : part.body).includes(wanted));
  }

  /** The first Date: header as wall-clock seconds; 0 (1970) when missing or unreadable, as in Dovecot. */
  sentSeconds(): number {
    const date = this.headers.find((line) => !line.eoh && line.name.toLowerCase() === 'date');
    return (date && sentWallClockSeconds(date.value)) ?? 0;
  }
}

/** compress_lwsp: runs of blanks become one space, leading blanks go. */
function compressLwsp(value: string): string {
  return value.replace(/^[ \t]+/, '').replace(/[ \t]+/g, ' ');
}

/**
 * How the server stores line breaks, which its body searches see: Dovecot's default
 * (mail_save_crlf = no) turns every CRLF into LF on save, so BODY "a\r\nb" never matches a
 * 7bit body, while quoted-printable decoding makes CRLFs again.
 */
export type StoredLineEnding = 'lf' | 'crlf';

const analyses: Record<StoredLineEnding, WeakMap<Buffer, SearchableMessageText>> = { lf: new WeakMap(), crlf: new WeakMap() };

export function searchableText(raw: Buffer, stored: StoredLineEnding = 'lf'): SearchableMessageText {
  let analysis = analyses[stored].get(raw);
  if (!analysis) {
    analysis = new SearchableMessageText(stored === 'lf' ? withoutCr(raw) : raw);
    analyses[stored].set(raw, analysis);
  }
  return analysis;
}

/** CRLF to LF, as Dovecot's save path does (i_stream_create_lf); a lone CR stays. */
function withoutCr(raw: Buffer): Buffer {
  if (!raw.includes(0x0d)) return raw;
  const out = Buffer.alloc(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0d && raw[i + 1] === 0x0a) continue;
    out[length++] = raw[i]!;
  }
  return out.subarray(0, length);
}
