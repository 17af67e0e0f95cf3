/**
 * Reads an import file as a stream of rows, never the whole file: CSV through our streaming
 * splitter (csv-rows.ts), JSON lines through a bounded line splitter. Rows come out in arrays,
 * one per chunk of the input, so a million-row file costs a few thousand awaits, not a million.
 * Each row comes with the line it ends on, so errors can name it. A row that cannot be understood
 * (a CSV row with the wrong number of fields, a line that is not a JSON object) is a RowProblem
 * and the import goes on; a file that cannot be read on (broken CSV quoting, a header without an
 * address column) throws ImportFileError and the import fails with the line.
 *
 * Must never buffer more than one incomplete row beyond the current chunk: a hostile file with a
 * gigabyte on one line is refused at MAX_ROW_BYTES, not read into memory.
 */
import type { Readable } from 'node:stream';
import type { ImportFormat } from '../store/store.js';
import { CsvFileError, CsvRecordSplitter } from './csv-rows.js';

/** A user row is an address, a name and a few attributes: far below 64 KiB. */
export const MAX_ROW_BYTES = 65_536;

/** A CSV row: its values by column, and the header (one array shared by every row of the file). */
export interface CsvRow {
  readonly kind: 'csv';
  readonly rowNumber: number;
  readonly header: readonly string[];
  readonly values: readonly string[];
}
/** A JSON-lines row: the object, before any check. */
export interface JsonRow {
  readonly kind: 'json';
  readonly rowNumber: number;
  readonly fields: Readonly<Record<string, unknown>>;
}
export interface RowProblem {
  readonly kind: 'problem';
  readonly rowNumber: number;
  readonly reason: string;
}
export type RawRow = CsvRow | JsonRow;
export type ReadRow = RawRow | RowProblem;

export class ImportFileError extends Error {
  override readonly name = 'ImportFileError';
}

/** Counts what the reader has taken from its input, for progress and for naming where it broke. */
export interface ReadPosition {
  bytesRead: number;
}

export function readRows(input: Readable, format: ImportFormat, position: ReadPosition = { bytesRead: 0 }): AsyncGenerator<ReadRow[]> {
  switch (format) {
    case 'csv':
      return readCsv(input, position);
    case 'jsonl':
      return readJsonLines(input, position);
  }
}

const ADDRESS_COLUMNS = ['address', 'hashedAddress'];

function checkHeader(values: readonly string[]): string[] {
  const names = values.map((name) => name.trim());
  if (!names.some((name) => ADDRESS_COLUMNS.includes(name))) throw new ImportFileError('the CSV header (line 1) has neither an "address" nor a "hashedAddress" column');
  const seen = new Set<string>();
  for (const name of names) {
    if (name === '') throw new ImportFileError('the CSV header (line 1) has an empty column name');
    if (seen.has(name)) throw new ImportFileError(`the CSV header (line 1) names column "${name.slice(0, 64)}" twice`);
    seen.add(name);
  }
  return names;
}

async function* readCsv(input: Readable, position: ReadPosition): AsyncGenerator<ReadRow[]> {
  const splitter = new CsvRecordSplitter(MAX_ROW_BYTES);
  let header: readonly string[] | undefined;
  const toRows = (records: ReturnType<CsvRecordSplitter['push']>): ReadRow[] => {
    const rows: ReadRow[] = [];
    for (const record of records) {
      if (header === undefined) {
        header = checkHeader(record.values);
        continue;
      }
      if (record.values.length !== header.length) rows.push({ kind: 'problem', rowNumber: record.lineNumber, reason: 'the row does not have as many fields as the header' });
      else rows.push({ kind: 'csv', rowNumber: record.lineNumber, header, values: record.values });
    }
    return rows;
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      position.bytesRead += chunk.length;
      const rows = toRows(splitter.push(chunk));
      if (rows.length > 0) yield rows;
    }
    const rows = toRows(splitter.end());
    if (rows.length > 0) yield rows;
  } catch (error) {
    if (error instanceof CsvFileError) throw new ImportFileError(error.message);
    throw error;
  } finally {
    input.destroy();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function* readJsonLines(input: Readable, position: ReadPosition): AsyncGenerator<ReadRow[]> {
  const splitter = new LineSplitter(MAX_ROW_BYTES);
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      position.bytesRead += chunk.length;
      const rows = splitter.push(chunk).flatMap(jsonRow);
      if (rows.length > 0) yield rows;
    }
    const rows = splitter.end().flatMap(jsonRow);
    if (rows.length > 0) yield rows;
  } finally {
    input.destroy();
  }
}

function jsonRow(line: Line): ReadRow[] {
  if (line.kind === 'too-long') return [{ kind: 'problem', rowNumber: line.lineNumber, reason: `the line is longer than ${MAX_ROW_BYTES} bytes` }];
  let text: string;
  try {
    text = utf8.decode(line.bytes);
  } catch {
    return [{ kind: 'problem', rowNumber: line.lineNumber, reason: 'the line is not valid UTF-8' }];
  }
  if (line.lineNumber === 1 && text.startsWith('\ufeff')) text = text.slice(1);
  if (text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [{ kind: 'problem', rowNumber: line.lineNumber, reason: 'the line is not valid JSON' }];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [{ kind: 'problem', rowNumber: line.lineNumber, reason: 'the line is not a JSON object' }];
  return [{ kind: 'json', rowNumber: line.lineNumber, fields: value as Record<string, unknown> }];
}

type Line = { kind: 'line'; lineNumber: number; bytes: Uint8Array } | { kind: 'too-long'; lineNumber: number };

/** Lines of a byte stream ("\n" or "\r\n"), each at most maxBytes; a longer one is reported and
 *  skipped without being kept. */
class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overlong = false;
  private lineNumber = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.overlong) {
        if (this.pendingBytes + (end - start) > this.maxBytes + 1) {
          this.overlong = true;
          this.pending = [];
          this.pendingBytes = 0;
        } else if (end > start) {
          this.pending.push(chunk.subarray(start, end));
          this.pendingBytes += end - start;
        }
      }
      if (newline === -1) break;
      lines.push(this.finish());
      start = newline + 1;
    }
    return lines;
  }

  end(): Line[] {
    return this.pendingBytes > 0 || this.overlong ? [this.finish()] : [];
  }

  private finish(): Line {
    this.lineNumber += 1;
    if (this.overlong) {
      this.overlong = false;
      return { kind: 'too-long', lineNumber: this.lineNumber };
    }
    let bytes: Buffer = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    return { kind: 'line', lineNumber: this.lineNumber, bytes };
  }
}
