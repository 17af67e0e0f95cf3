/**
 * The Cassandra side of campaigns (tables `campaigns` and `campaign_index` of a tenant keyspace).
 * Split from cassandra-store.ts to keep that file about tenants.
 *
 * `campaigns` holds the authoritative row: the whole campaign as JSON plus its `revision`, written
 * only by lightweight transactions (INSERT IF NOT EXISTS, UPDATE/DELETE IF revision = ?), so a
 * change is a compare-and-set on the revision and two concurrent transitions cannot both apply.
 * `campaign_index` (one partition, bucket 'all') is the list of ids with summary columns. It is
 * written with plain writes at `USING TIMESTAMP createdAt·1000 + revision`, so index writes of
 * one campaign land in revision order whatever order they arrive in; it is written *before* a
 * create (a campaign is never missing from the list) and the list reads each listed campaign's
 * authoritative row, skipping ids whose row is gone (a delete whose index cleanup failed).
 *
 * Must never build CQL from values: keyspace names are quoted identifiers, everything else bound.
 */
import cassandra from 'cassandra-driver';
import type { Campaign } from '@inlay/schemas';
import { campaignKeptChanging, campaignNotFound, type CampaignChange, type CampaignDeleteCheck, type CampaignFilter } from '../campaign-types.js';
import { compareCampaigns } from '../embedded-campaigns.js';
import type { TenantRef } from '../store.js';
import { quoteIdentifier } from './cql-schema.js';
import { runCql } from './cql-run.js';

const { consistencies } = cassandra.types;

const INDEX_PARTITION = 'all';
/** Compare-and-set rounds before an update gives up: only simultaneous edits of one campaign lose. */
const MAX_CAS_ATTEMPTS = 8;
/** Campaign rows read at once by the list (a tenant has hundreds). */
const LIST_READ_CONCURRENCY = 32;

export class CassandraCampaignTables {
  constructor(private readonly client: cassandra.Client) {}

  async create(tenant: TenantRef, campaign: Campaign): Promise<void> {
    const keyspace = quoteIdentifier(tenant.keyspaceName);
    await this.writeIndex(tenant, campaign);
    const inserted = await this.run(`INSERT INTO ${keyspace}.campaigns (campaign_id, revision, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`, [
      campaign.id,
      campaign.revision,
      JSON.stringify(campaign),
      new Date(campaign.createdAt),
      new Date(campaign.updatedAt),
    ]);
    if (!inserted.wasApplied()) throw new Error(`campaign id ${campaign.id} is already taken`);
  }

  async get(tenant: TenantRef, campaignId: string, serial = false): Promise<Campaign | undefined> {
    const result = await this.run(
      `SELECT definition FROM ${quoteIdentifier(tenant.keyspaceName)}.campaigns WHERE campaign_id = ?`,
      [campaignId],
      // SERIAL before a compare-and-set: sees the outcome of any Paxos round still in flight.
      serial ? { consistency: consistencies.localSerial } : {},
    );
    const row = result.first();
    return row ? (JSON.parse(String(row.get('definition'))) as Campaign) : undefined;
  }

  async list(tenant: TenantRef, filter: CampaignFilter = {}): Promise<Campaign[]> {
    const ids: string[] = [];
    let pageState: string | undefined;
    do {
      const result = await this.run(
        `SELECT campaign_id FROM ${quoteIdentifier(tenant.keyspaceName)}.campaign_index WHERE bucket = ?`,
        [INDEX_PARTITION],
        pageState === undefined ? {} : { pageState },
      );
      ids.push(...result.rows.map((row) => String(row.get('campaign_id'))));
      pageState = result.pageState ?? undefined;
    } while (pageState);
    const campaigns: Campaign[] = [];
    for (let start = 0; start < ids.length; start += LIST_READ_CONCURRENCY) {
      const rows = await Promise.all(ids.slice(start, start + LIST_READ_CONCURRENCY).map((id) => this.get(tenant, id)));
      for (const campaign of rows) {
        if (campaign && (filter.statuses === undefined || filter.statuses.includes(campaign.status))) campaigns.push(campaign);
      }
    }
    return campaigns.sort(compareCampaigns);
  }

  async update(tenant: TenantRef, campaignId: string, change: CampaignChange): Promise<Campaign> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.get(tenant, campaignId, true);
      if (!current) throw campaignNotFound(tenant.id, campaignId);
      const next: Campaign = { ...change(current), id: current.id, createdAt: current.createdAt, revision: current.revision + 1 };
      const updated = await this.run(
        `UPDATE ${quoteIdentifier(tenant.keyspaceName)}.campaigns SET revision = ?, definition = ?, updated_at = ? WHERE campaign_id = ? IF revision = ?`,
        [next.revision, JSON.stringify(next), new Date(next.updatedAt), campaignId, current.revision],
      );
      if (updated.wasApplied()) {
        await this.writeIndex(tenant, next);
        return next;
      }
      // Changed or deleted since the read: the next round reads it again (and re-runs the checks).
    }
    throw campaignKeptChanging(tenant.id, campaignId);
  }

  async delete(tenant: TenantRef, campaignId: string, check?: CampaignDeleteCheck): Promise<Campaign> {
    const keyspace = quoteIdentifier(tenant.keyspaceName);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.get(tenant, campaignId, true);
      if (!current) throw campaignNotFound(tenant.id, campaignId);
      check?.(current);
      const deleted = await this.run(`DELETE FROM ${keyspace}.campaigns WHERE campaign_id = ? IF revision = ?`, [campaignId, current.revision]);
      if (deleted.wasApplied()) {
        await this.run(`DELETE FROM ${keyspace}.campaign_index WHERE bucket = ? AND campaign_id = ?`, [INDEX_PARTITION, campaignId]);
        return current;
      }
    }
    throw campaignKeptChanging(tenant.id, campaignId);
  }

  private async writeIndex(tenant: TenantRef, campaign: Campaign): Promise<void> {
    const writeTimestamp = cassandra.types.Long.fromNumber(Date.parse(campaign.createdAt) * 1000 + campaign.revision);
    await this.run(
      `INSERT INTO ${quoteIdentifier(tenant.keyspaceName)}.campaign_index (bucket, campaign_id, name, status, priority, starts_at, ends_at, revision)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
      [
        INDEX_PARTITION,
        campaign.id,
        campaign.name,
        campaign.status,
        campaign.priority,
        new Date(campaign.schedule.startAt),
        new Date(campaign.schedule.endAt),
        campaign.revision,
        writeTimestamp,
      ],
    );
  }

  private async run(query: string, params: unknown[], options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
    return runCql(this.client, query, params, options);
  }
}
