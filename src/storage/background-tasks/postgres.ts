// Background tasks on PostgreSQL: stored, listed, leased (SKIP LOCKED across processes), and
// replay-missing run one batch per transaction holding the task and the endpoint.
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
import { insertDeliveries } from '../deliveries/postgres.js';
import type { PoolClient } from 'pg';
import type { PostgresDatabase } from '../postgres/database.js';
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
import { postgresValues as values } from '../shared/values.js';
import type { ApplicationUsageInput, BackgroundTaskLease, BackgroundTaskListQuery, Page, ReplayMissingBatchInput } from '../store.js';
import { postgres as SQL } from './sql.js';

const toRecord = (r: BackgroundTaskRow): BackgroundTask => toBackgroundTask(r, values);

export class PostgresBackgroundTasks {
  constructor(private readonly db: PostgresDatabase) {}

  async createBackgroundTask(task: BackgroundTask, lease: BackgroundTaskLease | null = null): Promise<BackgroundTask> {
    const params = newBackgroundTaskParams(task, lease);
    return this.db.guard(async () => toRecord((await this.db.one<BackgroundTaskRow>(SQL.insertBackgroundTask, params))!), {
      conflicts: conflictsOf.backgroundTask(task.id),
      missingParent: 'Application not found',
    });
  }

  async getBackgroundTask(id: string): Promise<BackgroundTask | null> {
    return this.db.guard(async () => mapOrNull(await this.db.one<BackgroundTaskRow>(SQL.selectBackgroundTask, { id }), toRecord));
  }

  async listBackgroundTasks(query: BackgroundTaskListQuery): Promise<Page<BackgroundTask>> {
    const params = { appId: query.appId ?? null, status: query.status ?? null, task: query.task ?? null };
    return this.db.guard(() => this.db.page<BackgroundTaskRow, BackgroundTask>(SQL.listBackgroundTasks, query, 'descending', params, (r) => r.id, toRecord));
  }

  async claimBackgroundTasks(input: { now: Date; leaseOwner: string; leaseMs: number; limit: number }): Promise<BackgroundTask[]> {
    const params = taskClaimParams(input);
    return this.db.guard(async () => {
      const { rows } = await this.db.run<BackgroundTaskRow>(SQL.claimBackgroundTasks, params);
      return rows.map(toRecord).sort((a, b) => (a.id < b.id ? -1 : 1));
    });
  }

