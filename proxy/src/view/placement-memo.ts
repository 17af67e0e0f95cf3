/**
 * Where the virtual messages went in a user's INBOX, remembered per login on this node, so a
 * SELECT of an unchanged INBOX places them without a hidden SEARCH per anchor.
 *
 * Placing a virtual message needs the number of real messages with a UID up to its anchor
 * (`realBefore`). A session's state says: its view holds `exists` real messages, and every real
 * message with a server UID below `syncedUidNext` is among them (Selection, inbox-types.ts). A
 * later SELECT that reports the same UIDVALIDITY, the same EXISTS and UIDNEXT = syncedUidNext
 * sees the very same messages: mail that arrived since would have a UID at or above
 * syncedUidNext (UIDNEXT would have moved), so every message it reports was in that view, and
 * as many of them means all of them. The counts then still hold, whichever session of the user
 * learnt them. Anything else — new mail, an expunge, a UIDNEXT that moved — and the SELECT asks
 * the server as before.
 */
import { anchorOf } from './inbox-map.js';
import type { Selection } from './inbox-types.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

interface Placement {
  readonly uidValidity: number;
  readonly exists: number;
  readonly uidNext: number;
  /** anchor → real messages with a server UID up to it. */
  readonly realUpTo: ReadonlyMap<number, number>;
}

const placements = new Map<string, Placement>();
/** Logins remembered; the oldest is forgotten first (it then costs one SEARCH again). */
const MAX_REMEMBERED = 100_000;

/** Remembers the session's placement of its virtual messages, as of its last sync. */
export function rememberPlacement(login: string, inbox: Inbox): void {
  const key = login.toLowerCase();
  const realUpTo = new Map(inbox.map.virtuals.map((shown) => [anchorOf(shown.message.uid), shown.realBefore] as const));
  placements.delete(key); // re-inserted last: the map forgets the oldest first
  if (placements.size >= MAX_REMEMBERED) placements.delete(placements.keys().next().value!);
  placements.set(key, { uidValidity: inbox.key.serverUidValidity, exists: inbox.map.serverExists, uidNext: inbox.syncedUidNext, realUpTo });
}

/**
 * The real messages with a server UID up to `anchor` in an INBOX a SELECT just reported as
 * (uidValidity, exists, uidNext), when a remembered placement of the same messages knows it.
 */
export function rememberedRealUpTo(login: string, selected: { uidValidity: number; exists: number; uidNext: number }, anchor: number): number | undefined {
  const known = placements.get(login.toLowerCase());
  if (known === undefined || known.uidValidity !== selected.uidValidity || known.exists !== selected.exists || known.uidNext !== selected.uidNext) return undefined;
  return known.realUpTo.get(anchor);
}
