/**
 * Which client commands the INBOX view takes over, and the one table that sends each to its
 * family (inbox-select.ts, inbox-commands.ts, inbox-fetch.ts). Everything the view does not
 * rewrite runs as a plain pass-through command, still one at a time.
 *
 * While INBOX is selected, only commands known here reach the server: a command the view does
 * not know may carry sequence numbers or UIDs in the client's numbering, so it gets a BAD
 * (errors.ts, commandNotInInbox) instead — the extensions such commands belong to are not
 * advertised (capabilities.ts). Outside INBOX everything passes.
 *
 * Must never pass an unknown command into a selected INBOX, nor answer BAD for a command of an
 * advertised extension.
 */
import { quoteIfSafe, type ImapToken, type ParsedCommand } from '../imap-syntax.js';
import { isInboxMailbox } from '../mailbox-name.js';
import { PROXY_ERRORS, imapErrorLine, type ProxyErrorDefinition } from '../errors.js';
import { parseSequenceSet, SequenceSetError } from './sequence-set.js';
import type { InboxSession } from './inbox-session.js';
import type { RunningCommand, Selection } from './inbox-types.js';
import { noop, passThrough, selectInbox, selectOther, statusInbox } from './inbox-select.js';
import { answeredLocally, close, copyOrMove, expunge, idle, splitClientSet, store } from './inbox-commands.js';
import { fetch, search } from './inbox-fetch.js';
import { badCharsetAnswer, prepareSearch, SearchCharsetError } from './virtual-search.js';
import { SearchSyntaxError } from './search-parse.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

export interface DispatchOptions {
  /** How often an idling session looks at its view (withdrawals, flags). */
  readonly idleRefreshMs: number;
  /** The relay may read the client's DONE. */
  readonly readyForDone: () => void;
}

/**
 * Commands that name no message of the selected mailbox (mailbox, session or server level), of
 * IMAP4rev1 and of the advertised extensions: passed on unchanged while INBOX is selected.
 */
const MAILBOX_LEVEL_COMMANDS = new Set([
  'CAPABILITY', 'LOGOUT', 'ID', 'ENABLE', 'NAMESPACE',
  'LIST', 'LSUB', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE',
  'LOGIN', 'AUTHENTICATE', // after login the server refuses them itself
  'GETQUOTA', 'GETQUOTAROOT', 'SETQUOTA', // QUOTA
  'GETACL', 'SETACL', 'DELETEACL', 'LISTRIGHTS', 'MYRIGHTS', // ACL
  'GETMETADATA', 'SETMETADATA', // METADATA
]);

function refused(session: InboxSession, tag: string, name: string, error: ProxyErrorDefinition): RunningCommand {
  session.log.info({ code: error.code, command: name }, 'command refused in INBOX');
  return answeredLocally(session, tag, imapErrorLine(tag, error));
}

/** Runs one whole client command; `bytes` is the command as the client sent it. */
export async function dispatch(session: InboxSession, command: ParsedCommand, bytes: Buffer, options: DispatchOptions): Promise<RunningCommand> {
  const { tag, name, args } = command;
  const inbox = session.inbox;
  const mailbox = args[0];
  switch (name) {
    case 'SELECT':
    case 'EXAMINE':
      if (!isInboxMailbox(mailbox)) return selectOther(session, tag, bytes);
      // (CONDSTORE) or (QRESYNC …) would switch on what the view does not translate.
      if (command.args.length > 1) return refused(session, tag, name, PROXY_ERRORS.selectParametersRefused);
      return selectInbox(session, tag, bytes, name === 'EXAMINE');
    case 'STATUS':
      if (isInboxMailbox(mailbox) && args[1]?.kind === 'list') {
        return statusInbox(session, tag, atomText(mailbox), args[1].items.map(atomText));
      }
      return passThrough(session, tag, bytes);
    case 'NOOP':
    case 'CHECK':
      return inbox ? noop(session, tag, bytes) : passThrough(session, tag, bytes);
    case 'IDLE':
      return inbox ? idle(session, tag, bytes, options.idleRefreshMs, options.readyForDone) : passThrough(session, tag, bytes);
    case 'UID':
      return inbox ? uidCommand(session, inbox, command, bytes) : passThrough(session, tag, bytes);
    default:
      return inbox ? await inboxCommand(session, inbox, command, bytes, false) : passThrough(session, tag, bytes);
  }
}

