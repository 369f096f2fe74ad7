// Background tasks: replay-missing (every message of an application since a time that never
// reached an endpoint), bulk replay (the messages sent to an endpoint in a window, filtered),
// expunge-all-contents and the statistics over every application (statistics.ts) run in batches
// after the API answers 202, with progress readable through GET /api/v1/background-task/{id}; a
// task left running by a stopped process is resumed by another.
import { randomBytes } from 'node:crypto';
import {
  BACKGROUND_TASK_KINDS,
  type BackgroundTask,
  type BackgroundTaskKind,
  type BackgroundTaskStatus,
  type BulkReplayData,
  type PurgeContentData,
  type ReplayMissingData,
  replayStopReason,
} from '../domain/background-tasks.js';
import { newId } from '../domain/ids.js';
import type { Endpoint } from '../domain/types.js';
import { TapwireError, notFound, validationError } from '../errors/tapwire-error.js';
import type { BackgroundTaskListQuery, ListQuery, Page } from '../storage/store.js';
import type { Principal } from './auth.js';
import type { ServiceContext } from './context.js';
import { getApplication } from './applications.js';
import { checkRecoverWindow, getEndpoint } from './endpoints.js';
import { runStatisticsBatch } from './statistics.js';

/**
 * Furthest back a replay may reach: 90 days, the longest payload retention
 * (`payloadRetentionPeriod` 90 days, `payloadRetentionHours` 2160). Older messages have no payload
 * left to send. Larger than recover's 14 days because the work is done in batches in the
 * background, never inside the request.
 */
export const MAX_REPLAY_WINDOW_MS = 90 * 86_400_000;

/** Defaults of {@link BackgroundTaskRunnerOptions}. */
export const BACKGROUND_TASK_DEFAULTS = {
  /**
   * Items per batch: messages looked at by a replay (one transaction each), applications counted
   * by a statistics task (one read each). Short enough never to stall deliveries.
   */
  batchSize: 500,
  /**
   * How long a process's claim on a task holds without a batch renewing it. A process that stops
   * mid-task leaves it running; another takes it over this long after its last batch.
   */
  leaseMs: 30_000,
  /** Tasks one process resumes per maintenance round. */
  resumeLimit: 10,
} as const;

export interface BackgroundTaskRunnerOptions {
  /** Messages (replays) or applications (statistics) per batch (default 500). */
  batchSize?: number;
  /** Lease of a running task (default 30 s); see {@link BACKGROUND_TASK_DEFAULTS}. */
  leaseMs?: number;
  /** Called after every batch with the task as saved (tests use it to hold a task between batches). */
  onBatch?: (task: BackgroundTask) => Promise<void> | void;
}

/**
 * Runs this process's background tasks: a task it has just created, and tasks other processes
 * left running (resumeUnfinished, at start and in every maintenance round). Each batch renews the
 * lease; close() lets every task finish its current batch and gives the leases up, so the next
 * process to start resumes them at once.
 */
export class BackgroundTaskRunner {
  /** Identifies this process's leases (random per runner). */
  readonly leaseOwner = `runner_${randomBytes(9).toString('base64url')}`;
  readonly batchSize: number;
  readonly leaseMs: number;
  private readonly onBatch: BackgroundTaskRunnerOptions['onBatch'];
  private readonly running = new Map<string, Promise<void>>();
  /** Resume rounds in progress (close waits for them too). */
  private readonly resuming = new Set<Promise<number>>();
  private closed = false;

  constructor(
    private readonly ctx: ServiceContext,
    options: BackgroundTaskRunnerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? BACKGROUND_TASK_DEFAULTS.batchSize;
    this.leaseMs = options.leaseMs ?? BACKGROUND_TASK_DEFAULTS.leaseMs;
    this.onBatch = options.onBatch;
  }

  /** A lease for a task this runner is about to create and run; null once closing (then maintenance somewhere picks it up). */
  leaseFor(now: Date): { owner: string; until: Date } | null {
    return this.closed ? null : { owner: this.leaseOwner, until: new Date(now.getTime() + this.leaseMs) };
  }

  /** Run a task this runner holds the lease of, in the background. */
  start(task: BackgroundTask): void {
    if (this.closed || this.running.has(task.id)) return;
    const run = this.drive(task).finally(() => this.running.delete(task.id));
    this.running.set(task.id, run);
  }

