// Background tasks on SQLite: stored, listed, leased, and replay-missing run one batch per IMMEDIATE
// transaction.
import {
  advanceBulkReplay,
  advancePurge,
  advanceReplay,
  bulkReplayOf,
  failTask,
  passesBulkReplayStatus,
  replayStopReason,
  replayWindowOf,
  type AppEndpointFilters,
  type AppUsageStat,
  type BackgroundTask,
} from '../../domain/background-tasks.js';
import { insertDelivery } from '../deliveries/sqlite.js';
import { conflictsOf } from '../shared/conflicts.js';
import {
  applicationUsageParams,
  backgroundTaskParams,
  bulkReplayCandidateParams,
  mapOrNull,
  newBackgroundTaskParams,
  purgeBatchParams,
  replayCandidateParams,
  taskClaimParams,
  toAppEndpointFilters,
  toAppUsageStat,
  toBackgroundTask,
  type AppEndpointFilterRow,
  type AppUsageRow,
  type BackgroundTaskRow,
} from '../shared/rows.js';
import { sqliteValues as values } from '../shared/values.js';
import type { SqliteDatabase } from '../sqlite/database.js';
import type { ApplicationUsageInput, BackgroundTaskLease, BackgroundTaskListQuery, Page, ReplayMissingBatchInput } from '../store.js';
import { sqlite as SQL } from './sql.js';

const toRecord = (r: BackgroundTaskRow): BackgroundTask => toBackgroundTask(r, values);

export class SqliteBackgroundTasks {
  constructor(private readonly db: SqliteDatabase) {}

  async createBackgroundTask(task: BackgroundTask, lease: BackgroundTaskLease | null = null): Promise<BackgroundTask> {
    const params = newBackgroundTaskParams(task, lease);
    return this.db.guard(() => toRecord(this.db.get<BackgroundTaskRow>(SQL.insertBackgroundTask, params)!), {
      conflicts: conflictsOf.backgroundTask(task.id),
      missingParent: 'Application not found',
    });
  }

  async getBackgroundTask(id: string): Promise<BackgroundTask | null> {
    return this.db.guard(() => mapOrNull(this.db.get<BackgroundTaskRow>(SQL.selectBackgroundTask, { id }), toRecord));
  }

  async listBackgroundTasks(query: BackgroundTaskListQuery): Promise<Page<BackgroundTask>> {
    const params = { appId: query.appId ?? null, status: query.status ?? null, task: query.task ?? null };
    return this.db.guard(() => this.db.page<BackgroundTaskRow, BackgroundTask>(SQL.listBackgroundTasks, query, 'descending', params, (r) => r.id, toRecord));
  }

  async claimBackgroundTasks(input: { now: Date; leaseOwner: string; leaseMs: number; limit: number }): Promise<BackgroundTask[]> {
    const params = taskClaimParams(input);
    return this.db.guard(() =>
      this.db.write(() =>
        this.db
          .all<BackgroundTaskRow>(SQL.claimBackgroundTasks, params)
          .map(toRecord)
          .sort((a, b) => (a.id < b.id ? -1 : 1)),
      ),
    );
  }

