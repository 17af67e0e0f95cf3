/**
 * Who may call which route. Each route declares `config.access`:
 * - `public`: anyone (the OpenAPI document);
 * - `admin`: only the admin token (creating, listing and deleting tenants; managing tokens);
 * - `tenant`: the admin token, or a token of the tenant named by the route's `:id` (or, on a route
 *   without one, by `?tenant=`);
 * - `signedIn`: any admin or tenant token (GET /api/session: who the caller is, for the web UI);
 * - `internal`: only the internal token the proxy presents (the engine API, routes/internal.ts).
 *   The internal token may use nothing else, and no other token may use these: a leaked proxy
 *   configuration cannot manage tenants, an admin script cannot forge a user's view. Without a
 *   configured internal token these routes answer 503 INLAY_MW_INTERNAL_API_DISABLED to everyone.
 * A route that declares nothing is admin-only: forgetting to declare must never open a route.
 *
 * 401 means "we do not know who you are" (no token, malformed, unknown) and carries
 * `WWW-Authenticate: Bearer`; 403 means "we know, and you may not" — a tenant token on another
 * tenant's route or on an admin route. A tenant token gets 403 on another tenant's routes whether
 * or not that tenant exists, so tokens cannot probe for tenant ids. Runs before body parsing and
 * validation: an unauthenticated client learns nothing about schemas.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MiddlewareError } from '../errors.js';
import type { Store } from '../store/store.js';
import { TENANT_TOKEN_PREFIX, configuredTokenMatcher, hashToken, hashesEqual } from './tokens.js';

export type RouteAccess = 'public' | 'admin' | 'tenant' | 'signedIn' | 'internal';

export type Principal = { readonly kind: 'admin' } | { readonly kind: 'internal' } | { readonly kind: 'tenant'; readonly tenantId: string; readonly tokenId: string; readonly tokenName?: string };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface AuthOptions {
  readonly store: Store;
  readonly adminToken: string;
  /** The proxy's token for the internal engine API; absent: that API is off. */
  readonly internalToken?: string | undefined;
}

/** Tokens we issue are 51 characters; anything much longer is not one of ours. */
const MAX_TOKEN_CHARS = 512;
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const CHALLENGE = 'Bearer realm="inlay"';

function unauthenticated(message: string, error?: 'invalid_request' | 'invalid_token'): MiddlewareError {
  const challenge = error ? `${CHALLENGE}, error="${error}"` : CHALLENGE;
  return new MiddlewareError('INLAY_MW_UNAUTHENTICATED', message, { 'www-authenticate': challenge });
}

export const authPlugin = fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    const isAdminToken = configuredTokenMatcher(options.adminToken);
    const internalToken = options.internalToken;
    const isInternalToken = internalToken === undefined ? () => false : configuredTokenMatcher(internalToken);

    async function authenticate(header: string | undefined): Promise<Principal> {
      if (header === undefined || header === '') throw unauthenticated('send the header Authorization: Bearer <token>');
      const token = BEARER.exec(header)?.[1];
      if (token === undefined || token.length > MAX_TOKEN_CHARS) {
        throw unauthenticated('the Authorization header must be "Bearer <token>"', 'invalid_request');
      }
      if (isAdminToken(token)) return { kind: 'admin' };
      if (isInternalToken(token)) return { kind: 'internal' };
      if (token.startsWith(TENANT_TOKEN_PREFIX)) {
        const tokenHash = hashToken(token);
        const record = await options.store.findTenantTokenByHash(tokenHash);
        if (record && hashesEqual(record.tokenHash, tokenHash)) {
          return { kind: 'tenant', tenantId: record.tenantId, tokenId: record.tokenId, ...(record.name === undefined ? {} : { tokenName: record.name }) };
        }
      }
      throw unauthenticated('the bearer token is unknown or revoked', 'invalid_token');
    }

    function authorize(principal: Principal, access: RouteAccess, request: FastifyRequest): void {
      if (access === 'public') return;
      if (access === 'internal') {
        if (principal.kind === 'internal') return;
        throw new MiddlewareError('INLAY_MW_FORBIDDEN', 'only the internal token (internalToken) may use the internal engine API');
      }
      if (principal.kind === 'internal') throw new MiddlewareError('INLAY_MW_FORBIDDEN', 'the internal token may only use the internal engine API (/internal/…)');
      if (principal.kind === 'admin') return;
      switch (access) {
        case 'signedIn':
          return;
        case 'admin':
          throw new MiddlewareError('INLAY_MW_FORBIDDEN', 'only the admin token may use this route');
        case 'tenant': {
          // A route without a tenant in its path (GET /api/audit) names it in ?tenant=.
          const tenantId = (request.params as { id?: unknown } | undefined)?.id ?? (request.query as { tenant?: unknown } | undefined)?.tenant;
          if (tenantId === principal.tenantId) return;
          throw new MiddlewareError('INLAY_MW_FORBIDDEN', `this token belongs to tenant "${principal.tenantId}" and may only use that tenant's routes`);
        }
      }
    }

    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (request) => {
      // Unknown routes answer 404 to everyone; the route list is public (OpenAPI) anyway.
      if (request.is404) return;
      const access = request.routeOptions.config.access ?? 'admin';
      if (access === 'public') return;
      if (access === 'internal' && internalToken === undefined) throw new MiddlewareError('INLAY_MW_INTERNAL_API_DISABLED');
      const principal = await authenticate(request.headers.authorization);
      authorize(principal, access, request);
      request.principal = principal;
    });
  },
  { name: 'inlay-auth' },
);
