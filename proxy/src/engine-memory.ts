/**
 * What this proxy node remembers per user view (login, mailbox, server UIDVALIDITY) so that the
 * INBOX keeps the IMAP invariants while the middleware is slow or gone (proxy/README.md,
 * "When the middleware fails"):
 *
 * - `uidNext`: the highest `uidNext` any middleware answer carried. Every UID a session of this
 *   node showed is below it, so a SELECT or STATUS that shows UIDNEXT at least this never goes
 *   backwards, with or without an answer from the middleware.
 * - `hiddenBelow`: the highest client UID of real mail this node showed while it could not show
 *   the view (no answer). A client may then have seen that mail and not the virtual messages
 *   below it; such a message must never appear again under its UID (it would come back below mail
 *   the client has seen since), so sessions that place it anew skip it.
 * - `stateEpoch`: the view state's epoch (InboxView.stateEpoch) last seen, part of the client
 *   UIDVALIDITY: kept so that a SELECT while the middleware is unreachable shows the same
 *   UIDVALIDITY as before.
 *
 * In memory only, bounded: a forgotten user costs what a cold node costs (README). Must never
 * lower a value while the view state stays the same: each only rises; stateEpoch follows the
 * middleware, and when it changes (state lost and begun again: a new UIDVALIDITY) the others
 * start over.
 */
import type { ViewKey } from '@inlay/schemas';

interface Remembered {
  uidNext: number;
  hiddenBelow: number;
  stateEpoch: number | undefined;
}

/** Views remembered; the least recently touched is forgotten first. */
const MAX_REMEMBERED = 100_000;

export class ViewMemory {
  private readonly entries = new Map<string, Remembered>();

  /** The highest uidNext the middleware gave for this view (0 when none is known). */
  uidNext(key: ViewKey): number {
    return this.entries.get(keyOf(key))?.uidNext ?? 0;
  }

  /** Virtual messages with a UID below this must not be placed anew on this node (0: none). */
  hiddenBelow(key: ViewKey): number {
    return this.entries.get(keyOf(key))?.hiddenBelow ?? 0;
  }

  /** The view state epoch last seen for this view; undefined on a node that never saw one. */
  stateEpoch(key: ViewKey): number | undefined {
    return this.entries.get(keyOf(key))?.stateEpoch;
  }

  /** A middleware answer for this view arrived. */
  noteView(key: ViewKey, view: { readonly uidNext?: number | undefined; readonly stateEpoch?: number | undefined }): void {
    const entry = this.touch(key);
    const stateEpoch = view.stateEpoch ?? 0;
    if (entry.stateEpoch !== undefined && entry.stateEpoch !== stateEpoch) {
      // The view state began again: a new UIDVALIDITY, so what was kept for the old one is moot.
      entry.uidNext = 0;
      entry.hiddenBelow = 0;
    }
    entry.stateEpoch = stateEpoch;
    entry.uidNext = Math.max(entry.uidNext, view.uidNext ?? 0);
  }

  /** Real mail up to client UID `highestRealUid` was shown while the view could not be. */
  noteShownWithoutView(key: ViewKey, highestRealUid: number): void {
    const entry = this.touch(key);
    entry.hiddenBelow = Math.max(entry.hiddenBelow, highestRealUid);
  }

  private touch(key: ViewKey): Remembered {
    const id = keyOf(key);
    const entry = this.entries.get(id) ?? { uidNext: 0, hiddenBelow: 0, stateEpoch: undefined };
    this.entries.delete(id); // re-inserted last: the map forgets the oldest first
    if (this.entries.size >= MAX_REMEMBERED) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, entry);
    return entry;
  }
}

export function keyOf(key: ViewKey): string {
  return `${key.login.toLowerCase()}\0${key.mailbox}\0${key.serverUidValidity}`;
}
