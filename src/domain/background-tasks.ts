// Background tasks: work an API request starts and the server finishes after answering 202
// (replaying the messages an endpoint never got), with progress a client reads through
// GET /api/v1/background-task/{id}. The shape follows Svix's BackgroundTaskOut.
//
// - background task: one row per request; `data` is the progress document shown to clients,
//                    `cursor` where a batched task has got to (never shown).
// - replay-missing:  `endpoint.replay`; every message of the application created in [since, until)
//                    that has no delivery to the endpoint and that the endpoint's filters accept
//                    now gets one manual delivery.

/** Where a task is: Svix's BackgroundTaskStatus. */
export type BackgroundTaskStatus = 'running' | 'finished' | 'failed';
export const BACKGROUND_TASK_STATUSES: readonly BackgroundTaskStatus[] = ['running', 'finished', 'failed'];

/** The kinds Tapwire runs (Svix's BackgroundTaskType names). */
export type BackgroundTaskKind = 'endpoint.replay' | 'endpoint.recover';
export const BACKGROUND_TASK_KINDS: readonly BackgroundTaskKind[] = ['endpoint.replay', 'endpoint.recover'];

export interface BackgroundTask {
  /** `qtask_…`, time-sortable like every id. */
  id: string;
  appId: string;
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
export function replayWindowOf(task: BackgroundTask): { endpointId: string; since: Date; until: Date } {
  const data = task.data as unknown as ReplayMissingData;
  return { endpointId: data.endpointId, since: new Date(data.since), until: new Date(data.until) };
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
