/**
 * Error responses every route documents in OpenAPI, by status, all with the `{code, message}`
 * body. The error handler shapes the bodies whatever a route declares; these say which codes a
 * client can meet where. Must never declare an error body other than ErrorBodySchema.
 */
import { ErrorBodySchema } from '@inlay/schemas';

const DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'INLAY_MW_VALIDATION (the message names the field) or other malformed input',
  401: 'INLAY_MW_UNAUTHENTICATED: no bearer token, or an unknown one (with WWW-Authenticate: Bearer)',
  403: 'INLAY_MW_FORBIDDEN: the token may not use this route',
  404: 'INLAY_MW_TENANT_NOT_FOUND, or the *_NOT_FOUND of what the path names (INLAY_MW_TOKEN_NOT_FOUND, INLAY_MW_CAMPAIGN_NOT_FOUND, …)',
  409: 'INLAY_MW_TENANT_EXISTS, INLAY_MW_KEYSPACE_IN_USE, INLAY_MW_KEYSPACE_MISSING, INLAY_MW_DOMAIN_IN_USE, INLAY_MW_CONCURRENT_UPDATE or INLAY_MW_CAMPAIGN_STATE',
  412: 'INLAY_MW_CAMPAIGN_MODIFIED: If-Match names a revision that is no longer current',
  413: 'INLAY_MW_BODY_TOO_LARGE',
  415: 'INLAY_MW_UNSUPPORTED_MEDIA_TYPE',
  500: 'INLAY_MW_INTERNAL',
  503: 'INLAY_MW_STORE_UNAVAILABLE, or INLAY_MW_INTERNAL_API_DISABLED on /internal/… when no internal token is configured',
};

/** Every route can answer 401, 403, 500 and 503; `statuses` adds the route's own. */
export function errorResponses(...statuses: number[]): Record<number, unknown> {
  const responses: Record<number, unknown> = {};
  for (const status of [...statuses, 401, 403, 500, 503].sort()) {
    responses[status] = { ...ErrorBodySchema, description: DESCRIPTIONS[status] ?? 'error' };
  }
  return responses;
}

/** Statuses of a route that reads a JSON body. */
export const BODY_ERRORS = [400, 413, 415] as const;
