import { describe, expect, it } from 'vitest';
import type { VirtualMessage } from '@inlay/schemas';
import { InboxMap } from './inbox-map.js';
import { MailboxFlags } from './mailbox-flags.js';
import { rememberPlacement, rememberedRealUpTo } from './placement-memo.js';

const virtual = (uid: number): VirtualMessage => ({ uid, campaignId: 'c', variantId: null, internalDate: '2026-11-22T00:00:00Z', flags: [], rfc822: '' });

/** A session's INBOX: 10 real messages, all below server UIDNEXT 13; virtual ones after 3 and 9 real ones. */
function inbox(login: string) {
  const map = new InboxMap(10);
  map.appendAfter(virtual(5 * 16 + 1), 3); // anchor 5: 3 real messages have a UID up to 5
  map.appendAfter(virtual(11 * 16 + 1), 9); // anchor 11
  return { kind: 'inbox' as const, readOnly: false, map, key: { login, mailbox: 'INBOX', serverUidValidity: 77 }, flags: new MailboxFlags(), syncedUidNext: 13, viewUidBound: 13, stateEpoch: 0, stateEpochGuessed: false };
}

describe('the placement remembered for a SELECT of the same messages', () => {
  it('answers only for the same UIDVALIDITY, EXISTS and UIDNEXT, and only for anchors it placed', () => {
    rememberPlacement('Memo@Example.org', inbox('Memo@Example.org'));
    const same = { uidValidity: 77, exists: 10, uidNext: 13 };
    expect(rememberedRealUpTo('memo@example.org', same, 5)).toBe(3);
    expect(rememberedRealUpTo('memo@example.org', same, 11)).toBe(9);
    expect(rememberedRealUpTo('memo@example.org', same, 7)).toBeUndefined(); // no virtual message was there
    expect(rememberedRealUpTo('memo@example.org', { ...same, exists: 9 }, 5)).toBeUndefined(); // an expunge
    expect(rememberedRealUpTo('memo@example.org', { ...same, uidNext: 14 }, 5)).toBeUndefined(); // new mail
    expect(rememberedRealUpTo('memo@example.org', { ...same, uidValidity: 78 }, 5)).toBeUndefined();
    expect(rememberedRealUpTo('other@example.org', same, 5)).toBeUndefined();
  });
});
