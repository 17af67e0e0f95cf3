/**
 * Client UIDs for new virtual messages (proxy/README.md's scheme, schemas/src/engine.ts): a real
 * message with server UID u is shown as u × 16; a virtual message takes one of the 15 slots after
 * the real message it is anchored to. A new one goes at or above the view's next UID (never a UID
 * handed out before, in any state) and after the session's anchor (above every real message any
 * client was shown, which the epoch check of an assign guarantees), and must stay in the anchor's
 * gap: past u × 16 + 15 it would sort after a real message that arrives later. Pure.
 */
import { UID_SCALE } from '@inlay/schemas';

/** Up to `count` free client UIDs after `anchorServerUid`, ascending; fewer (or none) when the
 *  anchor's gap is full. */
export function allocateUids(nextUid: number, anchorServerUid: number, count: number): number[] {
  const uids: number[] = [];
  const last = anchorServerUid * UID_SCALE + (UID_SCALE - 1);
  for (let slot = Math.max(nextUid, anchorServerUid * UID_SCALE + 1); slot <= last && uids.length < count; slot++) {
    // Multiples of 16 are real messages' UIDs.
    if (slot % UID_SCALE !== 0) uids.push(slot);
  }
  return uids;
}
