// The probes operators and monitoring call without credentials: liveness, health of the store and
// the worker, and the Prometheus metrics.
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
      // Public like the health routes: Prometheus scrapes without credentials. It shows counts and
      // endpoint ids, never payloads or secrets; keep the port off the internet as for the API.
      method: 'GET', url: '/metrics', operationId: 'metrics.get', summary: 'Prometheus metrics: attempts, latency, queue, in-flight, SSRF refusals', tag: 'Health', access: 'public',
      responses: { 200: null }, textContentType: 'text/plain; version=0.0.4',
      handler: async (_req, reply) => {
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
