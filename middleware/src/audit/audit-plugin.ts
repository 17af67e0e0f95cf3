/**
 * Records every REST change in the audit trail. A route that changes something wraps its store
 * call: `await request.audited(() => store.change(…), () => ({action, tenantId, target, before,
 * after}))`; this plugin adds who (the token's id and name), when, from where (request.ip), which
 * route, masks the secrets and computes the diff (mask.ts, diff.ts). The embedded store writes
 * the entry in the change's own transaction (embedded-atomic.ts); otherwise (Cassandra) it is
 * appended right after the change, before the answer. `request.audit(…)` appends after a change
 * that is not one store call. If the entry cannot be written the request fails
 * (INLAY_MW_AUDIT_NOT_RECORDED, logged with the masked entry) — never a success without it.
 *
 * A guard holds the routes to it: a POST, PUT, PATCH or DELETE outside /internal/ that answers
 * 2xx without having recorded an entry is turned into a 500 and logged, so a new route that
 * forgets auditing cannot report success (and the route-table test fails on it). The internal
 * engine API (the proxy's view traffic, many per second) and reads are not audited.
 *
 * Must never store or log a secret: `before`/`after` go through maskSecrets first.
 */
import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditTargetType, ErrorBody } from '@inlay/schemas';
import { ERROR_REGISTRY, MiddlewareError } from '../errors.js';
import type { AuditActor, AuditEntry, Store } from '../store/store.js';
import { pendingAuditEntry, type PendingAuditEntry } from '../store/audit-types.js';
import { diffStates } from './diff.js';
import { maskSecrets } from './mask.js';

export interface AuditedChange {
  /** `<target>.<verb>`: tenant.create, campaign.schedule, token.revoke, … */
  readonly action: string;
  readonly tenantId: string;
  readonly target: { readonly type: AuditTargetType; readonly id: string };
  /** The target before the change; null when it did not exist. Unmasked: masking happens here. */
  readonly before: unknown;
  /** The target after; null when it is gone. */
  readonly after: unknown;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Runs the store call `op` with the change's entry pending, so a store that can writes it in
     *  the same transaction; else it is appended right after. `change` is read once the store
     *  has run the change's callbacks (closures they set are filled). Prefer this. */
    audited<T>(op: () => Promise<T>, change: () => AuditedChange): Promise<T>;
    /** Appends the entry of a change already made (for changes that are not one store call). */
    audit(change: AuditedChange): Promise<void>;
    auditRecorded: boolean;
  }
}

export interface AuditPluginOptions {
  readonly store: Store;
  /** How long entries are kept (config audit.retentionDays). */
  readonly retentionMs: number;
  readonly clock?: () => Date;
}

export const ADMIN_ACTOR: AuditActor = { kind: 'admin', tokenId: 'admin', name: 'admin' };

const CHANGING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a request of this method to this route must leave an audit entry. */
export function isAuditedRoute(method: string, routeUrl: string | undefined): boolean {
  return routeUrl !== undefined && CHANGING_METHODS.has(method) && !routeUrl.startsWith('/internal/');
}

/** Fastify's `/api/tenants/:id/x` as OpenAPI writes it: `/api/tenants/{id}/x`. */
export const openApiPath = (routeUrl: string): string => routeUrl.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function actorOf(request: FastifyRequest): AuditActor {
  const principal = request.principal;
  switch (principal?.kind) {
    case 'admin':
      return ADMIN_ACTOR;
    case 'tenant':
      return { kind: 'tenant', tokenId: principal.tokenId, name: principal.tokenName ?? `token of ${principal.tenantId}` };
    case 'internal':
    case undefined:
      // Audited routes admit only admin and tenant tokens (auth-plugin.ts); reaching here is a bug.
      throw new MiddlewareError('INLAY_MW_INTERNAL', 'an audited change without an admin or tenant principal');
  }
}

export function buildAuditEntry(request: FastifyRequest, change: AuditedChange, now: Date): AuditEntry {
  return {
    id: randomUUID(),
    atMs: now.getTime(),
    tenantId: change.tenantId,
    actor: actorOf(request),
    address: request.ip,
    requestId: String(request.id),
    route: `${request.method} ${openApiPath(request.routeOptions.url ?? request.url)}`,
    action: change.action,
    target: change.target,
    before: maskSecrets(change.before ?? null),
    after: maskSecrets(change.after ?? null),
    changes: diffStates(change.before ?? null, change.after ?? null),
  };
}

export const auditPlugin = fp(
  async (app: FastifyInstance, { store, retentionMs, clock = () => new Date() }: AuditPluginOptions) => {
    app.decorateRequest('auditRecorded', false);
    app.decorateRequest('audit', async function (this: FastifyRequest, change: AuditedChange): Promise<void> {
      const entry = buildAuditEntry(this, change, clock());
      try {
        await store.audit.append(entry, retentionMs);
      } catch (error) {
        // The entry (masked) goes to the log, so an operator can still see what happened.
        this.log.error({ err: (error as Error).message, audit: entry }, 'change applied but its audit entry was not written');
        throw new MiddlewareError('INLAY_MW_AUDIT_NOT_RECORDED');
      }
      this.auditRecorded = true;
    });
    app.decorateRequest('audited', async function <T>(this: FastifyRequest, op: () => Promise<T>, change: () => AuditedChange): Promise<T> {
      const now = clock();
      const pending: PendingAuditEntry = { build: () => buildAuditEntry(this, change(), now), keepForMs: retentionMs, written: false };
      const result = await pendingAuditEntry.run(pending, op);
      if (pending.written) this.auditRecorded = true;
      else await this.audit(change());
      return result;
    });

    app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      if (reply.statusCode >= 300 || request.auditRecorded || !isAuditedRoute(request.method, request.routeOptions.url)) return payload;
      request.log.error({ route: request.routeOptions.url, method: request.method }, 'a change was answered without an audit entry; answering 500');
      const body: ErrorBody = { code: 'INLAY_MW_AUDIT_NOT_RECORDED', message: ERROR_REGISTRY.INLAY_MW_AUDIT_NOT_RECORDED.message };
      void reply.code(500).type('application/json; charset=utf-8');
      reply.removeHeader('location');
      reply.removeHeader('etag');
      return JSON.stringify(body);
    });
  },
  { name: 'inlay-audit' },
);
