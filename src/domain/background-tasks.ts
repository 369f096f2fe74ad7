// Background tasks: work an API request starts and the server finishes after answering 202
// (replaying the messages an endpoint never got), with progress a client reads through
// GET /api/v1/background-task/{id}. The shape follows Svix's BackgroundTaskOut.
//
// - background task: one row per request; `data` is the progress document shown to clients,
//                    `cursor` where a batched task has got to (never shown).
// - replay-missing:  `endpoint.replay`; every message of the application created in [since, until)
//                    that has no delivery to the endpoint and that the endpoint's filters accept
//                    now gets one manual delivery.
// - usage stats:     `application.stats`; per application (all, or the ones asked for), what it
//                    used in [since, until): messages, message destinations, attempts.
// - event-type
//   aggregate:       `event-type.aggregate`; per application, the event types its endpoints
//                    subscribe to by name, and whether one of them takes every type.
// The last two belong to no application (appId null) and run in batches of applications.

/** Where a task is: Svix's BackgroundTaskStatus. */
export type BackgroundTaskStatus = 'running' | 'finished' | 'failed';
export const BACKGROUND_TASK_STATUSES: readonly BackgroundTaskStatus[] = ['running', 'finished', 'failed'];

/** The kinds Tapwire runs (Svix's BackgroundTaskType names). */
export type BackgroundTaskKind = 'endpoint.replay' | 'endpoint.recover' | 'application.stats' | 'event-type.aggregate';
export const BACKGROUND_TASK_KINDS: readonly BackgroundTaskKind[] = ['endpoint.replay', 'endpoint.recover', 'application.stats', 'event-type.aggregate'];

