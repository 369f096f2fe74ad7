// The probes operators and monitoring call without API credentials: liveness, health of the store
// and the worker, and the Prometheus metrics (behind TAPWIRE_METRICS_TOKEN when one is set).
import { createHash, timingSafeEqual } from 'node:crypto';
import { TapwireError } from '../../errors/tapwire-error.js';
import type { ServiceContext } from '../../services/context.js';
import { defineRoute, type ApiOptions, type RouteSpec } from '../route-spec.js';

/** GET /api/v1/health/ping, GET /metrics and GET /api/v1/health. */
export function healthRoutes(ctx: ServiceContext, options: ApiOptions): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: '/api/v1/health/ping', operationId: 'health.ping', summary: 'Liveness probe', tag: 'Health', access: 'public',
      responses: { 204: null },
      handler: async (_req, reply) => reply.status(204).send(),
    }),
    defineRoute({
      // Public by default like the health routes: Prometheus scrapes without credentials. It shows
      // counts and endpoint ids, never payloads or secrets. It is not an API route, so API tokens do
      // not open it; TAPWIRE_METRICS_TOKEN does, for a port that customers' browsers can reach.
      method: 'GET', url: '/metrics', operationId: 'metrics.get', summary: 'Prometheus metrics: attempts, latency, queue, in-flight, SSRF refusals', tag: 'Health', access: 'public',
      description: 'Public unless the server sets TAPWIRE_METRICS_TOKEN; then it requires `Authorization: Bearer <that token>` and answers 401 without it.',
      bearerOptional: true,
      responses: { 200: null }, textContentType: 'text/plain; version=0.0.4',
      handler: async (req, reply) => {
        const token = ctx.config.metricsToken;
        if (token !== null && !presentsToken(req.headers.authorization, token)) {
          throw new TapwireError('authentication_failed', { detail: 'GET /metrics needs the metrics token: Authorization: Bearer <TAPWIRE_METRICS_TOKEN>' });
        }
        if (!options.metrics) throw new TapwireError('not_found', { detail: 'Metrics are not enabled on this server' });
        const text = await options.metrics.render();
        return reply.status(200).header('content-type', options.metrics.contentType).send(text);
      },
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/health', operationId: 'health.get', summary: 'Health of the store and the worker', tag: 'Health', access: 'public',
      responses: { 200: null },
      handler: async (_req, reply) => {
        const store = await ctx.store.ping().catch((error: unknown) => ({ ok: false, detail: (error as Error).message }));
        const worker = options.workerStatus?.() ?? null;
        const ok = store.ok;
        return reply.status(ok ? 200 : 503).send({
          status: ok ? 'ok' : 'unavailable',
          store: { status: store.ok ? 'ok' : 'unavailable', kind: ctx.store.kind, ...(store.ok ? {} : { detail: store.detail }) },
          worker: worker ? { status: worker.running ? 'ok' : 'stopped', activeAttempts: worker.activeAttempts } : { status: 'disabled' },
        });
      },
    }),
  ];
}

/**
 * Whether `header` is `Bearer <token>`. Both sides are hashed first so the comparison takes the same
 * time whatever the presented value's length, and timingSafeEqual then compares equal-length digests.
 */
function presentsToken(header: string | undefined, token: string): boolean {
  const match = /^Bearer +(\S+)$/i.exec(header ?? '');
  const presented = match ? match[1]! : '';
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(token)) && match !== null;
}
