// Svix's Statistics API: usage per application over a window, and the event types each
// application's endpoints subscribe to. Both start a background task over every application and
// answer 202 at once; the result fills the task's `data` (GET /api/v1/background-task/{id}).
// (stats.ts holds Tapwire's own read-at-once statistics for the dashboard.)
import type { Static } from '@sinclair/typebox';
import type { ServiceContext } from '../../services/context.js';
import * as statistics from '../../services/statistics.js';
import { defineRoute, type ApiOptions, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { startedTaskOut } from '../serializers.js';

/** POST /api/v1/stats/usage/app and PUT /api/v1/stats/usage/event-types (admin token only). */
export function statisticsRoutes(ctx: ServiceContext, options: ApiOptions = {}): RouteSpec[] {
  const runner = options.backgroundTasks ?? null;
  return [
    defineRoute({
      method: 'POST', url: '/api/v1/stats/usage/app', operationId: 'statistics.aggregate_app_stats', tag: 'Statistics', access: 'admin',
      summary: 'Start counting what each application used in a window (messages, message destinations, attempts)',
      description:
        'A background task (`application.stats`) over the applications of `appIds` (ids or uids) or every one. Its data ends as ' +
        '`{appStats: [{appId, appUid, messageDestinations, messages, attempts}]}`: messageDestinations counts the (message, endpoint) pairs ' +
        'the messages created in [since, until) were queued for; messages and attempts (Tapwire additions) count messages created and attempts made in the window.',
      body: S.AppUsageStatsIn, responses: { 202: S.AppUsageStatsOut },
      handler: async (req, reply) => {
        const body = req.body as Static<typeof S.AppUsageStatsIn>;
        const { task, unresolvedAppIds } = await statistics.aggregateAppStats(ctx, runner, { since: new Date(body.since), until: new Date(body.until), appIds: body.appIds ?? null });
        return reply.status(202).send({ ...startedTaskOut(task), unresolvedAppIds });
      },
    }),
    defineRoute({
      method: 'PUT', url: '/api/v1/stats/usage/event-types', operationId: 'statistics.aggregate_event_types', tag: 'Statistics', access: 'admin',
      summary: 'Start listing the event types each application subscribes to',
      description:
        'A background task (`event-type.aggregate`) over every application. Its data ends as `{event_types: [{appId, explicitlySubscribedEventTypes, hasCatchAllEndpoint}]}`: ' +
        'the event types named by the filters of its endpoints (disabled ones included, deleted ones not), and whether one of them has no filter.',
      responses: { 202: S.AggregateEventTypesOut },
      handler: async (_req, reply) => reply.status(202).send(startedTaskOut(await statistics.aggregateEventTypesTask(ctx, runner))),
    }),
  ];
}