export interface BackgroundTask {
  /** `qtask_…`, time-sortable like every id. */
  id: string;
  /** The application the task works on; null for the tasks over every application (statistics). */
  appId: string | null;
  task: BackgroundTaskKind;
  status: BackgroundTaskStatus;
  /** Progress and parameters, shown to clients as is (for a replay: {@link ReplayMissingData}). */
  data: Record<string, unknown>;
  /** The last message id a batched task has dealt with; null before the first batch. */
  cursor: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The `data` of an `endpoint.replay` task: what it was asked for, and how far it got. */
export interface ReplayMissingData {
  endpointId: string;
  /** RFC 3339; the window is [since, until) of message creation time. */
  since: string;
  until: string;
  /** Messages of the window looked at so far. */
  scanned: number;
  /** Deliveries queued so far (one per message the endpoint never got and accepts). */
  queued: number;
  /** Messages the endpoint never got and accepts, not queued because their payload expired or was expunged. */
  skippedExpired: number;
  /** Batches done so far (each one transaction). */
  batches: number;
  /** Why the task failed (the endpoint was disabled or deleted meanwhile). */
  error?: string;
}

/** What one replay batch found among the next messages of the window. */
export interface ReplayBatchOutcome {
  scanned: number;
  queued: number;
  skippedExpired: number;
  /** The last message id of the batch (the new cursor); null when the batch was empty. */
  lastMsgId: string | null;
  /** The batch was not full: the window is done. */
  done: boolean;
}

/** The parameters a replay task was created with, read back from its data. */
export function replayWindowOf(task: BackgroundTask): { appId: string; endpointId: string; since: Date; until: Date } {
  const data = task.data as unknown as ReplayMissingData;
  // A replay is always created for one application (replayMissing); null here is a bug.
  if (task.appId === null) throw new Error(`replay task ${task.id} has no application`);
  return { appId: task.appId, endpointId: data.endpointId, since: new Date(data.since), until: new Date(data.until) };
}

/** The task after one batch: counters added, cursor moved, finished when the window is done. */
export function advanceReplay(task: BackgroundTask, outcome: ReplayBatchOutcome, now: Date): BackgroundTask {
  const data = task.data as unknown as ReplayMissingData;
  const next: ReplayMissingData = {
    ...data,
    scanned: data.scanned + outcome.scanned,
    queued: data.queued + outcome.queued,
    skippedExpired: data.skippedExpired + outcome.skippedExpired,
    batches: data.batches + 1,
  };
  return {
    ...task,
    status: outcome.done ? 'finished' : 'running',
    data: next as unknown as Record<string, unknown>,
    cursor: outcome.lastMsgId ?? task.cursor,
    updatedAt: now,
  };
}

/** The task ended as failed, with the reason in `data.error`. */
export function failTask(task: BackgroundTask, error: string, now: Date): BackgroundTask {
  return { ...task, status: 'failed', data: { ...task.data, error }, updatedAt: now };
}

/**
 * Why a replay cannot go on with its endpoint as it is now (null: it can). A replay queues only
 * what the endpoint accepts now, and a disabled or deleted endpoint accepts nothing.
 */
export function replayStopReason(endpoint: { deleted: boolean; disabled: boolean } | null): string | null {
  if (!endpoint || endpoint.deleted) return 'The endpoint was deleted';
  if (endpoint.disabled) return 'The endpoint was disabled; enable it and replay again';
  return null;
}

// Statistics over every application ------------------------------------------------------------

/** One application's usage in the window of an `application.stats` task (Svix's appStats item). */
export interface AppUsageStat {
  appId: string;
  appUid: string | null;
  /** Message × endpoint pairs the application's messages of the window were sent to (Svix's billing unit). */
  messageDestinations: number;
  /** Tapwire addition: messages accepted in the window. */
  messages: number;
  /** Tapwire addition: delivery attempts made in the window (retries, resends and recovers included). */
  attempts: number;
}

/** The `data` of an `application.stats` task: its parameters, and the stats of the applications done so far. */
export interface AppUsageStatsData {
  /** RFC 3339; the window is [since, until). */
  since: string;
  until: string;
  /** The applications asked for, resolved to ids; null = every application. */
  appIds: string[] | null;
  /** One item per application, by id; complete once the task has finished. */
  appStats: AppUsageStat[];
  batches: number;
  error?: string;
}

/** One application's subscriptions (Svix's `event_types` item of an `event-type.aggregate` task). */
export interface AppEventTypes {
  appId: string;
  /** Every event type named by a filter of one of its endpoints, sorted. */
  explicitlySubscribedEventTypes: string[];
  /** One of its endpoints has no event-type filter: it receives every type. */
  hasCatchAllEndpoint: boolean;
}

/** The `data` of an `event-type.aggregate` task; `event_types` is spelled as Svix documents it. */
export interface EventTypeAggregateData {
  event_types: AppEventTypes[];
  batches: number;
  error?: string;
}

/** The event-type filters of one application's endpoints (deleted ones left out; null = no filter). */
export interface AppEndpointFilters {
  appId: string;
  filters: (string[] | null)[];
}

/** What an application's endpoints subscribe to: the union of their filters, and whether one has none. */
export function aggregateEventTypes(app: AppEndpointFilters): AppEventTypes {
  const names = new Set<string>();
  let catchAll = false;
  for (const filter of app.filters) {
    if (filter === null) catchAll = true;
    else for (const name of filter) names.add(name);
  }
  return { appId: app.appId, explicitlySubscribedEventTypes: [...names].sort(), hasCatchAllEndpoint: catchAll };
}

/**
 * The task after one batch of a statistics task: the batch's items appended, the cursor at the last
 * application of the batch, finished when the batch was not full. `items` are in application id order.
 */
export function advanceAppBatch<Item extends { appId: string }>(
  task: BackgroundTask,
  key: 'appStats' | 'event_types',
  items: Item[],
  limit: number,
  now: Date,
): BackgroundTask {
  const data = task.data as { batches?: number } & Record<string, unknown>;
  const done = (Array.isArray(data[key]) ? (data[key] as Item[]) : []).concat(items);
  return {
    ...task,
    status: items.length < limit ? 'finished' : 'running',
    data: { ...data, [key]: done, batches: (data.batches ?? 0) + 1 },
    cursor: items.at(-1)?.appId ?? task.cursor,
    updatedAt: now,
  };
}
