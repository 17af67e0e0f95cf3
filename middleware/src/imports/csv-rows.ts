/**
 * A streaming RFC 4180 CSV reader made for million-row imports: bytes are decoded chunk by chunk
 * (a character split across chunks is kept for the next one), and each chunk's complete records
 * come out as one array, so the import pays one await per chunk instead of one per row. A record
 * without a quote (nearly all of them) is one `indexOf("\n")` and one `split(",")`; only a record
 * with a quote goes through the character-by-character state machine, which may span lines.
 *
 * Each record carries the line it ends on (the header is line 1), counting line breaks inside
 * quoted fields, so a per-row error names the line an editor shows. Empty lines are skipped but
 * counted. A stray or unclosed quote, or a record longer than MAX_ROW_CHARS, throws
 * CsvFileError: after broken quoting nobody can know where the next record starts.
 *
 * Must never keep more than one incomplete record beyond the current chunk.
 */

export class CsvFileError extends Error {
  override readonly name = 'CsvFileError';
}

export interface CsvRecord {
  /** The 1-based line of the file the record ends on. */
  readonly lineNumber: number;
  readonly values: string[];
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

/** Where a quoted record ended inside the text, or that the text ended first. */
type QuotedParse = { kind: 'record'; values: string[]; next: number; lineBreaks: number } | { kind: 'incomplete' };

export class CsvRecordSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  /** Text of an incomplete record from the previous chunk. */
  private carry = '';
  /** Lines consumed so far (complete records and skipped empty lines). */
  private lines = 0;
  private first = true;

  constructor(private readonly maxRecordChars: number) {}

  /** The records completed by this chunk. */
  push(chunk: Uint8Array): CsvRecord[] {
    let text = this.decoder.decode(chunk, { stream: true });
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return this.split(this.carry.length > 0 ? this.carry + text : text, false);
  }

  /** The last record, when the file does not end with a line break. */
  end(): CsvRecord[] {
    const text = this.carry + this.decoder.decode();
    return text.length === 0 ? [] : this.split(text, true);
  }

  private split(text: string, atEnd: boolean): CsvRecord[] {
    const records: CsvRecord[] = [];
    let position = 0;
    // The next quote at or after `position` (-1: none left), found once per stretch of lines.
    let quote = text.indexOf('"');
    while (position < text.length) {
      const newline = text.indexOf('\n', position);
      if (newline === -1 && !atEnd) break;
      const lineEnd = newline === -1 ? text.length : newline;
      if (lineEnd - position > this.maxRecordChars) {
        throw new CsvFileError(`the CSV cannot be read on after line ${this.lines + 1}: a row over ${this.maxRecordChars} characters`);
      }
      if (quote !== -1 && quote < position) quote = text.indexOf('"', position);
      if (quote === -1 || quote > lineEnd) {
        // The common case: a record on one line without quotes.
        this.lines += 1;
        const contentEnd = lineEnd > position && text.charCodeAt(lineEnd - 1) === CR ? lineEnd - 1 : lineEnd;
        if (contentEnd > position) records.push({ lineNumber: this.lines, values: text.slice(position, contentEnd).split(',') });
        position = lineEnd + 1;
        continue;
      }
      const parsed = this.parseQuoted(text, position, atEnd);
      if (parsed.kind === 'incomplete') break;
      this.lines += parsed.lineBreaks + 1;
      records.push({ lineNumber: this.lines, values: parsed.values });
      position = parsed.next;
    }
    this.carry = position < text.length ? text.slice(position) : '';
    if (this.carry.length > this.maxRecordChars) {
      throw new CsvFileError(`the CSV cannot be read on after line ${this.lines + 1}: a row over ${this.maxRecordChars} characters`);
    }
    return records;
  }

  /** One record that has a quote somewhere, from `start`; fields may span lines. */
  private parseQuoted(text: string, start: number, atEnd: boolean): QuotedParse {
    const values: string[] = [];
    let position = start;
    let lineBreaks = 0;
    for (;;) {
      if (position - start > this.maxRecordChars) {
        throw new CsvFileError(`the CSV cannot be read on after line ${this.lines + 1}: a row over ${this.maxRecordChars} characters`);
      }
      if (text.charCodeAt(position) === QUOTE) {
        // A quoted field: "" is a quote, a lone quote ends it.
        let value = '';
        let from = position + 1;
        for (;;) {
          const close = text.indexOf('"', from);
          if (close === -1) {
            if (atEnd) throw new CsvFileError(`the CSV cannot be read on after line ${this.lines + 1}: a quoted field is never closed`);
            return { kind: 'incomplete' };
          }
          if (close + 1 >= text.length && !atEnd) return { kind: 'incomplete' };
          value += text.slice(from, close);
          if (text.charCodeAt(close + 1) === QUOTE) {
            value += '"';
            from = close + 2;
            continue;
          }
          position = close + 1;
          break;
        }
        lineBreaks += countLineBreaks(value);
        values.push(value);
      } else {
        // An unquoted field: up to the next comma or line end; a quote inside it is broken CSV.
        let end = position;
        while (end < text.length) {
          const code = text.charCodeAt(end);
          if (code === COMMA || code === LF) break;
          if (code === QUOTE) throw new CsvFileError(`the CSV cannot be read on after line ${this.lines + lineBreaks + 1}: a quote inside an unquoted field`);
          end += 1;
        }
        if (end >= text.length && !atEnd) return { kind: 'incomplete' };
        const contentEnd = end > position && text.charCodeAt(end - 1) === CR && (end === text.length || text.charCodeAt(end) === LF) ? end - 1 : end;
        values.push(text.slice(position, contentEnd));
        position = end;
      }
      // After a field: a comma (another field), a line end, or the end of the file.
      const code = position < text.length ? text.charCodeAt(position) : -1;
      if (code === COMMA) {
        position += 1;
        if (position >= text.length && !atEnd) return { kind: 'incomplete' };
        if (position >= text.length) {
          values.push('');
          return { kind: 'record', values, next: position, lineBreaks };
        }
        continue;
      }
      if (code === LF) return { kind: 'record', values, next: position + 1, lineBreaks };
      if (code === CR && text.charCodeAt(position + 1) === LF) return { kind: 'record', values, next: position + 2, lineBreaks };
      if (code === CR && position + 1 >= text.length && !atEnd) return { kind: 'incomplete' };
      if (code === -1) {
        if (!atEnd) return { kind: 'incomplete' };
        return { kind: 'record', values, next: position, lineBreaks };
      }
      throw new CsvFileError(`the CSV cannot be read on after line ${this.lines + lineBreaks + 1}: text after a closing quote`);
    }
  }
}

function countLineBreaks(value: string): number {
  let count = 0;
  for (let index = value.indexOf('\n'); index !== -1; index = value.indexOf('\n', index + 1)) count += 1;
  return count;
}