async function uidCommand(session: InboxSession, inbox: Inbox, command: ParsedCommand, bytes: Buffer): Promise<RunningCommand> {
  const [sub, ...rest] = command.args;
  const subName = sub?.kind === 'atom' ? sub.value.toUpperCase() : '';
  return inboxCommand(session, inbox, { tag: command.tag, name: subName, args: rest }, bytes, true);
}

async function inboxCommand(session: InboxSession, inbox: Inbox, command: ParsedCommand, bytes: Buffer, byUid: boolean): Promise<RunningCommand> {
  const { tag, name, args } = command;
  try {
    switch (name) {
      case 'FETCH': {
        const split = splitClientSet(inbox, parseSequenceSet(atomText(args[0])), byUid);
        return fetch(session, inbox, tag, byUid, split, textAfterSet(bytes, byUid));
      }
      case 'STORE': {
        const split = splitClientSet(inbox, parseSequenceSet(atomText(args[0])), byUid);
        const flags = args.slice(2).flatMap((token) => (token.kind === 'list' ? token.items : [token])).map(atomText);
        return store(session, inbox, { tag, byUid, split, item: atomText(args[1]), flags });
      }
      case 'SEARCH':
        return search(session, inbox, tag, byUid, prepareSearch(inbox, args));
      case 'COPY':
      case 'MOVE': {
        const split = splitClientSet(inbox, parseSequenceSet(atomText(args[0])), byUid);
        return copyOrMove(session, inbox, tag, byUid, name === 'MOVE', split, mailboxArgument(args[1]), isInboxMailbox(args[1]));
      }
      case 'EXPUNGE': {
        if (!byUid) return expunge(session, inbox, tag, null);
        return expunge(session, inbox, tag, splitClientSet(inbox, parseSequenceSet(atomText(args[0])), true));
      }
      case 'CLOSE':
      case 'UNSELECT':
        return close(session, inbox, tag, bytes, name === 'CLOSE');
      default:
        if (!byUid && MAILBOX_LEVEL_COMMANDS.has(name)) return passThrough(session, tag, bytes);
        return refused(session, tag, byUid ? `UID ${name}` : name, PROXY_ERRORS.commandNotInInbox);
    }
  } catch (err) {
    if (err instanceof SearchCharsetError) return answeredLocally(session, tag, badCharsetAnswer(tag));
    if (err instanceof SequenceSetError || err instanceof ViewSyntaxError || err instanceof SearchSyntaxError) {
      return answeredLocally(session, tag, Buffer.from(`${tag} BAD ${err.message}\r\n`, 'latin1'));
    }
    throw err;
  }
}

export class ViewSyntaxError extends Error {
  override readonly name = 'ViewSyntaxError';
}

function atomText(token: ImapToken | undefined): string {
  if (!token) throw new ViewSyntaxError('Missing argument');
  if (token.kind === 'atom') return token.value;
  if (token.kind === 'string') return token.value.toString('utf8');
  throw new ViewSyntaxError('Unexpected list or NIL');
}

/**
 * A mailbox name, byte for byte as the client sent it, as an argument of a command we write
 * ourselves (a latin1 string): quoted when a quoted string can hold it, otherwise a LITERAL+,
 * so that CR, LF or 8-bit bytes in a name never end our command early.
 */
function mailboxArgument(token: ImapToken | undefined): string {
  if (token?.kind !== 'atom' && token?.kind !== 'string') throw new ViewSyntaxError('Expected a mailbox name');
  const bytes = token.kind === 'atom' ? Buffer.from(token.value, 'latin1') : token.value;
  return quoteIfSafe(bytes) ?? `{${bytes.length}+}\r\n${bytes.toString('latin1')}`;
}

/** The FETCH items exactly as the client wrote them: everything after the set. */
function textAfterSet(bytes: Buffer, byUid: boolean): string {
  const text = bytes.toString('latin1').replace(/\r?\n$/, '');
  const pattern = byUid ? /^\S+\s+UID\s+FETCH\s+\S+\s+/i : /^\S+\s+FETCH\s+\S+\s+/i;
  const match = pattern.exec(text);
  if (!match) throw new ViewSyntaxError('Invalid FETCH command');
  return text.slice(match[0].length);
}
