/**
 * Streaming IMAP framer: cuts one direction of an IMAP byte stream into CRLF-terminated
 * segments and the literals between them ({N}, {N+}, ~{N}), without ever holding a literal.
 *
 * The handler sees each segment and decides: pass it on unchanged, drop it, replace it, or
 * stop (the rest of the input is handed back, for a change of mode such as STARTTLS or login).
 * Literal bytes are handed over as the slices that arrived. Runs of unchanged bytes are
 * forwarded as slices of the input buffers, so the pass-through path copies nothing.
 *
 * It must never: buffer a literal, buffer a client line past the limit, or let a server's
 * human-readable text that happens to end in "{5}" be taken for a literal.
 */

export type FramerSide = 'client' | 'server';

export interface LiteralAnnouncement {
  readonly size: number;
  /** `{N}`: the sender waits for a "+" continuation before sending the bytes. */
  readonly synchronizing: boolean;
}

/** What to do with a segment. A Buffer replaces it on the way out. */
export type LineVerdict = typeof PASS | typeof DROP | typeof STOP | typeof PASS_AND_STOP | Buffer;
export const PASS = 0;
export const DROP = 1;
/** Consume this segment and hand the rest of the input back from push(). */
export const STOP = 2;
/** Forward this segment (after everything before it), then stop as STOP does. */
export const PASS_AND_STOP = 3;

export interface FrameHandler {
  /**
   * One segment, including its CRLF. `first` is false when the segment continues a command
   * or response after a literal. `literal` is the literal announced at its end, if any.
   */
  onLine(line: Buffer, first: boolean, literal: LiteralAnnouncement | null): LineVerdict;
  /** A piece of literal data; return true to forward it unchanged. */
  onLiteralData(chunk: Buffer, remainingAfter: number): boolean;
  /** A client line grew past the limit (never called on the server side, which streams instead). */
  onLineTooLong(limitBytes: number): void;
}

type FramerMode =
  | { kind: 'line' }
  | { kind: 'literal'; remaining: number }
  /** A server line past the limit: forwarded as it comes, only its tail kept to spot a literal. */
  | { kind: 'streamingLine'; statusResponse: boolean; tail: Buffer }
  | { kind: 'failed' };

const LF = 0x0a;
const CR = 0x0d;
/** `{` + 16 digits + `+}` + CRLF fits: a server never announces a literal of 2^53 bytes or more. */
const TAIL_BYTES = 24;
const LINE_MODE: FramerMode = { kind: 'line' };

export class ImapFramer {
  private mode: FramerMode = LINE_MODE;
  /** Pieces of a line that has not ended yet. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inContinuation = false;
  /** Set by the handler during onLine: the literal just announced will not be sent. */
  private literalRefused = false;
  /** Size of the literal in progress, to tell "nothing received yet" in abandonLiteral. */
  private announcedSize = 0;

  constructor(
    private readonly side: FramerSide,
    private readonly handler: FrameHandler,
    private readonly output: (bytes: Buffer) => void,
    private readonly maxLineBytes: number,
  ) {}

  /** True between commands/responses: the moment something of our own may be interleaved. */
  get atBoundary(): boolean {
    return this.mode.kind === 'line' && this.pendingBytes === 0 && !this.inContinuation;
  }

  /** Literal bytes still expected; a chunk no longer than this leaves as one unchanged write. */
  get literalRemaining(): number {
    return this.mode.kind === 'literal' ? this.mode.remaining : 0;
  }

  get failed(): boolean {
    return this.mode.kind === 'failed';
  }

  /**
   * Called by the handler from onLine when it refuses the synchronizing literal that line
   * announced: no "+" goes out, so no data will follow.
   */
  refuseLiteral(): void {
    this.literalRefused = true;
  }

