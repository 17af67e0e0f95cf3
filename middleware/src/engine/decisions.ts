/**
 * Every change the engine makes to a view, as a pure `decide` function for Store.changeView: it
 * looks at the view as stored at that instant and returns the one change to write. The store
 * applies it atomically, or calls `decide` again on the newer view when another writer got in
 * first — so every rule here (UIDs, caps, the epoch check, withdrawal) is judged on exactly what
 * it changes.
 *
 * UIDVALIDITY: a request names the server's. The stored view's equal → the view is current; the
 * stored one lower (or none yet) → the mailbox was re-created: the request sees a fresh, empty
 * view, and an assign writes it (old messages dropped, folded into the history); the stored one
 * higher → the request is stale (RFC 3501 §2.3.1.1: UIDVALIDITY only grows) and changes nothing.
 *
 * Pure: no clock (nowMs comes in), no store, no rendering.
 */
import type { Campaign, FlagChange } from '@inlay/schemas';
import { applyViewChange, type MessageUpdate, type StoredView, type StoredVirtualMessage, type ViewChange, type ViewDecide } from '../store/view-types.js';
import { campaignRecords, eligibility, foldHistory, type Eligibility } from './eligibility.js';
import { applyFlagChange, rememberKeywords, sameFlags, SEEN_FLAG } from './flags.js';
import { allocateUids } from './uids.js';

export type ViewEra = 'current' | 'new' | 'stale';

export function eraOf(view: StoredView, uidValidity: number): ViewEra {
  if (view.uidValidity === uidValidity) return 'current';
  return view.uidValidity < uidValidity ? 'new' : 'stale';
}

/** The view as a request with `uidValidity` sees it (a new era: empty, history kept). */
export function viewFor(view: StoredView, uidValidity: number): StoredView {
  switch (eraOf(view, uidValidity)) {
    case 'current':
      return view;
    case 'new':
      return { uidValidity, nextUid: 1, epoch: view.epoch, stateEpoch: view.stateEpoch, history: foldHistory(view.history, view.messages), keywords: [], messages: [] };
    case 'stale':
      return { ...view, keywords: [], messages: [] };
  }
}

/** What the decisions need to know besides the view. */
export interface DecisionContext {
  readonly nowMs: number;
  readonly uidValidity: number;
  /** Whether the campaign applies to the user now (targeting.ts, with fresh campaign data). */
  readonly applies: (campaignId: string) => boolean;
}

/** Visible messages whose campaign no longer applies: withdrawn for good, body dropped. */
export function withdrawals(view: StoredView, context: DecisionContext): MessageUpdate[] {
  if (eraOf(view, context.uidValidity) !== 'current') return [];
  return view.messages
    .filter((message) => message.state === 'visible' && !context.applies(message.campaignId))
    .map((message) => ({ uid: message.uid, state: 'withdrawn', withdrawnAtMs: context.nowMs, dropBody: true }));
}

export function decideWithdrawals(context: DecisionContext): ViewDecide<void> {
  return (current) => {
    const update = withdrawals(current, context);
    return { change: update.length === 0 ? null : { update }, result: undefined };
  };
}

/**
 * `decide`, and on a view never written before, the view state epoch `drawn` (random, non-zero)
 * written with its first change: from then on it is fixed. A view whose state is lost (keyspace
 * dropped and re-created) starts unwritten again and draws a new one, so clients get a new
 * UIDVALIDITY instead of UIDs reused under the old one. A view written before state epochs
 * existed is not unwritten (it has an epoch or a UIDVALIDITY) and keeps 0: no client resyncs.
 */
export function drawingStateEpoch<Result>(decide: ViewDecide<Result>, drawn: number): ViewDecide<Result> {
  return (current) => {
    const decision = decide(current);
    if (decision.change === null || !unwritten(current)) return decision;
    return { ...decision, change: { ...decision.change, stateEpoch: drawn } };
  };
}

function unwritten(view: StoredView): boolean {
  return view.stateEpoch === 0 && view.epoch === 0 && view.uidValidity === 0 && view.nextUid === 1 && view.messages.length === 0;
}

export const decideReveal: ViewDecide<void> = (current) => ({ change: { epoch: current.epoch + 1 }, result: undefined });

/** The campaigns of `candidates` that may get a message now, in the candidates' order. */
export function eligibleCampaigns(view: StoredView, candidates: readonly Campaign[], nowMs: number): { campaign: Campaign; eligibility: Eligibility & { eligible: true } }[] {
  const records = campaignRecords(view);
  return candidates.flatMap((campaign) => {
    const verdict = eligibility(campaign, records.get(campaign.id), nowMs);
    return verdict.eligible ? [{ campaign, eligibility: verdict }] : [];
  });
}

/** When a campaign of `candidates` that waits for a delay may become eligible. */
export function nextEligibilityMs(view: StoredView, candidates: readonly Campaign[], nowMs: number): number | undefined {
  const records = campaignRecords(view);
  const times = candidates.flatMap((campaign) => {
    const verdict = eligibility(campaign, records.get(campaign.id), nowMs);
    return !verdict.eligible && verdict.retryAtMs !== undefined ? [verdict.retryAtMs - nowMs] : [];
  });
  return times.length === 0 ? undefined : Math.min(...times);
}

