import { describe, expect, it } from 'vitest';
import type { InboxView, VirtualMessage } from '@inlay/schemas';
import { InboxMap } from './inbox-map.js';
import { MailboxFlags } from './mailbox-flags.js';
import type { Selection } from './inbox-types.js';
import { flagUpdates, newUids, ownFetch, ownFlagChangesCounted, placeAmongNew, showPlaceable, withdrawals } from './inbox-placement.js';

type Inbox = Extract<Selection, { kind: 'inbox' }>;

const virtual = (uid: number): VirtualMessage => ({ uid, campaignId: `c${uid}`, variantId: null, internalDate: '2026-11-22T00:00:00Z', flags: [], rfc822: '' });
const view = (...uids: number[]): InboxView => ({ known: true, epoch: 1, messages: uids.map(virtual), pending: 0, ttlMs: 0 });

/** Real messages with server UIDs 1..known, all told to the client. */
function inboxKnowing(known: number): Inbox {
  return { kind: 'inbox', readOnly: false, map: new InboxMap(known), key: { login: 'u', mailbox: 'INBOX', serverUidValidity: 1 }, flags: new MailboxFlags(), syncedUidNext: known + 1, viewUidBound: known + 1, stateEpoch: 0, stateEpochGuessed: false };
}

const order = (inbox: Inbox, newUidsInOrder: number[]): number[] => {
  // Client UIDs in sequence order: real ones scaled ×16, virtual ones as they are.
  const { map } = inbox;
  const reals = [...Array.from({ length: map.serverExists - newUidsInOrder.length }, (_, i) => i + 1), ...newUidsInOrder];
  const out: number[] = [];
  for (let seq = 1; seq <= map.clientExists; seq++) {
    const message = map.resolve(seq)!;
    out.push(message.kind === 'real' ? reals[message.serverSeq - 1]! * 16 : map.virtuals[message.index]!.message.uid);
  }
  return out;
};

describe('placing virtual messages', () => {
  it('puts one anchored among new mail right after the real messages at or below its anchor', () => {
    const inbox = inboxKnowing(3);
    // New mail with UIDs 4, 6, 7 (5 expunged before anyone saw it); a campaign anchored at 6.
    placeAmongNew(inbox, view(97), [4, 6, 7], 0, inbox.viewUidBound);
    inbox.map.serverExists = 6;
    expect(order(inbox, [4, 6, 7])).toEqual([16, 32, 48, 64, 96, 97, 112]);
  });

  it('never puts one before new mail the client already numbered, nor below mail it knew', () => {
    const pinned = inboxKnowing(3);
    placeAmongNew(pinned, view(65), [4, 6], 2, pinned.viewUidBound); // a FETCH showed both new ones
    expect(pinned.map.virtuals).toEqual([]);
    const below = inboxKnowing(3);
    placeAmongNew(below, view(33), [4], 0, below.viewUidBound); // anchored at 2, below known UID 3
    expect(below.map.virtuals).toEqual([]);
  });

  it('shows at the end only what goes after every real message known, and withdraws highest first', () => {
    const inbox = inboxKnowing(3);
    expect(showPlaceable(inbox, view(49, 50, 65)).toString()).toBe('* 5 EXISTS\r\n'); // 65: UID 4 not seen yet
    expect(withdrawals(inbox, view()).toString()).toBe('* 5 EXPUNGE\r\n* 4 EXPUNGE\r\n');
  });

  it('never shows again a message the session removed, though the view still lists it (seed 43003)', () => {
    // The client's EXPUNGE removed the last virtual message; the view learns of it only when the
    // command completes, and new mail announced before then must not bring it back.
    const inbox = inboxKnowing(9);
    showPlaceable(inbox, view(145));
    inbox.map.remove(0);
    placeAmongNew(inbox, view(145), [11], 0, inbox.viewUidBound);
    expect(inbox.map.virtuals).toEqual([]);
    expect(showPlaceable(inbox, view(145)).toString()).toBe('');
    expect(showPlaceable(inbox, view(145, 146)).toString()).toBe('* 10 EXISTS\r\n'); // a new one still shows
  });

  it('reads the answers to its own FETCH (UID), and only those', () => {
    expect(ownFetch({ from: 4, to: 5 }, '* 4 FETCH (UID 9)\r\n')).toBe(true);
    expect(ownFetch({ from: 4, to: 5 }, '* 3 FETCH (UID 8)\r\n')).toBe(false);
    expect(ownFetch({ from: 4, to: 5 }, '* 4 FETCH (FLAGS (\\Seen))\r\n')).toBe(false);
    expect(newUids(['* 4 FETCH (UID 9)', '* 5 FETCH (UID 12)'], { from: 4, to: 5 })).toEqual([9, 12]);
    expect(newUids(['* 4 FETCH (UID 9)'], { from: 4, to: 5 })).toBeNull();
  });
});

describe('flag updates', () => {
  const view = (flags: string[], flagsChanges: number): InboxView => ({ known: true, epoch: 1, messages: [{ ...virtual(49), flags, flagsChanges }], pending: 0, ttlMs: 0 });

  it('reports flags another session changed, also back to what the client was told, once', () => {
    const inbox = inboxKnowing(3);
    inbox.map.append(virtual(49)); // told: no flags, no change counted
    expect(flagUpdates(inbox, view([], 0), false).toString()).toBe('');
    expect(flagUpdates(inbox, view([], 2), false).toString()).toBe('* 4 FETCH (FLAGS ())\r\n'); // \Seen set and cleared elsewhere
    expect(flagUpdates(inbox, view([], 2), false).toString()).toBe('');
    expect(flagUpdates(inbox, view(['\\Seen'], 3), true).toString()).toBe('* 4 FETCH (UID 49 FLAGS (\\Seen))\r\n');
  });

  it("counts the session's own change as told when the middleware's answer shows the flags it told", () => {
    const inbox = inboxKnowing(3);
    inbox.map.append(virtual(49));
    inbox.map.virtuals[0]!.flags = ['\\Flagged']; // what its own STORE told the client
    ownFlagChangesCounted(inbox, view(['\\Flagged'], 1), [49]);
    expect(flagUpdates(inbox, view(['\\Flagged'], 1), false).toString()).toBe('');
    // Another session got in between: the flags differ, so the next update reports them.
    ownFlagChangesCounted(inbox, view(['\\Flagged', '\\Seen'], 3), [49]);
    expect(flagUpdates(inbox, view(['\\Flagged', '\\Seen'], 3), false).toString()).toBe('* 4 FETCH (FLAGS (\\Flagged \\Seen))\r\n');
  });
});