  /**
   * Lease and run tasks left running by processes that stopped (their lease expired or was given
   * up). Never throws: a failure is logged and the next round tries again. Returns how many started.
   */
  async resumeUnfinished(): Promise<number> {
    if (this.closed) return 0;
    const round = this.claimAndStart();
    this.resuming.add(round);
    try {
      return await round;
    } finally {
      this.resuming.delete(round);
    }
  }

  /** Resolves when no task is running (or being resumed) in this process. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.resuming.size > 0) {
      await Promise.allSettled([...this.running.values(), ...this.resuming]);
    }
  }

  /** Stop after each task's current batch and give the leases up. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  private async claimAndStart(): Promise<number> {
    try {
      const tasks = await this.ctx.store.claimBackgroundTasks({
        now: this.ctx.clock.now(),
        leaseOwner: this.leaseOwner,
        leaseMs: this.leaseMs,
        limit: BACKGROUND_TASK_DEFAULTS.resumeLimit,
      });
      for (const task of tasks) {
        const log = this.ctx.logger.child({ taskId: task.id, appId: task.appId, task: task.task });
        // Closed while claiming: hand the task straight back rather than sit on it until the lease ends.
        if (this.closed) await this.release(task.id, null, log);
        else {
          log.info({}, 'background task resumed');
          this.start(task);
        }
      }
      return this.closed ? 0 : tasks.length;
    } catch (error) {
      this.ctx.logger.warn({ err: error }, 'resuming background tasks failed; will retry');
      return 0;
    }
  }

  private async drive(task: BackgroundTask): Promise<void> {
    const log = this.ctx.logger.child({ taskId: task.id, appId: task.appId, task: task.task });
    if (task.task === 'endpoint.recover') {
      await this.recover(task, log);
      return;
    }
    const runBatch = this.batchOf(task.task);
    if (!runBatch) {
      // Replays and purges run in batches, recovers in one step. Another kind left running is a newer version's: leave it to that.
      log.warn({}, 'background task of an unknown kind left alone');
      await this.release(task.id, null, log);
      return;
    }
    let current = task;
    for (;;) {
      if (this.closed) {
        await this.release(task.id, null, log);
        return;
      }
      let result: { task: BackgroundTask; queued: number } | null;
      try {
        result = await runBatch(current);
      } catch (error) {
        if (error instanceof TapwireError && error.code === 'store_unavailable') {
          // Keep the lease: it expires, and a maintenance round (here or elsewhere) resumes the task.
          log.warn({ reason: error.detail }, 'background task paused: database unavailable');
          return;
        }
        log.error({ err: error }, 'background task failed');
        await this.release(task.id, 'Internal error; see the server log', log);
        return;
      }
      if (!result) {
        // Another process holds the task now (our lease had expired), or it ended or was deleted
        // with its application.
        log.info({}, 'background task no longer held');
        return;
      }
      current = result.task;
      if (result.queued > 0) this.ctx.notifyDeliveriesQueued();
      await this.onBatch?.(result.task);
      if (result.task.status !== 'running') {
        log.info({ status: result.task.status, batches: result.task.data.batches, error: result.task.data.error }, 'background task ended');
        return;
      }
      // Let deliveries and API requests in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The batch of a kind of task that runs in batches (null for the others), run on the task as this
   * runner last saved it. A replay's, bulk replay's or purge's batch reads and writes in one store
   * transaction; a statistics batch only reads, then saves its progress if the lease still holds.
   */
  private batchOf(kind: BackgroundTaskKind): ((task: BackgroundTask) => Promise<{ task: BackgroundTask; queued: number } | null>) | null {
    const store = this.ctx.store;
    const input = (task: BackgroundTask) => ({ taskId: task.id, leaseOwner: this.leaseOwner, now: this.ctx.clock.now(), leaseMs: this.leaseMs, limit: this.batchSize });
    switch (kind) {
      case 'endpoint.replay':
        return (task) => store.runReplayMissingBatch(input(task));
      case 'endpoint.bulk-replay':
        return (task) => store.runBulkReplayBatch(input(task));
      case 'application.purge_content':
        return (task) => store.runPurgeContentBatch(input(task));
      case 'application.stats':
      case 'event-type.aggregate':
        return (task) => this.runStatisticsBatch(task);
      default:
        return null;
    }
  }

