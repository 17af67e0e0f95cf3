/**
 * FETCH / UID FETCH and SEARCH / UID SEARCH on the INBOX view: the real part goes to the server
 * with its set translated, the virtual part is answered from the message bytes, and both are
 * merged in ascending order.
 *
 * Must never fetch or search a real message the client did not name, and never set \Seen on a
 * virtual message for BODY.PEEK or in a read-only (EXAMINE) session.
 */
import type { InboxSession } from './inbox-session.js';
import type { OwnFlagChange, RunningCommand, Selection } from './inbox-types.js';
import type { SplitSet } from './inbox-map.js';
import { answeredLocally, answeredWithSync } from './inbox-commands.js';
import { evaluateVirtualSearch, type PreparedSearch } from './virtual-search.js';
import { currentFlags, sameFlags } from './inbox-placement.js';
import { HeldAnnouncement } from './mailbox-flags.js';
import { DROP } from '../framer.js';
import { FetchItemsError, parseVirtualFetch, virtualFetchResponse, type VirtualFetchPlan } from './virtual-fetch.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

export async function fetch(session: InboxSession, inbox: Inbox, tag: string, byUid: boolean, split: SplitSet, itemsText: string): Promise<RunningCommand> {
  let plan: VirtualFetchPlan;
  try {
    plan = parseVirtualFetch(itemsText, byUid);
  } catch (err) {
    if (!(err instanceof FetchItemsError)) throw err;
    return answeredLocally(session, tag, Buffer.from(`${tag} BAD ${err.message}\r\n`, 'latin1'));
  }
  // FLAGS in the answer are the flags now, which another session may have changed since this
  // client was last told (this node's cached view when fresh). As on Dovecot, the change is also
  // reported as an update after the command (the refresh), since this session had not told it.
  const current = split.virtual.length > 0 && (plan.setsSeen || plan.items.some((item) => item.kind === 'flags')) ? await session.host.engine?.view(inbox.key) : undefined;
  const flagsOf = currentFlags(current);
  const pending = [...split.virtual];
  const seenChanges: number[] = [];
  // A body fetched without PEEK sets \Seen (the `read` event): stored before any answer shows it.
  // When the middleware does not confirm it, the body is served as for BODY.PEEK: \Seen is then
  // neither shown nor acknowledged, so nothing is lost, and mail is still served.
  const toSee = plan.setsSeen && !inbox.readOnly
    ? split.virtual.filter((index) => !flagsOf(inbox.map.virtuals[index]!).some((flag) => flag.toLowerCase() === '\\seen')).map((index) => inbox.map.virtuals[index]!.message.uid)
    : [];
  const seenStored = toSee.length > 0 ? await session.host.engine?.flags({ ...inbox.key, changes: toSee.map((uid) => ({ uid, mode: 'add', flags: ['\\Seen'] })), origin: session.host.eventOrigin }) : undefined;
  const setsSeen = plan.setsSeen && (toSee.length === 0 || seenStored !== undefined);
  // The change the middleware now counts is this session's own, where nobody else's came in
  // between: not to be reported back to it as another session's (flagsChanges). The client is told
  // \Seen only by this command's answer, so it is compared with the flags plus \Seen.
  for (const message of seenStored?.messages ?? []) {
    const shown = toSee.includes(message.uid) ? inbox.map.virtuals.find((virtual) => virtual.message.uid === message.uid) : undefined;
    if (shown && sameFlags(message.flags, [...flagsOf(shown), '\\Seen'])) shown.flagsChanges = Math.max(shown.flagsChanges, message.flagsChanges ?? 0);
  }
  const responseFor = (index: number): Buffer => {
    const shown = inbox.map.virtuals[index]!;
    const flags = flagsOf(shown);
    const seq = inbox.map.clientSeqOfVirtual(index);
    // A keyword the client was not told of is announced before the response that shows it.
    const announced = plan.items.some((item) => item.kind === 'flags') ? inbox.flags.announce(flags) : Buffer.alloc(0);
    if (setsSeen && !inbox.readOnly && !flags.some((flag) => flag.toLowerCase() === '\\seen')) {
      // New mail announced meanwhile may have reported \Seen already (ownFlagChange).
      if (!shown.flags.some((flag) => flag.toLowerCase() === '\\seen')) shown.flags = [...shown.flags, '\\Seen'];
      seenChanges.push(shown.message.uid);
      return Buffer.concat([announced, virtualFetchResponse(seq, { ...shown, flags: [...flags, '\\Seen'] }, plan, true)]);
    }
    return Buffer.concat([announced, virtualFetchResponse(seq, { ...shown, flags }, plan, false)]);
  };
  const emitUpTo = (clientSeq: number): Buffer | null => {
    const parts: Buffer[] = [];
    while (pending.length > 0 && inbox.map.clientSeqOfVirtual(pending[0]!) < clientSeq) parts.push(responseFor(pending.shift()!));
    return parts.length > 0 ? Buffer.concat(parts) : null;
  };
  /** The rest of the virtual answers, then `after` (a keyword announcement of the sync), then `line`. */
  const finish = async (line: Buffer, after: Buffer | null = null): Promise<Buffer> => {
    const rest = Buffer.concat([emitUpTo(Number.MAX_SAFE_INTEGER) ?? Buffer.alloc(0), after ?? Buffer.alloc(0)]);
    return Buffer.concat([rest, line]);
  };
  // Like a STORE, a body fetch that sets \Seen is not in the middleware's view until the command
  // completes: new mail announced meanwhile must not take the view's older flags for news.
  const ownFlagChange: OwnFlagChange = {
    uids: new Set(setsSeen && !inbox.readOnly ? split.virtual.map((index) => inbox.map.virtuals[index]!.message.uid) : []),
    apply: (base) => (base.some((flag) => flag.toLowerCase() === '\\seen') ? [...base] : [...base, '\\Seen']),
  };
  if (split.server === null) {
    const showsFlags = plan.setsSeen || plan.items.some((item) => item.kind === 'flags');
    return { ...(await answeredWithSync(session, tag, byUid, finish(Buffer.alloc(0)), 'Fetch completed.', 'FETCH ? (UID)', showsFlags)), ownFlagChange };
  }
  session.host.writeUpstream(Buffer.from(`${tag} ${byUid ? 'UID FETCH' : 'FETCH'} ${split.server} ${itemsText}\r\n`, 'latin1'));
  // The server announces a keyword (FLAGS, PERMANENTFLAGS) right before the first response that
  // shows it: in the data, before the FETCH of that message (seed 20060: before all of it), or in
  // the sync after the data (seed 13214). Which one only the next response tells: a FETCH further
  // up the data, or anything else. The announcement waits for it.
  const announcement = new HeldAnnouncement(inbox.flags);
  let lastDataSeq = 0;
  const withAnnouncement = (before: Buffer | null): Buffer | null => {
    const held = announcement.take();
    return held === null ? before : Buffer.concat([before ?? Buffer.alloc(0), held]);
  };
  return {
    tag,
    forbidsExpunge: !byUid,
    ownFlagChange,
    untagged: (line, literal) => (literal === null && announcement.hold(line.toString('latin1')) ? DROP : undefined),
    beforeFetch(clientSeq) {
      const inData = clientSeq > lastDataSeq;
      lastDataSeq = Math.max(lastDataSeq, clientSeq);
      return withAnnouncement(emitUpTo(inData || !announcement.pending ? clientSeq : Number.MAX_SAFE_INTEGER));
    },
    beforeOther: () => withAnnouncement(emitUpTo(Number.MAX_SAFE_INTEGER)),
    complete: (line) => {
      const held = withAnnouncement(null);
      if (pending.length === 0 && seenChanges.length === 0) return held === null ? line : Buffer.concat([held, line]);
      return finish(line, held);
    },
  };
}

