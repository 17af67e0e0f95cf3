// The pure decisions with a fixed clock: UID slots, flag arithmetic, frequency caps and
// reinjection, UIDVALIDITY eras, and what each decide function writes (or does not).
import { describe, expect, test } from 'vitest';
import { MAX_VIEW_KEYWORDS, type Campaign } from '@inlay/schemas';
import { EMPTY_VIEW, applyViewChange, type StoredView, type StoredVirtualMessage } from '../store/view-types.js';
import { testCampaign } from '../testing/campaign-fixture.js';
import { decideAssign, decideExpunge, decideFlags, decideReveal, decideWithdrawals, drawingStateEpoch, eraOf, viewFor, type DecisionContext, type PreparedMessage } from './decisions.js';
import { campaignRecords, eligibility, foldHistory } from './eligibility.js';
import { applyFlagChange, MAX_FLAGS_PER_MESSAGE, rememberKeywords, setsSeen } from './flags.js';
import { allocateUids } from './uids.js';
import { eventId } from './events.js';

const NOW = Date.UTC(2031, 5, 1, 12);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function message(campaign: Campaign, uid: number, overrides: Partial<StoredVirtualMessage> = {}): StoredVirtualMessage {
  return {
    uid,
    campaignId: campaign.id,
    campaignRevision: 1,
    variantId: null,
    origin: 'first',
    messageId: `<${uid}@x>`,
    contentHash: 'h',
    size: 3,
    body: Buffer.from('abc'),
    internalDateMs: NOW - HOUR,
    injectedAtMs: NOW - HOUR,
    flags: [],
    state: 'visible',
    assignmentId: 'a',
    ...overrides,
  };
}

const view = (messages: StoredVirtualMessage[], overrides: Partial<StoredView> = {}): StoredView => ({ uidValidity: 9, nextUid: 18, epoch: 3, history: {}, keywords: [], messages, ...overrides });
const context = (applies: (id: string) => boolean = () => true, uidValidity = 9): DecisionContext => ({ nowMs: NOW, uidValidity, applies });

describe('UID slots', () => {
  test('after the anchor, at or above the next UID, skipping real UIDs, within the gap', () => {
    expect(allocateUids(1, 0, 3)).toEqual([1, 2, 3]);
    expect(allocateUids(1, 1, 2)).toEqual([17, 18]);
    expect(allocateUids(20, 1, 2)).toEqual([20, 21]);
    expect(allocateUids(30, 1, 5)).toEqual([30, 31]);
    expect(allocateUids(32, 1, 5)).toEqual([]);
    expect(allocateUids(32, 2, 1)).toEqual([33]);
    expect(allocateUids(1, 3, 20)).toHaveLength(15);
    expect(allocateUids(50, 2, 1)).toEqual([]);
    // The last anchor the scheme can show ends at the last 32-bit UID.
    expect(allocateUids(1, 0x0fff_ffff, 99).at(-1)).toBe(0xffff_ffff);
  });
});

describe('flags', () => {
  test('set, add and remove, case-insensitively, canonical system flags, sorted', () => {
    expect(applyFlagChange([], { mode: 'add', flags: ['\\SEEN', '$label1', '\\flagged'] })).toEqual(['$label1', '\\Flagged', '\\Seen']);
    expect(applyFlagChange(['$Label1', '\\Seen'], { mode: 'add', flags: ['$LABEL1', 'Work'] })).toEqual(['$Label1', 'Work', '\\Seen']);
    expect(applyFlagChange(['$Label1', '\\Seen'], { mode: 'remove', flags: ['$label1', '\\seen', 'absent'] })).toEqual([]);
    expect(applyFlagChange(['$Label1', '\\Seen'], { mode: 'set', flags: ['\\Answered', '$label1'] })).toEqual(['$Label1', '\\Answered']);
    expect(applyFlagChange(['\\Seen'], { mode: 'set', flags: [] })).toEqual([]);
    expect(applyFlagChange([], { mode: 'add', flags: ['\\Recent'] })).toEqual([]);
  });

  test(`at most ${MAX_FLAGS_PER_MESSAGE} per message`, () => {
    const many = Array.from({ length: 150 }, (_, index) => `k${index}`);
    expect(applyFlagChange([], { mode: 'add', flags: many })).toHaveLength(MAX_FLAGS_PER_MESSAGE);
  });

  test('what counts as reading', () => {
    expect(setsSeen({ mode: 'add', flags: ['\\seen'] })).toBe(true);
    expect(setsSeen({ mode: 'set', flags: ['\\Seen', 'x'] })).toBe(true);
    expect(setsSeen({ mode: 'remove', flags: ['\\Seen'] })).toBe(false);
    expect(setsSeen({ mode: 'add', flags: ['\\Flagged'] })).toBe(false);
  });
});

