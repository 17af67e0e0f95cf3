/**
 * Evaluates parsed SEARCH criteria on one message the proxy holds (a virtual message), giving
 * the answer Dovecot 2.3 would give had the same bytes, flags and INTERNALDATE been APPENDed to
 * the real mailbox (src/lib-storage/index/index-search.c), on the tree Dovecot rewrites the
 * criteria into (search-simplify.ts), pass by pass as Dovecot walks it:
 *
 * - BEFORE/ON/SINCE take INTERNALDATE's day in the *server's* time zone; SENTBEFORE/SENTON/
 *   SENTSINCE the Date: header's day in the header's own zone, a missing or unreadable Date:
 *   counting as 1 Jan 1970. A day the month lacks (31-Feb) sorts after every real date, or
 *   before every one for years up to 2000.
 * - LARGER/SMALLER compare RFC822.SIZE strictly.
 * - KEYWORD is case-insensitive and never matches a system flag or a name Dovecot would refuse.
 * - In a sequence set, `n:*` with n above the highest sequence number matches nothing; in a UID
 *   set, `n:*` always includes the highest UID.
 * - String keys: see search-text.ts. Header keys look at each header line on its own; Dovecot
 *   never resets their matcher, so a key holding CR or LF can match across lines and even
 *   messages there, which no evaluation of one message can copy.
 *
 * It must never do I/O or look at anything but its arguments.
 */
import type { SearchProgram, SequenceSet, SystemFlag } from './search-parse.js';
import { dovecotArgs, FLAG_BITS, type Arg, type ArgType, type SetTest } from './search-simplify.js';
import { searchableText, type HeaderLine, type HeaderRewrite, type StoredLineEnding } from './search-text.js';
import { normalizeText } from './search-unicode.js';

export interface SearchableMessage {
  /** Client numbering. */
  readonly sequence: number;
  readonly uid: number;
  /** System flags ("\\Seen") and keywords, as the client sees them; \Recent is given apart. */
  readonly flags: readonly string[];
  /** Always false for virtual messages: no session is told about them as new mail. */
  readonly recent: boolean;
  readonly internalDate: Date;
  /** RFC822.SIZE */
  readonly size: number;
  /** The message as RFC 822 bytes. */
  readonly raw: Buffer;
}

export interface SearchMailbox {
  /** What `*` stands for: the client's highest sequence number and UID. */
  readonly highestSequence: number;
  readonly highestUid: number;
  /**
   * The upstream server's UTC offset in minutes at an instant (its time zone decides which day
   * an INTERNALDATE falls on); UTC when absent.
   */
  readonly serverUtcOffsetMinutes?: (instant: Date) => number;
  /** How the server stores line breaks (search-text.ts); Dovecot's default, LF, when absent. */
  readonly storedLineEnding?: StoredLineEnding;
}

type Result = -1 | 0 | 1;

const programArgs = new WeakMap<SearchProgram, Arg[]>();

/** True when the message matches the criteria, as Dovecot would decide. */
export function matchesSearch(program: SearchProgram, message: SearchableMessage, mailbox: SearchMailbox): boolean {
  let args = programArgs.get(program);
  if (!args) {
    args = dovecotArgs(program);
    programArgs.set(program, args);
  }
  return new Evaluation(message, mailbox).run(args);
}

const HEADER_REWRITE: Partial<Record<ArgType, HeaderRewrite>> = { HEADER: 'raw', HEADER_ADDRESS: 'address', HEADER_COMPRESS_LWSP: 'subject' };

/** Shared by the keys evaluated on one header line: the first one decodes it for all. */
interface LineDecoding {
  rewrite: HeaderRewrite | null;
  text: string;
}

/**
 * One message against Dovecot's argument tree, in Dovecot's passes (search_match_once): flags,
 * sets, dates and sizes first, then each header line in turn, then the bodies. Within a pass the
 * tree is walked as mail_search_args_foreach does, skipping what is already decided: that order
 * decides which header key decodes a line (see search-simplify.ts).
 */
class Evaluation {
  private readonly results = new Map<Arg, Result>();

  constructor(
    private readonly message: SearchableMessage,
    private readonly mailbox: SearchMailbox,
  ) {}

