/**
 * Serves the Campaign Management web UI (cmp-ui/dist, built by Vite) at `/`: hashed assets under
 * /assets/ with a year's immutable caching, and index.html — never cached — for every other GET
 * path that is not the API's, so the single-page app's own routes (/t/default/campaigns) load on
 * reload or from a link. /api/… and /internal/… keep answering the API's JSON 404.
 *
 * Every answer carries a strict Content-Security-Policy: scripts and styles only from this
 * origin (no inline script), no plugins, no framing of the UI, connections only to this origin.
 * Inline style attributes are allowed because campaign HTML previewed in the UI's sandboxed
 * frame uses them; images only from this origin or data: URLs, so a preview never loads remote
 * content (a srcdoc frame inherits this policy).
 *
 * Must never serve a file outside the UI folder (@fastify/send refuses `..`), and never answer
 * an /api/ path with the UI.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFoundHandler } from '../errors.js';

export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

export interface UiRouteOptions {
  /** The built UI (cmp-ui/dist); absent or missing: no UI routes, the API alone. */
  readonly root: string | undefined;
}

/** Paths the UI must never shadow. */
const API_PREFIXES = ['/api/', '/internal/'];

export const uiRoutes = fp(
  async (app: FastifyInstance, { root }: UiRouteOptions) => {
    if (root === undefined || !existsSync(join(root, 'index.html'))) return;
    await app.register(fastifyStatic, { root, serve: false });

    const secure = (reply: FastifyReply): FastifyReply =>
      reply
        .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer');

    app.get('/assets/*', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
      const file = (request.params as { '*': string })['*'];
      return secure(reply).sendFile(join('assets', file), root, { immutable: true, maxAge: '365d' });
    });

    const indexPage = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0] ?? '/';
      if (API_PREFIXES.some((prefix) => path.startsWith(prefix)) || path === '/api') return notFoundHandler(request, reply);
      return secure(reply).header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
    };
    app.get('/', { config: { access: 'public' }, schema: { hide: true } }, indexPage);
    app.get('/*', { config: { access: 'public' }, schema: { hide: true } }, indexPage);
  },
  { name: 'inlay-ui-routes' },
);
