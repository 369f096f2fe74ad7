// When the inbox tries a failed event again: exponential backoff with jitter. Pure arithmetic with
// randomness passed in, so retry tests advance a fake clock by exact amounts instead of sleeping.

/** How the delay between attempts of one event grows. */
export interface BackoffOptions {
  /** Delay after the first failed attempt, in ms. Default 1000. */
  initialDelayMs?: number;
  /** Each further failure multiplies the delay by this. Default 2. */
  factor?: number;
  /** The delay never exceeds this, in ms (before jitter). Default 3,600,000 (1 h). */
  maxDelayMs?: number;
  /**
   * Each delay is spread by ± this fraction, so events that failed together (a database outage
   * failing every handler) do not all retry in the same instant. Default 0.2 (±20 %); 0 turns it off.
   */
  jitterRatio?: number;
}

/** {@link BackoffOptions} with every default filled in. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** The defaults of {@link BackoffOptions}: 1 s, doubling, at most 1 h, ±20 %. */
export const DEFAULT_BACKOFF: Readonly<ResolvedBackoff> = Object.freeze({
  initialDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 3_600_000,
  jitterRatio: 0.2,
});

/**
 * Fills in defaults and checks the values.
 * @throws TypeError for a value that cannot be meant (negative delays, a factor below 1, jitter ≥ 1).
 */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const resolved = { ...DEFAULT_BACKOFF, ...definedOnly(options) };
  const { initialDelayMs, factor, maxDelayMs, jitterRatio } = resolved;
  if (!Number.isFinite(initialDelayMs) || initialDelayMs < 0) {
    throw new TypeError(`backoff.initialDelayMs must be a number ≥ 0, got ${String(initialDelayMs)}`);
  }
  if (!Number.isFinite(factor) || factor < 1) throw new TypeError(`backoff.factor must be a number ≥ 1, got ${String(factor)}`);
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < initialDelayMs) {
    throw new TypeError(`backoff.maxDelayMs must be a number ≥ initialDelayMs, got ${String(maxDelayMs)}`);
  }
  if (!Number.isFinite(jitterRatio) || jitterRatio < 0 || jitterRatio >= 1) {
    throw new TypeError(`backoff.jitterRatio must be in [0, 1), got ${String(jitterRatio)}`);
  }
  return resolved;
}

/**
 * The delay in whole ms before the next attempt, after `attemptsMade` attempts have failed:
 * `min(initialDelayMs × factor^(attemptsMade − 1), maxDelayMs) × (1 − jitter + 2 × jitter × random())`.
 * With `random() = 0.5` the jitter factor is exactly 1.
 *
 * @param attemptsMade attempts made so far, counting the one that just failed (1 after the first).
 * @param random a uniform random number in [0, 1) (`Math.random` in production).
 */
export function retryDelayMs(attemptsMade: number, backoff: ResolvedBackoff, random: () => number): number {
  if (!Number.isSafeInteger(attemptsMade) || attemptsMade < 1) {
    throw new Error(`attemptsMade must be a positive integer, got ${attemptsMade}`);
  }
  // Math.pow overflows to Infinity for large attempt counts; min() brings it back to the cap.
  const base = Math.min(backoff.initialDelayMs * backoff.factor ** (attemptsMade - 1), backoff.maxDelayMs);
  return Math.round(base * (1 - backoff.jitterRatio + 2 * backoff.jitterRatio * random()));
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