  async runReplayMissingBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = input.now.getTime();
    return this.db.guard(() =>
      this.db.write(() => {
        const row = this.db.get<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.taskId });
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
        const task = toRecord(row);
        const window = replayWindowOf(task);
        const endpoint = this.db.get<{ app_id: string; disabled: number; deleted_at: number | null }>(SQL.lockEndpointForReplay, { endpointId: window.endpointId });
        const stopped = replayStopReason(
          endpoint && endpoint.app_id === window.appId ? { deleted: endpoint.deleted_at !== null, disabled: values.readBoolean(endpoint.disabled) } : null,
        );
        if (stopped) {
          const failed = failTask(task, stopped, input.now);
          this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(failed), lockedUntil: null });
          return { task: failed, queued: 0 };
        }
        const candidates = this.db.all<{ id: string; expired: number; missing: number }>(SQL.selectReplayCandidates, replayCandidateParams(task, window, input.limit));
        let queued = 0;
        let skippedExpired = 0;
        for (const candidate of candidates) {
          if (candidate.missing !== 1) continue;
          if (candidate.expired === 1) {
            skippedExpired++;
            continue;
          }
          insertDelivery(this.db, { msgId: candidate.id, appId: window.appId, endpointId: window.endpointId, triggerType: 'manual', now });
          queued++;
        }
        const next = advanceReplay(
          task,
          { scanned: candidates.length, queued, skippedExpired, lastMsgId: candidates.at(-1)?.id ?? null, done: candidates.length < input.limit },
          input.now,
        );
        this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null });
        return { task: next, queued };
      }),
    );
  }

  async runBulkReplayBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = input.now.getTime();
    return this.db.guard(() =>
      this.db.write(() => {
        const task = this.heldTask(input);
        if (!task) return null;
        const replay = bulkReplayOf(task);
        const endpoint = this.db.get<{ app_id: string; disabled: number; deleted_at: number | null }>(SQL.lockEndpointForReplay, { endpointId: replay.endpointId });
        const stopped = replayStopReason(
          endpoint && endpoint.app_id === task.appId ? { deleted: endpoint.deleted_at !== null, disabled: values.readBoolean(endpoint.disabled) } : null,
        );
        if (stopped) {
          const failed = failTask(task, stopped, input.now);
          this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(failed), lockedUntil: null });
          return { task: failed, queued: 0 };
        }
        const candidates = this.db.all<{ id: string; expired: number; status: string; latest_code: number | null; admitted: number }>(
          SQL.selectBulkReplayCandidates,
          bulkReplayCandidateParams(task, replay, input.limit, values),
        );
        let queued = 0;
        let skippedExpired = 0;
        for (const c of candidates) {
          if (c.admitted !== 1 || !passesBulkReplayStatus(replay, { status: c.status, latestCode: c.latest_code })) continue;
          if (c.expired === 1) {
            skippedExpired++;
            continue;
          }
          insertDelivery(this.db, { msgId: c.id, appId: replay.appId, endpointId: replay.endpointId, triggerType: 'manual', now });
          queued++;
        }
        const next = advanceBulkReplay(
          task,
          { scanned: candidates.length, queued, skippedExpired, lastMsgId: candidates.at(-1)?.id ?? null, done: candidates.length < input.limit },
          input.now,
        );
        this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null });
        return { task: next, queued };
      }),
    );
  }

  async finishBackgroundTask(input: { id: string; leaseOwner: string; now: Date; data: Record<string, unknown> }): Promise<BackgroundTask | null> {
    return this.db.guard(() =>
      this.db.write(() => {
        const row = this.db.get<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.id });
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
        const task = toRecord(row);
        const next: BackgroundTask = { ...task, status: 'finished', data: { ...task.data, ...input.data }, updatedAt: input.now };
        this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: null });
        return next;
      }),
    );
  }

  async runPurgeContentBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = input.now.getTime();
    return this.db.guard(() =>
      this.db.write(() => {
        const task = this.heldTask(input);
        if (!task) return null;
        const batch = this.db.all<{ id: string; had_payload: number }>(SQL.selectPurgeBatch, purgeBatchParams(task, input.limit));
        const purged = batch.filter((m) => m.had_payload === 1).map((m) => m.id);
        if (purged.length > 0) this.db.run(SQL.purgePayloads, { appId: task.appId, ids: values.writeTextList(purged) });
        const next = advancePurge(
          task,
          { scanned: batch.length, purged: purged.length, lastMsgId: batch.at(-1)?.id ?? null, done: batch.length < input.limit },
          input.now,
        );
        this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null });
        return { task: next, queued: 0 };
      }),
    );
  }

  /** Inside a write: the task, if it is running and `leaseOwner` holds it. */
  private heldTask(input: ReplayMissingBatchInput): BackgroundTask | null {
    const row = this.db.get<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.taskId });
    if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
    return toRecord(row);
  }

  async releaseBackgroundTask(input: { id: string; leaseOwner: string; now: Date; error?: string | null }): Promise<boolean> {
    return this.db.guard(() =>
      this.db.write(() => {
        const row = this.db.get<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.id });
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return false;
        const task = toRecord(row);
        const next = input.error ? failTask(task, input.error, input.now) : { ...task, updatedAt: input.now };
        this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: null });
        return true;
      }),
    );
  }

  async saveBackgroundTaskProgress(input: { task: BackgroundTask; leaseOwner: string; now: Date; leaseMs: number }): Promise<BackgroundTask | null> {
    const { task } = input;
    const lockedUntil = task.status === 'running' ? input.now.getTime() + input.leaseMs : null;
    return this.db.guard(() =>
      this.db.write(() =>
        mapOrNull(this.db.get<BackgroundTaskRow>(SQL.saveBackgroundTaskProgress, { ...backgroundTaskParams(task), leaseOwner: input.leaseOwner, lockedUntil }), toRecord),
      ),
    );
  }

  async countApplicationUsage(input: ApplicationUsageInput): Promise<AppUsageStat[]> {
    // One statement: one snapshot, and no write lock held while it reads.
    return this.db.guard(() => this.db.all<AppUsageRow>(SQL.countApplicationUsage, applicationUsageParams(input, values)).map(toAppUsageStat));
  }

  async listApplicationEndpointFilters(input: { afterAppId: string | null; limit: number }): Promise<AppEndpointFilters[]> {
    return this.db.guard(() =>
      toAppEndpointFilters(this.db.all<AppEndpointFilterRow>(SQL.selectApplicationEndpointFilters, { cursor: input.afterAppId ?? '', limit: input.limit }), values),
    );
  }
}
