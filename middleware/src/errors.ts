/**
 * The middleware's one error registry: every failure a client can see has a stable code
 * (`INLAY_MW_…`, never reused for another meaning), an HTTP status, and a default sentence.
 * `errorHandler` turns anything thrown in a request — ours, Fastify's, a schema violation — into
 * the `{code, message}` body; `notFoundHandler` answers unknown routes.
 *
 * Must never put a request's values into a message (field names only: a rejected body may hold
 * a secret), and must never let an unexpected error out as anything but a logged 500.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from '@inlay/schemas';
import { describeValidationFailure } from './validation.js';

export const ERROR_REGISTRY = {
  INLAY_MW_VALIDATION: { status: 400, message: 'the request does not match the schema' },
  INLAY_MW_BAD_JSON: { status: 400, message: 'the body is not valid JSON' },
  INLAY_MW_BAD_REQUEST: { status: 400, message: 'the request is malformed' },
  INLAY_MW_DUPLICATE_ID: { status: 400, message: 'two entries of the list have the same id' },
  INLAY_MW_DEFAULT_DATA_SOURCE: { status: 400, message: 'exactly one data source must have defaultDataSource true' },
  INLAY_MW_SECRET_REQUIRED: { status: 400, message: 'a secret key is required' },
  INLAY_MW_UNAUTHENTICATED: { status: 401, message: 'a valid bearer token is required' },
  INLAY_MW_FORBIDDEN: { status: 403, message: 'this token may not use this route' },
  INLAY_MW_ROUTE_NOT_FOUND: { status: 404, message: 'no such route' },
  INLAY_MW_TENANT_NOT_FOUND: { status: 404, message: 'no such tenant' },
  INLAY_MW_TOKEN_NOT_FOUND: { status: 404, message: 'no such token' },
  INLAY_MW_TENANT_EXISTS: { status: 409, message: 'a tenant with this id exists' },
  INLAY_MW_KEYSPACE_IN_USE: { status: 409, message: 'the keyspace belongs to another tenant' },
  INLAY_MW_KEYSPACE_MISSING: { status: 409, message: "the tenant's keyspace does not exist" },
  INLAY_MW_CONCURRENT_UPDATE: { status: 409, message: 'the resource kept changing while it was being updated; retry' },
  INLAY_MW_REQUEST_TIMEOUT: { status: 408, message: 'the request took too long to arrive' },
  INLAY_MW_BODY_TOO_LARGE: { status: 413, message: 'the body is too large' },
  INLAY_MW_URL_TOO_LONG: { status: 414, message: 'a path segment is too long' },
  INLAY_MW_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'the body must be application/json' },
  INLAY_MW_HEADERS_TOO_LARGE: { status: 431, message: 'the request headers are too large' },
  INLAY_MW_INTERNAL: { status: 500, message: 'internal error; the log has the details' },
  INLAY_MW_STORE_UNAVAILABLE: { status: 503, message: 'the store is unavailable; retry later' },
  // Campaigns.
  INLAY_MW_CAMPAIGN_NOT_FOUND: { status: 404, message: 'no such campaign' },
  INLAY_MW_CAMPAIGN_STATE: { status: 409, message: "the campaign's status does not allow this" },
  INLAY_MW_CAMPAIGN_MODIFIED: { status: 412, message: 'the campaign changed since the revision in If-Match' },
  INLAY_MW_TEMPLATE_INVALID: { status: 400, message: 'a template does not compile' },
  // Templates, data sources and imports (S3 or a local directory).
  INLAY_MW_DATA_SOURCE_NOT_FOUND: { status: 404, message: 'the tenant has no such data source' },
  INLAY_MW_IMPORT_NOT_FOUND: { status: 404, message: 'no such import' },
  INLAY_MW_IMPORT_FORMAT: { status: 400, message: 'the import format cannot be told from the object key; give format "csv" or "jsonl"' },
  INLAY_MW_IMPORT_STATE: { status: 409, message: 'only a failed import can be retried' },
  INLAY_MW_TEMPLATE_KEY_INVALID: { status: 400, message: 'the template key is not a plain relative path' },
  INLAY_MW_TEMPLATE_NOT_FOUND: { status: 424, message: 'the template object does not exist' },
  INLAY_MW_TEMPLATE_TOO_LARGE: { status: 424, message: 'the template object is too large' },
  INLAY_MW_TEMPLATE_RENDER: { status: 422, message: 'the template could not be rendered' },
  INLAY_MW_DATA_SOURCE_UNAVAILABLE: { status: 502, message: 'the data source (S3) refused or could not be reached' },
  // Conversion point deliveries.
  INLAY_MW_CONVERSION_POINT_NOT_FOUND: { status: 404, message: 'the tenant has no such conversion point' },
  INLAY_MW_DELIVERY_NOT_FOUND: { status: 404, message: 'the conversion point has no such delivery' },
  INLAY_MW_DELIVERY_ADDRESS_REFUSED: { status: 400, message: 'a conversion point URL reaches an address deliveries may not go to' },
  // Tenant resolution and the internal engine API.
  INLAY_MW_DOMAIN_IN_USE: { status: 409, message: 'another tenant already serves this domain' },
  INLAY_MW_INTERNAL_API_DISABLED: {
    status: 503,
    message: 'the internal engine API is off: no internalToken is configured (set INLAY_INTERNAL_TOKEN on the middleware and the proxy)',
  },
  // Events, reports and message tracking.
  INLAY_MW_TRACKED_MESSAGE_NOT_FOUND: { status: 404, message: 'no message with this object id was shown to this user (or it is past the retention)' },
  // The audit trail.
  INLAY_MW_AUDIT_NOT_RECORDED: {
    status: 500,
    message: 'the change was applied but no audit entry was written for it; the log has the change and the reason',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

export class MiddlewareError extends Error {
  override readonly name = 'MiddlewareError';
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_REGISTRY[code].message,
    /** Response headers that belong to this error (WWW-Authenticate on a 401). */
    readonly headers: Readonly<Record<string, string>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.statusCode = ERROR_REGISTRY[code].status;
  }
}

