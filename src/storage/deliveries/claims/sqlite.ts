// Claims on SQLite: each round gathers its candidates and their endpoints' limits with small indexed
// statements, planClaimRound (rules.ts) decides, and the updates apply it, all in one IMMEDIATE
// transaction whose commit need not wait for the disk (see SqliteDatabase.writeUnsynced).
import type { Endpoint } from '../../../domain/types.js';
import { readLiveEndpoint } from '../../endpoints/sqlite.js';
import { readMessage } from '../../messages/sqlite.js';
import { onceById, toDelivery, type DeliveryRow } from '../../shared/rows.js';
import type { SqliteDatabase } from '../../sqlite/database.js';
import type { ClaimDeliveriesInput, DeliveryJob, RenewLeasesInput } from '../../store.js';
import {
  advancedThrottleTat,
  claimRoundParams,
  MAX_CLAIM_ROUNDS,
  planClaimRound,
  retryBudgetOf,
  roomOf,
  type ClaimCandidate,
  type ClaimRoundParams,
  type EndpointSchedule,
} from './rules.js';
import { sqlite as SQL } from './sql.js';

/** A delivery read by a claim round's window and parked-queue statements. */
interface ClaimWindowRow {
  id: string;
  endpoint_id: string;
  app_id: string;
  due_at: number;
  attempt_count: number;
}

interface ScheduleRow {
  id: string;
  app_id: string;
  app_throttle_rate: number | null;
  app_throttle_tat: number | null;
  concurrency: number | null;
  app_full: number;
  leased: number;
  throttle_rate: number | null;
  throttle_tat: number | null;
}

export class SqliteClaims {
  constructor(private readonly db: SqliteDatabase) {}

  async claimDueDeliveries(input: ClaimDeliveriesInput): Promise<DeliveryJob[]> {
    return this.db.guard(() =>
      this.db.writeUnsynced(() => {
        const rows: DeliveryRow[] = [];
        let maxRetries = retryBudgetOf(input);
        for (let round = 0; round < MAX_CLAIM_ROUNDS && rows.length < input.limit; round++) {
          const params = claimRoundParams(input, round, input.limit - rows.length, maxRetries);
          const { take, park, schedules, appThrottles } = this.planRound(params);
          if (park.length > 0) this.db.run(SQL.parkDeliveries, { ids: JSON.stringify(park.map((c) => c.id)) });
          if (take.length > 0) {
            const leased = this.db.all<DeliveryRow>(SQL.leaseDeliveries, { ids: JSON.stringify(take.map((c) => c.id)), lockedUntil: params.lockedUntil });
            const started = new Map<string, number>();
            for (const row of leased) started.set(row.endpoint_id, (started.get(row.endpoint_id) ?? 0) + 1);
            const startedByApp = new Map<string, number>();
            for (const [id, n] of started) {
              const schedule = schedules.get(id);
              if (schedule?.throttleRate) this.db.run(SQL.setThrottleTat, { id, tat: advancedThrottleTat(schedule.throttleRate, schedule.throttleTat, params.now, n) });
            }
            for (const row of leased) startedByApp.set(row.app_id, (startedByApp.get(row.app_id) ?? 0) + 1);
            for (const [id, n] of startedByApp) {
              const throttle = appThrottles.get(id);
              if (throttle) this.db.run(SQL.setAppThrottleTat, { id, tat: advancedThrottleTat(throttle.rate, throttle.tat, params.now, n) });
            }
            rows.push(...leased);
            maxRetries -= leased.filter((row) => row.attempt_count > 0).length;
          }
          // Only parking uncovers more deliveries to look at; otherwise this round saw all there is.
          if (park.length === 0) break;
        }
        // RETURNING gives no order guarantee; hand the batch out oldest due first.
        rows.sort((a, b) => a.next_attempt_at! - b.next_attempt_at! || (a.id < b.id ? -1 : 1));
        // Each endpoint read and converted once; the jobs share it (nothing downstream changes it).
        const endpointOf = onceById((id): Endpoint | null => readLiveEndpoint(this.db, id));
        return rows.map((row) => ({ delivery: toDelivery(row), message: readMessage(this.db, row.msg_id), endpoint: endpointOf(row.endpoint_id) }));
      }),
    );
  }

