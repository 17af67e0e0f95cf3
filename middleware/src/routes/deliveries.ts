/**
 * The operator's view of a conversion point's deliveries: its signing secret (read and rotate),
 * its health, the delivery log with every attempt, resend of one delivery, recover (resend
 * everything that failed since a time), enable and disable. All under
 * /api/tenants/{id}/conversionPoints/{cpid}/….
 *
 * Must never put a secret anywhere but the body of the two secret routes, and never in a log.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  DeliveryDetailSchema,
  DeliveryListQuerySchema,
  DeliveryParamsSchema,
  DeliverySummaryListSchema,
  PointHealthSchema,
  PointParamsSchema,
  PointSecretSchema,
  RecoverBodySchema,
  RequeuedSchema,
  type ConversionPoint,
  type DeliveryListQueryInput,
  type DeliveryParams,
  type PointParams,
  type RecoverBody,
  type Tenant,
} from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import type { Store } from '../store/store.js';
import { requireTenant } from '../store/store-errors.js';
import type { Delivery, DeliveryAttempt, PointState } from '../delivery/delivery-types.js';
import { ensurePointSecret } from '../delivery/dispatcher.js';
import { pointHealth } from '../delivery/point-health.js';
import { rotateSecrets, signingSecrets } from '../delivery/webhook.js';
import { BODY_ERRORS, errorResponses } from './responses.js';

const tags = ['conversionPoints'];
const base = '/api/tenants/:id/conversionPoints/:cpid';

export interface DeliveryRouteOptions {
  readonly store: Store;
  /** Called when deliveries were requeued, so the dispatcher looks at once. */
  readonly onRequeue?: () => void;
}

