/**
 * What the API returns for a campaign: the stored campaign with its effective status (a
 * scheduled campaign is `running` inside its schedule, see lifecycle.ts) and the actions that
 * status allows. Campaigns hold no secrets; a template object's data source is named by id only.
 */
import type { Campaign, CampaignStatus, CampaignView, StoredCampaignStatus } from '@inlay/schemas';
import { allowedActions, effectiveStatus } from './lifecycle.js';

export function toCampaignView(campaign: Campaign, now: Date): CampaignView {
  const status = effectiveStatus(campaign, now);
  const { id, revision, createdAt, updatedAt, status: _stored, ...definition } = campaign;
  return { id, status, actions: allowedActions(status), revision, createdAt, updatedAt, ...definition };
}

/** Which stored statuses can show as `status` (the store filters on stored ones). */
export function storedStatusesFor(status: CampaignStatus): StoredCampaignStatus[] {
  switch (status) {
    case 'draft':
      return ['draft'];
    case 'scheduled':
    case 'running':
      return ['scheduled'];
    case 'paused':
      return ['paused'];
    case 'ended':
      // Ended by the action, or by the clock passing endAt.
      return ['ended', 'scheduled', 'paused'];
  }
}