/**
 * SEARCH: the server evaluates the translated criteria on the real messages; the proxy
 * evaluates the client's criteria on each virtual message, with its flags as they are now (as
 * the server searches its messages' current flags); the hits are merged in order.
 */
export async function search(session: InboxSession, inbox: Inbox, tag: string, byUid: boolean, prepared: PreparedSearch): Promise<RunningCommand> {
  const { map } = inbox;
  const current = map.virtuals.length > 0 ? await session.host.engine?.view(inbox.key) : undefined;
  const flagsOf = currentFlags(current);
  const virtualHits = map.virtuals.flatMap((shown, index) => {
    const context = { shown, flags: flagsOf(shown), seq: map.clientSeqOfVirtual(index), highestSeq: map.clientExists, highestUid: map.starUid };
    return evaluateVirtualSearch(prepared, context) ? [byUid ? shown.message.uid : map.clientSeqOfVirtual(index)] : [];
  });
  const answer = (serverHits: readonly number[]): Buffer => {
    const hits = [...serverHits.map((hit) => (byUid ? hit * 16 : map.clientSeqOfServer(hit))), ...virtualHits].sort((x, y) => x - y);
    return Buffer.from(`* SEARCH${hits.map((hit) => ` ${hit}`).join('')}\r\n`, 'latin1');
  };
  session.host.writeUpstream(Buffer.concat([Buffer.from(`${tag} ${byUid ? 'UID SEARCH' : 'SEARCH'} `, 'latin1'), prepared.serverCriteria, Buffer.from('\r\n')]));
  let answered = false;
  let deferred: number[] | null = null;
  /** Hits naming real messages the client has not been told of (yet). */
  const unannounced = (hits: readonly number[]): boolean => hits.some((hit) => (byUid ? hit >= inbox.syncedUidNext : hit > map.serverExists));
  return {
    tag,
    forbidsExpunge: !byUid || prepared.namesMessageSets,
    untagged(line, literal) {
      const text = literal === null ? line.toString('latin1') : '';
      if (!/^\* SEARCH\b/i.test(text)) return undefined;
      answered = true;
      const hits = text.slice(8).trim().split(/\s+/).filter(Boolean).map(Number);
      // A hit the client may not have been told of waits for the completion, so that it follows
      // the EXISTS that announces it (new mail reported during the command is held to its end).
      // A client must never get a UID or number before the EXISTS that counts it.
      if (unannounced(hits)) {
        deferred = hits;
        return DROP;
      }
      // In place of the server's own line, so it keeps its place among EXISTS and EXPUNGE.
      return answer(hits);
    },
    complete(line) {
      const hits = deferred;
      if (hits === null) {
        if (answered || !/^\S+ OK\b/i.test(line.toString('latin1'))) return line;
        return Buffer.concat([answer([]), line]);
      }
      if (!unannounced(hits)) return Buffer.concat([answer(hits), line]);
      // Cyrus 3 searches after reading the mailbox again without reporting what it found
      // (search_query_run refreshes the index after index_check told the changes), so its answer
      // may name mail that arrived meanwhile, and the EXISTS for it comes only with its next
      // command (RFC 3501 §5.2 wants it in this one). The proxy asks for it now: a hidden
      // non-UID SEARCH (during which no server sends EXPUNGE) makes the server report the mail,
      // which the session announces, with the virtual messages it places, before this answer.
      return session.reportUnannouncedMail().then(() => Buffer.concat([answer(announcedOnly(hits)), line]));
    },
  };

  /** A sequence number past what the client was told never goes out, even if the server never reports it. */
  function announcedOnly(hits: readonly number[]): readonly number[] {
    if (byUid) return hits;
    const known = hits.filter((hit) => hit <= map.serverExists);
    if (known.length < hits.length) session.log.warn({ hits: hits.length - known.length }, 'INBOX view: SEARCH named messages the server never reported; left out');
    return known;
  }
}