export const deliveryRoutes = fp(
  async (app: FastifyInstance, { store, onRequeue }: DeliveryRouteOptions) => {
    const point = async (params: PointParams): Promise<{ tenant: Tenant; point: ConversionPoint }> => {
      const tenant = await requireTenant(store, params.id);
      const found = tenant.conversionPoints.find((candidate) => candidate.id === params.cpid);
      if (found === undefined) throw new MiddlewareError('INLAY_MW_CONVERSION_POINT_NOT_FOUND', `tenant "${params.id}" has no conversion point "${params.cpid}"`);
      return { tenant, point: found };
    };
    const currentSecret = (state: PointState): string => signingSecrets(state.secrets, Date.now()).at(-1)!.secret;

    app.get(base + '/secret', { config: { access: 'tenant' }, schema: { tags, summary: "The point's Standard Webhooks signing secret", params: PointParamsSchema, response: { 200: PointSecretSchema, ...errorResponses(400, 404) } } }, async (request) => {
      const { tenant } = await point(request.params as PointParams);
      return { secret: currentSecret(await ensurePointSecret(store, tenant, (request.params as PointParams).cpid)) };
    });

    app.post(
      base + '/secret/rotate',
      { config: { access: 'tenant' }, schema: { tags, summary: 'Rotate the signing secret; the old one keeps signing alongside for 24 h', params: PointParamsSchema, response: { 200: PointSecretSchema, ...errorResponses(400, 404) } } },
      async (request) => {
        const params = request.params as PointParams;
        const { tenant } = await point(params);
        let replaced: PointState | null = null;
        let next: PointState | null = null;
        const state = await request.audited(
          () =>
            store.deliveries.changePointState(tenant, params.cpid, (current) => {
              replaced = current ?? null;
              next = { ...(current ?? { secrets: [] }), secrets: rotateSecrets(current?.secrets ?? [], Date.now()) };
              return next;
            }),
          () => ({ action: 'conversionPoint.rotateSecret', tenantId: params.id, target: { type: 'conversionPoint', id: params.cpid }, before: replaced, after: next }),
        );
        request.log.info({ tenant: params.id, point: params.cpid }, 'conversion point secret rotated');
        return { secret: currentSecret(state) };
      },
    );

    const health = async (tenant: Tenant, pointId: string): Promise<Record<string, unknown>> => {
      const [state, backlog] = await Promise.all([store.deliveries.getPointState(tenant, pointId), store.deliveries.backlog(tenant, pointId)]);
      return {
        pointId,
        health: pointHealth(state),
        ...(state?.disabled === undefined ? {} : { disabledReason: state.disabled.reason, disabledAt: iso(state.disabled.atMs) }),
        ...(state?.lastSuccessAtMs === undefined ? {} : { lastSuccessAt: iso(state.lastSuccessAtMs) }),
        ...(state?.lastFailureAtMs === undefined ? {} : { lastFailureAt: iso(state.lastFailureAtMs) }),
        ...(state?.failingSinceMs === undefined ? {} : { failingSince: iso(state.failingSinceMs) }),
        ...(state?.lastError === undefined ? {} : { lastError: state.lastError }),
        backlog,
      };
    };

    app.get(base + '/health', { config: { access: 'tenant' }, schema: { tags, summary: "The point's delivery health and backlog", params: PointParamsSchema, response: { 200: PointHealthSchema, ...errorResponses(400, 404) } } }, async (request) => {
      const params = request.params as PointParams;
      const { tenant } = await point(params);
      return health(tenant, params.cpid);
    });

    app.get(
      base + '/deliveries',
      { config: { access: 'tenant' }, schema: { tags, summary: "The point's deliveries, newest first", params: PointParamsSchema, querystring: DeliveryListQuerySchema, response: { 200: DeliverySummaryListSchema, ...errorResponses(400, 404) } } },
      async (request) => {
        const params = request.params as PointParams;
        const query = request.query as DeliveryListQueryInput;
        const { tenant } = await point(params);
        const list = await store.deliveries.listDeliveries(tenant, { pointId: params.cpid, limit: query.limit ?? 100, ...(query.state === undefined ? {} : { state: query.state }) });
        return list.map(summary);
      },
    );

    app.get(
      base + '/deliveries/:deliveryId',
      { config: { access: 'tenant' }, schema: { tags, summary: 'One delivery with every attempt', params: DeliveryParamsSchema, response: { 200: DeliveryDetailSchema, ...errorResponses(400, 404) } } },
      async (request) => {
        const params = request.params as DeliveryParams;
        const { tenant } = await point(params);
        const delivery = await requireDelivery(store, tenant, params);
        const log = await store.deliveries.listAttempts(tenant, params.cpid, params.deliveryId);
        return { ...summary(delivery), event: delivery.event, log: log.map(attemptView) };
      },
    );

    app.post(
      base + '/deliveries/:deliveryId/resend',
      { config: { access: 'tenant' }, schema: { tags, summary: 'Send a delivery again (same webhook-id), now', params: DeliveryParamsSchema, response: { 202: RequeuedSchema, ...errorResponses(400, 404) } } },
      async (request, reply) => {
        const params = request.params as DeliveryParams;
        const { tenant } = await point(params);
        const before = await requireDelivery(store, tenant, params);
        await store.deliveries.requeue(tenant, params.cpid, params.deliveryId, Date.now());
        const after = await store.deliveries.getDelivery(tenant, params.cpid, params.deliveryId);
        await request.audit({ action: 'delivery.resend', tenantId: params.id, target: { type: 'delivery', id: params.deliveryId }, before: summary(before), after: after === undefined ? null : summary(after) });
        onRequeue?.();
        return reply.code(202).send({ requeued: 1 });
      },
    );

    app.post(
      base + '/recover',
      { config: { access: 'tenant' }, schema: { tags, summary: 'Resend every failed or dead delivery made since a time', params: PointParamsSchema, body: RecoverBodySchema, response: { 202: RequeuedSchema, ...errorResponses(...BODY_ERRORS, 404) } } },
      async (request, reply) => {
        const params = request.params as PointParams;
        const since = Date.parse((request.body as RecoverBody).since);
        if (Number.isNaN(since)) throw new MiddlewareError('INLAY_MW_VALIDATION', 'body.since must be an ISO 8601 date-time');
        const { tenant } = await point(params);
        const requeued = await store.deliveries.recover(tenant, params.cpid, since, Date.now(), 'failed');
        await request.audit({ action: 'conversionPoint.recover', tenantId: params.id, target: { type: 'conversionPoint', id: params.cpid }, before: null, after: { since: iso(since), requeued } });
        request.log.info({ tenant: params.id, point: params.cpid, requeued }, 'conversion point recovery requested');
        onRequeue?.();
        return reply.code(202).send({ requeued });
      },
    );

    for (const action of ['enable', 'disable'] as const) {
      app.post(
        `${base}/${action}`,
        { config: { access: 'tenant' }, schema: { tags, summary: action === 'enable' ? 'Deliver to the point again (its waiting deliveries go at once)' : 'Stop delivering to the point (deliveries wait)', params: PointParamsSchema, response: { 200: PointHealthSchema, ...errorResponses(400, 404) } } },
        async (request) => {
          const params = request.params as PointParams;
          const { tenant } = await point(params);
          let replaced: PointState | null = null;
          let next: PointState | null = null;
          await request.audited(
            () =>
              store.deliveries.changePointState(tenant, params.cpid, (current) => {
                replaced = current ?? null;
                const { disabled: _disabled, failingSinceMs: _failing, ...rest } = current ?? { secrets: [] };
                next = action === 'enable' ? rest : { ...(current ?? { secrets: [] }), disabled: current?.disabled ?? { reason: 'disabled by an operator', atMs: Date.now() } };
                return next;
              }),
            () => ({ action: `conversionPoint.${action}`, tenantId: params.id, target: { type: 'conversionPoint', id: params.cpid }, before: replaced, after: next }),
          );
          // Deliveries parked while the point was disabled go now.
          if (action === 'enable') await store.deliveries.recover(tenant, params.cpid, 0, Date.now(), 'pending');
          request.log.info({ tenant: params.id, point: params.cpid, action }, 'conversion point ' + action + 'd');
          onRequeue?.();
          return health(tenant, params.cpid);
        },
      );
    }
  },
  { name: 'inlay-delivery-routes' },
);

async function requireDelivery(store: Store, tenant: Tenant, params: DeliveryParams): Promise<Delivery> {
  const delivery = await store.deliveries.getDelivery(tenant, params.cpid, params.deliveryId);
  if (delivery === undefined) throw new MiddlewareError('INLAY_MW_DELIVERY_NOT_FOUND', `conversion point "${params.cpid}" has no delivery ${params.deliveryId}`);
  return delivery;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function summary(delivery: Delivery): Record<string, unknown> {
  return {
    deliveryId: delivery.eventId,
    eventType: delivery.eventType,
    state: delivery.state,
    attempts: delivery.attempts,
    createdAt: iso(delivery.createdAtMs),
    updatedAt: iso(delivery.updatedAtMs),
    ...(delivery.state === 'pending' ? { nextAttemptAt: iso(delivery.dueAtMs) } : {}),
    ...(delivery.lastResult === undefined ? {} : { lastResult: delivery.lastResult }),
  };
}

function attemptView(attempt: DeliveryAttempt): Record<string, unknown> {
  return {
    attempt: attempt.attempt,
    at: iso(attempt.atMs),
    ok: attempt.ok,
    ...(attempt.status === undefined ? {} : { status: attempt.status }),
    latencyMs: attempt.latencyMs,
    ...(attempt.response === undefined ? {} : { response: attempt.response }),
    ...(attempt.error === undefined ? {} : { error: attempt.error }),
  };
}
