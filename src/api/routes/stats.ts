// The stats routes (Tapwire additions for the dashboard): attempts over time for the server, one
// application or one endpoint, the delivery queue, and the endpoints that fail or are slowest.
// Bounded reads: a time window (31 days at most for counts, 7 for latency) and a limit.
import type { ServiceContext } from '../../services/context.js';
import * as stats from '../../services/delivery-stats.js';
import { readDate, readDurationMs, readInteger, type RawQuery } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';

const STATS_WINDOW = {
  since: 'Start of the window, RFC 3339 (default 24 h before until)',
  until: 'End of the window, RFC 3339 (default now)',
  bucket: 'Bucket width such as 1m, 5m, 1h or 1d (default: 24 to 60 buckets in the window)',
};

/** The routes under /api/v1/stats, and the attempts over time of one application or endpoint. */
export function statsRoutes(ctx: ServiceContext): RouteSpec[] {
  const attemptsOverTime = async (q: RawQuery, scope: { appIdOrUid?: string; endpointIdOrUid?: string }) => {
    const result = await stats.countAttemptsOverTime(ctx, { since: readDate(q, 'since'), until: readDate(q, 'until'), bucketMs: readDurationMs(q, 'bucket'), ...scope });
    return {
      since: result.since.toISOString(),
      until: result.until.toISOString(),
      bucketSeconds: result.bucketMs / 1000,
      buckets: result.buckets.map((b) => ({ start: b.start.toISOString(), success: b.success, fail: b.fail })),
      total: result.total,
    };
  };
  return [
    defineRoute({
      method: 'GET', url: '/api/v1/stats/attempts', operationId: 'stats.attempts', summary: 'Attempts of the whole server by outcome over time', tag: 'Stats', access: 'admin',
      query: STATS_WINDOW, responses: { 200: S.AttemptsOverTimeOut },
      handler: async (req) => attemptsOverTime(req.query, {}),
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/app/:app_id/stats/attempts', operationId: 'stats.app_attempts', summary: 'Attempts of one application by outcome over time', tag: 'Stats', access: 'app', needs: ['ViewBase'],
      query: STATS_WINDOW, responses: { 200: S.AttemptsOverTimeOut },
      handler: async (req) => attemptsOverTime(req.query, { appIdOrUid: req.params.app_id }),
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/app/:app_id/endpoint/:endpoint_id/stats/attempts', operationId: 'stats.endpoint_attempts', summary: 'Attempts to one endpoint by outcome over time', tag: 'Stats', access: 'app', needs: ['ViewBase'],
      query: STATS_WINDOW, responses: { 200: S.AttemptsOverTimeOut },
      handler: async (req) => attemptsOverTime(req.query, { appIdOrUid: req.params.app_id, endpointIdOrUid: req.params.endpoint_id }),
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/stats/queue', operationId: 'stats.queue', summary: 'The delivery queue now: waiting, due, and the oldest due', tag: 'Stats', access: 'admin',
      responses: { 200: S.QueueStatsOut },
      handler: async () => {
        const queue = await stats.getQueueStats(ctx);
        return {
          pending: queue.pending,
          due: queue.due,
          oldestDueAt: queue.oldestDueAt?.toISOString() ?? null,
          oldestDueAgeSeconds: queue.oldestDueAgeMs === null ? null : queue.oldestDueAgeMs / 1000,
        };
      },
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/stats/endpoints', operationId: 'stats.endpoints', summary: 'Failing, disabled and slowest endpoints of the whole server', tag: 'Stats', access: 'admin',
      query: {
        since: 'Start of the latency window, RFC 3339 (default 1 h before until; 7 days at most)',
        until: 'End of the latency window, RFC 3339 (default now)',
        limit: 'Endpoints per list, 1–100 (default 10)',
      },
      responses: { 200: S.EndpointHealthOut },
      handler: async (req) => {
        const q = req.query;
        const health = await stats.getEndpointHealth(ctx, { since: readDate(q, 'since'), until: readDate(q, 'until'), limit: readInteger(q, 'limit', { min: 1, max: 100 }) ?? 10 });
        const item = ({ endpoint, appName }: stats.EndpointHealthItem) => ({
          appId: endpoint.appId,
          appName,
          endpointId: endpoint.id,
          url: endpoint.url,
          description: endpoint.description,
          disabled: endpoint.disabled,
          failingSince: endpoint.failingSince?.toISOString() ?? null,
          updatedAt: endpoint.updatedAt.toISOString(),
        });
        return {
          since: health.since.toISOString(),
          until: health.until.toISOString(),
          failing: health.failing.map(item),
          disabled: health.disabled.map(item),
          slowest: health.slowest,
        };
      },
    }),
  ];
}
