/**
 * Reads an import file as a stream of rows, never the whole file: CSV through csv-parse (a
 * streaming Transform), JSON lines through a bounded line splitter. Each row comes with the line
 * it ends on, so errors can name it. A row that cannot be understood (a CSV row with the wrong
 * number of fields, a line that is not a JSON object) is yielded as a RowProblem and the import
 * goes on; a file that cannot be read on (broken CSV quoting, a header without an address column)
 * throws ImportFileError and the import fails with the line.
 *
 * Must never buffer more than one row: a hostile file with a gigabyte on one line is refused at
 * MAX_ROW_BYTES, not read into memory.
 */
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { ImportFormat } from '../store/store.js';

/** A user row is an address, a name and a few attributes: far below 64 KiB. */
export const MAX_ROW_BYTES = 65_536;

/** What a row says, before any check: strings from CSV, any JSON from JSON lines. */
export interface RawRow {
  readonly kind: 'row';
  readonly rowNumber: number;
  readonly fields: Readonly<Record<string, unknown>>;
}
export interface RowProblem {
  readonly kind: 'problem';
  readonly rowNumber: number;
  readonly reason: string;
}
export type ReadRow = RawRow | RowProblem;

export class ImportFileError extends Error {
  override readonly name = 'ImportFileError';
}

export function readRows(input: Readable, format: ImportFormat): AsyncGenerator<ReadRow> {
  switch (format) {
    case 'csv':
      return readCsv(input);
    case 'jsonl':
      return readJsonLines(input);
  }
}

const ADDRESS_COLUMNS = ['address', 'hashedAddress'];

async function* readCsv(input: Readable): AsyncGenerator<ReadRow> {
  const parser = parse({
    bom: true,
    columns: (header: string[]) => {
      const names = header.map((name) => name.trim());
      if (!names.some((name) => ADDRESS_COLUMNS.includes(name))) throw new ImportFileError('the CSV header (line 1) has neither an "address" nor a "hashedAddress" column');
      const seen = new Set<string>();
      for (const name of names) {
        if (name === '') throw new ImportFileError('the CSV header (line 1) has an empty column name');
        if (seen.has(name)) throw new ImportFileError(`the CSV header (line 1) names column "${name.slice(0, 64)}" twice`);
        seen.add(name);
      }
      return names;
    },
    relax_column_count: true,
    skip_empty_lines: true,
    // Files mix line endings more often than one would hope (a header written on Windows).
    record_delimiter: ['\r\n', '\n'],
    info: true,
    max_record_size: MAX_ROW_BYTES,
  });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);
  // csv-parse counts rows with the wrong number of fields cumulatively; a row is one of them
  // when the count moved.
  let invalidSoFar = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; invalid_field_length: number } }>) {
      const invalid = info.invalid_field_length > invalidSoFar;
      invalidSoFar = info.invalid_field_length;
      if (invalid) {
        yield { kind: 'problem', rowNumber: info.lines, reason: 'the row does not have as many fields as the header' };
      } else {
        yield { kind: 'row', rowNumber: info.lines, fields: record };
      }
    }
  } catch (error) {
    if (error instanceof ImportFileError) throw error;
    const csv = error as { code?: string; lines?: number; message?: string };
    if (typeof csv.code === 'string' && csv.code.startsWith('CSV_')) {
      // csv-parse's messages quote the offending text; keep the code and the line.
      throw new ImportFileError(`the CSV cannot be read on after line ${csv.lines ?? '?'}: ${csv.code}${csv.code === 'CSV_MAX_RECORD_SIZE' ? ` (a row over ${MAX_ROW_BYTES} bytes)` : ''}`);
    }
    throw error;
  } finally {
    input.unpipe(parser);
    input.destroy();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function* readJsonLines(input: Readable): AsyncGenerator<ReadRow> {
  for await (const line of splitLines(input)) {
    if (line.kind === 'too-long') {
      yield { kind: 'problem', rowNumber: line.lineNumber, reason: `the line is longer than ${MAX_ROW_BYTES} bytes` };
      continue;
    }
    let text: string;
    try {
      text = utf8.decode(line.bytes);
    } catch {
      yield { kind: 'problem', rowNumber: line.lineNumber, reason: 'the line is not valid UTF-8' };
      continue;
    }
    if (line.lineNumber === 1 && text.startsWith('\ufeff')) text = text.slice(1);
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { kind: 'problem', rowNumber: line.lineNumber, reason: 'the line is not valid JSON' };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { kind: 'problem', rowNumber: line.lineNumber, reason: 'the line is not a JSON object' };
      continue;
    }
    yield { kind: 'row', rowNumber: line.lineNumber, fields: value as Record<string, unknown> };
  }
}

type Line = { kind: 'line'; lineNumber: number; bytes: Buffer } | { kind: 'too-long'; lineNumber: number };

/** Lines of a byte stream ("\n" or "\r\n"), each at most MAX_ROW_BYTES; a longer one is reported
 *  and skipped without being kept. */
async function* splitLines(input: Readable): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overlong = false;
  let lineNumber = 0;
  const finish = (): Line => {
    lineNumber += 1;
    if (overlong) {
      overlong = false;
      pending = [];
      pendingBytes = 0;
      return { kind: 'too-long', lineNumber };
    }
    let bytes = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    return { kind: 'line', lineNumber, bytes };
  };
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!overlong) {
        if (pendingBytes + (end - start) > MAX_ROW_BYTES + 1) {
          overlong = true;
          pending = [];
          pendingBytes = 0;
        } else {
          pending.push(chunk.subarray(start, end));
          pendingBytes += end - start;
        }
      }
      if (newline === -1) break;
      yield finish();
      start = newline + 1;
    }
  }
  if (pendingBytes > 0 || overlong) yield finish();
}
