/**
 * New real mail a session has not announced yet (InboxSession holds the server's EXISTS back to
 * the end of the command, or pauses IDLE): learning its UIDs with a hidden FETCH, revealing up to
 * them, and placing the view's virtual messages before, among or after it. The session then sends
 * the one EXISTS where the server's was (proxy/README.md, "UIDs and sequence numbers").
 *
 * Must never place a virtual message among new mail whose UIDs it does not know: without them
 * only what goes before the new mail is placed, and the session waits for its next sync.
 */
import type { InboxSession } from './inbox-session.js';
import type { Selection } from './inbox-types.js';
import { flagUpdates, newUids, placeAmongNew, showPlaceable, withdrawals } from './inbox-placement.js';
import { UID_SCALE } from '@inlay/schemas';
import { expandSmallSet } from './sequence-set.js';
import { MAX_SCALABLE_SERVER_UID, UidBeyondScaleError } from './uid-scale.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

/** New mail the server reported and the session holds back. */
export interface PendingGrowth {
  /** The server's message count (EXISTS) now. */
  count: number;
  /** Where in the held output the EXISTS goes; null until the line that brought it is out. */
  slot: number | null;
  /** New messages whose client sequence numbers the client already saw (a FETCH of one): virtual
   *  messages can only go after them. */
  pinned: number;
  /** The server's count at `slot`, and later reports: where each further EXISTS came (a slot in
   *  the held output) and the count it raised to. Each report is announced where the server made
   *  it, so `*` in the command means for the client what it meant for the server. */
  firstCount?: number;
  later?: { slot: number; count: number }[];
  /** Server UIDs of the INBOX messages the command that brought the mail APPENDed (APPENDUID). */
  appended?: readonly number[];
}

/**
 * The server UIDs an APPEND's completion names for the INBOX (`[APPENDUID validity set]`, RFC
 * 4315), ascending; undefined when it names none, or names another mailbox's.
 */
export function appendedToInbox(serverCompletion: string, inboxUidValidity: number): number[] | undefined {
  const code = /^\S+ OK \[APPENDUID (\d+) ([\d:,]+)\]/i.exec(serverCompletion);
  if (!code || Number(code[1]) !== inboxUidValidity) return undefined;
  try {
    return expandSmallSet(code[2]!, 1000).sort((a, b) => a - b);
  } catch {
    return undefined; // a set that large is not one APPEND's: learn the UIDs by FETCH instead
  }
}

/** A hidden FETCH that keeps bringing more new mail is given up on after this many tries. */
const FETCH_TRIES = 3;

/**
 * Places what the view holds among the new mail; returns what to send before the EXISTS: flag
 * updates and withdrawals, where a server sends its own. Withdrawals only where EXPUNGE is legal
 * and `nothingNumberedAfter()` (a number sent after the EXISTS would move); the flags of messages
 * the command is changing itself with that change applied (the view does not have it yet). The
 * refresh after the command does what is left.
 */
export async function placeForGrowth(session: InboxSession, inbox: Inbox, growth: PendingGrowth, nothingNumberedAfter: () => boolean): Promise<Buffer> {
  const engine = session.host.engine;
  if (engine === null) return Buffer.alloc(0);
  const learnt = await learnNewUids(session, inbox, growth);
  const uids = learnt?.uids ?? null;
  const highest = uids?.[uids.length - 1];
  // New mail the client could not be given a UID for: the session ends (UidBeyondScaleError).
  if (highest !== undefined && highest > MAX_SCALABLE_SERVER_UID) throw new UidBeyondScaleError(highest);
  const view = highest !== undefined ? (await engine.revealUpTo(inbox.key, highest + 1)).view : await engine.reveal(inbox.key);
  // New mail shown without the view: a client of this node may see it without the virtual
  // messages below it, which must then never be placed anew below it (engine-memory.ts).
  if (view === undefined && highest !== undefined) engine.memory.noteShownWithoutView(inbox.key, highest * UID_SCALE);
  if (session.selection !== inbox || (view !== undefined && session.viewStateLost(inbox, view))) return Buffer.alloc(0);
  const running = session.current;
  const flags = view === undefined ? Buffer.alloc(0) : flagUpdates(inbox, view, running?.updatesCarryUid === true, running?.ownFlagChange);
  const withdrawn = view !== undefined && !running?.forbidsExpunge && nothingNumberedAfter() ? withdrawals(inbox, view) : Buffer.alloc(0);
  if (view !== undefined) {
    if (learnt !== null) placeAmongNew(inbox, view, learnt.uids, growth.pinned, learnt.boundBefore);
    else showPlaceable(inbox, view); // before the new mail only, judged by the view as it was
  }
  if (highest !== undefined) {
    inbox.syncedUidNext = Math.max(inbox.syncedUidNext, highest + 1);
    inbox.viewUidBound = highest + 1;
  } else {
    inbox.viewUidBound = Infinity;
  }
  return Buffer.concat([flags, withdrawn]);
}

/**
 * The new messages' UIDs in sequence order, and the bound every real message the client already
 * knows is below; null when the FETCH failed or mail kept coming. When that bound is not known
 * (mail came earlier whose UIDs were never learnt), the FETCH also takes the last known message.
 */
async function learnNewUids(session: InboxSession, inbox: Inbox, growth: PendingGrowth): Promise<{ uids: number[]; boundBefore: number } | null> {
  // The session's own APPEND, and nothing else new (else the count would differ): its APPENDUID
  // names the message, no FETCH needed.
  if (growth.appended !== undefined && inbox.viewUidBound !== Infinity && growth.count - inbox.map.serverExists === growth.appended.length) {
    return { uids: [...growth.appended], boundBefore: inbox.viewUidBound };
  }
  for (let tries = 0; tries < FETCH_TRIES; tries++) {
    const known = inbox.map.serverExists;
    const withLast = inbox.viewUidBound === Infinity && known > 0;
    const range = { from: withLast ? known : known + 1, to: growth.count };
    if (known + 1 > range.to) return null;
    const fetched = await session.hidden(`FETCH ${range.from}:${range.to} (UID)`, range);
    if (!fetched.ok) return null;
    if (growth.count !== range.to || inbox.map.serverExists !== known) continue;
    const uids = newUids(fetched.untagged, range);
    if (uids === null) return null;
    return withLast ? { uids: uids.slice(1), boundBefore: uids[0]! + 1 } : { uids, boundBefore: inbox.viewUidBound };
  }
  return null;
}
