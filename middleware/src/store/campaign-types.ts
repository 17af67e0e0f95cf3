/**
 * What the Store keeps about campaigns, apart from the campaign itself (schemas/src/campaign.ts):
 * the filter of the list call, the shape of an atomic change, and the not-found error both
 * stores raise.
 */
import type { Campaign, StoredCampaignStatus } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';

export interface CampaignFilter {
  /** Only campaigns whose *stored* status is one of these (the store knows no clock). */
  readonly statuses?: readonly StoredCampaignStatus[];
}

/**
 * Computes a campaign's next version from the stored one; may throw to abort (a 409 for an
 * illegal transition). The store keeps `id` and `createdAt` and sets `revision` to one above the
 * stored one, whatever the change returns.
 */
export type CampaignChange = (current: Campaign) => Campaign;

/** Checks the stored campaign before a delete; throws to refuse. */
export type CampaignDeleteCheck = (current: Campaign) => void;

export function campaignNotFound(tenantId: string | undefined, campaignId: string): MiddlewareError {
  const owner = tenantId === undefined ? '' : ` of tenant "${tenantId}"`;
  return new MiddlewareError('INLAY_MW_CAMPAIGN_NOT_FOUND', `campaign "${campaignId}"${owner} does not exist`);
}

export function campaignKeptChanging(tenantId: string | undefined, campaignId: string): MiddlewareError {
  const owner = tenantId === undefined ? '' : ` of tenant "${tenantId}"`;
  return new MiddlewareError('INLAY_MW_CONCURRENT_UPDATE', `campaign "${campaignId}"${owner} kept changing while it was being updated; retry`);
}