  /**
   * An `endpoint.recover` task, in one step: queue the resends, then record the count and finish.
   * A process that stops between the two leaves the task running, and whoever resumes it recovers
   * again, which queues nothing twice: a message whose failed delivery got a resend has that resend
   * as its latest delivery, no longer a failed one.
   */
  private async recover(task: BackgroundTask, log: ServiceContext['logger']): Promise<void> {
    const data = task.data as unknown as RecoverData;
    try {
      if (this.closed) {
        await this.release(task.id, null, log);
        return;
      }
      // Recovers always belong to their endpoint's application (only the statistics belong to none).
      const appId = task.appId;
      const endpoint = appId === null ? null : await this.ctx.store.getEndpoint(appId, data.endpointId);
      const stopped = replayStopReason(endpoint ? { deleted: false, disabled: endpoint.disabled } : null);
      if (stopped !== null || endpoint === null) {
        const reason = (stopped ?? 'The endpoint was deleted').replace('replay again', 'recover again');
        await this.release(task.id, reason, log);
        log.info({ reason }, 'background task failed');
        return;
      }
      const now = this.ctx.clock.now();
      const recovered = await this.ctx.store.recoverFailedDeliveries({
        appId: endpoint.appId,
        endpointId: data.endpointId,
        since: new Date(data.since),
        until: new Date(data.until),
        now,
      });
      if (recovered > 0) this.ctx.notifyDeliveriesQueued();
      const finished = await this.ctx.store.finishBackgroundTask({ id: task.id, leaseOwner: this.leaseOwner, now: this.ctx.clock.now(), data: { recovered } });
      if (!finished) {
        log.info({}, 'background task no longer held');
        return;
      }
      await this.onBatch?.(finished);
      log.info({ status: finished.status, ...finished.data }, 'background task ended');
    } catch (error) {
      if (error instanceof TapwireError && error.code === 'store_unavailable') {
        log.warn({ reason: error.detail }, 'background task paused: database unavailable');
        return;
      }
      log.error({ err: error }, 'background task failed');
      await this.release(task.id, 'Internal error; see the server log', log);
    }
  }

  private async runStatisticsBatch(task: BackgroundTask): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = this.ctx.clock.now();
    const next = await runStatisticsBatch(this.ctx, task, this.batchSize, now);
    const saved = await this.ctx.store.saveBackgroundTaskProgress({ task: next, leaseOwner: this.leaseOwner, now, leaseMs: this.leaseMs });
    return saved ? { task: saved, queued: 0 } : null;
  }

  private async release(taskId: string, error: string | null, log: ServiceContext['logger']): Promise<void> {
    try {
      await this.ctx.store.releaseBackgroundTask({ id: taskId, leaseOwner: this.leaseOwner, now: this.ctx.clock.now(), error });
    } catch (releaseError) {
      // The lease then simply expires.
      log.warn({ err: releaseError }, 'giving up a background task lease failed');
    }
  }
}

/**
 * Replay missing messages to an endpoint: every message of the application created in
 * [since, until) that has no delivery to this endpoint (none was ever queued: the endpoint did not
 * exist yet, or its filters left the message out) and that the endpoint accepts now (its current
 * event-type filter and channels, the fan-out rule) gets one manual delivery, due now. Messages
 * whose payload expired or was expunged are skipped and counted. Manual, like resend and recover:
 * a person asked for these attempts, and they are not retried (recover resends the ones that fail).
 *
 * `until` defaults to now, and a later one is taken as now: messages accepted after the request
 * reach the endpoint through fan-out. `since` may be at most 90 days back (MAX_REPLAY_WINDOW_MS).
 * Answers at once with the task, `running`; a runner does the work in batches (without one, the
 * next maintenance round of any process does).
 */
export async function replayMissing(
  ctx: ServiceContext,
  runner: BackgroundTaskRunner | null,
  appIdOrUid: string,
  endpointIdOrUid: string,
  input: { since: Date; until?: Date | null },
): Promise<BackgroundTask> {
  const { endpoint, now, until } = await replayTarget(ctx, appIdOrUid, endpointIdOrUid, input);
  const data: ReplayMissingData = {
    endpointId: endpoint.id,
    since: input.since.toISOString(),
    until: until.toISOString(),
    scanned: 0,
    queued: 0,
    skippedExpired: 0,
    batches: 0,
  };
  const task = await startTask(ctx, runner, endpoint.appId, 'endpoint.replay', data as unknown as Record<string, unknown>, now);
  ctx.logger.info({ taskId: task.id, appId: task.appId, endpointId: endpoint.id, since: data.since, until: data.until }, 'endpoint replay started');
  return task;
}

