/**
 * A tenant's campaigns: POST …/campaigns creates a draft, GET lists (?status= filters by effective
 * status) or reads one, PUT replaces the definition, DELETE removes it, and POST
 * …/campaigns/{cid}/schedule|pause|resume|end moves it through the lifecycle (campaigns/lifecycle.ts).
 * Open to the admin and the tenant's own tokens.
 *
 * Every check (schema, dates, time zone, From, data source, Handlebars) runs before anything is
 * written; status checks run inside the store's compare-and-set, so they see the campaign that is
 * actually replaced. PUT and DELETE honour `If-Match: "<revision>"` (412 when it is stale);
 * without it a PUT is last-write-wins. Must never write a campaign that failed a check.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  CampaignInputSchema,
  CampaignListQuerySchema,
  CampaignParamsSchema,
  CampaignViewListSchema,
  CampaignViewSchema,
  TenantParamsSchema,
  type Campaign,
  type CampaignAction,
  type CampaignInput,
  type CampaignListQuery,
  type CampaignParams,
  type Tenant,
  type TenantParams,
} from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { newCampaignId } from '../campaigns/campaign-id.js';
import { applyAction, effectiveStatus, illegalInState, isDeletable, isEditable } from '../campaigns/lifecycle.js';
import { campaignDefinitionFromInput } from '../campaigns/rules.js';
import { storedStatusesFor, toCampaignView } from '../campaigns/view.js';
import { campaignNotFound } from '../store/campaign-types.js';
import type { TenantRef } from '../store/store.js';
import { requireTenant } from '../store/store-errors.js';
import { BODY_ERRORS, errorResponses } from './responses.js';
import type { StoreOptions } from './tenants.js';

const tags = ['campaigns'];

const ACTION_SUMMARIES: Readonly<Record<CampaignAction, string>> = {
  schedule: 'Schedule a draft: it runs from schedule.startAt to schedule.endAt',
  pause: 'Pause a scheduled or running campaign: nothing more is injected',
  resume: 'Resume a paused campaign: it is scheduled again (running inside its schedule)',
  end: 'End a campaign for good (from any status but ended)',
};

const IF_MATCH = /^\s*(?:W\/)?"?([0-9]{1,9})"?\s*$/;

/** The revision a client asks to replace, from `If-Match: "3"`; undefined without the header. */
function ifMatchRevision(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const revision = typeof header === 'string' ? IF_MATCH.exec(header)?.[1] : undefined;
  if (revision === undefined) throw new MiddlewareError('INLAY_MW_VALIDATION', 'headers.if-match must be the campaign\'s revision in quotes, e.g. If-Match: "3" (the ETag of a GET)');
  return Number(revision);
}

function checkRevision(campaign: Campaign, expected: number | undefined): void {
  if (expected !== undefined && campaign.revision !== expected) {
    throw new MiddlewareError('INLAY_MW_CAMPAIGN_MODIFIED', `campaign "${campaign.id}" is at revision ${campaign.revision}, not ${expected}: read it again and reapply your change`);
  }
}

const etag = (campaign: Campaign): string => `"${campaign.revision}"`;

