// Serves the web dashboard from the API's own port: `/` for operators, `/portal` for the customer
// portal links of app-portal-access, the static files under `/dashboard/`, and the branding the
// page asks for. The page is plain files shipped in the package (no CDN); it holds no privileges of
// its own and calls the public API with the visitor's bearer token.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TapwireConfig } from '../config/config.js';
import { TapwireError } from '../errors/tapwire-error.js';
import type { ServiceContext } from '../services/context.js';
import { defineRoute, type RouteSpec } from '../api/route-spec.js';
import * as S from '../api/schemas.js';
import { VERSION } from '../version.js';

/** The page's files: next to this module (src/ when run by tests, dist/ once built). */
const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** Read every servable file once at start-up; requests look names up in this map, never on disk. */
export function loadDashboardAssets(dir: string = PUBLIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    const path = join(dir, name);
    if (!contentType || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    assets.set(name, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return assets;
}

/**
 * The Content-Security-Policy of every dashboard response. Scripts and styles come only from this
 * server (no inline code at all); images also from `data:` and `https:` for a brand logo; the page
 * talks only to this server. `frameAncestors` says who may frame the document.
 */
export function dashboardCsp(frameAncestors: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors.join(' ')}`,
  ].join('; ');
}

/** The dashboard's routes (documented in the OpenAPI document like every other route). */
export function dashboardRoutes(ctx: ServiceContext): RouteSpec[] {
  const assets = loadDashboardAssets();
  const config: TapwireConfig = ctx.config;
  // The operator dashboard holds an admin token: nobody may frame it (clickjacking). The portal
  // may be framed by the sender's product, as TAPWIRE_PORTAL_FRAME_ANCESTORS allows.
  const operatorCsp = dashboardCsp(["'none'"]);
  const portalCsp = dashboardCsp(config.portalFrameAncestors);
  const portalFrameOptions =
    config.portalFrameAncestors.length === 1 && config.portalFrameAncestors[0] === "'self'"
      ? 'SAMEORIGIN'
      : config.portalFrameAncestors[0] === "'none'"
        ? 'DENY'
        : null;

  const send = (request: FastifyRequest, reply: FastifyReply, name: string, csp: string, frameOptions: string | null): FastifyReply => {
    const asset = assets.get(name);
    if (!asset) throw new TapwireError('not_found', { detail: `No dashboard file named '${name}'` });
    void reply
      .header('content-security-policy', csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cross-origin-opener-policy', 'same-origin')
      // Revalidate every time (a cheap 304): a new version of Tapwire is picked up at once.
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag);
    if (frameOptions) void reply.header('x-frame-options', frameOptions);
    if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
    return reply.status(200).type(asset.contentType).send(asset.body);
  };

  return [
    defineRoute({
      method: 'GET', url: '/', operationId: 'dashboard.index', summary: 'The web dashboard (log in with the admin token or an app token)', tag: 'Dashboard', access: 'public',
      responses: { 200: null }, textContentType: 'text/html',
      handler: async (req, reply) => send(req, reply, 'index.html', operatorCsp, 'DENY'),
    }),
    defineRoute({
      method: 'GET', url: '/portal', operationId: 'dashboard.portal', summary: 'The customer portal, target of app-portal-access links (#token=…)', tag: 'Dashboard', access: 'public',
      responses: { 200: null }, textContentType: 'text/html',
      handler: async (req, reply) => send(req, reply, 'index.html', portalCsp, portalFrameOptions),
    }),
    defineRoute({
      method: 'GET', url: '/dashboard/:file', operationId: 'dashboard.asset', summary: 'A static file of the dashboard (scripts, styles, icons)', tag: 'Dashboard', access: 'public',
      responses: { 200: null }, textContentType: 'application/octet-stream',
      handler: async (req, reply) => {
        const name = req.params.file;
        // index.html is only served as a page, with the page's own policy.
        if (name === 'index.html') throw new TapwireError('not_found', { detail: `No dashboard file named '${name}'` });
        return send(req, reply, name, operatorCsp, null);
      },
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/ui/config', operationId: 'dashboard.config', summary: 'Branding of the dashboard and portal (TAPWIRE_BRAND_*)', tag: 'Dashboard', access: 'public',
      responses: { 200: S.UiConfigOut },
      handler: async () => ({ brand: { name: config.brandName, color: config.brandColor, logoUrl: config.brandLogoUrl }, version: VERSION }),
    }),
  ];
}
