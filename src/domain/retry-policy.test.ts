import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE_MS,
  nextRetryDelayMs,
  parseRetryAfter,
} from './retry-policy.js';
import { parseRetrySchedule } from './duration.js';

const fixed = (value: number) => () => value;
const schedule = [5_000, 300_000, 1_800_000];

describe('DEFAULT_RETRY_SCHEDULE_MS', () => {
  it('matches the documented default 5s,5m,30m,2h,5h,10h,10h', () => {
    expect(DEFAULT_RETRY_SCHEDULE_MS).toEqual(parseRetrySchedule('5s,5m,30m,2h,5h,10h,10h'));
  });

  it('cannot be changed by accident', () => {
    expect(Object.isFrozen(DEFAULT_RETRY_SCHEDULE_MS)).toBe(true);
  });
});

describe('nextRetryDelayMs', () => {
  it('uses the schedule entry for the attempt that just failed', () => {
    expect(nextRetryDelayMs({ scheduleMs: schedule, attemptsMade: 1, random: fixed(0.5) })).toBe(5_000);
    expect(nextRetryDelayMs({ scheduleMs: schedule, attemptsMade: 2, random: fixed(0.5) })).toBe(300_000);
    expect(nextRetryDelayMs({ scheduleMs: schedule, attemptsMade: 3, random: fixed(0.5) })).toBe(1_800_000);
  });

  it('returns null once the schedule is exhausted', () => {
    expect(nextRetryDelayMs({ scheduleMs: schedule, attemptsMade: 4, random: fixed(0.5) })).toBeNull();
    expect(nextRetryDelayMs({ scheduleMs: [], attemptsMade: 1, random: fixed(0.5) })).toBeNull();
  });

  it('gives 8 attempts in total with the default schedule', () => {
    const delays: number[] = [];
    for (let attemptsMade = 1; ; attemptsMade++) {
      const delay = nextRetryDelayMs({ scheduleMs: DEFAULT_RETRY_SCHEDULE_MS, attemptsMade, random: fixed(0.5) });
      if (delay === null) break;
      delays.push(delay);
    }
    expect(delays).toHaveLength(7); // 7 retries after the first attempt
    expect(delays.reduce((a, b) => a + b, 0)).toBe(((27 * 60 + 35) * 60 + 5) * 1000); // 27 h 35 m 5 s
  });

  it('spreads the delay by ±20 % with the injected random()', () => {
    expect(nextRetryDelayMs({ scheduleMs: [10_000], attemptsMade: 1, random: fixed(0) })).toBe(8_000);
    expect(nextRetryDelayMs({ scheduleMs: [10_000], attemptsMade: 1, random: fixed(0.25) })).toBe(9_000);
    expect(nextRetryDelayMs({ scheduleMs: [10_000], attemptsMade: 1, random: fixed(0.999999) })).toBe(12_000);
  });

  it('returns whole milliseconds', () => {
    const delay = nextRetryDelayMs({ scheduleMs: [333], attemptsMade: 1, random: fixed(0.123) })!;
    expect(Number.isInteger(delay)).toBe(true);
  });

  it('honours Retry-After within [scheduled, 2 × scheduled] without jitter', () => {
    const at = (retryAfterMs: number) =>
      nextRetryDelayMs({ scheduleMs: [10_000], attemptsMade: 1, random: fixed(0), retryAfterMs });
    expect(at(15_000)).toBe(15_000);
    expect(at(1_000)).toBe(10_000);
    expect(at(0)).toBe(10_000);
    expect(at(3_600_000)).toBe(20_000);
  });

  it('ignores a null Retry-After', () => {
    expect(nextRetryDelayMs({ scheduleMs: [10_000], attemptsMade: 1, random: fixed(0), retryAfterMs: null })).toBe(
      8_000,
    );
  });

  it('uses short steps as configured, with no hidden floor (a timed-out attempt included)', () => {
    expect(nextRetryDelayMs({ scheduleMs: [20, 40], attemptsMade: 1, random: fixed(0.5) })).toBe(20);
    expect(nextRetryDelayMs({ scheduleMs: [20, 40], attemptsMade: 2, random: fixed(0.5) })).toBe(40);
    expect(nextRetryDelayMs({ scheduleMs: [1], attemptsMade: 1, random: fixed(0) })).toBe(1);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects attemptsMade %d as a caller bug', (attemptsMade) => {
    expect(() => nextRetryDelayMs({ scheduleMs: schedule, attemptsMade, random: fixed(0.5) })).toThrow(/attemptsMade/);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2024-03-01T12:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 7 ', now)).toBe(7_000);
  });

  it('reads an IMF-fixdate relative to now', () => {
    expect(parseRetryAfter('Fri, 01 Mar 2024 12:01:30 GMT', now)).toBe(90_000);
  });

  it('reads the obsolete RFC 850 and asctime forms', () => {
    expect(parseRetryAfter('Friday, 01-Mar-24 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Fri Mar  1 12:00:20 2024', now)).toBe(20_000);
    expect(parseRetryAfter('Fri Mar 01 12:00:20 2024', now)).toBe(20_000);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Thu, 29 Feb 2024 12:00:00 GMT', now)).toBe(0);
  });

  it.each([
    undefined,
    '',
    '   ',
    '-5',
    '1.5',
    '5s',
    'soon',
    'Fri, 31 Feb 2024 12:00:00 GMT',
    'Fri, 01 Mar 2024 25:00:00 GMT',
    '2024-03-01T12:01:00Z',
    'Fri, 01 Mar 2024 12:01:30 PST',
    '99999999999999999999',
  ])('returns null for %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeNull();
  });
});