export const campaignRoutes = fp(
  async (app: FastifyInstance, { store }: StoreOptions) => {
    async function tenantOf(id: string): Promise<{ tenant: Tenant; ref: TenantRef }> {
      const tenant = await requireTenant(store, id);
      return { tenant, ref: { id: tenant.id, keyspaceName: tenant.keyspaceName } };
    }

    app.post(
      '/api/tenants/:id/campaigns',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: 'Create a campaign (as a draft)',
          description:
            'Every Handlebars source (template and variants) must compile, else 400 INLAY_MW_TEMPLATE_INVALID with the field, line and reason. ' +
            'The campaign starts as "draft"; POST …/schedule to run it.',
          params: TenantParamsSchema,
          body: CampaignInputSchema,
          response: { 201: CampaignViewSchema, ...errorResponses(...BODY_ERRORS, 404) },
        },
      },
      async (request, reply) => {
        const { id } = request.params as TenantParams;
        const { tenant, ref } = await tenantOf(id);
        const definition = campaignDefinitionFromInput(request.body as CampaignInput, tenant);
        const now = new Date();
        const campaign: Campaign = { id: newCampaignId(now.getTime()), status: 'draft', revision: 1, createdAt: now.toISOString(), updatedAt: now.toISOString(), ...definition };
        await request.audited(
          () => store.createCampaign(ref, campaign),
          () => ({ action: 'campaign.create', tenantId: id, target: { type: 'campaign', id: campaign.id }, before: null, after: campaign }),
        );
        request.log.info({ tenant: id, campaign: campaign.id }, 'campaign created');
        return reply.code(201).header('location', `/api/tenants/${id}/campaigns/${campaign.id}`).header('etag', etag(campaign)).send(toCampaignView(campaign, now));
      },
    );

    app.get(
      '/api/tenants/:id/campaigns',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: "List a tenant's campaigns, oldest first",
          params: TenantParamsSchema,
          querystring: CampaignListQuerySchema,
          response: { 200: CampaignViewListSchema, ...errorResponses(400, 404) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const { status } = request.query as CampaignListQuery;
        const { ref } = await tenantOf(id);
        const now = new Date();
        const campaigns = await store.listCampaigns(ref, status === undefined ? {} : { statuses: storedStatusesFor(status) });
        return campaigns.filter((campaign) => status === undefined || effectiveStatus(campaign, now) === status).map((campaign) => toCampaignView(campaign, now));
      },
    );

    app.get(
      '/api/tenants/:id/campaigns/:cid',
      {
        config: { access: 'tenant' },
        schema: { tags, summary: 'Read a campaign', params: CampaignParamsSchema, response: { 200: CampaignViewSchema, ...errorResponses(400, 404) } },
      },
      async (request, reply) => {
        const { id, cid } = request.params as CampaignParams;
        const { ref } = await tenantOf(id);
        const campaign = await store.getCampaign(ref, cid);
        if (!campaign) throw campaignNotFound(id, cid);
        return reply.header('etag', etag(campaign)).send(toCampaignView(campaign, new Date()));
      },
    );

    app.put(
      '/api/tenants/:id/campaigns/:cid',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: "Replace a campaign's definition",
          description:
            'Allowed while draft, scheduled (not yet running) or paused; a running or ended campaign is 409 INLAY_MW_CAMPAIGN_STATE (pause it first). ' +
            'The status is kept. With If-Match: "<revision>" the update applies only to that revision (else 412).',
          params: CampaignParamsSchema,
          body: CampaignInputSchema,
          response: { 200: CampaignViewSchema, ...errorResponses(...BODY_ERRORS, 404, 409, 412) },
        },
      },
      async (request, reply) => {
        const { id, cid } = request.params as CampaignParams;
        const expected = ifMatchRevision(request);
        const { tenant, ref } = await tenantOf(id);
        const definition = campaignDefinitionFromInput(request.body as CampaignInput, tenant);
        const now = new Date();
        let replaced: Campaign | null = null;
        let next: Campaign | null = null;
        const updated = await request.audited(
          () =>
            store.updateCampaign(ref, cid, (current) => {
              replaced = current;
              checkRevision(current, expected);
              const status = effectiveStatus(current, now);
              if (!isEditable(status)) throw illegalInState(cid, status, 'edit', status === 'running' ? '; pause it first' : '');
              const { id: campaignId, status: storedStatus, revision, createdAt } = current;
              next = { id: campaignId, status: storedStatus, revision, createdAt, updatedAt: now.toISOString(), ...definition };
              return next;
            }),
          () => ({ action: 'campaign.replace', tenantId: id, target: { type: 'campaign', id: cid }, before: replaced, after: next }),
        );
        request.log.info({ tenant: id, campaign: cid, revision: updated.revision }, 'campaign replaced');
        return reply.header('etag', etag(updated)).send(toCampaignView(updated, now));
      },
    );

    app.delete(
      '/api/tenants/:id/campaigns/:cid',
      {
        config: { access: 'tenant' },
        schema: {
          tags,
          summary: 'Delete a campaign',
          description: 'Any status but running (pause or end it first). Honours If-Match.',
          params: CampaignParamsSchema,
          response: { 204: { type: 'null', description: 'deleted' }, ...errorResponses(400, 404, 409, 412) },
        },
      },
      async (request, reply) => {
        const { id, cid } = request.params as CampaignParams;
        const expected = ifMatchRevision(request);
        const { ref } = await tenantOf(id);
        const now = new Date();
        let deleted: Campaign | null = null;
        await request.audited(
          () =>
            store.deleteCampaign(ref, cid, (current) => {
              checkRevision(current, expected);
              const status = effectiveStatus(current, now);
              if (!isDeletable(status)) throw illegalInState(cid, status, 'delete', '; pause or end it first');
              deleted = current;
            }),
          () => ({ action: 'campaign.delete', tenantId: id, target: { type: 'campaign', id: cid }, before: deleted, after: null }),
        );
        request.log.info({ tenant: id, campaign: cid }, 'campaign deleted');
        return reply.code(204).send();
      },
    );

    for (const action of ['schedule', 'pause', 'resume', 'end'] as const satisfies readonly CampaignAction[]) {
      app.post(
        `/api/tenants/:id/campaigns/:cid/${action}`,
        {
          config: { access: 'tenant' },
          schema: {
            tags,
            summary: ACTION_SUMMARIES[action],
            description: 'An action the current status does not allow is 409 INLAY_MW_CAMPAIGN_STATE, naming the status and the allowed actions.',
            params: CampaignParamsSchema,
            response: { 200: CampaignViewSchema, ...errorResponses(400, 404, 409) },
          },
        },
        async (request, reply) => {
          const { id, cid } = request.params as CampaignParams;
          const { ref } = await tenantOf(id);
          const now = new Date();
          let replaced: Campaign | null = null;
          let next: Campaign | null = null;
          const updated = await request.audited(
            () =>
              store.updateCampaign(ref, cid, (current) => {
                replaced = current;
                next = { ...applyAction(current, action, now), updatedAt: now.toISOString() };
                return next;
              }),
            () => ({ action: `campaign.${action}`, tenantId: id, target: { type: 'campaign', id: cid }, before: replaced, after: next }),
          );
          request.log.info({ tenant: id, campaign: cid, action, status: updated.status }, 'campaign status changed');
          return reply.header('etag', etag(updated)).send(toCampaignView(updated, now));
        },
      );
    }
  },
  { name: 'inlay-campaign-routes' },
);

