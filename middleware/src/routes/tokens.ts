/**
 * API tokens of a tenant, managed by the admin: POST creates one and returns it once, GET lists
 * ids and creation times, DELETE revokes. Only the SHA-256 of a token is stored.
 *
 * Must never return or log a token except in the one response that creates it.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  TenantParamsSchema,
  TenantTokenCreateSchema,
  TenantTokenCreatedSchema,
  TenantTokenInfoListSchema,
  TenantTokenParamsSchema,
  type TenantParams,
  type TenantTokenCreate,
  type TenantTokenCreated,
  type TenantTokenParams,
} from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { generateTenantToken } from '../auth/tokens.js';
import { requireTenant } from '../store/store-errors.js';
import { BODY_ERRORS, errorResponses } from './responses.js';
import type { StoreOptions } from './tenants.js';

const tags = ['tokens'];

export const tokenRoutes = fp(
  async (app: FastifyInstance, { store }: StoreOptions) => {
    app.post(
      '/api/tenants/:id/tokens',
      {
        config: { access: 'admin' },
        // The body is optional (callers from before token names send none): no body is {}.
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          tags,
          summary: 'Create an API token for a tenant',
          description:
            'The token is in this response only; store it now. It may use the routes of this tenant and no others. ' +
            'An optional body {"name": "…"} names it: the audit trail shows the name with every change made by the token.',
          params: TenantParamsSchema,
          body: TenantTokenCreateSchema,
          response: { 201: TenantTokenCreatedSchema, ...errorResponses(...BODY_ERRORS, 404) },
        },
      },
      async (request, reply) => {
        const { id } = request.params as TenantParams;
        const { name } = request.body as TenantTokenCreate;
        const { tokenId, token, tokenHash } = generateTenantToken();
        const createdAt = new Date();
        const named = name === undefined ? {} : { name };
        await request.audited(
          () => store.createTenantToken({ tenantId: id, tokenId, tokenHash, createdAt, ...named }),
          () => ({ action: 'token.create', tenantId: id, target: { type: 'token', id: tokenId }, before: null, after: { id: tokenId, ...named, createdAt } }),
        );
        request.log.info({ tenant: id, tokenId }, 'tenant token created');
        const body: TenantTokenCreated = { id: tokenId, ...named, token, createdAt: createdAt.toISOString() };
        return reply.code(201).header('cache-control', 'no-store').send(body);
      },
    );

    app.get(
      '/api/tenants/:id/tokens',
      {
        config: { access: 'admin' },
        schema: { tags, summary: "List a tenant's API tokens (ids only)", params: TenantParamsSchema, response: { 200: TenantTokenInfoListSchema, ...errorResponses(400, 404) } },
      },
      async (request) => {
        const { id } = request.params as TenantParams;
        // An unknown tenant is a 404, not an empty list: a typo in the id should not look fine.
        await requireTenant(store, id);
        const tokens = await store.listTenantTokens(id);
        return tokens.map((token) => ({ id: token.tokenId, ...(token.name === undefined ? {} : { name: token.name }), createdAt: token.createdAt.toISOString() }));
      },
    );

    app.delete(
      '/api/tenants/:id/tokens/:tokenId',
      {
        config: { access: 'admin' },
        schema: { tags, summary: 'Revoke an API token', params: TenantTokenParamsSchema, response: { 204: { type: 'null', description: 'revoked' }, ...errorResponses(400, 404) } },
      },
      async (request, reply) => {
        const { id, tokenId } = request.params as TenantTokenParams;
        // Looked up first: a revoke of nothing must not reach the store with an entry pending.
        const revoked = (await store.listTenantTokens(id)).find((token) => token.tokenId === tokenId);
        const notFound = () => new MiddlewareError('INLAY_MW_TOKEN_NOT_FOUND', `tenant "${id}" has no token ${tokenId}`);
        if (revoked === undefined) throw notFound();
        const { tenantId: _tenant, ...before } = revoked;
        const done = await request.audited(
          () => store.revokeTenantToken(id, tokenId),
          () => ({ action: 'token.revoke', tenantId: id, target: { type: 'token', id: tokenId }, before, after: null }),
        );
        if (!done) throw notFound();
        request.log.info({ tenant: id, tokenId }, 'tenant token revoked');
        return reply.code(204).send();
      },
    );
  },
  { name: 'inlay-token-routes' },
);
