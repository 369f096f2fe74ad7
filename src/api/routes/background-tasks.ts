// The background-task routes: the replays, recovers, bulk operations and statistics requests
// started, and their progress. No application in the path: an application-scoped token sees only
// its own application's tasks (never the statistics, which belong to no application).
import { BACKGROUND_TASK_KINDS, BACKGROUND_TASK_STATUSES, type BackgroundTaskKind, type BackgroundTaskStatus } from '../../domain/background-tasks.js';
import * as backgroundTasks from '../../services/background-tasks.js';
import type { ServiceContext } from '../../services/context.js';
import { ID_CURSOR, LIST_QUERY, readEnum, readListQuery } from '../query.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { backgroundTaskOut, pageOut } from '../serializers.js';

const bt = '/api/v1/background-task';

/** The routes under /api/v1/background-task. */
export function backgroundTaskRoutes(ctx: ServiceContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET', url: bt, operationId: 'background_task.list', summary: 'List background tasks, newest first', tag: 'Background Task', access: 'app', needs: ['ViewBase'],
      query: { ...LIST_QUERY, status: 'running, finished or failed', task: BACKGROUND_TASK_KINDS.join(', ') },
      responses: { 200: S.ListResponse(S.BackgroundTaskOut, 'BackgroundTaskOut') },
      handler: async (req) => {
        const q = req.query;
        const page = await backgroundTasks.listBackgroundTasks(ctx, req.principal, {
          ...readListQuery(q, ID_CURSOR.qtask, 'descending'),
          status: readEnum<BackgroundTaskStatus>(q, 'status', BACKGROUND_TASK_STATUSES),
          task: readEnum<BackgroundTaskKind>(q, 'task', BACKGROUND_TASK_KINDS),
        });
        return pageOut(page, backgroundTaskOut);
      },
    }),
    defineRoute({
      method: 'GET', url: `${bt}/:task_id`, operationId: 'background_task.get', summary: 'Get a background task and its progress', tag: 'Background Task', access: 'app', needs: ['ViewBase'],
      responses: { 200: S.BackgroundTaskOut },
      handler: async (req) => backgroundTaskOut(await backgroundTasks.getBackgroundTask(ctx, req.principal, req.params.task_id)),
    }),
  ];
}
