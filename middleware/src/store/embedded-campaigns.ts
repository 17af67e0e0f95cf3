/**
 * Campaigns in the embedded (LMDB) store: one row per campaign under
 * ['row', keyspace, 'campaigns', campaignId], inside the tenant's key prefix like every table of
 * the plan, so dropping the keyspace drops them. The Cassandra plan's `campaign_index` is not
 * needed here: the prefix scan over 'campaigns' is the list.
 *
 * Changes run through `atomically` (read, check, write with no other writer in between; a throw
 * rolls back), the embedded form of Cassandra's compare-and-set on the revision.
 */
import type { Key, RootDatabase } from 'lmdb';
import type { Campaign } from '@inlay/schemas';
import { campaignNotFound, type CampaignChange, type CampaignDeleteCheck, type CampaignFilter } from './campaign-types.js';
import { atomically } from './embedded-atomic.js';
import type { TenantRef } from './store.js';

const campaignKey = (tenant: TenantRef, campaignId: string): Key => ['row', tenant.keyspaceName, 'campaigns', campaignId];
const campaignPrefix = (tenant: TenantRef): string[] => ['row', tenant.keyspaceName, 'campaigns'];

/** Creation order, as both stores list: createdAt, then id. */
export function compareCampaigns(a: Campaign, b: Campaign): number {
  return a.createdAt.localeCompare(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class EmbeddedCampaignTable {
  constructor(private readonly db: RootDatabase<unknown, Key>) {}

  async create(tenant: TenantRef, campaign: Campaign): Promise<void> {
    await atomically(this.db, () => {
      if (this.db.get(campaignKey(tenant, campaign.id)) !== undefined) throw new Error(`campaign id ${campaign.id} is already taken`);
      void this.db.put(campaignKey(tenant, campaign.id), campaign);
    });
  }

  get(tenant: TenantRef, campaignId: string): Campaign | undefined {
    return this.db.get(campaignKey(tenant, campaignId)) as Campaign | undefined;
  }

  list(tenant: TenantRef, filter: CampaignFilter = {}): Campaign[] {
    const prefix = campaignPrefix(tenant);
    const campaigns: Campaign[] = [];
    for (const entry of this.db.getRange({ start: prefix as Key })) {
      const key = entry.key as Key[];
      if (!Array.isArray(key) || !prefix.every((part, index) => key[index] === part)) break;
      if (key.length === prefix.length) continue;
      const campaign = entry.value as Campaign;
      if (filter.statuses === undefined || filter.statuses.includes(campaign.status)) campaigns.push(campaign);
    }
    return campaigns.sort(compareCampaigns);
  }

  update(tenant: TenantRef, campaignId: string, change: CampaignChange): Promise<Campaign> {
    return atomically(this.db, () => {
      const current = this.get(tenant, campaignId);
      if (current === undefined) throw campaignNotFound(tenant.id, campaignId);
      const next: Campaign = { ...change(current), id: current.id, createdAt: current.createdAt, revision: current.revision + 1 };
      void this.db.put(campaignKey(tenant, campaignId), next);
      return next;
    });
  }

  delete(tenant: TenantRef, campaignId: string, check?: CampaignDeleteCheck): Promise<Campaign> {
    return atomically(this.db, () => {
      const current = this.get(tenant, campaignId);
      if (current === undefined) throw campaignNotFound(tenant.id, campaignId);
      check?.(current);
      void this.db.remove(campaignKey(tenant, campaignId));
      return current;
    });
  }
}