  /**
   * The peer answered a synchronizing literal with a tagged NO/BAD instead of "+": the sender
   * will not send the bytes, so stop waiting for them. Only valid before any byte arrived.
   */
  abandonLiteral(): boolean {
    if (this.mode.kind !== 'literal' || this.mode.remaining !== this.announcedSize) return false;
    this.mode = LINE_MODE;
    this.inContinuation = false;
    return true;
  }

  /**
   * Feed bytes in arrival order. Returns the unprocessed remainder when the handler said STOP,
   * otherwise null.
   */
  push(chunk: Buffer): Buffer | null {
    let pos = 0;
    let passFrom = 0; // start of the run of bytes to forward unchanged
    const length = chunk.length;
    while (pos < length) {
      const mode = this.mode;
      switch (mode.kind) {
        case 'failed':
          return null;
        case 'literal': {
          const take = Math.min(mode.remaining, length - pos);
          const slice = chunk.subarray(pos, pos + take);
          mode.remaining -= take;
          if (!this.handler.onLiteralData(slice, mode.remaining)) {
            this.flushRun(chunk, passFrom, pos);
            passFrom = pos + take;
          }
          pos += take;
          if (mode.remaining === 0) this.mode = LINE_MODE;
          break;
        }
        case 'streamingLine': {
          const lf = chunk.indexOf(LF, pos);
          const end = lf === -1 ? length : lf + 1;
          mode.tail = keepTail(mode.tail, chunk.subarray(pos, end));
          pos = end;
          if (lf !== -1) {
            const literal = mode.statusResponse ? null : literalAtEnd(mode.tail, mode.tail.length - 1);
            this.mode = LINE_MODE;
            this.afterSegment(literal);
          }
          break;
        }
        case 'line': {
          const lf = chunk.indexOf(LF, pos);
          if (lf === -1) {
            this.flushRun(chunk, passFrom, pos);
            this.holdPartial(chunk.subarray(pos));
            return null;
          }
          const end = lf + 1;
          const line = this.pendingBytes === 0 ? chunk.subarray(pos, end) : this.takePending(chunk.subarray(pos, end));
          const wasPending = line.length !== end - pos;
          const first = !this.inContinuation;
          const literal = this.literalOf(line, first);
          this.literalRefused = false;
          const verdict = this.handler.onLine(line, first, literal);
          if (verdict === PASS) {
            if (wasPending) {
              // The earlier pieces were held back, not forwarded: send the whole line now.
              this.flushRun(chunk, passFrom, pos);
              this.output(line);
              passFrom = end;
            }
          } else {
            this.flushRun(chunk, passFrom, pos);
            passFrom = end;
            if (verdict === PASS_AND_STOP) this.output(line);
            else if (verdict !== DROP && verdict !== STOP) this.output(verdict);
          }
          pos = end;
          this.afterSegment(this.literalRefused ? null : literal);
          if (verdict === STOP || verdict === PASS_AND_STOP) {
            this.inContinuation = false;
            return pos < length ? chunk.subarray(pos) : Buffer.alloc(0);
          }
          break;
        }
      }
    }
    this.flushRun(chunk, passFrom, length);
    return null;
  }

  private flushRun(chunk: Buffer, from: number, to: number): void {
    if (to > from) this.output(chunk.subarray(from, to));
  }

  private afterSegment(literal: LiteralAnnouncement | null): void {
    if (literal === null) {
      this.inContinuation = false;
      return;
    }
    this.inContinuation = true;
    if (literal.size === 0) return; // "{0}": the next segment follows at once
    if (literal.size === Infinity) {
      // A size no number holds, which the handler neither refused nor ended the session for.
      this.mode = { kind: 'failed' };
      this.handler.onLineTooLong(this.maxLineBytes);
      return;
    }
    this.announcedSize = literal.size;
    this.mode = { kind: 'literal', remaining: literal.size };
  }