export function isMiddlewareError(error: unknown, code?: ErrorCode): error is MiddlewareError {
  return error instanceof MiddlewareError && (code === undefined || error.code === code);
}

/** Fastify's own codes for a request it could not accept, and what a client is told instead
 *  (Fastify's messages quote the URL or body, so none is passed on). */
const FASTIFY_ERRORS: Readonly<Record<string, { code: ErrorCode; message?: string }>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'INLAY_MW_UNSUPPORTED_MEDIA_TYPE', message: 'the body must be sent as Content-Type: application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'INLAY_MW_BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INLAY_MW_BAD_JSON', message: 'the body is not valid JSON (or holds a __proto__ / constructor.prototype key)' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INLAY_MW_BAD_JSON', message: 'the body is empty but Content-Type says JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INLAY_MW_BAD_REQUEST', message: 'the body is not as long as Content-Length says' },
  FST_ERR_BAD_URL: { code: 'INLAY_MW_BAD_REQUEST', message: 'the URL is not valid percent-encoded UTF-8' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'INLAY_MW_URL_TOO_LONG' },
};

/** Maps anything thrown to the response a client gets; pure, so it can be tested alone. */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody; headers: Record<string, string>; unexpected: boolean } {
  if (error instanceof MiddlewareError) {
    return { status: error.statusCode, body: { code: error.code, message: error.message }, headers: { ...error.headers }, unexpected: false };
  }
  const fastifyError = error as Partial<FastifyError> | null;
  if (fastifyError?.validation) {
    const message = describeValidationFailure(fastifyError.validation, fastifyError.validationContext ?? 'body');
    return { status: 400, body: { code: 'INLAY_MW_VALIDATION', message }, headers: {}, unexpected: false };
  }
  const mapped = fastifyError?.code ? FASTIFY_ERRORS[fastifyError.code] : undefined;
  if (mapped) {
    const message = mapped.message ?? ERROR_REGISTRY[mapped.code].message;
    return { status: ERROR_REGISTRY[mapped.code].status, body: { code: mapped.code, message }, headers: {}, unexpected: false };
  }
  // Any other client error Fastify raises (an aborted upload, a bad header): keep its status,
  // not its message, which may quote the input.
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { code: 'INLAY_MW_BAD_REQUEST', message: ERROR_REGISTRY.INLAY_MW_BAD_REQUEST.message }, headers: {}, unexpected: false };
  }
  return { status: 500, body: { code: 'INLAY_MW_INTERNAL', message: ERROR_REGISTRY.INLAY_MW_INTERNAL.message }, headers: {}, unexpected: true };
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const response = toErrorResponse(error);
  if (response.unexpected) {
    request.log.error({ err: error }, 'unexpected error');
  } else if (response.status >= 500) {
    request.log.warn({ code: response.body.code, err: (error as Error).message }, 'request failed');
  } else {
    request.log.info({ code: response.body.code, status: response.status }, 'request rejected');
  }
  void reply.code(response.status).headers(response.headers).type('application/json; charset=utf-8').send(response.body);
}

/**
 * Answers requests Node's HTTP parser refused before Fastify saw them (malformed request line,
 * oversized headers, a request that took too long) in the same `{code, message}` form, then
 * closes the connection: after a parse error the byte stream cannot be trusted.
 */
export function clientErrorHandler(error: Error & { code?: string | undefined }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'INLAY_MW_REQUEST_TIMEOUT' : error.code === 'HPE_HEADER_OVERFLOW' ? 'INLAY_MW_HEADERS_TOO_LARGE' : 'INLAY_MW_BAD_REQUEST';
  const { status, message } = ERROR_REGISTRY[code];
  const body = JSON.stringify({ code, message } satisfies ErrorBody);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The longest stretch of an unknown path repeated in the 404 message. */
const MAX_ECHOED_PATH_CHARS = 100;

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0] ?? '';
  // Printable ASCII only, bounded: the path is the client's input and may be hostile.
  const shown = path.slice(0, MAX_ECHOED_PATH_CHARS).replace(/[^\x21-\x7e]/g, '?');
  const body: ErrorBody = { code: 'INLAY_MW_ROUTE_NOT_FOUND', message: `no route ${request.method} ${shown}; see /api/openapi.json` };
  void reply.code(404).type('application/json; charset=utf-8').send(body);
}
