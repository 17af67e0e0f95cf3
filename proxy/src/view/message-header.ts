/**
 * Header-line reading as Dovecot 2.3 does it (src/lib-mail/message-header-parser.c), over a whole
 * message held in memory: one physical line at a time, with continuation, end-of-header and
 * missing-newline flags, plus the header block's size. The MIME parser, ENVELOPE/BODYSTRUCTURE
 * field extraction and the HEADER.FIELDS filter all read headers through it, so they agree with
 * each other exactly as Dovecot's do.
 *
 * Not reproduced: Dovecot's 10 MB cap on one header block and on all headers of a message
 * (CVE-2024-23185), which truncates values beyond it.
 *
 * Must never look past the header block it was started on, and never alter a byte: a header
 * line is reproduced as name + middle + value + newline.
 */
import type { ByteString } from './imap-string.js';

/** RFC 5322 §2.1.1 / §2.2: longer names are treated as part of the value (Dovecot's choice). */
const HEADER_NAME_MAX_LENGTH = 1000;

export interface SizeAndLines {
  size: number;
  lines: number;
}

export interface HeaderLine {
  /** '' for a line without a colon, a continued line or the end-of-header line. */
  readonly name: ByteString;
  /** What lies between the name and the value: optional whitespace, ':' and skipped whitespace. */
  readonly middle: ByteString;
  /** This physical line's value, without its newline. A continued line's whole text. */
  readonly value: ByteString;
  readonly continued: boolean;
  readonly continues: boolean;
  /** The empty line ending the header block. */
  readonly eoh: boolean;
  /** The line ended at the end of the message without a newline. */
  readonly noNewline: boolean;
  readonly crlfNewline: boolean;
}

function isLwsp(char: string | undefined): boolean {
  return char === ' ' || char === '\t';
}

export class HeaderLineReader {
  pos: number;
  private eohSeen = false;
  private lastContinues = false;

  /**
   * @param skipInitialLwsp Dovecot's SKIP_INITIAL_LWSP: drop all whitespace after the colon
   *   (only the first byte when the value is nothing but whitespace).
   * @param size Where the header block's size and line count accumulate.
   */
  constructor(
    private readonly data: ByteString,
    start: number,
    private readonly skipInitialLwsp: boolean,
    readonly size: SizeAndLines = { size: 0, lines: 0 },
  ) {
    this.pos = start;
  }

  /** The next line, or null once the end-of-header line was returned or the data ended. */
  next(): HeaderLine | null {
    const data = this.data;
    const start = this.pos;
    if (this.eohSeen || start >= data.length) return null;
    const continued = this.lastContinues;

    const lf = data.indexOf('\n', start);
    let contentEnd: number;
    let lineEnd: number;
    let continues = false;
    let crlfNewline = false;
    const noNewline = lf < 0;
    if (noNewline) {
      contentEnd = lineEnd = data.length;
    } else {
      lineEnd = lf + 1;
      continues = isLwsp(data[lf + 1]);
      this.size.lines++;
      if (lf > start && data[lf - 1] === '\r') {
        contentEnd = lf - 1;
        crlfNewline = true;
      } else {
        contentEnd = lf;
        // Dovecot counts the CR a bare LF lacks ("virtual size"); after MessageModel's
        // normalisation there are none, but the reader stays honest on its own.
        this.size.size++;
      }
    }
    this.size.size += lineEnd - start;
    this.pos = lineEnd;

    if (contentEnd === start && !continued) {
      this.eohSeen = true;
      this.lastContinues = false;
      return { name: '', middle: '', value: '', continued: false, continues: false, eoh: true, noNewline, crlfNewline };
    }
    this.lastContinues = continues;
    const line = data.slice(start, contentEnd);
    if (continued) {
      return { name: '', middle: '', value: line, continued, continues, eoh: false, noNewline, crlfNewline };
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      return { name: '', middle: '', value: line, continued, continues, eoh: false, noNewline, crlfNewline };
    }
    let valueStart = colon + 1;
    if (this.skipInitialLwsp) {
      let skip = 0;
      while (valueStart + skip < line.length && isLwsp(line[valueStart + skip])) skip++;
      if (valueStart + skip === line.length && skip > 0) skip = 1;
      valueStart += skip;
    } else if (isLwsp(line[valueStart])) {
      valueStart++;
    }
    let nameEnd = colon;
    while (nameEnd > 0 && isLwsp(line[nameEnd - 1])) nameEnd--;
    if (nameEnd > HEADER_NAME_MAX_LENGTH) {
      return { name: '', middle: '', value: line, continued, continues, eoh: false, noNewline, crlfNewline };
    }
    return {
      name: line.slice(0, nameEnd),
      middle: line.slice(nameEnd, valueStart),
      value: line.slice(valueStart),
      continued,
      continues,
      eoh: false,
      noNewline,
      crlfNewline,
    };
  }
}

/** A whole header field: its first line's name and Dovecot's "full value" (folds kept as LF). */
export interface HeaderField {
  readonly name: ByteString;
  readonly value: ByteString;
}

/**
 * Joins physical lines into fields the way Dovecot's full_value does with DROP_CR: each
 * continuation line is appended after a bare LF, leading whitespace included — except that a
 * continuation line of a single whitespace byte is appended without the LF. That quirk came
 * with the CVE-2024-23185 fix (2.3.21.1, backported into Debian's 2.3.19.1); it changes how
 * an unterminated quoted string or comment in an address header ends.
 */
export class HeaderFieldCollector {
  private name: ByteString | null = null;
  private value: ByteString = '';

  /** Returns the completed field when `line` is the last line of one. */
  add(line: HeaderLine): HeaderField | null {
    if (line.eoh) return null;
    if (line.continued) {
      this.value += line.value.length > 1 ? `\n${line.value}` : line.value;
    } else {
      this.name = line.name;
      this.value = line.value;
    }
    if (line.continues || this.name === null) return null;
    return { name: this.name, value: this.value };
  }
}

/** C strings end at NUL: Dovecot compares header names only up to the first one. */
export function headerNameForMatching(name: ByteString): ByteString {
  const nul = name.indexOf('\0');
  return nul < 0 ? name : name.slice(0, nul);
}

/** message_header_strdup: NUL bytes become U+FFFD. */
export function headerValueString(value: ByteString): ByteString {
  return value.includes('\0') ? value.replace(/\0/g, '\xef\xbf\xbd') : value;
}
