/**
 * Whether a campaign that applies to a user may get a new message in the user's view now: the
 * frequency caps (maxVisibleUnseen, minDelayMinutes) and the reinjection policy, judged from
 * what the view partition records of the campaign — its message rows in this UIDVALIDITY and the
 * history earlier UIDVALIDITYs left (store/view-types.ts). Because both live in the partition the
 * assignment writes, the judgement runs inside the same compare-and-set.
 *
 * A campaign gets a new message only when none of its messages is visible. After a withdrawal
 * (the campaign stopped applying and applies again) it comes back under a new UID without limit;
 * after the user expunged it only as its reinjection policy allows.
 *
 * Pure. Must never look at a clock: the caller passes `nowMs`.
 */
import type { Campaign } from '@inlay/schemas';
import type { CampaignHistory, InjectionOrigin, StoredView, StoredVirtualMessage } from '../store/view-types.js';
import { SEEN_FLAG } from './flags.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** Everything known about one campaign's messages for one user. */
export interface CampaignRecord {
  /** Messages ever assigned, in every UIDVALIDITY. */
  readonly messages: number;
  readonly visible: number;
  readonly visibleUnseen: number;
  readonly lastInjectedAtMs: number;
  readonly reinjectionsAfterExpunge: number;
  /** How the latest message left the view; undefined while it is visible. */
  readonly lastEnd: CampaignHistory['lastEnd'] | undefined;
  readonly lastExpungedAtMs: number | undefined;
}

export type Eligibility =
  | { readonly eligible: true; readonly origin: InjectionOrigin; readonly ordinal: number }
  /** `retryAtMs`: when the answer may turn by the clock alone (a delay running out). */
  | { readonly eligible: false; readonly retryAtMs?: number };

export function campaignRecords(view: Pick<StoredView, 'history' | 'messages'>): Map<string, CampaignRecord> {
  const records = new Map<string, CampaignRecord>();
  for (const [campaignId, history] of Object.entries(view.history)) {
    records.set(campaignId, {
      messages: history.messages,
      visible: 0,
      visibleUnseen: 0,
      lastInjectedAtMs: history.lastInjectedAtMs,
      reinjectionsAfterExpunge: history.reinjectionsAfterExpunge,
      lastEnd: history.lastEnd,
      lastExpungedAtMs: history.lastExpungedAtMs,
    });
  }
  // Ascending UIDs are assignment order within one UIDVALIDITY, so the last row is the latest.
  for (const message of view.messages) {
    const before = records.get(message.campaignId);
    const visible = message.state === 'visible';
    records.set(message.campaignId, {
      messages: (before?.messages ?? 0) + 1,
      visible: (before?.visible ?? 0) + (visible ? 1 : 0),
      visibleUnseen: (before?.visibleUnseen ?? 0) + (visible && !message.flags.includes(SEEN_FLAG) ? 1 : 0),
      lastInjectedAtMs: Math.max(before?.lastInjectedAtMs ?? 0, message.injectedAtMs),
      reinjectionsAfterExpunge: (before?.reinjectionsAfterExpunge ?? 0) + (message.origin === 'afterExpunge' ? 1 : 0),
      lastEnd: endOf(message),
      lastExpungedAtMs: message.expungedAtMs ?? before?.lastExpungedAtMs,
    });
  }
  return records;
}

function endOf(message: StoredVirtualMessage): CampaignRecord['lastEnd'] {
  switch (message.state) {
    case 'visible':
      return undefined;
    case 'withdrawn':
      return 'withdrawn';
    case 'expunged':
      return 'expunged';
  }
}

export function eligibility(campaign: Pick<Campaign, 'frequency' | 'reinjection'>, record: CampaignRecord | undefined, nowMs: number): Eligibility {
  if (record === undefined || record.messages === 0) return { eligible: true, origin: 'first', ordinal: 1 };
  // One message of a campaign in a view at a time; maxVisibleUnseen (at least 1) can only bind
  // once campaigns may stack, but is checked so the rule holds whatever changes around it.
  if (record.visible > 0 || record.visibleUnseen >= campaign.frequency.maxVisibleUnseen) return { eligible: false };
  const waits: number[] = [];
  const delayEnds = record.lastInjectedAtMs + campaign.frequency.minDelayMinutes * MINUTE_MS;
  if (nowMs < delayEnds) waits.push(delayEnds);
  let origin: InjectionOrigin = 'afterWithdrawal';
  if (record.lastEnd === 'expunged') {
    const policy = campaign.reinjection;
    if (policy.policy === 'never') return { eligible: false };
    if (record.reinjectionsAfterExpunge >= (policy.maxReinjections ?? 1)) return { eligible: false };
    const reinjectAt = (record.lastExpungedAtMs ?? 0) + policy.delayHours * HOUR_MS;
    if (nowMs < reinjectAt) waits.push(reinjectAt);
    origin = 'afterExpunge';
  }
  if (waits.length > 0) return { eligible: false, retryAtMs: Math.max(...waits) };
  return { eligible: true, origin, ordinal: record.messages + 1 };
}

/** History with the messages of a UIDVALIDITY that is being left folded in. */
export function foldHistory(history: Readonly<Record<string, CampaignHistory>>, messages: readonly StoredVirtualMessage[]): Record<string, CampaignHistory> {
  const folded: Record<string, CampaignHistory> = { ...history };
  for (const [campaignId, record] of campaignRecords({ history, messages })) {
    if (!messages.some((message) => message.campaignId === campaignId)) continue;
    folded[campaignId] = {
      messages: record.messages,
      lastInjectedAtMs: record.lastInjectedAtMs,
      reinjectionsAfterExpunge: record.reinjectionsAfterExpunge,
      // A message still visible goes with the mailbox: like a withdrawal, not the user's choice.
      lastEnd: record.lastEnd ?? 'dropped',
      ...(record.lastExpungedAtMs === undefined ? {} : { lastExpungedAtMs: record.lastExpungedAtMs }),
    };
  }
  return folded;
}