  run(args: readonly Arg[]): boolean {
    let result = this.pass(args, (leaf) => this.indexedLeaf(leaf));
    if (result >= 0) return result === 1;
    const text = searchableText(this.message.raw, this.mailbox.storedLineEnding);
    for (const line of text.headerLines) {
      if (line.eoh) continue;
      const decoding: LineDecoding = { rewrite: null, text: '' };
      this.pass(args, (leaf) => this.headerLeaf(leaf, line, decoding));
    }
    result = this.pass(args, (leaf) => {
      if (HEADER_REWRITE[leaf.type]) this.set(leaf, 0);
    });
    if (result >= 0) return result === 1;
    result = this.pass(args, (leaf) => {
      if (leaf.type === 'BODY' || leaf.type === 'TEXT') this.set(leaf, text.textContains(normalizeText(leaf.str), leaf.type === 'TEXT') ? 1 : 0);
    });
    return result === 1;
  }

  private get(arg: Arg): Result {
    return this.results.get(arg) ?? -1;
  }

  /** ARG_SET_RESULT: a negated key stores the opposite. */
  private set(arg: Arg, result: 0 | 1): void {
    this.results.set(arg, arg.not ? ((1 - result) as 0 | 1) : result);
  }

  /** mail_search_args_foreach: 0 as soon as a top-level key fails, -1 while any is undecided. */
  private pass(args: readonly Arg[], visit: (leaf: Arg) => void): Result {
    let result: Result = 1;
    for (const arg of args) {
      this.visit(arg, visit);
      const current = this.get(arg);
      if (current === 0) return 0;
      if (current === -1) result = -1;
    }
    return result;
  }

  /** search_arg_foreach */
  private visit(arg: Arg, visit: (leaf: Arg) => void): void {
    if (this.get(arg) !== -1) return;
    if (arg.type !== 'SUB' && arg.type !== 'OR') {
      visit(arg);
      return;
    }
    const decisive = arg.type === 'SUB' ? 0 : 1;
    let result: Result = arg.type === 'SUB' ? 1 : 0;
    for (const sub of arg.subargs) {
      if (this.get(sub) === -1) this.visit(sub, visit);
      const current = this.get(sub);
      if (current === -1) {
        result = -1;
      } else if (current === decisive) {
        result = decisive;
        break;
      }
    }
    this.results.set(arg, arg.not && result !== -1 ? ((1 - result) as 0 | 1) : result);
  }

  /** What Dovecot knows from the index and cache: everything but header and body text. */
  private indexedLeaf(leaf: Arg): void {
    const { message, mailbox } = this;
    switch (leaf.type) {
      case 'ALL':
        return this.set(leaf, 1);
      case 'FLAGS':
        return this.set(leaf, (flagBits(message) & leaf.flags) === leaf.flags ? 1 : 0);
      case 'KEYWORDS':
        return this.set(leaf, hasKeyword(message, leaf.str) ? 1 : 0);
      case 'SET':
        return this.set(leaf, inSet(leaf.set!, message, mailbox) ? 1 : 0);
      case 'BEFORE':
      case 'ON':
      case 'SINCE': {
        const seconds = leaf.sent ? searchableText(message.raw, mailbox.storedLineEnding).sentSeconds() : internalWallClockSeconds(message.internalDate, mailbox);
        return this.set(leaf, compareDay(seconds, leaf.type, leaf.time) ? 1 : 0);
      }
      case 'SMALLER':
        return this.set(leaf, BigInt(message.size) < leaf.size ? 1 : 0);
      case 'LARGER':
        return this.set(leaf, BigInt(message.size) > leaf.size ? 1 : 0);
      default:
        return;
    }
  }

  /** search_header_arg for one header line. */
  private headerLeaf(leaf: Arg, line: HeaderLine, decoding: LineDecoding): void {
    const rewrite = HEADER_REWRITE[leaf.type];
    if (!rewrite || asciiLower(line.name) !== asciiLower(leaf.field)) return;
    if (leaf.str === '') return this.set(leaf, 1);
    if (decoding.rewrite === null) {
      decoding.rewrite = rewrite;
      decoding.text = searchableText(this.message.raw, this.mailbox.storedLineEnding).headerValueText(line, rewrite);
    }
    if (decoding.text.includes(normalizeText(leaf.str))) this.set(leaf, 1);
  }
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (char) => char.toLowerCase());
}