/** The endpoint a replay sends to, which must be enabled, and the end of its window (see replayWindowEnd). */
async function replayTarget(
  ctx: ServiceContext,
  appIdOrUid: string,
  endpointIdOrUid: string,
  input: { since: Date; until?: Date | null },
): Promise<{ endpoint: Endpoint; now: Date; until: Date }> {
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const now = ctx.clock.now();
  const until = replayWindowEnd(input, now);
  if (endpoint.disabled) {
    throw new TapwireError('generic_error', { detail: 'The endpoint is disabled; enable it before replaying messages' });
  }
  return { endpoint, now, until };
}

/** The filters of a bulk replay besides its window (see {@link bulkReplay}). */
export interface BulkReplayFilters {
  eventTypes?: string[] | null;
  channel?: string | null;
  /** Only messages carrying this tag. */
  tag?: string | null;
  /** Svix's numbering: 0 success, 1 pending, 2 fail, 3 sending, 4 canceled. */
  status?: number | null;
  /** 0 (no answer), 100, 200, 300, 400 or 500. */
  statusCodeClass?: number | null;
}

/**
 * Bulk replay: every message of the application created in [since, until) that was sent to this
 * endpoint (it has a delivery to it, whatever its outcome) and matches the filters gets one manual
 * delivery, due now, in batches after the answer; `data.messagesSent` counts them. `status` is
 * the status of the message's latest delivery to the endpoint, `statusCodeClass` the class of the
 * code its latest attempt to it got. Messages whose payload expired or was expunged are skipped and
 * counted. The window's bounds are replay-missing's (`until` at most now, `since` at most 90 days
 * back); a disabled endpoint is refused, and one disabled or deleted meanwhile fails the task.
 */
export async function bulkReplay(
  ctx: ServiceContext,
  runner: BackgroundTaskRunner | null,
  appIdOrUid: string,
  endpointIdOrUid: string,
  input: { since: Date; until?: Date | null } & BulkReplayFilters,
): Promise<BackgroundTask> {
  const { endpoint, now, until } = await replayTarget(ctx, appIdOrUid, endpointIdOrUid, input);
  const data: BulkReplayData = {
    endpointId: endpoint.id,
    since: input.since.toISOString(),
    until: until.toISOString(),
    eventTypes: input.eventTypes && input.eventTypes.length > 0 ? input.eventTypes : null,
    channel: input.channel ?? null,
    tag: input.tag ?? null,
    status: input.status ?? null,
    statusCodeClass: input.statusCodeClass ?? null,
    scanned: 0,
    messagesSent: 0,
    skippedExpired: 0,
    batches: 0,
  };
  const task = await startTask(ctx, runner, endpoint.appId, 'endpoint.bulk-replay', data as unknown as Record<string, unknown>, now);
  ctx.logger.info({ taskId: task.id, appId: task.appId, endpointId: endpoint.id, since: data.since, until: data.until }, 'endpoint bulk replay started');
  return task;
}

/**
 * Expunge all contents: the payload of every message of the application created up to now is
 * dropped, in batches after the answer, as DELETE …/msg/{id}/content drops one (deliveries still
 * pending then send nothing, and the messages read `{"expired": true}`). `data.messagesPurged`
 * counts the payloads dropped. Messages accepted after the request keep theirs.
 */
export async function expungeAllContents(ctx: ServiceContext, runner: BackgroundTaskRunner | null, appIdOrUid: string): Promise<BackgroundTask> {
  const app = await getApplication(ctx, appIdOrUid);
  const now = ctx.clock.now();
  const data: PurgeContentData = { until: now.toISOString(), scanned: 0, messagesPurged: 0, batches: 0 };
  const task = await startTask(ctx, runner, app.id, 'application.purge_content', data as unknown as Record<string, unknown>, now);
  ctx.logger.info({ taskId: task.id, appId: task.appId }, 'expunge of all contents started');
  return task;
}

