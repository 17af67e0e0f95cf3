/**
 * GET /api/tenants/{id}/campaigns/{cid}/preview?user=… — the campaign message exactly as that
 * user would receive it, as `message/rfc822` (campaigns/compose.ts builds it, as the engine does for a real injection). The variant is
 * named in `X-Inlay-Variant`. Open to the admin and the tenant's own tokens; reads only.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { CampaignParamsSchema, CampaignPreviewQuerySchema, type CampaignParams, type CampaignPreviewQuery } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { composeCampaignMessage } from '../campaigns/compose.js';
import { campaignNotFound } from '../store/campaign-types.js';
import { requireTenant } from '../store/store-errors.js';
import type { Store } from '../store/store.js';
import { addressProblem, normalizeAddress, userKeyFor } from '../users/user-key.js';
import { errorResponses } from './responses.js';

export interface PreviewRouteOptions {
  readonly store: Store;
  /** Where local templates live (<dataDir>/templates/<tenant>/) when a data source has no S3. */
  readonly dataDir: string;
}

export const previewRoutes = fp(
  async (app: FastifyInstance, { store, dataDir }: PreviewRouteOptions) => {
    app.get(
      '/api/tenants/:id/campaigns/:cid/preview',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['campaigns'],
          summary: 'The campaign message as one user would receive it (message/rfc822)',
          params: CampaignParamsSchema,
          querystring: CampaignPreviewQuerySchema,
          produces: ['message/rfc822'],
          response: { 200: { description: 'the message, RFC 822', type: 'string' }, ...errorResponses(400, 404, 422, 424, 502) },
        },
      },
      async (request, reply) => {
        const { id, cid } = request.params as CampaignParams;
        const { user: address } = request.query as CampaignPreviewQuery;
        const problem = addressProblem(normalizeAddress(address));
        if (problem) throw new MiddlewareError('INLAY_MW_VALIDATION', `querystring.user ${problem}`);
        const tenant = await requireTenant(store, id);
        const ref = { id: tenant.id, keyspaceName: tenant.keyspaceName };
        const campaign = await store.getCampaign(ref, cid);
        if (!campaign) throw campaignNotFound(id, cid);
        const userKey = userKeyFor(tenant, address);
        const user = await store.getUser(ref, userKey);
        const preview = await composeCampaignMessage({ tenant, campaign, address: normalizeAddress(address), userKey, user, dataDir, now: new Date() });
        return reply.type('message/rfc822').header('x-inlay-variant', preview.variantId ?? 'main').send(preview.message);
      },
    );
  },
  { name: 'inlay-preview-routes' },
);