  private holdPartial(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    if (this.pendingBytes <= this.maxLineBytes) return;
    if (this.side === 'client') {
      this.mode = { kind: 'failed' };
      this.pending = [];
      this.pendingBytes = 0;
      this.handler.onLineTooLong(this.maxLineBytes);
      return;
    }
    // A server line this long is a big SEARCH or FETCH answer, never one we rewrite: stream it.
    const held = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const statusResponse = !this.inContinuation && isStatusResponse(held);
    this.mode = { kind: 'streamingLine', statusResponse, tail: keepTail(Buffer.alloc(0), held) };
    this.output(held);
  }

  private takePending(last: Buffer): Buffer {
    this.pending.push(last);
    const line = Buffer.concat(this.pending, this.pendingBytes + last.length);
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  private literalOf(line: Buffer, first: boolean): LiteralAnnouncement | null {
    const literal = literalAtEnd(line, line.length - 1);
    if (literal === null) return null;
    // Only the server side has text that may end in "{N}" without meaning a literal.
    if (this.side === 'server' && ((first && isStatusResponse(line)) || literal.size === Infinity)) return null;
    return literal;
  }
}

/** Parses "{N}" / "{N+}" right before the line feed at `lfIndex` (CR optional, as Dovecot allows). */
export function literalAtEnd(line: Buffer, lfIndex: number): LiteralAnnouncement | null {
  let i = lfIndex - 1;
  if (i >= 0 && line[i] === CR) i--;
  if (i < 0 || line[i] !== 0x7d /* } */) return null;
  i--;
  let synchronizing = true;
  if (i >= 0 && line[i] === 0x2b /* + */) {
    synchronizing = false;
    i--;
  }
  const digitsEnd = i + 1;
  while (i >= 0 && line[i]! >= 0x30 && line[i]! <= 0x39) i--;
  if (i + 1 === digitsEnd || i < 0 || line[i] !== 0x7b /* { */) return null;
  // Any number of digits, leading zeros too, as Dovecot reads them ({00000000000000000005} is 5);
  // a size no JavaScript number holds exactly is Infinity, for the reader to refuse.
  let start = i + 1;
  while (start < digitsEnd - 1 && line[start] === 0x30) start++;
  const size = digitsEnd - start > 16 ? Infinity : Number(line.toString('latin1', start, digitsEnd));
  return { size: Number.isSafeInteger(size) ? size : Infinity, synchronizing };
}

/**
 * "{}" or "{+}" before the line feed: Dovecot reads it as a literal of 0 bytes, other servers as
 * a malformed one; the client side refuses it rather than guess which the server does.
 */
export function emptyLiteralAtEnd(line: Buffer, lfIndex: number): boolean {
  let i = lfIndex - 1;
  if (i >= 0 && line[i] === CR) i--;
  if (i < 1 || line[i] !== 0x7d /* } */) return false;
  i--;
  if (line[i] === 0x2b /* + */) i--;
  return i >= 0 && line[i] === 0x7b /* { */;
}

const STATUS_WORDS = new Set(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);

/**
 * A server response that cannot carry a literal: a continuation request, or a status
 * response (OK/NO/BAD/BYE/PREAUTH) whose resp-text is free text.
 */
export function isStatusResponse(line: Buffer): boolean {
  if (line[0] === 0x2b /* + */) return true;
  const space = line.indexOf(0x20);
  if (space <= 0 || space > 64) return false;
  let end = space + 1;
  while (end < line.length && end <= space + 8 && isAsciiLetter(line[end]!)) end++;
  return STATUS_WORDS.has(line.toString('latin1', space + 1, end).toUpperCase());
}

function isAsciiLetter(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

function keepTail(previous: Buffer, next: Buffer): Buffer {
  if (next.length >= TAIL_BYTES) return Buffer.from(next.subarray(next.length - TAIL_BYTES));
  const joined = Buffer.concat([previous, next]);
  return joined.length > TAIL_BYTES ? Buffer.from(joined.subarray(joined.length - TAIL_BYTES)) : joined;
}
