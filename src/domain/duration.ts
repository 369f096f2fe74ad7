// Human-written durations (`TAPWIRE_REQUEST_TIMEOUT=15s`, `TAPWIRE_RETRY_SCHEDULE=5s,5m,30m`) turned
// into milliseconds, and back into short text for logs. Parsing is strict on purpose: a typo in a retry
// schedule should stop the server at start-up, not silently become "retry immediately".

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

type Unit = keyof typeof UNIT_MS;

const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)?$/;

/**
 * Parses a duration into milliseconds.
 *
 * Accepts a non-negative integer followed by one unit — `ms`, `s`, `m`, `h` or `d` (`500ms`, `5s`,
 * `5m`, `2h`, `1d`) — or a bare integer meaning milliseconds (`1500`). Surrounding whitespace is
 * ignored. Fractions, signs, compound forms (`1h30m`) and unknown units are rejected.
 *
 * @throws Error naming the offending text when it is not a duration.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const match = DURATION_PATTERN.exec(trimmed);
  if (!match) {
    throw new Error(
      `Invalid duration ${JSON.stringify(text)}: expected a non-negative integer with an optional unit ` +
        `ms, s, m, h or d (for example 500ms, 5s, 5m, 2h, 1d; a bare number means milliseconds)`,
    );
  }
  const unit: Unit = (match[2] as Unit | undefined) ?? 'ms';
  const ms = Number(match[1]) * UNIT_MS[unit];
  if (!Number.isSafeInteger(ms)) {
    throw new Error(`Invalid duration ${JSON.stringify(text)}: too large`);
  }
  return ms;
}

/**
 * Parses a retry schedule: a comma-separated list of durations, each the delay before the next retry
 * (`5s,5m,30m,2h,5h,10h,10h`). Whitespace around entries is ignored. `none` or an empty (or
 * all-blank) string means "never retry" and gives `[]`; an empty entry inside a list (`5s,,5m`) is
 * an error.
 *
 * @throws Error naming the position and text of the first bad entry.
 */
export function parseRetrySchedule(text: string): number[] {
  // An empty environment variable means "use the default" in loadConfig, so `none` is how an
  // operator turns retries off.
  if (text.trim() === '' || text.trim().toLowerCase() === 'none') return [];
  return text.split(',').map((entry, index) => {
    try {
      return parseDuration(entry);
    } catch (error) {
      throw new Error(
        `Invalid retry schedule ${JSON.stringify(text)}: entry ${index + 1} ${JSON.stringify(entry.trim())} ` +
          `is not a duration (expected a comma list such as 5s,5m,30m,2h)`,
        { cause: error },
      );
    }
  });
}

const FORMAT_UNITS: ReadonlyArray<readonly [Unit, number]> = [
  ['d', UNIT_MS.d],
  ['h', UNIT_MS.h],
  ['m', UNIT_MS.m],
  ['s', UNIT_MS.s],
  ['ms', UNIT_MS.ms],
];

/**
 * Short text for logs: `0ms`, `250ms`, `5s`, `1m30s`, `1d2h`, `1s500ms`. Fractions of a millisecond
 * are rounded; negative values get a leading `-`. Single-unit results parse back with
 * {@link parseDuration}; compound ones are for reading only.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return '0ms';
  let text = '';
  for (const [unit, size] of FORMAT_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return ms < 0 ? `-${text}` : text;
}