  async renewLeases(input: RenewLeasesInput): Promise<string[]> {
    if (input.leases.length === 0) return [];
    return this.db.guard(() =>
      this.db.writeUnsynced(() => {
        const lockedUntil = input.lockedUntil?.getTime() ?? null;
        return input.leases.flatMap(
          (l) => this.db.all<{ id: string }>(SQL.renewLease, { id: l.id, previous: l.lockedUntil.getTime(), lockedUntil }).map((r) => r.id),
        );
      }),
    );
  }

  /** Gather one claim round's candidates and their endpoints' limits, and plan it (inside the claim's transaction). */
  private planRound(
    params: ClaimRoundParams,
  ): ReturnType<typeof planClaimRound> & { schedules: Map<string, EndpointSchedule>; appThrottles: Map<string, { rate: number; tat: number | null }> } {
    const candidate =
      (parked: boolean) =>
      (r: ClaimWindowRow): ClaimCandidate => ({ id: r.id, endpointId: r.endpoint_id, appId: r.app_id, dueAt: r.due_at, attemptCount: r.attempt_count, parked });
    const candidates = this.db.all<ClaimWindowRow>(SQL.selectReadyWindow, { now: params.now, window: params.window }).map(candidate(false));
    if (params.recentWindow > 0) {
      candidates.push(...this.db.all<ClaimWindowRow>(SQL.selectRecentWindow, { now: params.now, window: params.recentWindow }).map(candidate(false)));
    }
    if (params.firstWindow > 0) {
      candidates.push(...this.db.all<ClaimWindowRow>(SQL.selectFirstAttemptWindow, { now: params.now, window: params.firstWindow }).map(candidate(false)));
    }
    const parkedEndpoints = this.db.all<{ endpoint_id: string }>(SQL.selectParkedEndpoints, {}).map((r) => r.endpoint_id);
    const endpointIds = new Set([...candidates.map((c) => c.endpointId), ...parkedEndpoints]);
    const schedules = new Map<string, EndpointSchedule>();
    const appThrottles = new Map<string, { rate: number; tat: number | null }>();
    if (endpointIds.size === 0) return { take: [], park: [], schedules, appThrottles };
    const scheduleRows = this.db.all<ScheduleRow>(SQL.selectEndpointSchedules, {
      ids: JSON.stringify([...endpointIds]),
      now: params.now,
      defaultConcurrency: params.defaultConcurrency,
      budgets: params.budgets,
      fullApps: params.fullApps,
    });
    const rooms = new Map<string, number>();
    for (const r of scheduleRows) {
      // A full application's deliveries are passed over, neither taken nor parked (see RECENT_WINDOW).
      if (r.app_full) continue;
      const schedule = { concurrency: r.concurrency, leased: r.leased, throttleRate: r.throttle_rate, throttleTat: r.throttle_tat };
      schedules.set(r.id, schedule);
      rooms.set(r.id, roomOf(schedule, params.now, params.burstMs));
      if (r.app_throttle_rate !== null) appThrottles.set(r.app_id, { rate: r.app_throttle_rate, tat: r.app_throttle_tat });
    }
    // A throttled application's room: its GCRA, as an endpoint's throttle (see migration 0007).
    const appRooms = new Map<string, number>();
    for (const [id, throttle] of appThrottles) {
      appRooms.set(id, roomOf({ concurrency: null, leased: 0, throttleRate: throttle.rate, throttleTat: throttle.tat }, params.now, params.burstMs));
    }
    for (const endpointId of parkedEndpoints) {
      const room = rooms.get(endpointId) ?? 0;
      if (room === 0) continue;
      candidates.push(...this.db.all<ClaimWindowRow>(SQL.selectParkedHeads, { endpointId, limit: Math.min(room, params.limit) }).map(candidate(true)));
    }
    return { ...planClaimRound(candidates, rooms, params.limit, params.maxRetries, appRooms), schedules, appThrottles };
  }
}
