/**
 * SEARCH on the INBOX view: the client's criteria parsed once (search-parse.ts), sent to the
 * server with every sequence and UID set translated to the real messages it names
 * (search-format.ts), and evaluated on each virtual message as Dovecot would (search-eval.ts).
 *
 * Must never let the server evaluate a set in the client's numbering.
 */
import type { ImapToken } from '../imap-syntax.js';
import type { Selection } from './inbox-types.js';
import type { ShownVirtual } from './inbox-map.js';
import { parseSearch, SearchCharsetError, SUPPORTED_CHARSETS, type SearchProgram } from './search-parse.js';
import { formatSearch, mapSearchSets } from './search-format.js';
import { matchesSearch } from './search-eval.js';
import { dovecotArgs, type Arg } from './search-simplify.js';
import { modelOf } from './virtual-fetch.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

export interface PreparedSearch {
  /** The criteria for the server, sets translated. */
  readonly serverCriteria: Buffer;
  readonly program: SearchProgram;
  /**
   * The criteria name a set of messages (by sequence number or UID) that survives Dovecot's
   * rewrite of them (`OR UID 6:* ALL` is ALL): no EXPUNGE is reported even after UID SEARCH.
   * Sequence numbers would shift under the client; Dovecot turns UID sets into sequence ranges
   * before it searches and syncs without expunges for either (imap-search.c, have_seqsets), and
   * the proxy reports the view's withdrawals where the server reports its own.
   */
  readonly namesMessageSets: boolean;
}

export interface VirtualSearchContext {
  readonly shown: ShownVirtual;
  /** Its flags now (the view), which another session may have changed since the client was told. */
  readonly flags: readonly string[];
  readonly seq: number;
  readonly highestSeq: number;
  readonly highestUid: number;
}

/** The answer for a charset the proxy cannot search in (RFC 3501 §6.4.4). */
export function badCharsetAnswer(tag: string): Buffer {
  return Buffer.from(`${tag} NO [BADCHARSET (${SUPPORTED_CHARSETS.join(' ')})] Unsupported charset\r\n`, 'latin1');
}

export { SearchCharsetError };

export function prepareSearch(inbox: Inbox, args: readonly ImapToken[]): PreparedSearch {
  const program = parseSearch(args);
  const { map } = inbox;
  const mapped = mapSearchSets(program, {
    // With no virtual message the numbers are the server's: the set goes as the client wrote it,
    // so the server reads it its own way (Dovecot takes "*:9" beyond the last message as none).
    sequence: (set) => (map.virtuals.length === 0 ? set.text : map.splitSequenceSet(set.ranges, false).server),
    uid: (set) => {
      const server = map.splitUidSet(set.ranges).server;
      return server === null ? null : { uid: server };
    },
  });
  return { serverCriteria: formatSearch(mapped), program, namesMessageSets: dovecotArgs(program).some(namesSet) };
}

export function evaluateVirtualSearch(prepared: PreparedSearch, context: VirtualSearchContext): boolean {
  const { shown } = context;
  const model = modelOf(shown.message);
  return matchesSearch(
    prepared.program,
    {
      sequence: context.seq,
      uid: shown.message.uid,
      flags: context.flags,
      recent: false,
      internalDate: new Date(shown.message.internalDate),
      size: model.size,
      raw: model.bytes,
    },
    { highestSequence: context.highestSeq, highestUid: context.highestUid },
  );
}

function namesSet(arg: Arg): boolean {
  return arg.type === 'SET' || arg.subargs.some(namesSet);
}
