// Svix's statistics operations: usage per application over a window (application.stats) and the
// event types each application's endpoints subscribe to (event-type.aggregate). Both look at every
// application, so they run as background tasks of no application, one batch of applications at a
// time, and the result builds up in the task's `data` (GET /api/v1/background-task/{id}).
import {
  advanceAppBatch,
  aggregateEventTypes,
  type AppUsageStatsData,
  type BackgroundTask,
  type BackgroundTaskKind,
  type EventTypeAggregateData,
} from '../domain/background-tasks.js';
import { newId } from '../domain/ids.js';
import { validationError } from '../errors/tapwire-error.js';
import type { BackgroundTaskRunner } from './background-tasks.js';
import type { ServiceContext } from './context.js';

/**
 * Start an `application.stats` task: for each application (those of `appIds`, by id or uid, or
 * every one when null), its messages created in [since, until), the (message, endpoint) pairs they
 * were queued for (`messageDestinations`, Svix's measure) and the attempts made in the window.
 * Answers at once with the running task and the `appIds` that matched no application; none
 * matching is a 422, as Svix documents.
 */
export async function aggregateAppStats(
  ctx: ServiceContext,
  runner: BackgroundTaskRunner | null,
  input: { since: Date; until: Date; appIds?: string[] | null },
): Promise<{ task: BackgroundTask; unresolvedAppIds: string[] }> {
  if (input.since >= input.until) throw validationError(['body', 'since'], 'since must be before until');
  let appIds: string[] | null = null;
  const unresolvedAppIds: string[] = [];
  if (input.appIds) {
    const resolved = new Set<string>();
    for (const idOrUid of input.appIds) {
      const app = await ctx.store.getApplication(idOrUid);
      if (app) resolved.add(app.id);
      else unresolvedAppIds.push(idOrUid);
    }
    if (resolved.size === 0) throw validationError(['body', 'appIds'], 'none of the given application ids or uids exists');
    appIds = [...resolved].sort();
  }
  const data: AppUsageStatsData = { since: input.since.toISOString(), until: input.until.toISOString(), appIds, appStats: [], batches: 0 };
  const task = await startTask(ctx, runner, 'application.stats', data as unknown as Record<string, unknown>);
  return { task, unresolvedAppIds };
}

/**
 * Start an `event-type.aggregate` task: for each application, the event types its live endpoints
 * name in their filters and whether one of them has no filter (it receives every type). Disabled
 * endpoints count: they keep their subscriptions.
 */
export async function aggregateEventTypesTask(ctx: ServiceContext, runner: BackgroundTaskRunner | null): Promise<BackgroundTask> {
  const data: EventTypeAggregateData = { event_types: [], batches: 0 };
  return startTask(ctx, runner, 'event-type.aggregate', data as unknown as Record<string, unknown>);
}

/** The task after its next batch of `limit` applications (read only; the caller saves it). */
export async function runStatisticsBatch(ctx: ServiceContext, task: BackgroundTask, limit: number, now: Date): Promise<BackgroundTask> {
  if (task.task === 'application.stats') {
    const data = task.data as unknown as AppUsageStatsData;
    const stats = await ctx.store.countApplicationUsage({
      afterAppId: task.cursor,
      appIds: data.appIds,
      since: new Date(data.since),
      until: new Date(data.until),
      limit,
    });
    return advanceAppBatch(task, 'appStats', stats, limit, now);
  }
  if (task.task === 'event-type.aggregate') {
    const apps = await ctx.store.listApplicationEndpointFilters({ afterAppId: task.cursor, limit });
    return advanceAppBatch(task, 'event_types', apps.map(aggregateEventTypes), limit, now);
  }
  throw new Error(`${task.task} is not a statistics task`);
}

async function startTask(ctx: ServiceContext, runner: BackgroundTaskRunner | null, kind: BackgroundTaskKind, data: Record<string, unknown>): Promise<BackgroundTask> {
  const now = ctx.clock.now();
  const task = await ctx.store.createBackgroundTask(
    { id: newId('qtask', now.getTime()), appId: null, task: kind, status: 'running', data, cursor: null, createdAt: now, updatedAt: now },
    runner?.leaseFor(now) ?? null,
  );
  ctx.logger.info({ taskId: task.id, task: kind }, 'statistics task started');
  runner?.start(task);
  return task;
}