/** The end of a replay window: `until`, at most now; 422 when the window is empty or reaches past the longest retention. */
function replayWindowEnd(input: { since: Date; until?: Date | null }, now: Date): Date {
  const until = input.until && input.until < now ? input.until : now;
  if (input.since >= until) {
    throw validationError(['body', 'since'], input.until && input.since >= input.until ? 'since must be before until' : 'since must be in the past');
  }
  if (now.getTime() - input.since.getTime() > MAX_REPLAY_WINDOW_MS) {
    throw validationError(['body', 'since'], 'since may be at most 90 days in the past (the longest payload retention)');
  }
  return until;
}

/** Store a new running task, leased to `runner` (which starts it) when there is one. */
async function startTask(
  ctx: ServiceContext,
  runner: BackgroundTaskRunner | null,
  appId: string,
  kind: BackgroundTaskKind,
  data: Record<string, unknown>,
  now: Date,
): Promise<BackgroundTask> {
  const task = await ctx.store.createBackgroundTask(
    { id: newId('qtask', now.getTime()), appId, task: kind, status: 'running', data, cursor: null, createdAt: now, updatedAt: now },
    runner?.leaseFor(now) ?? null,
  );
  runner?.start(task);
  return task;
}

/** The `data` of an `endpoint.recover` task. */
interface RecoverData {
  endpointId: string;
  /** RFC 3339; messages created in [since, until). */
  since: string;
  until: string;
  /** Resends queued: 0 while running, the count once finished. */
  recovered: number;
  /** Why it failed (the endpoint was disabled or deleted before it ran). */
  error?: string;
}

/**
 * Recover: resend every message whose latest delivery to this endpoint failed (or was canceled
 * while the endpoint was disabled) and which was created in [since, until), as an `endpoint.recover`
 * background task. Answers at once with the task `running` (checked first: the window, the
 * endpoint enabled); a runner queues the resends and finishes it with `{endpointId, since, until,
 * recovered}` as data, readable through GET /api/v1/background-task/{id}. Without a runner in this
 * process, the next maintenance round of any process runs it.
 */
export async function recoverEndpointAsTask(
  ctx: ServiceContext,
  runner: BackgroundTaskRunner | null,
  appIdOrUid: string,
  endpointIdOrUid: string,
  input: { since: Date; until?: Date | null },
): Promise<BackgroundTask> {
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const now = ctx.clock.now();
  const { until } = checkRecoverWindow(endpoint, input, now);
  const data: RecoverData = { endpointId: endpoint.id, since: input.since.toISOString(), until: until.toISOString(), recovered: 0 };
  const task = await ctx.store.createBackgroundTask(
    {
      id: newId('qtask', now.getTime()),
      appId: endpoint.appId,
      task: 'endpoint.recover',
      status: 'running',
      data: data as unknown as Record<string, unknown>,
      cursor: null,
      createdAt: now,
      updatedAt: now,
    },
    runner?.leaseFor(now) ?? null,
  );
  ctx.logger.info({ taskId: task.id, appId: task.appId, endpointId: endpoint.id, since: data.since, until: data.until }, 'endpoint recover started');
  runner?.start(task);
  return task;
}

/** One task; another application's task is not found for an application-scoped token. */
export async function getBackgroundTask(ctx: ServiceContext, principal: Principal, taskId: string): Promise<BackgroundTask> {
  const task = await ctx.store.getBackgroundTask(taskId);
  if (!task || (principal.kind === 'app' && task.appId !== principal.appId)) throw notFound('Background task');
  return task;
}

/** Newest first by default; an application-scoped token sees its own application's tasks only. */
export async function listBackgroundTasks(
  ctx: ServiceContext,
  principal: Principal,
  query: ListQuery & { status?: BackgroundTaskStatus | null; task?: BackgroundTaskKind | null },
): Promise<Page<BackgroundTask>> {
  const scoped: BackgroundTaskListQuery = { ...query, appId: principal.kind === 'app' ? principal.appId : null };
  return ctx.store.listBackgroundTasks(scoped);
}

/** True for the task kinds Tapwire records (the `task` filter of the list). */
export function isBackgroundTaskKind(value: string): value is BackgroundTaskKind {
  return (BACKGROUND_TASK_KINDS as readonly string[]).includes(value);
}
