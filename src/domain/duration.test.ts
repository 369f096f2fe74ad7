import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseRetrySchedule } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1500', 1_500],
    ['0', 0],
    ['0s', 0],
    ['  15s ', 15_000],
  ])('parses %j as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '   ', '-5s', '-1', '+5s', '5x', 's', 'ms', '1.5s', '5 s', '1h30m', 'NaN', 'Infinity', '5S', '0x10', '1e3'])(
    'rejects %j with a message naming the input',
    (text) => {
      expect(() => parseDuration(text)).toThrow(/Invalid duration/);
      expect(() => parseDuration(text)).toThrow(JSON.stringify(text));
    },
  );

  it('rejects values too large to count in milliseconds', () => {
    expect(() => parseDuration('99999999999999999d')).toThrow(/too large/);
  });
});

describe('parseRetrySchedule', () => {
  it('parses the default schedule', () => {
    expect(parseRetrySchedule('5s,5m,30m,2h,5h,10h,10h')).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
  });

  it('tolerates whitespace around entries', () => {
    expect(parseRetrySchedule(' 5s , 1m,\t250ms ')).toEqual([5_000, 60_000, 250]);
  });

  it('treats an empty string or "none" as no retries', () => {
    expect(parseRetrySchedule('')).toEqual([]);
    expect(parseRetrySchedule('  ')).toEqual([]);
    expect(parseRetrySchedule('none')).toEqual([]);
    expect(parseRetrySchedule(' NONE ')).toEqual([]);
  });

  it('names the bad entry and its position', () => {
    expect(() => parseRetrySchedule('5s,5q,1h')).toThrow(/entry 2 "5q"/);
    expect(() => parseRetrySchedule('5s,,1h')).toThrow(/entry 2 ""/);
    expect(() => parseRetrySchedule('5s,')).toThrow(/entry 2/);
    expect(() => parseRetrySchedule('5s,-1m')).toThrow(/entry 2 "-1m"/);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [5_000, '5s'],
    [90_000, '1m30s'],
    [1_500, '1s500ms'],
    [3_723_000, '1h2m3s'],
    [93_600_000, '1d2h'],
    [-5_000, '-5s'],
    [0.4, '0ms'],
    [999.6, '1s'],
  ])('formats %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips single-unit values through parseDuration', () => {
    for (const text of ['500ms', '5s', '5m', '2h', '1d']) {
      expect(formatDuration(parseDuration(text))).toBe(text);
    }
  });
});
