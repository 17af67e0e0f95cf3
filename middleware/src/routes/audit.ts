/**
 * Reading the audit trail (audit/audit-plugin.ts writes it):
 *
 *   GET /api/audit                   every change, newest first, filtered by tenant, actor (token
 *                                    id), action, route, target and time; cursor paging as in
 *                                    GET …/events. The admin sees all; a tenant token must name
 *                                    its own tenant (?tenant=), else 403.
 *   GET /api/tenants/{id}/history    the tenant's configuration history, OX Engage-style: changes
 *                                    to the tenant, its data sources, conversion points and
 *                                    campaigns (not tokens, imports or resends). Kept after the
 *                                    tenant is deleted, so it answers for a deleted one too.
 *
 * Read-only: these routes are not audited. Must never show a secret (entries are masked before
 * they are stored).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  AuditPageSchema,
  AuditQuerySchema,
  DEFAULT_PAGE_SIZE,
  HISTORY_TARGET_TYPES,
  HistoryQuerySchema,
  TenantParamsSchema,
  type AuditEntryView,
  type AuditPage,
  type AuditQuery,
  type HistoryQuery,
  type TenantParams,
} from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { parseTime } from '../events/event-query.js';
import type { AuditCursor, AuditEntry, AuditStorePage, AuditStoreQuery, Store } from '../store/store.js';
import { errorResponses } from './responses.js';

export interface AuditRouteOptions {
  readonly store: Store;
  /** How far back a listing looks by default: nothing older is kept. */
  readonly retentionMs: number;
}

/** Entries a little ahead of this node's clock (another node's) still show in a default listing. */
const CLOCK_SLACK_MS = 60_000;

export function encodeAuditCursor(cursor: AuditCursor): string {
  return Buffer.from(`${cursor.atMs}.${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeAuditCursor(text: string | undefined): AuditCursor | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (match === null) throw new MiddlewareError('INLAY_MW_VALIDATION', 'querystring.cursor is not a cursor this API gave out');
  return { atMs: Number(match[1]), id: match[2]! };
}

export function toAuditView(entry: AuditEntry): AuditEntryView {
  return {
    id: entry.id,
    at: new Date(entry.atMs).toISOString(),
    tenantId: entry.tenantId,
    actor: entry.actor,
    address: entry.address,
    requestId: entry.requestId,
    route: entry.route,
    action: entry.action,
    target: entry.target,
    before: entry.before,
    after: entry.after,
    changes: [...entry.changes],
  };
}

const toPage = (page: AuditStorePage): AuditPage => ({ entries: page.entries.map(toAuditView), ...(page.next === undefined ? {} : { nextCursor: encodeAuditCursor(page.next) }) });

export const auditRoutes = fp(
  async (app: FastifyInstance, { store, retentionMs }: AuditRouteOptions) => {
    const window = (query: { from?: string | undefined; to?: string | undefined; limit?: number | undefined; cursor?: string | undefined }) => {
      const now = Date.now();
      const after = decodeAuditCursor(query.cursor);
      return {
        since: parseTime(query.from, 'from', new Date(now - retentionMs)),
        until: parseTime(query.to, 'to', new Date(now + CLOCK_SLACK_MS)),
        limit: query.limit ?? DEFAULT_PAGE_SIZE,
        ...(after === undefined ? {} : { after }),
      };
    };

    app.get(
      '/api/audit',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['audit'],
          summary: 'The audit trail of REST changes, newest first',
          description:
            'Who (token id and name), when, from which address, which route, and the target before and after (secrets masked) with the changed fields. ' +
            'The admin sees every tenant; a tenant token must pass its own tenant as ?tenant= (else 403). Pass nextCursor as cursor for the next page.',
          querystring: AuditQuerySchema,
          response: { 200: AuditPageSchema, ...errorResponses(400) },
        },
      },
      async (request) => {
        const query = request.query as AuditQuery;
        const storeQuery: AuditStoreQuery = {
          ...window(query),
          ...(query.tenant === undefined ? {} : { tenantId: query.tenant }),
          ...(query.actor === undefined ? {} : { actorTokenId: query.actor }),
          ...(query.action === undefined ? {} : { action: query.action }),
          ...(query.route === undefined ? {} : { route: query.route }),
          ...(query.targetType === undefined ? {} : { targetTypes: [query.targetType] }),
          ...(query.targetId === undefined ? {} : { targetId: query.targetId }),
        };
        return toPage(await store.audit.query(storeQuery));
      },
    );

    app.get(
      '/api/tenants/:id/history',
      {
        config: { access: 'tenant' },
        schema: {
          tags: ['audit'],
          summary: "The tenant's configuration history, newest first",
          description:
            'Changes to the tenant, its data sources, conversion points and campaigns, in the audit trail\'s entry form (secrets masked). ' +
            'Kept for the audit retention, also after the tenant was deleted.',
          params: TenantParamsSchema,
          querystring: HistoryQuerySchema,
          response: { 200: AuditPageSchema, ...errorResponses(400) },
        },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        const query = request.query as HistoryQuery;
        return toPage(
          await store.audit.query({
            ...window(query),
            tenantId: id,
            targetTypes: query.targetType === undefined ? HISTORY_TARGET_TYPES : [query.targetType],
            ...(query.targetId === undefined ? {} : { targetId: query.targetId }),
          }),
        );
      },
    );
  },
  { name: 'inlay-audit-routes' },
);