  async runReplayMissingBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = input.now.getTime();
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const row = await this.db.one<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.taskId }, client);
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
        const task = toRecord(row);
        const window = replayWindowOf(task);
        const endpoint = await this.db.one<{ app_id: string; disabled: boolean; deleted_at: number | null }>(
          SQL.lockEndpointForReplay,
          { endpointId: window.endpointId },
          client,
        );
        const stopped = replayStopReason(
          endpoint && endpoint.app_id === window.appId ? { deleted: endpoint.deleted_at !== null, disabled: values.readBoolean(endpoint.disabled) } : null,
        );
        if (stopped) {
          const failed = failTask(task, stopped, input.now);
          await this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(failed), lockedUntil: null }, client);
          return { task: failed, queued: 0 };
        }
        const { rows: candidates } = await this.db.run<{ id: string; expired: boolean; missing: boolean }>(
          SQL.selectReplayCandidates,
          replayCandidateParams(task, window, input.limit),
          client,
        );
        const missing = candidates.filter((c) => c.missing);
        const targets = missing.filter((c) => !c.expired).map((c) => ({ msgId: c.id, endpointId: window.endpointId }));
        const deliveries = await insertDeliveries(this.db, client, { appId: window.appId, triggerType: 'manual', now: input.now, targets });
        const next = advanceReplay(
          task,
          {
            scanned: candidates.length,
            queued: deliveries.length,
            skippedExpired: missing.length - targets.length,
            lastMsgId: candidates.at(-1)?.id ?? null,
            done: candidates.length < input.limit,
          },
          input.now,
        );
        await this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null }, client);
        return { task: next, queued: deliveries.length };
      }),
    );
  }

  async runBulkReplayBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = input.now.getTime();
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const task = await this.heldTask(input, client);
        if (!task) return null;
        const replay = bulkReplayOf(task);
        const endpoint = await this.db.one<{ app_id: string; disabled: boolean; deleted_at: number | null }>(
          SQL.lockEndpointForReplay,
          { endpointId: replay.endpointId },
          client,
        );
        const stopped = replayStopReason(
          endpoint && endpoint.app_id === task.appId ? { deleted: endpoint.deleted_at !== null, disabled: values.readBoolean(endpoint.disabled) } : null,
        );
        if (stopped) {
          const failed = failTask(task, stopped, input.now);
          await this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(failed), lockedUntil: null }, client);
          return { task: failed, queued: 0 };
        }
        const { rows: candidates } = await this.db.run<{ id: string; expired: boolean; status: string; latest_code: number | null; admitted: boolean }>(
          SQL.selectBulkReplayCandidates,
          bulkReplayCandidateParams(task, replay, input.limit, values),
          client,
        );
        const matching = candidates.filter((c) => c.admitted && passesBulkReplayStatus(replay, { status: c.status, latestCode: c.latest_code }));
        const targets = matching.filter((c) => !c.expired).map((c) => ({ msgId: c.id, endpointId: replay.endpointId }));
        const deliveries = await insertDeliveries(this.db, client, { appId: replay.appId, triggerType: 'manual', now: input.now, targets });
        const next = advanceBulkReplay(
          task,
          {
            scanned: candidates.length,
            queued: deliveries.length,
            skippedExpired: matching.length - targets.length,
            lastMsgId: candidates.at(-1)?.id ?? null,
            done: candidates.length < input.limit,
          },
          input.now,
        );
        await this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null }, client);
        return { task: next, queued: deliveries.length };
      }),
    );
  }

  async finishBackgroundTask(input: { id: string; leaseOwner: string; now: Date; data: Record<string, unknown> }): Promise<BackgroundTask | null> {
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const row = await this.db.one<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.id }, client);
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
        const task = toRecord(row);
        const next: BackgroundTask = { ...task, status: 'finished', data: { ...task.data, ...input.data }, updatedAt: input.now };
        await this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: null }, client);
        return next;
      }),
    );
  }

  async runPurgeContentBatch(input: ReplayMissingBatchInput): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = input.now.getTime();
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const task = await this.heldTask(input, client);
        if (!task) return null;
        const { rows: batch } = await this.db.run<{ id: string; had_payload: boolean }>(SQL.selectPurgeBatch, purgeBatchParams(task, input.limit), client);
        const purged = batch.filter((m) => m.had_payload).map((m) => m.id);
        if (purged.length > 0) await this.db.run(SQL.purgePayloads, { appId: task.appId, ids: purged }, client);
        const next = advancePurge(
          task,
          { scanned: batch.length, purged: purged.length, lastMsgId: batch.at(-1)?.id ?? null, done: batch.length < input.limit },
          input.now,
        );
        await this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null }, client);
        return { task: next, queued: 0 };
      }),
    );
  }

  /** Inside a transaction: the task, locked, if it is running and `leaseOwner` holds it. */
  private async heldTask(input: ReplayMissingBatchInput, client: PoolClient): Promise<BackgroundTask | null> {
    const row = await this.db.one<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.taskId }, client);
    if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
    return toRecord(row);
  }

  async releaseBackgroundTask(input: { id: string; leaseOwner: string; now: Date; error?: string | null }): Promise<boolean> {
    return this.db.guard(() =>
      this.db.transaction(async (client) => {
        const row = await this.db.one<BackgroundTaskRow>(SQL.lockBackgroundTask, { id: input.id }, client);
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return false;
        const task = toRecord(row);
        const next = input.error ? failTask(task, input.error, input.now) : { ...task, updatedAt: input.now };
        await this.db.run(SQL.saveBackgroundTask, { ...backgroundTaskParams(next), lockedUntil: null }, client);
        return true;
      }),
    );
  }

  async saveBackgroundTaskProgress(input: { task: BackgroundTask; leaseOwner: string; now: Date; leaseMs: number }): Promise<BackgroundTask | null> {
    const { task } = input;
    const lockedUntil = task.status === 'running' ? input.now.getTime() + input.leaseMs : null;
    return this.db.guard(async () =>
      mapOrNull(await this.db.one<BackgroundTaskRow>(SQL.saveBackgroundTaskProgress, { ...backgroundTaskParams(task), leaseOwner: input.leaseOwner, lockedUntil }), toRecord),
    );
  }

  async countApplicationUsage(input: ApplicationUsageInput): Promise<AppUsageStat[]> {
    return this.db.guard(async () => (await this.db.run<AppUsageRow>(SQL.countApplicationUsage, applicationUsageParams(input, values))).rows.map(toAppUsageStat));
  }

  async listApplicationEndpointFilters(input: { afterAppId: string | null; limit: number }): Promise<AppEndpointFilters[]> {
    return this.db.guard(async () =>
      toAppEndpointFilters((await this.db.run<AppEndpointFilterRow>(SQL.selectApplicationEndpointFilters, { cursor: input.afterAppId ?? '', limit: input.limit })).rows, values),
    );
  }
}
