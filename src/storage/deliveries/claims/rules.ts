// The rules of a claim round that both stores share: how far a claim looks ahead, how bursty a
// throttle is, an endpoint's room, and which candidates to take or park. PostgresStore applies them
// in its one claim statement (a round trip costs more than planning in SQL); SqliteStore runs a few
// small indexed statements and plans here (in-process, that is several times cheaper than one
// statement of CTEs and window functions). The contract suite holds both to the same behaviour.
import type { ClaimDeliveriesInput } from '../../store.js';

/**
 * A throttled endpoint may start up to this many milliseconds' worth of attempts at once (at least
 * one): 2 at 20 messages/s, 1 at 5/s. Any 1 s window then sees at most rate + burst attempts start.
 */
export const THROTTLE_BURST_MS = 100;

/**
 * A claim that parked deliveries (their endpoint was at its limit) and still has room looks again
 * at the deliveries behind them, up to this many times per call: a burst of traffic to one blocked
 * endpoint is stepped over in one call instead of one worker wake-up per window.
 */
export const MAX_CLAIM_ROUNDS = 8;

/**
 * The first round reads as many due deliveries as it may take; each round after one that parked
 * reads four times as many, up to this: a backlog behind a blocked endpoint is crossed in a few
 * rounds, while the usual claim locks no more rows than it takes.
 */
export const MAX_CLAIM_WINDOW = 1024;

/**
 * While some applications hold their share of the worker (ClaimDeliveriesInput.fullApplications),
 * a claim also reads this many of the most recently due deliveries: their due work is passed over,
 * not parked (parking a backlog of a million rows costs a write each), so another application's
 * fresh delivery behind that backlog is found at the back of the due order instead.
 */
export const RECENT_WINDOW = 64;

/** The room of an endpoint without limits: more than any claim takes. */
export const UNLIMITED_ROOM = 2_147_483_647;

/** The named parameters of one round of a claim statement (times in epoch ms). */
export interface ClaimRoundParams {
  now: number;
  lockedUntil: number;
  limit: number;
  /**
   * Due deliveries read in due order (see MAX_CLAIM_WINDOW). Those of endpoints at their limit are
   * parked, so the next round's window starts behind them.
   */
  window: number;
  /** First attempts read separately (0 when the retry budget cannot bind, see deliveries_first_due). */
  firstWindow: number;
  /** The most recently due deliveries, read too while some applications are full (else 0; see RECENT_WINDOW). */
  recentWindow: number;
  maxRetries: number;
  /** null = endpoints without a limit of their own are not limited. */
  defaultConcurrency: number | null;
  /** ClaimDeliveriesInput.endpointBudgets as a JSON object, or null. */
  budgets: string | null;
  /** ClaimDeliveriesInput.fullApplications as a JSON array, or null. */
  fullApps: string | null;
  burstMs: number;
}

/** Parameters for round `round` (from 0), which may still take `limit` deliveries, `maxRetries` of them retries. */
export function claimRoundParams(input: ClaimDeliveriesInput, round: number, limit: number, maxRetries: number): ClaimRoundParams {
  const now = input.now.getTime();
  return {
    now,
    lockedUntil: now + input.leaseMs,
    limit,
    window: Math.max(limit, Math.min(limit * 4 ** round, MAX_CLAIM_WINDOW)),
    firstWindow: maxRetries < limit ? limit : 0,
    recentWindow: input.fullApplications?.length ? Math.max(limit, RECENT_WINDOW) : 0,
    maxRetries,
    ...budgetParams(input),
    burstMs: THROTTLE_BURST_MS,
  };
}

/**
 * The worker's lease budgets, its default for other endpoints and its full applications as
 * statement parameters (see SqlFragments.leaseBudget).
 */
export function budgetParams(
  input: Pick<ClaimDeliveriesInput, 'endpointConcurrency' | 'endpointBudgets' | 'fullApplications'> | undefined,
): { defaultConcurrency: number | null; budgets: string | null; fullApps: string | null } {
  const budgets = input?.endpointBudgets;
  const full = input?.fullApplications;
  return {
    defaultConcurrency: input?.endpointConcurrency ?? null,
    budgets: budgets && Object.keys(budgets).length > 0 ? JSON.stringify(budgets) : null,
    fullApps: full && full.length > 0 ? JSON.stringify(full) : null,
  };
}

