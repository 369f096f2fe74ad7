// Background tasks: work an API request starts and the server finishes after answering 202
// (replaying the messages an endpoint never got), with progress a client reads through
// GET /api/v1/background-task/{id}. The shape follows Svix's BackgroundTaskOut.
//
// - background task: one row per request; `data` is the progress document shown to clients,
//                    `cursor` where a batched task has got to (never shown).
// - replay-missing:  `endpoint.replay`; every message of the application created in [since, until)
//                    that has no delivery to the endpoint and that the endpoint's filters accept
//                    now gets one manual delivery.
// - bulk replay:     `endpoint.bulk-replay`; every message of [since, until) that was sent to the
//                    endpoint (it has a delivery to it) and matches the filters gets one manual
//                    delivery again, whatever its outcome was.
// - purge content:   `application.purge_content`; every payload of the application's messages
//                    created up to the request is dropped (expunge-all-contents).
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
export type BackgroundTaskKind = 'endpoint.replay' | 'endpoint.recover' | 'endpoint.bulk-replay' | 'application.purge_content' | 'application.stats' | 'event-type.aggregate';
export const BACKGROUND_TASK_KINDS: readonly BackgroundTaskKind[] = [
  'endpoint.replay',
  'endpoint.recover',
  'endpoint.bulk-replay',
  'application.purge_content',
  'application.stats',
  'event-type.aggregate',
];

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

/** A batched task after one batch: its new progress, the cursor moved, finished when the batch was the last. */
function afterBatch(task: BackgroundTask, data: object, outcome: { lastMsgId: string | null; done: boolean }, now: Date): BackgroundTask {
  return {
    ...task,
    status: outcome.done ? 'finished' : 'running',
    data: data as Record<string, unknown>,
    cursor: outcome.lastMsgId ?? task.cursor,
    updatedAt: now,
  };
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
  return afterBatch(task, next, outcome, now);
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

// Bulk replay ---------------------------------------------------------------------------------

/** Svix's numbering of a delivery's status in a bulk-replay filter (4: canceled). */
export const BULK_REPLAY_STATUS_NAMES = ['success', 'pending', 'fail', 'sending', 'canceled'] as const;

/** The `data` of an `endpoint.bulk-replay` task: the window and filters asked for, and how far it got. */
export interface BulkReplayData {
  endpointId: string;
  /** RFC 3339; the window is [since, until) of message creation time. */
  since: string;
  until: string;
  /** Only messages of these event types (null: any). */
  eventTypes: string[] | null;
  /** Only messages on this channel (null: any). */
  channel: string | null;
  /** Only messages carrying this tag (null or absent, in tasks started before tags: any). */
  tag?: string | null;
  /** Only messages whose latest delivery to the endpoint has this status, as Svix numbers it (null: any). */
  status: number | null;
  /**
   * Only messages whose latest attempt to the endpoint got an answer of this class (0: no answer,
   * 100…500), null: any. A message never attempted matches no class.
   */
  statusCodeClass: number | null;
  /** Messages sent to the endpoint in the window looked at so far (matching the filters or not). */
  scanned: number;
  /** Deliveries queued so far (Svix's name for the count a finished task reports). */
  messagesSent: number;
  /** Messages that match but were not queued because their payload expired or was expunged. */
  skippedExpired: number;
  batches: number;
  error?: string;
}

/** The parameters a bulk replay was created with, read back from its data. */
export function bulkReplayOf(task: BackgroundTask): BulkReplayData & { appId: string; sinceDate: Date; untilDate: Date } {
  const data = task.data as unknown as BulkReplayData;
  // A bulk replay is always created for one application; null here is a bug.
  if (task.appId === null) throw new Error(`bulk replay task ${task.id} has no application`);
  return { ...data, appId: task.appId, sinceDate: new Date(data.since), untilDate: new Date(data.until) };
}

/**
 * Whether a message sent to the endpoint passes a bulk replay's status filters: the status of its
 * latest delivery to the endpoint, and the class of the status code its latest attempt got (0: no
 * answer; a message never attempted matches no class).
 */
export function passesBulkReplayStatus(
  filters: Pick<BulkReplayData, 'status' | 'statusCodeClass'>,
  candidate: { status: string; latestCode: number | null },
): boolean {
  if (filters.status !== null && BULK_REPLAY_STATUS_NAMES[filters.status] !== candidate.status) return false;
  if (filters.statusCodeClass === null) return true;
  const code = candidate.latestCode;
  if (code === null) return false;
  if (filters.statusCodeClass === 0) return code === 0;
  return code >= filters.statusCodeClass && code < filters.statusCodeClass + 100;
}

/** The bulk replay after one batch: counters added, cursor moved, finished when the window is done. */
export function advanceBulkReplay(task: BackgroundTask, outcome: ReplayBatchOutcome, now: Date): BackgroundTask {
  const data = task.data as unknown as BulkReplayData;
  const next: BulkReplayData = {
    ...data,
    scanned: data.scanned + outcome.scanned,
    messagesSent: data.messagesSent + outcome.queued,
    skippedExpired: data.skippedExpired + outcome.skippedExpired,
    batches: data.batches + 1,
  };
  return afterBatch(task, next, outcome, now);
}

// Purge content -------------------------------------------------------------------------------

/** The `data` of an `application.purge_content` task (expunge-all-contents). */
export interface PurgeContentData {
  /** RFC 3339: messages created up to this time (the request's) lose their payload. */
  until: string;
  /** Messages looked at so far. */
  scanned: number;
  /** Payloads dropped so far (Svix's name); messages whose payload had already gone are not counted. */
  messagesPurged: number;
  batches: number;
  error?: string;
}

/** The purge after one batch of `scanned` messages, `purged` of which still had a payload. */
export function advancePurge(task: BackgroundTask, outcome: { scanned: number; purged: number; lastMsgId: string | null; done: boolean }, now: Date): BackgroundTask {
  const data = task.data as unknown as PurgeContentData;
  const next: PurgeContentData = {
    ...data,
    scanned: data.scanned + outcome.scanned,
    messagesPurged: data.messagesPurged + outcome.purged,
    batches: data.batches + 1,
  };
  return afterBatch(task, next, outcome, now);
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
