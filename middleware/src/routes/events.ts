/**
 * What a tenant can read of its engine events (issue 12, §2, §4, §5), open to the admin and the
 * tenant's own tokens:
 *
 *   GET /api/tenants/{id}/events                          the events, newest first, filtered, paged
 *   GET /api/tenants/{id}/campaigns/{cid}/report          one campaign's report (JSON, or CSV series)
 *   GET /api/tenants/{id}/reports                         every campaign with its figures
 *   GET /api/tenants/{id}/tracking                        the campaign messages shown to a user
 *                                                         (or of a Message-ID, or of a campaign)
 *   GET /api/tenants/{id}/tracking/message.eml            the bytes a user's client fetched
 *
 * Reports read counters, never events (events/report.ts); listings read one index
 * (events/event-query.ts). Must never answer with, log or keep a plain address for a tenant that
 * hashes them: `user=` becomes the user key first.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  CampaignOverviewSchema,
  CampaignParamsSchema,
  CampaignReportSchema,
  EventListQuerySchema,
  EventPageSchema,
  ReportQuerySchema,
  TenantParamsSchema,
  TrackedMessageQuerySchema,
  TrackingPageSchema,
  TrackingQuerySchema,
  DEFAULT_PAGE_SIZE,
  type CampaignParams,
  type EventListQuery,
  type ReportQuery,
  type TenantParams,
  type TrackedMessageQuery,
  type TrackingQuery,
} from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { effectiveStatus } from '../campaigns/lifecycle.js';
import { decodeCursor, encodeCursor, eventQueryFor, parseTime, toApiEvent, toApiTrackedMessage, userKeyOf } from '../events/event-query.js';
import { buildReport, MAX_REPORT_BUCKETS, reportCsv, reportRange } from '../events/report.js';
import { campaignNotFound } from '../store/campaign-types.js';
import { DAY_MS, DEFAULT_EVENT_RETENTION_MS, HOUR_MS, type TrackedMessageRecord } from '../store/event-types.js';
import type { Store, TenantRef } from '../store/store.js';
import { requireTenant } from '../store/store-errors.js';
import { errorResponses } from './responses.js';

/** Whether an Accept header ranks text/csv above application/json (JSON wins ties and wildcards). */
export function prefersCsv(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let csv = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    const qParameter = parameters.find((parameter) => parameter.startsWith('q='));
    const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'text/csv') csv = Math.max(csv, q);
    if (type === 'application/json' || type === 'application/*' || type === '*/*') json = Math.max(json, type === 'application/json' ? q : q * 0.999);
  }
  return csv > json;
}

export interface EventRouteOptions {
  readonly store: Store;
  /** How far back a listing looks by default: nothing older is kept. */
  readonly eventRetentionMs?: number;
}

/** Events a little ahead of this node's clock (another node's) still show in a default listing. */
const CLOCK_SLACK_MS = 60_000;