describe('frequency caps and reinjection', () => {
  const campaign = testCampaign();
  const recordOf = (messages: StoredVirtualMessage[], history: StoredView['history'] = {}) => campaignRecords({ history, messages }).get(campaign.id);

  test('a first message; none while one is visible', () => {
    expect(eligibility(campaign, undefined, NOW)).toEqual({ eligible: true, origin: 'first', ordinal: 1 });
    expect(eligibility(campaign, recordOf([message(campaign, 17)]), NOW)).toEqual({ eligible: false });
    expect(eligibility(campaign, recordOf([message(campaign, 17, { flags: ['\\Seen'] })]), NOW)).toEqual({ eligible: false });
  });

  test('after a withdrawal: again under a new UID, not before minDelayMinutes', () => {
    const withdrawn = [message(campaign, 17, { state: 'withdrawn', withdrawnAtMs: NOW - MINUTE })];
    expect(eligibility(campaign, recordOf(withdrawn), NOW)).toEqual({ eligible: true, origin: 'afterWithdrawal', ordinal: 2 });
    const delayed = { ...campaign, frequency: { maxVisibleUnseen: 1, minDelayMinutes: 90 } };
    expect(eligibility(delayed, recordOf(withdrawn), NOW)).toEqual({ eligible: false, retryAtMs: NOW - HOUR + 90 * MINUTE });
  });

  test('after an expunge: never, or after delayHours up to maxReinjections', () => {
    const expunged = [message(campaign, 17, { state: 'expunged', expungedAtMs: NOW - 2 * HOUR })];
    expect(eligibility(campaign, recordOf(expunged), NOW)).toEqual({ eligible: false });
    const again = { ...campaign, reinjection: { policy: 'afterExpunge' as const, delayHours: 3, maxReinjections: 2 } };
    expect(eligibility(again, recordOf(expunged), NOW)).toEqual({ eligible: false, retryAtMs: NOW + HOUR });
    expect(eligibility(again, recordOf(expunged), NOW + HOUR)).toEqual({ eligible: true, origin: 'afterExpunge', ordinal: 2 });
    const twice = [
      ...expunged,
      message(campaign, 18, { origin: 'afterExpunge', state: 'expunged', expungedAtMs: NOW - 4 * HOUR }),
      message(campaign, 19, { origin: 'afterExpunge', state: 'expunged', expungedAtMs: NOW - 4 * HOUR }),
    ];
    expect(eligibility(again, recordOf(twice), NOW)).toEqual({ eligible: false });
    // A withdrawal in between does not use up a reinjection.
    const withdrawnBetween = [...expunged, message(campaign, 18, { origin: 'afterExpunge', state: 'withdrawn' }), message(campaign, 19, { origin: 'afterWithdrawal', state: 'expunged', expungedAtMs: NOW - 4 * HOUR })];
    expect(eligibility(again, recordOf(withdrawnBetween), NOW)).toEqual({ eligible: true, origin: 'afterExpunge', ordinal: 4 });
  });

  test('history of earlier UIDVALIDITYs counts: a message dropped with the mailbox is like a withdrawal', () => {
    const history = foldHistory({}, [message(campaign, 17, { state: 'expunged', expungedAtMs: NOW - HOUR }), message(campaign, 18, { origin: 'afterExpunge' })]);
    expect(history[campaign.id]).toEqual({ messages: 2, lastInjectedAtMs: NOW - HOUR, reinjectionsAfterExpunge: 1, lastEnd: 'dropped', lastExpungedAtMs: NOW - HOUR });
    expect(eligibility(campaign, recordOf([], history), NOW)).toEqual({ eligible: true, origin: 'afterWithdrawal', ordinal: 3 });
    const expungedBefore = foldHistory({}, [message(campaign, 17, { state: 'expunged', expungedAtMs: NOW - HOUR })]);
    expect(eligibility(campaign, recordOf([], expungedBefore), NOW)).toEqual({ eligible: false });
  });
});

