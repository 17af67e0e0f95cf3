/**
 * The relay's mailbox decisions outside the INBOX view: which commands must be read before they
 * can be routed (they name a mailbox), whether a parsed one belongs to the view (SELECT,
 * EXAMINE or STATUS of INBOX), and what a passed one's answer needs (APPENDUID / COPYUID
 * translated when the destination is INBOX, left exactly as the server wrote it otherwise).
 *
 * It must never decide from raw bytes: the mailbox is the parsed argument (atom, quoted string
 * or literal), decoded and compared as a whole by mailbox-name.ts.
 */
import { ImapSyntaxError, parseCommand, parseLeadingArguments, type CommandParts, type ImapToken, type ParsedCommand } from './imap-syntax.js';
import { isInboxMailbox } from './mailbox-name.js';

/** What a pass-through command's completion (and MOVE's untagged COPYUID) needs. */
export type PassThroughKind =
  /** Nothing of its answer names INBOX UIDs. */
  | 'plain'
  /** APPEND to INBOX: APPENDUID translated. */
  | 'appendToInbox'
  /** COPY into INBOX from another mailbox: COPYUID's destination translated. */
  | 'copyToInbox'
  /**
   * MOVE into INBOX from another mailbox: its untagged COPYUID translated. It carries no tag,
   * and Dovecot sends a pipelined MOVE's before an earlier one's completion, so the relay runs
   * such a MOVE alone: nothing else in flight, nothing read after it until it completes.
   */
  | 'moveToInbox';

/** How the relay handles a command whose mailbox it has read. */
export type MailboxRoute = { readonly kind: 'view' } | { readonly kind: 'pass'; readonly track: PassThroughKind };

const NAMES_MAILBOX = new Set(['SELECT', 'EXAMINE', 'STATUS', 'COPY', 'MOVE']);
const SP = 0x20;
const LOWERCASE = 0x20;

/**
 * Commands the relay must read whole before routing them (APPEND aside: only its first
 * argument is read, see relay.ts). `UID COPY` / `UID MOVE` are told from the other UID commands
 * by their sub-command word, so that UID FETCH elsewhere stays a byte copy.
 */
export function routedByMailbox(name: string, line: Buffer, nameEnd: number): boolean {
  if (NAMES_MAILBOX.has(name)) return true;
  if (name !== 'UID' || line[nameEnd] !== SP) return false;
  return wordAt(line, nameEnd + 1, 'COPY') || wordAt(line, nameEnd + 1, 'MOVE');
}

/** `word` (upper-case ASCII) at `at`, case-insensitively, followed by a space. */
function wordAt(line: Buffer, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    if (((line[at + i] ?? 0) | LOWERCASE) !== (word.charCodeAt(i) | LOWERCASE)) return false;
  }
  return line[at + word.length] === SP;
}

/** The route of a command read whole; null (unparsable) passes, and the server answers it. */
export function routeOf(command: ParsedCommand | null): MailboxRoute {
  if (command === null) return { kind: 'pass', track: 'plain' };
  const { name, args } = command;
  switch (name) {
    case 'SELECT':
    case 'EXAMINE':
    case 'STATUS':
      return isInboxMailbox(args[0]) ? { kind: 'view' } : { kind: 'pass', track: 'plain' };
    case 'COPY':
    case 'MOVE':
      return { kind: 'pass', track: copyKind(name, args[1]) };
    case 'UID': {
      const sub = args[0]?.kind === 'atom' ? args[0].value.toUpperCase() : '';
      return { kind: 'pass', track: sub === 'COPY' || sub === 'MOVE' ? copyKind(sub, args[2]) : 'plain' };
    }
    default:
      return { kind: 'pass', track: 'plain' };
  }
}

function copyKind(name: 'COPY' | 'MOVE', destination: ImapToken | undefined): PassThroughKind {
  if (!isInboxMailbox(destination)) return 'plain';
  return name === 'MOVE' ? 'moveToInbox' : 'copyToInbox';
}

/** APPEND's first argument, its mailbox. */
export function appendKind(mailbox: ImapToken | undefined): PassThroughKind {
  return isInboxMailbox(mailbox) ? 'appendToInbox' : 'plain';
}

/** A whole command read, or null when it does not parse (the server will say why). */
export function parsedOrNull(parts: CommandParts): ParsedCommand | null {
  try {
    return parseCommand(parts);
  } catch (err) {
    if (unreadable(err)) return null;
    throw err;
  }
}

/**
 * A syntax error, or nesting deeper than the tokenizer's stack (RangeError): the relay passes
 * such a command on as not naming INBOX, and the server answers it.
 */
function unreadable(err: unknown): boolean {
  return err instanceof ImapSyntaxError || err instanceof RangeError;
}

/** A command's first argument from what has arrived; 'pending' while it is a literal still to come. */
export function leadingArgument(parts: CommandParts): ImapToken | undefined | 'pending' {
  try {
    const [first] = parseLeadingArguments(parts, 1).args;
    return first ?? 'pending';
  } catch (err) {
    if (unreadable(err)) return undefined;
    throw err;
  }
}