export const eventRoutes = fp(
  async (app: FastifyInstance, { store, eventRetentionMs = DEFAULT_EVENT_RETENTION_MS }: EventRouteOptions) => {
    const tenantRef = async (id: string) => {
      const tenant = await requireTenant(store, id);
      return { tenant, ref: { id: tenant.id, keyspaceName: tenant.keyspaceName } satisfies TenantRef };
    };

    app.get(
      '/api/tenants/:id/events',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['events'],
          summary: 'Engine events (injected, reinjected, read, expunged), newest first',
          description:
            'Filtered by campaign, type, user (an address is hashed first for a tenant that hashes addresses), Message-ID and time range ' +
            '(default: the retention). Pass nextCursor as cursor for the next page.',
          params: TenantParamsSchema,
          querystring: EventListQuerySchema,
          response: { 200: EventPageSchema, ...errorResponses(400, 404) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const query = request.query as EventListQuery;
        const { tenant, ref } = await tenantRef(id);
        const now = Date.now();
        const range = { since: parseTime(query.from, 'from', new Date(now - eventRetentionMs)), until: parseTime(query.to, 'to', new Date(now + CLOCK_SLACK_MS)) };
        const filters = { campaignId: query.campaignId, type: query.type, messageId: query.messageId, userKey: query.user === undefined ? undefined : userKeyOf(tenant, query.user) };
        const page = await store.queryEvents(ref, eventQueryFor(filters, range, query.limit ?? DEFAULT_PAGE_SIZE, decodeCursor(query.cursor)));
        return { events: page.events.map(toApiEvent), ...(page.next === undefined ? {} : { nextCursor: encodeCursor(page.next) }) };
      },
    );

    app.get(
      '/api/tenants/:id/campaigns/:cid/report',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['reports'],
          summary: "A campaign's report: totals, unique users, rates, variants and a time series",
          description:
            'From counters kept as events are recorded. from/to are rounded out to whole hours (default: the campaign’s creation to now). ' +
            'With Accept: text/csv the answer is the series as CSV (start,injected,reinjected,read,expunged).',
          params: CampaignParamsSchema,
          querystring: ReportQuerySchema,
          produces: ['application/json', 'text/csv'],
          response: { 200: CampaignReportSchema, ...errorResponses(400, 404) },
        },
      },
      async (request, reply) => {
        const { id, cid } = request.params as CampaignParams;
        const query = request.query as ReportQuery;
        const { ref } = await tenantRef(id);
        const campaign = await store.getCampaign(ref, cid);
        if (!campaign) throw campaignNotFound(id, cid);
        const bucket = query.bucket ?? 'day';
        const range = reportRange(parseTime(query.from, 'from', new Date(campaign.createdAt)), parseTime(query.to, 'to', new Date()));
        const buckets = (range.until.getTime() - range.since.getTime()) / (bucket === 'hour' ? HOUR_MS : DAY_MS);
        if (buckets > MAX_REPORT_BUCKETS) throw new MiddlewareError('INLAY_MW_VALIDATION', `querystring: a report lists at most ${MAX_REPORT_BUCKETS} buckets; narrow from/to or use bucket=day`);
        const report = buildReport(cid, await store.readCampaignCounters(ref, cid, range), range, bucket);
        if (prefersCsv(request.headers.accept)) {
          return reply.type('text/csv; charset=utf-8').serializer((body: string) => body).send(reportCsv(report));
        }
        return report;
      },
    );

    app.get(
      '/api/tenants/:id/reports',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['reports'],
          summary: 'Every campaign of the tenant with its totals, unique users and rates over its whole life',
          params: TenantParamsSchema,
          response: { 200: CampaignOverviewSchema, ...errorResponses(400, 404) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const { ref } = await tenantRef(id);
        const now = new Date();
        const campaigns = await store.listCampaigns(ref);
        const figures = await Promise.all(
          campaigns.map(async (campaign) => {
            const range = reportRange(new Date(campaign.createdAt), now);
            const { totals, uniqueUsers, readRate, expungeRate } = buildReport(campaign.id, await store.readCampaignCounters(ref, campaign.id, range), range, 'day');
            return { campaignId: campaign.id, name: campaign.name, status: effectiveStatus(campaign, now), totals, uniqueUsers, readRate, expungeRate };
          }),
        );
        return { campaigns: figures };
      },
    );

    app.get(
      '/api/tenants/:id/tracking',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['tracking'],
          summary: 'The campaign messages shown to a user, with every event about each (who saw what, when, from where)',
          description:
            'Give user (every message shown to that user; an address is hashed first for a tenant that hashes addresses), ' +
            'or messageId, or campaignId (paged: pass nextCursor as cursor). Messages past the event retention are gone.',
          params: TenantParamsSchema,
          querystring: TrackingQuerySchema,
          response: { 200: TrackingPageSchema, ...errorResponses(400, 404) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const query = request.query as TrackingQuery;
        const { tenant, ref } = await tenantRef(id);
        const matches = (message: TrackedMessageRecord): boolean =>
          (query.campaignId === undefined || message.campaignId === query.campaignId) && (query.messageId === undefined || message.messageId === query.messageId);
        if (query.user !== undefined) {
          const messages = (await store.listTrackedMessages(ref, userKeyOf(tenant, query.user))).filter(matches);
          messages.sort((a, b) => (b.events[0]?.occurredAt.getTime() ?? 0) - (a.events[0]?.occurredAt.getTime() ?? 0));
          return { messages: messages.map(toApiTrackedMessage) };
        }
        if (query.messageId === undefined && query.campaignId === undefined) {
          throw new MiddlewareError('INLAY_MW_VALIDATION', 'querystring must name user, messageId or campaignId');
        }
        // One injected or reinjected event per shown message: page over those, then read each message.
        const now = Date.now();
        const range = { since: new Date(now - eventRetentionMs), until: new Date(now + CLOCK_SLACK_MS) };
        const filters = { campaignId: query.campaignId, messageId: query.messageId };
        const eventQuery = { ...eventQueryFor(filters, range, query.limit ?? DEFAULT_PAGE_SIZE, decodeCursor(query.cursor)), types: ['injected', 'reinjected'] as const };
        const page = await store.queryEvents(ref, eventQuery);
        const messages = await Promise.all(page.events.map((event) => store.getTrackedMessage(ref, event.userKey, event.objectId)));
        return {
          messages: messages.flatMap((message) => (message === undefined || !matches(message) ? [] : [toApiTrackedMessage(message)])),
          ...(page.next === undefined ? {} : { nextCursor: encodeCursor(page.next) }),
        };
      },
    );

    app.get(
      '/api/tenants/:id/tracking/message.eml',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['tracking'],
          summary: 'The message a user was shown, byte for byte as the client fetched it (message/rfc822)',
          params: TenantParamsSchema,
          querystring: TrackedMessageQuerySchema,
          produces: ['message/rfc822'],
          response: { 200: { description: 'the message, RFC 822', type: 'string' }, ...errorResponses(400, 404) },
        },
      },
      async (request, reply) => {
        const { id } = request.params as TenantParams;
        const query = request.query as TrackedMessageQuery;
        const { tenant, ref } = await tenantRef(id);
        const message = await store.getTrackedMessage(ref, userKeyOf(tenant, query.user), query.objectId);
        if (message?.body === undefined) throw new MiddlewareError('INLAY_MW_TRACKED_MESSAGE_NOT_FOUND');
        return reply.type('message/rfc822').header('content-disposition', `attachment; filename="${query.objectId.replace(':', '-')}.eml"`).send(message.body);
      },
    );
  },
  { name: 'inlay-event-routes' },
);