describe('UIDVALIDITY eras', () => {
  const campaign = testCampaign();
  const stored = view([message(campaign, 17)]);

  test('current, new (empty, history kept, UIDs restart) and stale', () => {
    expect(eraOf(stored, 9)).toBe('current');
    expect(eraOf(stored, 10)).toBe('new');
    expect(eraOf(EMPTY_VIEW, 1)).toBe('new');
    expect(eraOf(stored, 8)).toBe('stale');
    expect(viewFor(stored, 10)).toEqual({ uidValidity: 10, nextUid: 1, epoch: 3, history: foldHistory({}, stored.messages), keywords: [], messages: [] });
  });

  test('flags and expunge for another UIDVALIDITY change nothing', () => {
    expect(decideFlags([{ uid: 17, mode: 'add', flags: ['\\Seen'] }], context(() => true, 10))(stored).change).toBeNull();
    expect(decideExpunge([17], context(() => true, 8))(stored).change).toBeNull();
  });
});

describe('decisions', () => {
  const campaign = testCampaign();
  const other = testCampaign({ priority: 5 });
  const prepared = (campaigns: Campaign[]): Map<string, PreparedMessage> =>
    new Map(campaigns.map((entry) => [entry.id, { campaignId: entry.id, campaignRevision: 1, variantId: null, messageId: `<${entry.id}@x>`, contentHash: 'h', body: Buffer.from('m'), internalDateMs: NOW }]));

  test('reveal raises the epoch and nothing else', () => {
    const stored = view([message(campaign, 17)]);
    expect(applyViewChange(stored, decideReveal(stored).change!)).toEqual({ ...stored, epoch: 4 });
  });

  test('flags: visible messages only; the first \\Seen records readAt; no change, no write', () => {
    const stored = view([message(campaign, 17), message(campaign, 18, { state: 'withdrawn' }), message(other, 19, { flags: ['\\Seen'], readAtMs: NOW - HOUR })]);
    const { change } = decideFlags(
      [
        { uid: 17, mode: 'add', flags: ['\\Seen'] },
        { uid: 17, mode: 'add', flags: ['$Work'] },
        { uid: 18, mode: 'add', flags: ['\\Seen'] },
        { uid: 19, mode: 'add', flags: ['\\Seen'] },
        { uid: 99, mode: 'set', flags: [] },
      ],
      context(),
    )(stored);
    // Each change counts once however many flags it names (a server's modification sequence).
    expect(change).toEqual({ update: [{ uid: 17, flags: ['$Work', '\\Seen'], flagsChanges: 1, readAtMs: NOW }], keywords: ['$Work'] });
    expect(decideFlags([{ uid: 19, mode: 'remove', flags: ['\\Seen'] }], context())(stored).change).toEqual({ update: [{ uid: 19, flags: [], flagsChanges: 1 }] });
    const changedBefore = view([message(other, 19, { flags: ['\\Seen'], flagsChanges: 4, readAtMs: NOW - HOUR })]);
    expect(decideFlags([{ uid: 19, mode: 'remove', flags: ['\\Seen'] }], context())(changedBefore).change).toEqual({ update: [{ uid: 19, flags: [], flagsChanges: 5 }] });
  });

  test('flags: a keyword a visible message was given joins the view for good, even if taken back at once; one only named does not', () => {
    const stored = view([message(campaign, 17, { flags: ['$Work'] }), message(campaign, 18, { state: 'withdrawn' })], { keywords: ['$Work'] });
    expect(decideFlags([{ uid: 17, mode: 'add', flags: ['$work'] }], context())(stored).change).toBeNull();
    expect(decideFlags([{ uid: 18, mode: 'add', flags: ['$Junk'] }], context())(stored).change).toBeNull();
    // Removing a keyword the message lacks creates nothing (Dovecot tells only the storing session, seed 50001).
    expect(decideFlags([{ uid: 17, mode: 'remove', flags: ['$Junk'] }], context())(stored).change).toBeNull();
    const addedAndTakenBack = [{ uid: 17, mode: 'add' as const, flags: ['$Junk'] }, { uid: 17, mode: 'remove' as const, flags: ['$Junk'] }];
    expect(decideFlags(addedAndTakenBack, context())(stored).change).toEqual({ update: [], keywords: ['$Junk', '$Work'] });
    expect(decideFlags([{ uid: 17, mode: 'set', flags: ['\\Seen', 'Later'] }], context())(stored).change).toMatchObject({ keywords: ['$Work', 'Later'] });
  });

  test(`keywords: case-insensitive, the first spelling kept, no system flags, at most ${MAX_VIEW_KEYWORDS}`, () => {
    expect(rememberKeywords(['$Label1'], ['$LABEL1', '\\Seen', '\\Recent'])).toBeUndefined();
    expect(rememberKeywords(['$Label1'], ['Work', '$junk', 'work'])).toEqual(['$Label1', '$junk', 'Work']);
    const full = Array.from({ length: MAX_VIEW_KEYWORDS }, (_, index) => `k${index}`);
    expect(rememberKeywords(full, ['$Junk'])).toBeUndefined();
    expect(rememberKeywords([], [...full, '$Junk'])).toHaveLength(MAX_VIEW_KEYWORDS);
  });

  test('expunge: visible and withdrawn messages, once; the body goes', () => {
    const stored = view([message(campaign, 17), message(campaign, 18, { state: 'withdrawn' }), message(campaign, 19, { state: 'expunged', expungedAtMs: 1 })]);
    expect(decideExpunge([17, 18, 19, 404], context())(stored).change).toEqual({
      update: [
        { uid: 17, state: 'expunged', expungedAtMs: NOW, dropBody: true },
        { uid: 18, state: 'expunged', expungedAtMs: NOW, dropBody: true },
      ],
    });
  });

  test('withdrawals: visible messages of campaigns that stopped applying', () => {
    const stored = view([message(campaign, 17), message(other, 18)]);
    expect(decideWithdrawals(context((id) => id === other.id))(stored).change).toEqual({ update: [{ uid: 17, state: 'withdrawn', withdrawnAtMs: NOW, dropBody: true }] });
    expect(decideWithdrawals(context())(stored).change).toBeNull();
  });

  test('assign: nothing at a stale epoch or UIDVALIDITY', () => {
    const stored = view([]);
    const decide = (epoch: number, uidValidity = 9) => decideAssign({ epoch, anchorServerUid: 1, assignmentId: 'x' }, [campaign], prepared([campaign]), context(() => true, uidValidity))(stored);
    expect(decide(2)).toEqual({ change: null, result: { applied: false } });
    expect(decide(3, 8)).toEqual({ change: null, result: { applied: false } });
    expect(decide(3).result).toEqual({ applied: true, assigned: [18] });
  });

  test('assign: the highest priority wins a scarce slot and takes the highest UID', () => {
    const third = testCampaign({ priority: 1 });
    const candidates = [other, third, campaign];
    const stored = view([], { nextUid: 29 });
    const { change, result } = decideAssign({ epoch: 3, anchorServerUid: 1, assignmentId: 'x' }, candidates, prepared(candidates), context())(stored);
    expect(result).toEqual({ applied: true, assigned: [29, 30, 31] });
    expect(change?.insert?.map((entry) => [entry.uid, entry.campaignId])).toEqual([
      [29, campaign.id],
      [30, third.id],
      [31, other.id],
    ]);
    const scarce = decideAssign({ epoch: 3, anchorServerUid: 1, assignmentId: 'x' }, candidates, prepared(candidates), context())(view([], { nextUid: 31 }));
    expect(scarce.change?.insert?.map((entry) => entry.campaignId)).toEqual([other.id]);
    expect(scarce.change?.nextUid).toBe(32);
  });

  test('assign: only rendered campaigns; withdrawals in the same write; a new UIDVALIDITY resets', () => {
    const stored = view([message(campaign, 17)]);
    const onlyOther = decideAssign({ epoch: 3, anchorServerUid: 1, assignmentId: 'x' }, [other], prepared([other]), context((id) => id === other.id))(stored);
    expect(onlyOther.change).toMatchObject({ update: [{ uid: 17, state: 'withdrawn' }], insert: [{ uid: 18, campaignId: other.id, origin: 'first', state: 'visible', flags: [] }], nextUid: 19 });
    const unrendered = decideAssign({ epoch: 3, anchorServerUid: 1, assignmentId: 'x' }, [other], new Map(), context())(stored);
    expect(unrendered).toEqual({ change: null, result: { applied: true, assigned: [] } });
    const reset = decideAssign({ epoch: 3, anchorServerUid: 0, assignmentId: 'x' }, [campaign], prepared([campaign]), context(() => true, 10))(stored);
    expect(reset.change).toMatchObject({ dropMessages: true, uidValidity: 10, nextUid: 2, insert: [{ uid: 1, origin: 'afterWithdrawal' }] });
    expect(reset.change?.history).toEqual(foldHistory({}, stored.messages));
  });
});