export function decideFlags(changes: readonly FlagChange[], context: DecisionContext): ViewDecide<void> {
  return (current) => {
    if (eraOf(current, context.uidValidity) !== 'current') return { change: null, result: undefined };
    const byUid = new Map(current.messages.filter((message) => message.state === 'visible').map((message) => [message.uid, message]));
    const flags = new Map<number, string[]>();
    // A keyword joins the mailbox for good once a message has it. One a STORE only names (removing
    // it from a message without it) does not: Dovecot announces such a keyword to the storing
    // session alone, and no other session, nor a later SELECT, ever hears of it (seed 50001).
    const given: string[] = [];
    for (const change of changes) {
      const message = byUid.get(change.uid);
      if (message === undefined) continue;
      const next = applyFlagChange(flags.get(change.uid) ?? message.flags, change);
      flags.set(change.uid, next);
      given.push(...next);
    }
    const keywords = rememberKeywords(current.keywords, given);
    const update: MessageUpdate[] = [];
    for (const [uid, next] of flags) {
      const message = byUid.get(uid)!;
      const firstRead = message.readAtMs === undefined && next.includes(SEEN_FLAG);
      const changed = !sameFlags(next, message.flags);
      if (!changed && !firstRead) continue;
      update.push({ uid, flags: next, ...(changed ? { flagsChanges: (message.flagsChanges ?? 0) + 1 } : {}), ...(firstRead ? { readAtMs: context.nowMs } : {}) });
    }
    if (update.length === 0 && keywords === undefined) return { change: null, result: undefined };
    return { change: { update, ...(keywords === undefined ? {} : { keywords }) }, result: undefined };
  };
}

export function decideExpunge(uids: readonly number[], context: DecisionContext): ViewDecide<void> {
  return (current) => {
    if (eraOf(current, context.uidValidity) !== 'current') return { change: null, result: undefined };
    const wanted = new Set(uids);
    // A withdrawn message a client still showed may be expunged too: the user did delete it.
    const update: MessageUpdate[] = current.messages
      .filter((message) => wanted.has(message.uid) && message.state !== 'expunged')
      .map((message) => ({ uid: message.uid, state: 'expunged', expungedAtMs: context.nowMs, dropBody: true }));
    return { change: update.length === 0 ? null : { update }, result: undefined };
  };
}

/** A rendered message ready to be stored under a UID the decision picks. */
export interface PreparedMessage {
  readonly campaignId: string;
  readonly campaignRevision: number;
  readonly variantId: string | null;
  readonly messageId: string;
  readonly contentHash: string;
  readonly body: Buffer;
  readonly internalDateMs: number;
}

export interface AssignRequestPart {
  readonly epoch: number;
  readonly anchorServerUid: number;
  /** Marks the rows this call writes (StoredVirtualMessage.assignmentId). */
  readonly assignmentId: string;
}

export type AssignOutcome = { readonly applied: false } | { readonly applied: true; readonly assigned: readonly number[] };

/**
 * The assignment: nothing unless the stored epoch is the request's; then the campaigns of
 * `candidates` (applying now, highest priority first) that are eligible and were rendered, as
 * many as the anchor's gap has free UIDs — the highest priority wins a contested slot, and gets
 * the highest UID of the batch so it shows on top. Withdrawals due now go into the same write.
 */
export function decideAssign(request: AssignRequestPart, candidates: readonly Campaign[], prepared: ReadonlyMap<string, PreparedMessage>, context: DecisionContext): ViewDecide<AssignOutcome> {
  return (current) => {
    const era = eraOf(current, context.uidValidity);
    if (current.epoch !== request.epoch || era === 'stale') return { change: null, result: { applied: false } };
    const base = viewFor(current, context.uidValidity);
    const update = withdrawals(base, context);
    const afterWithdrawals = applyViewChange(base, { update });
    const eligible = eligibleCampaigns(afterWithdrawals, candidates, context.nowMs).filter(({ campaign }) => prepared.has(campaign.id));
    const uids = allocateUids(afterWithdrawals.nextUid, request.anchorServerUid, eligible.length);
    const chosen = eligible.slice(0, uids.length).reverse();
    const insert = chosen.map(({ campaign, eligibility: verdict }, index): StoredVirtualMessage => {
      const message = prepared.get(campaign.id)!;
      return {
        uid: uids[index]!,
        campaignId: campaign.id,
        campaignRevision: message.campaignRevision,
        variantId: message.variantId,
        origin: verdict.origin,
        messageId: message.messageId,
        contentHash: message.contentHash,
        size: message.body.length,
        body: message.body,
        internalDateMs: message.internalDateMs,
        injectedAtMs: context.nowMs,
        flags: [],
        state: 'visible',
        assignmentId: request.assignmentId,
      };
    });
    if (insert.length === 0 && update.length === 0) return { change: null, result: { applied: true, assigned: [] } };
    const keywords = rememberKeywords(base.keywords, insert.flatMap((message) => message.flags));
    const change: ViewChange = {
      ...(era === 'new' ? { dropMessages: true, uidValidity: base.uidValidity, history: base.history, keywords: keywords ?? base.keywords } : {}),
      ...(era !== 'new' && keywords !== undefined ? { keywords } : {}),
      nextUid: insert.length === 0 ? base.nextUid : insert[insert.length - 1]!.uid + 1,
      update,
      insert,
    };
    return { change, result: { applied: true, assigned: insert.map((message) => message.uid) } };
  };
}
