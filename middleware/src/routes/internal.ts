/**
 * The internal engine API the proxy calls (schemas/src/engine.ts has the contract), all POST with
 * JSON bodies:
 *
 *   /internal/v1/views          the user's current view (cheap: one partition read, cached lists)
 *   /internal/v1/views/assign   inject the campaigns that apply now, if the epoch still holds
 *   /internal/v1/views/reveal   raise the epoch (before a session shows newly arrived real mail)
 *   /internal/v1/views/flags    flag changes on virtual messages, shared by all sessions
 *   /internal/v1/views/expunge  virtual messages a client expunged
 *
 * Open only to the internal token (access 'internal', auth-plugin.ts); without one configured
 * every route answers 503 INLAY_MW_INTERNAL_API_DISABLED. The logic is in src/engine/; this file
 * only validates and hands over. Must never answer an unknown user with an error: an empty view
 * is the answer, so a login never fails because of the campaign side.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import {
  AssignRequestSchema,
  AssignResultSchema,
  ExpungeRequestSchema,
  FlagsRequestSchema,
  InboxViewSchema,
  ViewKeySchema,
  type AssignRequest,
  type ExpungeRequest,
  type FlagsRequest,
  type ViewKey,
} from '@inlay/schemas';
import type { Engine } from '../engine/engine.js';
import { BODY_ERRORS, errorResponses } from './responses.js';

export interface InternalRouteOptions {
  readonly engine: Engine;
}

const tags = ['internal'];
/** The proxy calls these several times per IMAP session: Fastify's two info lines per request
 *  would be most of the log and a third of the CPU of a request. Failures still log. */
const logLevel = 'warn';
/** A CONCURRENT_UPDATE (409) when a view kept changing under a compare-and-set. */
const ERRORS = errorResponses(...BODY_ERRORS, 409);

export const internalRoutes = fp(
  async (app: FastifyInstance, { engine }: InternalRouteOptions) => {
    app.post(
      '/internal/v1/views',
      {
        config: { access: 'internal' },
        logLevel,
        schema: {
          tags,
          summary: "A user's INBOX view of virtual messages",
          description: 'Resolves tenant and user from the login; an unknown user gets known:false and an empty view. Persists withdrawals that are due.',
          body: ViewKeySchema,
          response: { 200: InboxViewSchema, ...ERRORS },
        },
      },
      async (request) => engine.view(request.body as ViewKey),
    );

    app.post(
      '/internal/v1/views/assign',
      {
        config: { access: 'internal' },
        logLevel,
        schema: {
          tags,
          summary: 'Inject the campaigns that apply now after anchorServerUid',
          description:
            "Atomic per user and mailbox: applies only if the view's epoch is still the request's (else applied:false and nothing is assigned). " +
            'New UIDs take free slots after anchorServerUid × 16, never a UID used before.',
          body: AssignRequestSchema,
          response: { 200: AssignResultSchema, ...ERRORS },
        },
      },
      async (request) => engine.assign(request.body as AssignRequest),
    );

    app.post(
      '/internal/v1/views/reveal',
      {
        config: { access: 'internal' },
        logLevel,
        schema: {
          tags,
          summary: 'Raise the epoch before showing newly arrived real mail',
          description: 'Any assign that read an older epoch then fails, so no virtual message is placed below real mail a client has seen.',
          body: ViewKeySchema,
          response: { 200: InboxViewSchema, ...ERRORS },
        },
      },
      async (request) => engine.reveal(request.body as ViewKey),
    );

    app.post(
      '/internal/v1/views/flags',
      {
        config: { access: 'internal' },
        logLevel,
        schema: {
          tags,
          summary: 'Flag changes on virtual messages (shared by all sessions)',
          description: 'Unknown, withdrawn and expunged UIDs are ignored. The first \\Seen on a message records a read event.',
          body: FlagsRequestSchema,
          response: { 200: InboxViewSchema, ...ERRORS },
        },
      },
      async (request) => engine.flags(request.body as FlagsRequest),
    );

    app.post(
      '/internal/v1/views/expunge',
      {
        config: { access: 'internal' },
        logLevel,
        schema: {
          tags,
          summary: 'Virtual messages a client expunged',
          description: 'They are never listed again; an expunged event is recorded once per message.',
          body: ExpungeRequestSchema,
          response: { 200: InboxViewSchema, ...ERRORS },
        },
      },
      async (request) => engine.expunge(request.body as ExpungeRequest),
    );
  },
  { name: 'inlay-internal-routes' },
);