test('event ids: the same for the same event whoever computes them, distinct otherwise, with the event time', () => {
  const subject = { tenantId: 't', view: { keyspaceName: 'ks', userKey: 'u', mailbox: 'INBOX' }, uidValidity: 9 };
  const id = eventId(subject, 17, 'read', NOW);
  expect(eventId({ ...subject }, 17, 'read', NOW)).toBe(id);
  expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const others = [eventId(subject, 17, 'expunged', NOW), eventId(subject, 18, 'read', NOW), eventId({ ...subject, uidValidity: 10 }, 17, 'read', NOW), eventId({ ...subject, tenantId: 'o' }, 17, 'read', NOW)];
  expect(new Set([id, ...others]).size).toBe(5);
});

describe('the view state epoch (part of the client UIDVALIDITY)', () => {
  test('drawn with the first write of a view, never changed after; a view written before it existed keeps 0', () => {
    const first = drawingStateEpoch(decideReveal, 12345)(EMPTY_VIEW);
    expect(first.change).toEqual({ epoch: 1, stateEpoch: 12345 });
    const written = applyViewChange(EMPTY_VIEW, first.change!);
    expect(drawingStateEpoch(decideReveal, 999)(written).change).toEqual({ epoch: 2 });
    // Written before state epochs: it has an epoch, so it is not "unwritten"; UIDVALIDITY stays.
    const legacy: StoredView = { ...EMPTY_VIEW, epoch: 4 };
    expect(drawingStateEpoch(decideReveal, 999)(legacy).change).toEqual({ epoch: 5 });
    // A decision that writes nothing draws nothing.
    expect(drawingStateEpoch(() => ({ change: null, result: 1 }), 5)(EMPTY_VIEW).change).toBeNull();
  });

  test('a new server UIDVALIDITY keeps the view state epoch', () => {
    const view: StoredView = { ...EMPTY_VIEW, uidValidity: 3, nextUid: 50, epoch: 9, stateEpoch: 77 };
    expect(viewFor(view, 4).stateEpoch).toBe(77);
  });
});
