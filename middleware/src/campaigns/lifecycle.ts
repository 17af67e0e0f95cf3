/**
 * A campaign's lifecycle as one state machine (schemas/src/campaign.ts draws it):
 *
 *   effective status   schedule    pause      resume      end       edit (PUT)  delete
 *   draft              scheduled   –          –           ended     yes         yes
 *   scheduled          –           paused     –           ended     yes         yes
 *   running            –           paused     –           ended     no          no
 *   paused             –           –          scheduled   ended     yes         yes
 *   ended              –           –          –           –         no          yes
 *
 * `running` and a timed-out `ended` are derived from the stored `scheduled`/`paused` and the
 * clock. A running campaign cannot be edited or deleted: its messages already sit in users' views
 * under fixed UIDs, and a changed message needs a new UID — pause it first (edits of a paused
 * campaign raise its revision; messages already injected keep the revision they were rendered
 * from, later injections use the new one). An ended campaign is final: copy it to run it again.
 *
 * Pure: the caller passes the clock, the store applies the result with a compare-and-set on the
 * campaign's revision, so two concurrent actions cannot both apply to one status.
 */
import type { Campaign, CampaignAction, CampaignStatus, StoredCampaignStatus } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';

export function effectiveStatus(campaign: Pick<Campaign, 'status' | 'schedule'>, now: Date): CampaignStatus {
  const stored: StoredCampaignStatus = campaign.status;
  const nowMs = now.getTime();
  switch (stored) {
    case 'draft':
    case 'ended':
      return stored;
    case 'scheduled':
      if (nowMs >= Date.parse(campaign.schedule.endAt)) return 'ended';
      return nowMs >= Date.parse(campaign.schedule.startAt) ? 'running' : 'scheduled';
    case 'paused':
      return nowMs >= Date.parse(campaign.schedule.endAt) ? 'ended' : 'paused';
  }
}

/** The stored status an action leads to from an effective status; undefined when not allowed. */
export function nextStatus(status: CampaignStatus, action: CampaignAction): StoredCampaignStatus | undefined {
  switch (action) {
    case 'schedule':
      return status === 'draft' ? 'scheduled' : undefined;
    case 'pause':
      return status === 'scheduled' || status === 'running' ? 'paused' : undefined;
    case 'resume':
      return status === 'paused' ? 'scheduled' : undefined;
    case 'end':
      return status === 'ended' ? undefined : 'ended';
  }
}

const ACTIONS: readonly CampaignAction[] = ['schedule', 'pause', 'resume', 'end'];

export function allowedActions(status: CampaignStatus): CampaignAction[] {
  return ACTIONS.filter((action) => nextStatus(status, action) !== undefined);
}

export function isEditable(status: CampaignStatus): boolean {
  return status === 'draft' || status === 'scheduled' || status === 'paused';
}

export function isDeletable(status: CampaignStatus): boolean {
  return status !== 'running';
}

function describeAllowed(status: CampaignStatus): string {
  const actions = allowedActions(status);
  return actions.length === 0 ? 'no action is allowed' : `allowed: ${actions.join(', ')}`;
}

/** 409 naming the current status and what it allows. `what` is "pause", "edit", … */
export function illegalInState(campaignId: string, status: CampaignStatus, what: string, hint = ''): MiddlewareError {
  return new MiddlewareError('INLAY_MW_CAMPAIGN_STATE', `campaign "${campaignId}" is ${status}: cannot ${what} (${describeAllowed(status)})${hint}`);
}

/**
 * The campaign after `action`, or a 409. Scheduling needs a schedule that has not ended yet
 * (nothing would ever run); resuming past endAt cannot happen (the campaign is then `ended`).
 */
export function applyAction(campaign: Campaign, action: CampaignAction, now: Date): Campaign {
  const status = effectiveStatus(campaign, now);
  const next = nextStatus(status, action);
  if (next === undefined) throw illegalInState(campaign.id, status, action);
  if (action === 'schedule' && Date.parse(campaign.schedule.endAt) <= now.getTime()) {
    throw new MiddlewareError('INLAY_MW_CAMPAIGN_STATE', `campaign "${campaign.id}" is draft but its schedule.endAt has passed: change the schedule (PUT) before scheduling it`);
  }
  return { ...campaign, status: next };
}
