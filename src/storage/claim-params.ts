// What both stores' claim statements take as parameters, worked out once from a claim request, and
// the rules they share that are not SQL: how far a claim looks ahead, and how bursty a throttle is.
import type { ClaimDeliveriesInput } from './store.js';

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
  maxRetries: number;
  /** null = endpoints without a limit of their own are not limited. */
  defaultConcurrency: number | null;
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
    maxRetries,
    defaultConcurrency: input.endpointConcurrency ?? null,
    burstMs: THROTTLE_BURST_MS,
  };
}

/** The retry budget of a claim: `maxRetries` when given, else as many as the claim may take. */
export function retryBudgetOf(input: ClaimDeliveriesInput): number {
  return Math.max(0, Math.min(input.limit, input.maxRetries ?? input.limit));
}