/** The retry budget of a claim: `maxRetries` when given, else as many as the claim may take. */
export function retryBudgetOf(input: ClaimDeliveriesInput): number {
  return Math.max(0, Math.min(input.limit, input.maxRetries ?? input.limit));
}

/** A delivery a claim round may take or park, with the time it became due. */
export interface ClaimCandidate {
  id: string;
  endpointId: string;
  appId: string;
  dueAt: number;
  attemptCount: number;
  /** Already parked (read from its endpoint's parked queue). */
  parked: boolean;
}

/** What a claim round knows of an endpoint's limits (times in epoch ms). */
export interface EndpointSchedule {
  /** Its own limit, else the default; null = not limited. */
  concurrency: number | null;
  /** Its leases that have not run out. */
  leased: number;
  throttleRate: number | null;
  throttleTat: number | null;
}

/**
 * How many more attempts the endpoint may start now: its free slots, and what its throttle allows
 * (GCRA: attempts start 1000 / rate ms apart on average, up to THROTTLE_BURST_MS worth at once).
 * UNLIMITED_ROOM when neither limits it. Mirrors `schedules` in PostgresStore's claim statement.
 */
export function roomOf(schedule: EndpointSchedule, now: number, burstMs = THROTTLE_BURST_MS): number {
  let room = schedule.concurrency === null ? UNLIMITED_ROOM : Math.max(0, schedule.concurrency - schedule.leased);
  if (schedule.throttleRate !== null) {
    const intervalMs = 1000 / schedule.throttleRate;
    const toleranceMs = (Math.max(1, Math.floor((schedule.throttleRate * burstMs) / 1000)) - 1) * intervalMs;
    const slackMs = now + toleranceMs - Math.max(schedule.throttleTat ?? now, now);
    room = Math.min(room, slackMs < 0 ? 0 : Math.floor(slackMs / intervalMs + 1e-9) + 1);
  }
  return room;
}

/** The throttle's next theoretical arrival time after `started` attempts start at `now`. */
export function advancedThrottleTat(throttleRate: number, throttleTat: number | null, now: number, started: number): number {
  return Math.max(throttleTat ?? now, now) + (started * 1000) / throttleRate;
}

/**
 * One claim round: retries beyond `maxRetries` (oldest first) are left alone; of the rest, each
 * endpoint's oldest up to its room are eligible and the others are parked (unless they already are);
 * of the eligible, a throttled application's oldest up to its room (`appRooms`, absent: not
 * throttled) stay eligible and the others are parked too; the oldest eligible, up to `limit`, are
 * taken. Candidates of endpoints without a room (not known this round) are left alone. Mirrors
 * `budgeted`, `ranked` and `chosen` in PostgresStore's claim.
 */
export function planClaimRound(
  candidates: ClaimCandidate[],
  rooms: Map<string, number>,
  limit: number,
  maxRetries: number,
  appRooms: ReadonlyMap<string, number> = new Map(),
): { take: ClaimCandidate[]; park: ClaimCandidate[] } {
  const byDue = (a: ClaimCandidate, b: ClaimCandidate): number => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const unique = [...new Map(candidates.map((c) => [c.id, c])).values()].sort(byDue);
  let retries = 0;
  const ranks = new Map<string, number>();
  const appRanks = new Map<string, number>();
  const eligible: ClaimCandidate[] = [];
  const park: ClaimCandidate[] = [];
  for (const candidate of unique) {
    if (candidate.attemptCount > 0 && ++retries > maxRetries) continue;
    const room = rooms.get(candidate.endpointId);
    if (room === undefined) continue;
    const rank = (ranks.get(candidate.endpointId) ?? 0) + 1;
    ranks.set(candidate.endpointId, rank);
    let fits = rank <= room;
    const appRoom = appRooms.get(candidate.appId);
    if (fits && appRoom !== undefined) {
      const appRank = (appRanks.get(candidate.appId) ?? 0) + 1;
      appRanks.set(candidate.appId, appRank);
      fits = appRank <= appRoom;
    }
    if (fits) eligible.push(candidate);
    else if (!candidate.parked) park.push(candidate);
  }
  return { take: eligible.slice(0, limit), park };
}
