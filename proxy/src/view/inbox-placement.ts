/**
 * Where the messages of a user's view go in one session's INBOX: pure functions on the session's
 * numbering (InboxMap) that add what can be shown, remove what was withdrawn and report flag
 * changes, each returning the lines that tell the client. The session decides when each may run
 * (inbox-session.ts); these decide where.
 *
 * Must never place a virtual message below a real message the client has been told of, nor give
 * two messages one UID out of order: a client UID always ascends with its sequence number.
 */
import type { InboxView } from '@inlay/schemas';
import { anchorOf, type ShownVirtual } from './inbox-map.js';
import type { OwnFlagChange, Selection } from './inbox-types.js';
import { fetchFlagsLine } from './virtual-fetch.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

/**
 * Shows the view's messages this session has not shown yet and can place: those anchored
 * below every real message still to come. Returns the EXISTS to send (or nothing).
 */
export function showPlaceable(inbox: Inbox, view: InboxView): Buffer {
  const { map } = inbox;
  const hiddenBelow = hiddenBelowOf(inbox);
  let added = false;
  for (const message of view.messages) {
    if (message.uid <= map.highestShownUid) continue; // shown already, or removed since
    if (message.uid < hiddenBelow) continue; // a client may have seen mail above it without it
    const anchor = anchorOf(message.uid);
    // Placed only at the end: every real message up to its anchor is here, none above it.
    if (anchor >= inbox.syncedUidNext || anchor + 1 < inbox.viewUidBound) continue;
    map.append(message);
    added = true;
  }
  return added ? Buffer.from(`* ${map.clientExists} EXISTS\r\n`) : Buffer.alloc(0);
}

/**
 * New mail not yet announced, with its UIDs (`uids`, in order): every real UID up to the highest
 * is known, so a virtual message anchored at or above the last real one the client knew
 * (`boundBefore` − 1) goes right after the real messages at or below its anchor — but after the
 * first `pinned` new ones, whose numbers the client already saw. The caller announces the EXISTS.
 */
export function placeAmongNew(inbox: Inbox, view: InboxView, uids: readonly number[], pinned: number, boundBefore: number): void {
  const { map } = inbox;
  const known = map.serverExists;
  const hiddenBelow = hiddenBelowOf(inbox);
  for (const message of view.messages) {
    if (message.uid <= map.highestShownUid) continue; // shown already, or removed since
    if (message.uid < hiddenBelow) continue; // a client may have seen mail above it without it
    const anchor = anchorOf(message.uid);
    if (anchor + 1 < boundBefore || anchor > uids[uids.length - 1]!) continue;
    const newBelow = uids.filter((uid) => uid <= anchor).length;
    if (newBelow < pinned) continue;
    map.appendAfter(message, known + newBelow);
  }
}

/**
 * Virtual messages below this UID are never placed anew: this node showed real mail above them
 * while the middleware did not answer, so some client may have seen that mail without them, and
 * showing them now would put them below mail it has seen since (engine-memory.ts). A session that
 * shows one already keeps it.
 */
export function hiddenBelowOf(inbox: Inbox): number {
  return inbox.memory?.hiddenBelow(inbox.key) ?? 0;
}

/** EXPUNGE for the virtual messages the view no longer lists, highest first: each number is
 *  then right at the moment the client reads it. Only where EXPUNGE is legal. */
export function withdrawals(inbox: Inbox, view: InboxView): Buffer {
  const { map } = inbox;
  const listed = new Set(view.messages.map((message) => message.uid));
  const parts: Buffer[] = [];
  for (let index = map.virtuals.length - 1; index >= 0; index--) {
    if (!listed.has(map.virtuals[index]!.message.uid)) parts.push(Buffer.from(`* ${map.remove(index)} EXPUNGE\r\n`));
  }
  return Buffer.concat(parts);
}

/**
 * FETCH FLAGS for the virtual messages whose flags another session changed. `own`: the running
 * command's change to some of them, which the view does not show yet.
 */
export function flagUpdates(inbox: Inbox, view: InboxView, withUid: boolean, own?: OwnFlagChange): Buffer {
  const { map } = inbox;
  const listed = new Map(view.messages.map((message) => [message.uid, message]));
  const parts: Buffer[] = [];
  map.virtuals.forEach((shown, index) => {
    const now = listed.get(shown.message.uid);
    if (!now) return;
    const flags = own?.uids.has(shown.message.uid) ? own.apply(now.flags) : now.flags;
    // Changed and changed back elsewhere is still reported, as a server does by modification sequence.
    const touched = (now.flagsChanges ?? 0) > shown.flagsChanges;
    if (sameFlags(flags, shown.flags) && !touched) return;
    shown.flags = flags;
    shown.flagsChanges = Math.max(shown.flagsChanges, now.flagsChanges ?? 0);
    parts.push(inbox.flags.announce(shown.flags), fetchFlagsLine(map.clientSeqOfVirtual(index), shown.message.uid, shown.flags, withUid));
  });
  return Buffer.concat(parts);
}

/**
 * After the session's own flag change reached the middleware (`view` is its answer): where the
 * flags are what the client was told, the change counted is the session's own and nothing to
 * report later. Where they differ, another session got in between, and the next refresh says so.
 */
export function ownFlagChangesCounted(inbox: Inbox, view: InboxView | undefined, uids: readonly number[]): void {
  if (view === undefined) return;
  const listed = new Map(view.messages.map((message) => [message.uid, message]));
  for (const uid of uids) {
    const shown = inbox.map.virtuals.find((virtual) => virtual.message.uid === uid);
    const now = listed.get(uid);
    if (shown && now && sameFlags(now.flags, shown.flags)) shown.flagsChanges = Math.max(shown.flagsChanges, now.flagsChanges ?? 0);
  }
}

/**
 * A shown virtual message's flags now: as `view` lists them (another session may have changed
 * them since its client was told), else as they were told.
 */
export function currentFlags(view: InboxView | undefined): (shown: ShownVirtual) => readonly string[] {
  const listed = new Map((view?.messages ?? []).map((message) => [message.uid, message.flags]));
  return (shown) => listed.get(shown.message.uid) ?? shown.flags;
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const lower = new Set(a.map((flag) => flag.toLowerCase()));
  return b.every((flag) => lower.has(flag.toLowerCase()));
}

/** `* n FETCH (UID u)` for a message of the range: an answer to our own FETCH. */
export function ownFetch(range: { readonly from: number; readonly to: number }, text: string): boolean {
  const match = /^\* (\d+) FETCH \((?:[^)]*\s)?UID \d+[\s)]/i.exec(text);
  if (!match) return false;
  const seq = Number(match[1]);
  return seq >= range.from && seq <= range.to;
}

/** The UIDs of `range` in sequence order, from our FETCH's answers; null if one is missing. */
export function newUids(lines: readonly string[], range: { readonly from: number; readonly to: number }): number[] | null {
  const bySeq = new Map<number, number>();
  for (const line of lines) {
    const match = /^\* (\d+) FETCH \((?:[^)]*\s)?UID (\d+)[\s)]/i.exec(line);
    if (match) bySeq.set(Number(match[1]), Number(match[2]));
  }
  const uids: number[] = [];
  for (let seq = range.from; seq <= range.to; seq++) {
    const uid = bySeq.get(seq);
    if (uid === undefined) return null;
    uids.push(uid);
  }
  return uids;
}
