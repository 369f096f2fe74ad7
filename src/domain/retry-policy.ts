// When to try a failed delivery again. Pure arithmetic over a schedule, with randomness and time
// passed in, so the worker's retry behaviour is tested in milliseconds rather than hours.

/**
 * The default delays between attempts, as Svix ships them (`5s,5m,30m,2h,5h,10h,10h`): with the first
 * attempt made at once that is 8 attempts, the last about 27 h 35 m after the first.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
]);

/** Each scheduled delay is spread by ±20 % so that endpoints failing together do not retry together. */
export const RETRY_JITTER_RATIO = 0.2;

export interface NextRetryInput {
  /** Delay before each retry, in order (see {@link DEFAULT_RETRY_SCHEDULE_MS}). */
  scheduleMs: readonly number[];
  /** Attempts made so far, counting the one that just failed: 1 after the first attempt. */
  attemptsMade: number;
  /** A uniform random number in [0, 1), injected for deterministic tests (`Math.random` in production). */
  random: () => number;
  /**
   * The receiver's `Retry-After` in ms (from a 429 or 503), if it sent a usable one. It is honoured
   * within [scheduled, 2 × scheduled] and replaces the jitter.
   */
  retryAfterMs?: number | null;
}

/**
 * The delay in ms before the next attempt, or `null` when the schedule is exhausted
 * (`attemptsMade > scheduleMs.length`) and the delivery has failed for good.
 *
 * Without `retryAfterMs` the delay is `base × (0.8 + 0.4 × random())` with
 * `base = scheduleMs[attemptsMade - 1]`; with it, `clamp(retryAfterMs, base, 2 × base)`. The clamp
 * keeps a receiver from stretching the schedule without limit or asking for a retry storm. Results are
 * whole milliseconds.
 *
 * A timed-out attempt follows the schedule like any other failure. (Svix raises the delay after a
 * timeout to at least 60 s; we do not: the operator's schedule is the contract, a hidden floor made
 * short schedules lie, and keeping a slow endpoint from holding worker slots is the job of
 * per-endpoint concurrency limits, not of the schedule.)
 *
 * @throws Error when `attemptsMade` is not a positive integer (a caller bug).
 */
export function nextRetryDelayMs(input: NextRetryInput): number | null {
  const { scheduleMs, attemptsMade, random, retryAfterMs } = input;
  if (!Number.isSafeInteger(attemptsMade) || attemptsMade < 1) {
    throw new Error(`attemptsMade must be a positive integer, got ${attemptsMade}`);
  }
  if (attemptsMade > scheduleMs.length) return null;
  const base = scheduleMs[attemptsMade - 1]!;

  let delayMs: number;
  if (retryAfterMs != null && Number.isFinite(retryAfterMs)) {
    delayMs = Math.min(Math.max(retryAfterMs, base), 2 * base);
  } else {
    delayMs = base * (1 - RETRY_JITTER_RATIO + 2 * RETRY_JITTER_RATIO * random());
  }
  return Math.round(delayMs);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** `Sun, 06 Nov 1994 08:49:37 GMT` (the form senders must use). */
const IMF_FIXDATE = new RegExp(`^(?:mon|tue|wed|thu|fri|sat|sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} gmt$`, 'i');
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete, still to be accepted). */
const RFC_850 = new RegExp(
  `^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} gmt$`,
  'i',
);
/** `Sun Nov  6 08:49:37 1994` (obsolete asctime, in GMT). */
const ASCTIME = new RegExp(`^(?:mon|tue|wed|thu|fri|sat|sun) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`, 'i');

/**
 * Reads an HTTP `Retry-After` value as a delay in ms from `now`: delta-seconds (`120`) or an HTTP-date
 * in any of the three RFC 9110 forms. A date in the past gives 0. Anything else — absent, blank,
 * negative, fractional, a malformed or impossible date — gives `null` so the caller keeps its schedule.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isSafeInteger(ms) ? ms : null;
  }
  const dateMs = parseHttpDate(text, now);
  if (dateMs === null) return null;
  return Math.max(0, dateMs - now.getTime());
}

function parseHttpDate(text: string, now: Date): number | null {
  let parts: { year: number; month: string; day: number; hour: number; minute: number; second: number };
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(text))) {
    parts = { day: +m[1]!, month: m[2]!, year: +m[3]!, hour: +m[4]!, minute: +m[5]!, second: +m[6]! };
  } else if ((m = RFC_850.exec(text))) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future means the previous century.
    const twoDigit = +m[3]!;
    const thisYear = now.getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + twoDigit;
    if (year > thisYear + 50) year -= 100;
    parts = { day: +m[1]!, month: m[2]!, year, hour: +m[4]!, minute: +m[5]!, second: +m[6]! };
  } else if ((m = ASCTIME.exec(text))) {
    parts = { month: m[1]!, day: +m[2]!.trim(), hour: +m[3]!, minute: +m[4]!, second: +m[5]!, year: +m[6]! };
  } else {
    return null;
  }
  const monthIndex = MONTHS.indexOf(parts.month.toLowerCase());
  const ms = Date.UTC(parts.year, monthIndex, parts.day, parts.hour, parts.minute, parts.second);
  // Date.UTC rolls over out-of-range fields (31 Feb → 3 Mar); reject instead of guessing.
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== parts.year ||
    check.getUTCMonth() !== monthIndex ||
    check.getUTCDate() !== parts.day ||
    check.getUTCHours() !== parts.hour ||
    check.getUTCMinutes() !== parts.minute ||
    check.getUTCSeconds() !== parts.second
  ) {
    return null;
  }
  return ms;
}