function flagBits(message: SearchableMessage): number {
  let bits = message.recent ? FLAG_BITS['\\Recent'] : 0;
  for (const [flag, bit] of Object.entries(FLAG_BITS)) {
    if (flag !== '\\Recent' && hasFlag(message, flag as SystemFlag)) bits |= bit;
  }
  return bits;
}

function inSet(test: SetTest, message: SearchableMessage, mailbox: SearchMailbox): boolean {
  switch (test.kind) {
    case 'sequence':
      return inSequenceSet(test.set, message.sequence, mailbox.highestSequence);
    case 'uid':
      return inUidSet(test.set, message.uid, mailbox.highestUid);
    case 'and':
      return test.parts.every((part) => inSet(part, message, mailbox));
    case 'or':
      return test.parts.some((part) => inSet(part, message, mailbox));
    case 'not':
      return !inSet(test.inner, message, mailbox);
  }
}

function hasFlag(message: SearchableMessage, flag: SystemFlag): boolean {
  if (flag === '\\Recent') return message.recent;
  const wanted = flag.toLowerCase();
  return message.flags.some((candidate) => candidate.toLowerCase() === wanted);
}

// The keyword names Dovecot accepts (mailbox_keyword_is_valid): atoms of at most
// mail_max_keyword_length (50) characters. Any other name matches no message.
const KEYWORD_NAME = /^[\x21-\x7e]{1,50}$/;
const NOT_IN_KEYWORD = /[(){%*"\\\]]/;

function hasKeyword(message: SearchableMessage, keyword: string): boolean {
  if (!KEYWORD_NAME.test(keyword) || NOT_IN_KEYWORD.test(keyword)) return false;
  const wanted = keyword.toLowerCase();
  return message.flags.some((candidate) => !candidate.startsWith('\\') && candidate.toLowerCase() === wanted);
}

const DAY_SECONDS = 24 * 3600;

function internalWallClockSeconds(internalDate: Date, mailbox: SearchMailbox): number {
  const seconds = Math.floor(internalDate.getTime() / 1000);
  return seconds + (mailbox.serverUtcOffsetMinutes?.(internalDate) ?? 0) * 60;
}

function compareDay(seconds: number, relation: 'BEFORE' | 'ON' | 'SINCE', day: number): boolean {
  switch (relation) {
    case 'BEFORE':
      return seconds < day;
    case 'ON':
      return seconds >= day && seconds < day + DAY_SECONDS;
    case 'SINCE':
      return seconds >= day;
  }
}

const STAR = 0xffff_ffff;

/**
 * Sequence sets as Dovecot resolves them (imap_seq_set_parse, mailbox_seqset_change): ranges
 * merged, then only a last range ending in `*` is cut at the highest sequence number, and a
 * lone `*` stands for it.
 */
export function inSequenceSet(set: SequenceSet, sequence: number, highest: number): boolean {
  if (highest === 0) return false;
  const bound = (value: number | '*'): number => (value === '*' ? STAR : Math.min(value, STAR - 1));
  const ranges = set.ranges
    .map(({ from, to }) => [Math.min(bound(from), bound(to)), Math.max(bound(from), bound(to))] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
    else merged.push(range);
  }
  const last = merged[merged.length - 1]!;
  if (last[1] === STAR) {
    if (last[0] === STAR) last[0] = highest;
    last[1] = highest;
  }
  return merged.some(([low, high]) => sequence >= low && sequence <= high);
}

/** UID sets as Dovecot resolves them (mailbox_uidset_change): `n:*` always takes in the last message. */
export function inUidSet(set: SequenceSet, uid: number, highest: number): boolean {
  return set.ranges.some(({ from, to }) => {
    if (from === '*' || to === '*') {
      const bound = from === '*' ? to : from;
      return uid === highest || (bound !== '*' && uid >= bound);
    }
    return uid >= Math.min(from, to) && uid <= Math.max(from, to);
  });
}

/** The offset function for an IANA time zone name, for SearchMailbox.serverUtcOffsetMinutes. */
export function utcOffsetIn(timeZone: string): (instant: Date) => number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  return (instant) => {
    const fields = Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, Number(part.value)]));
    const wall = Date.UTC(fields.year!, fields.month! - 1, fields.day!, fields.hour!, fields.minute!, fields.second!);
    return Math.round((wall - Math.floor(instant.getTime() / 1000) * 1000) / 60000);
  };
}
