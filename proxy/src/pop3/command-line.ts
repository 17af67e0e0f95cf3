/**
 * POP3 client input: bytes cut into lines under a named limit, and a line read as a command
 * (keyword and arguments, RFC 1939 §3). Decisions are made on this model, never on raw bytes.
 *
 * Must never buffer more than MAX_COMMAND_LINE_BYTES of one line: a line past it is dropped up
 * to its LF and reported once, so the session answers -ERR and reads the next command.
 */

/**
 * RFC 2449 §4 caps a command line at 255 octets; SASL (RFC 5034) responses can be longer, and
 * Dovecot reads up to a few KiB. 4 KiB holds any real credential and stops a client from
 * making us buffer more.
 */
export const MAX_COMMAND_LINE_BYTES = 4096;

export type InputEvent =
  /** One line without its CRLF (or bare LF), as latin1 text: every byte kept, one char each. */
  | { readonly kind: 'line'; readonly text: string }
  /** A line longer than the limit was dropped (up to its LF). */
  | { readonly kind: 'tooLong' };

export class LineReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside a line already reported too long: drop bytes until its LF. */
  private discarding = false;

  constructor(private readonly maxBytes = MAX_COMMAND_LINE_BYTES) {}

  /** Whole lines in `chunk` (plus what came before), in order. */
  push(chunk: Buffer): InputEvent[] {
    const events: InputEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf === -1 ? chunk.length : lf;
      if (this.discarding) {
        if (lf !== -1) this.discarding = false;
      } else if (this.pendingBytes + (end - start) > this.maxBytes) {
        this.pending = [];
        this.pendingBytes = 0;
        this.discarding = lf === -1;
        events.push({ kind: 'tooLong' });
      } else if (lf === -1) {
        this.pending.push(Buffer.from(chunk.subarray(start, end)));
        this.pendingBytes += end - start;
      } else {
        const line = this.pending.length === 0 ? chunk.subarray(start, end) : Buffer.concat([...this.pending, chunk.subarray(start, end)]);
        this.pending = [];
        this.pendingBytes = 0;
        const text = line.toString('latin1');
        events.push({ kind: 'line', text: text.endsWith('\r') ? text.slice(0, -1) : text });
      }
      if (lf === -1) break;
      start = lf + 1;
    }
    return events;
  }

  /** Bytes of an unfinished line are waiting (what STLS must refuse). */
  get hasPartialLine(): boolean {
    return this.pendingBytes > 0 || this.discarding;
  }
}

export interface Pop3Command {
  /** Upper-cased keyword. */
  readonly keyword: string;
  /** The arguments as separated by single spaces. */
  readonly args: readonly string[];
  /** Everything after the keyword and one space: PASS takes it whole (passwords may hold spaces). */
  readonly rest: string;
}

/** Keywords are 3 or 4 characters (RFC 1939 §3); extensions may be longer, none past this. */
const MAX_KEYWORD_LENGTH = 16;

/** A command line read as keyword and arguments; null when it has no printable keyword. */
export function parseCommand(line: string): Pop3Command | null {
  const space = line.indexOf(' ');
  const keyword = space === -1 ? line : line.slice(0, space);
  if (keyword.length === 0 || keyword.length > MAX_KEYWORD_LENGTH || !/^[\x21-\x7e]+$/.test(keyword)) return null;
  const rest = space === -1 ? '' : line.slice(space + 1);
  return { keyword: keyword.toUpperCase(), args: rest === '' ? [] : rest.split(' '), rest };
}

/** A message-number argument (RFC 1939: a positive decimal); null when it is not one. */
export function messageNumberOf(arg: string | undefined): number | null {
  if (arg === undefined || !/^[0-9]{1,9}$/.test(arg)) return null;
  const value = Number(arg);
  return value >= 1 ? value : null;
}

/** TOP's line count: zero or more. */
export function lineCountOf(arg: string | undefined): number | null {
  if (arg === undefined || !/^[0-9]{1,9}$/.test(arg)) return null;
  return Number(arg);
}
